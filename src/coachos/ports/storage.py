"""Storage ports: repositories scoped by organisation, and the unit of work that commits them together.

Every method takes the organisation id and only ever sees that organisation's rows; an id from
another organisation behaves exactly like an id that does not exist (NotFound).

A stored row that cannot be read back as a domain object is never the caller's fault: reading
it by id raises CorruptRecord, and list reads (which return `Rows`) leave it out and name it in
`Rows.unreadable`, so one bad row never hides the others.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from coachos.domain.accounting import LedgerSum
from coachos.domain.accounts import ApiToken, AttemptSlot, Login, SecurityEvent, ThrottleRule, WebSession
from coachos.domain.automations import Automation, AutomationRun, AutomationStatus
from coachos.domain.availability import BusyBlock, DateOverride, WeeklyRule
from coachos.domain.bookings import (
    Appointment,
    Booking,
    BookingStatus,
    CreditChange,
    CreditEvent,
    FeeCharge,
    FeeState,
    SavedCard,
)
from coachos.domain.catalog import PackageOffer, PaymentMethod, Service, SessionPackage
from coachos.domain.clients import Client, ClientStatus
from coachos.domain.consent import ConsentChange
from coachos.domain.events import DeadLetter, Delivery, Event
from coachos.domain.forms import AnswersViewed, Clearance, Document, Form, FormVersion, Submission
from coachos.domain.ids import (
    Actor,
    AppointmentId,
    BookingId,
    ClientId,
    CoachId,
    OrgId,
    PackageId,
    PackageOfferId,
    ServiceId,
    WaiverId,
    WaiverVersionId,
)
from coachos.domain.inbox import Conversation
from coachos.domain.ledger import Account, LedgerTransaction, SourceKind
from coachos.domain.messages import Message, MessageChannel, MessageStatus
from coachos.domain.numbers import PhoneNumber
from coachos.domain.orgs import Coach, Organization
from coachos.domain.portal import ClientSession, ContactChange, SignInChallenge
from coachos.domain.rows import Rows
from coachos.domain.sending import ClaimedMessage
from coachos.domain.templates import MessageTemplate, TemplateKind
from coachos.domain.todos import Todo
from coachos.domain.waivers import Waiver, WaiverSignature, WaiverVersion
from coachos.ports.memberships import MembershipRepository
from coachos.ports.onboarding import OnboardingRepository
from coachos.ports.platform import PlatformRepository
from coachos.ports.refunds import RefundRepository
from coachos.ports.stripe_events import StripeRepository


class OrganizationRepository(Protocol):
    """Organisations (tenants)."""

    def add(self, org: Organization) -> None:
        """Store a new organisation; Conflict if its slug is taken."""
        ...

    def get(self, org_id: OrgId) -> Organization:
        """The organisation, or NotFound."""
        ...

    def by_slug(self, slug: str) -> Organization:
        """The organisation with this public slug, or NotFound."""
        ...

    def ids(self) -> Sequence[OrgId]:
        """Every organisation's id, for daily jobs that visit each business in turn."""
        ...

    def update(self, org: Organization) -> None:
        """Replace the stored organisation's settings."""
        ...


class CoachRepository(Protocol):
    """Coaches (staff) of an organisation."""

    def add(self, coach: Coach) -> None:
        """Store a new coach; Conflict if the email is already a coach of this organisation."""
        ...

    def get(self, org_id: OrgId, coach_id: CoachId) -> Coach:
        """The coach, or NotFound."""
        ...

    def list(self, org_id: OrgId) -> Rows[Coach]:
        """All coaches, by name."""
        ...


class ClientRepository(Protocol):
    """Clients and leads of an organisation."""

    def add(self, client: Client) -> None:
        """Store a new client."""
        ...

    def get(self, org_id: OrgId, client_id: ClientId) -> Client:
        """The client, or NotFound."""
        ...

    def update(self, client: Client) -> None:
        """Replace the stored client."""
        ...

    def by_contact(self, org_id: OrgId, *, email: str | None, phone: str | None) -> Client | None:
        """The oldest client with exactly this (normalised) email, else with this phone, if any."""
        ...

    def list(
        self,
        org_id: OrgId,
        *,
        search: str = "",
        limit: int = 100,
        status: ClientStatus | None = None,
        tag: str | None = None,
    ) -> Rows[Client]:
        """Clients whose name, email or phone contain `search` (with this status and tag, if given), by name."""
        ...

    def lock(self, org_id: OrgId, client_id: ClientId) -> Client:
        """The client, held until the transaction ends, so that changes made from what was read cannot be lost."""
        ...

    def log_consent(self, change: ConsentChange) -> None:
        """Keep a consent given or withdrawn, for good (the log is only ever added to)."""
        ...

    def consent_log(self, org_id: OrgId, client_id: ClientId) -> Rows[ConsentChange]:
        """Every consent the client gave or withdrew, oldest first."""
        ...


class ServiceRepository(Protocol):
    """Bookable services."""

    def add(self, service: Service) -> None:
        """Store a new service."""
        ...

    def get(self, org_id: OrgId, service_id: ServiceId) -> Service:
        """The service, or NotFound."""
        ...

    def list(self, org_id: OrgId) -> Rows[Service]:
        """All services, by name."""
        ...

    def update(self, service: Service) -> None:
        """Replace the stored service, or NotFound."""
        ...


class AvailabilityRepository(Protocol):
    """Coaches' weekly hours and date overrides."""

    def replace_weekly(self, org_id: OrgId, coach_id: CoachId, rules: Sequence[WeeklyRule]) -> None:
        """Make `rules` the coach's whole weekly schedule."""
        ...

    def weekly(self, org_id: OrgId, coach_id: CoachId) -> Rows[WeeklyRule]:
        """The coach's weekly schedule."""
        ...

    def add_override(self, org_id: OrgId, override: DateOverride) -> None:
        """Store a date override."""
        ...

    def remove_override(self, org_id: OrgId, override_id: UUID) -> None:
        """Delete a date override, or NotFound."""
        ...

    def overrides(self, org_id: OrgId, coach_id: CoachId, first: date, last: date) -> Rows[DateOverride]:
        """The coach's overrides on local dates from `first` to `last` inclusive."""
        ...


class CalendarRepository(Protocol):
    """Appointments on coaches' calendars; the database forbids overlaps and overfull classes."""

    def busy(self, org_id: OrgId, coach_id: CoachId, start: datetime, end: datetime) -> Sequence[BusyBlock]:
        """The coach's active appointments that overlap [start, end), buffers included."""
        ...

    def take_seat(self, org_id: OrgId, wanted: Appointment) -> Appointment:
        """A seat in the coach's appointment for this service and time, creating it if needed.

        Atomic: raises SlotUnavailable when the time overlaps another appointment of the coach
        or the class is full, even under concurrent requests.
        """
        ...

    def release_seat(self, org_id: OrgId, appointment_id: AppointmentId) -> None:
        """Give back one seat; an appointment with no seats taken frees the coach's time."""
        ...


class BookingRepository(Protocol):
    """Bookings."""

    def add(self, booking: Booking) -> None:
        """Store a new booking; Conflict if its idempotency key was used before in the same scope."""
        ...

    def get(self, org_id: OrgId, booking_id: BookingId) -> Booking:
        """The booking, or NotFound."""
        ...

    def by_idempotency_key(self, org_id: OrgId, scope: str, key: str) -> Booking | None:
        """The booking made with this idempotency key in this scope, if any (other scopes' keys are not seen)."""
        ...

    def transition(
        self,
        org_id: OrgId,
        booking_id: BookingId,
        to: BookingStatus,
        *,
        at: datetime,
        actor: Actor,
    ) -> Booking | None:
        """Move the booking to `to` if its status allows it, atomically; None if it did not move."""
        ...

    def set_package(self, org_id: OrgId, booking_id: BookingId, package_id: PackageId) -> None:
        """Record which package paid for the booking."""
        ...

    def confirm_held(
        self, org_id: OrgId, booking_id: BookingId, *, at: datetime, payment_ref: str | None
    ) -> Booking | None:
        """HELD → CONFIRMED with the payment recorded, in one conditional update; None unless it was still held."""
        ...

    def release_held(self, org_id: OrgId, booking_id: BookingId, *, at: datetime) -> Booking | None:
        """HELD → CANCELLED in one conditional update (the caller gives the seat back); None unless still held."""
        ...

    def record_late_payment(
        self, org_id: OrgId, booking_id: BookingId, *, at: datetime, payment_ref: str | None
    ) -> Booking | None:
        """Mark a booking no longer held as paid after its release, once; None if it was marked before."""
        ...

    def set_payment_ref(self, org_id: OrgId, booking_id: BookingId, payment_ref: str) -> None:
        """Record the Checkout Session of a held booking."""
        ...

    def expired_holds(self, now: datetime, *, limit: int = 100) -> list[tuple[OrgId, BookingId]]:
        """Held bookings of every organisation whose hold ended by `now`, oldest expiry first."""
        ...

    def save_card(self, org_id: OrgId, booking_id: BookingId, card: SavedCard) -> None:
        """Keep the card the booking was paid with, for its fees (the first one kept stays)."""
        ...

    def start_fee(self, org_id: OrgId, booking_id: BookingId, fee: FeeCharge) -> bool:
        """Record the fee owed (PENDING) unless the booking has one already; True if this call recorded it."""
        ...

    def finish_fee(
        self, org_id: OrgId, booking_id: BookingId, *, state: FeeState, at: datetime, ref: str | None, error: str | None
    ) -> Booking | None:
        """PENDING → `state` in one conditional update; None if the fee was not pending any more."""
        ...

    def pending_fees(self, *, limit: int = 100) -> list[tuple[OrgId, BookingId]]:
        """Bookings of every organisation whose fee waits to be charged."""
        ...

    def unpaid_fees(self, org_id: OrgId, *, limit: int = 100) -> Rows[Booking]:
        """The organisation's bookings whose fee is pending or failed, oldest fee first (by `fee.at`)."""
        ...

    def between(
        self,
        org_id: OrgId,
        start: datetime,
        end: datetime,
        *,
        coach_id: CoachId | None = None,
    ) -> Rows[Booking]:
        """Bookings starting in [start, end), by start time."""
        ...

    def for_client(self, org_id: OrgId, client_id: ClientId) -> Rows[Booking]:
        """All bookings of a client, by start time."""
        ...


class PackageRepository(Protocol):
    """Session packages; credits change only through single atomic statements."""

    def add(self, package: SessionPackage) -> None:
        """Store a newly sold package."""
        ...

    def get(self, org_id: OrgId, package_id: PackageId) -> SessionPackage:
        """The package, or NotFound."""
        ...

    def for_client(self, org_id: OrgId, client_id: ClientId) -> Rows[SessionPackage]:
        """A client's packages, soonest to expire first."""
        ...

    def recent(self, org_id: OrgId, *, limit: int = 50) -> Rows[SessionPackage]:
        """The organisation's packages, most recently sold first."""
        ...

    def unsettled(self, org_id: OrgId, *, limit: int = 100) -> Rows[SessionPackage]:
        """The organisation's packages whose payment is pending or failed, oldest first."""
        ...

    def use_credit(self, org_id: OrgId, event: CreditEvent) -> CreditChange:
        """Use one credit of `event.package_id` for `event.booking_id`, once per booking.

        A repeat for the same booking changes nothing (`applied` false). Raises NoCreditsLeft or
        PackageExpired when the package cannot pay, as decided by the database at that instant.
        """
        ...

    def return_credit(
        self, org_id: OrgId, booking_id: BookingId, *, at: datetime, actor: Actor, reason: str
    ) -> CreditChange | None:
        """Give back the credit the booking used, once; None if it used none or it came back already."""
        ...

    def credit_events(self, org_id: OrgId, package_id: PackageId) -> Rows[CreditEvent]:
        """Every use and return of the package's credits, oldest first."""
        ...

    def mark_paid(
        self, org_id: OrgId, package_id: PackageId, *, method: PaymentMethod, at: datetime, ref: str | None
    ) -> SessionPackage | None:
        """Move a PENDING package to PAID (one conditional UPDATE); the package if this call moved it, else None."""
        ...

    def mark_failed(self, org_id: OrgId, package_id: PackageId) -> bool:
        """Move a PENDING package to FAILED (one conditional UPDATE); True if this call moved it."""
        ...

    def add_offer(self, offer: PackageOffer) -> None:
        """Store a new offer in the coach's catalogue."""
        ...

    def offer(self, org_id: OrgId, offer_id: PackageOfferId) -> PackageOffer:
        """The offer, or NotFound."""
        ...

    def offers(self, org_id: OrgId, *, active_only: bool = False) -> Rows[PackageOffer]:
        """The business's offers (only those clients can buy now with `active_only`), cheapest first."""
        ...

    def update_offer(self, offer: PackageOffer) -> None:
        """Store the offer's new name, sessions, price, validity and active flag."""
        ...


class AccountRepository(Protocol):
    """Logins, sessions, API tokens, resets, log-in throttling, security events (not org-scoped: they find the org)."""

    def add_login(self, login: Login) -> None:
        """Store a login; Conflict if the email already signs in somewhere."""
        ...

    def login_by_email(self, email: str) -> Login | None:
        """The login for this email, if any."""
        ...

    def set_password(self, coach_id: CoachId, password_hash: str) -> None:
        """Replace a coach's password hash."""
        ...

    def add_session(self, session: WebSession) -> None:
        """Store a new web session."""
        ...

    def session(self, token_digest: str) -> WebSession | None:
        """The session with this digest, if any."""
        ...

    def end_session(self, token_digest: str) -> None:
        """Delete one session."""
        ...

    def end_sessions_of(self, coach_id: CoachId) -> None:
        """Delete every session of a coach (after a password change)."""
        ...

    def add_api_token(self, token: ApiToken) -> None:
        """Store a new API token."""
        ...

    def api_token(self, token_digest: str) -> ApiToken | None:
        """The token with this digest, if any (revoked ones included)."""
        ...

    def api_tokens_of(self, org_id: OrgId, coach_id: CoachId) -> Rows[ApiToken]:
        """A coach's tokens, newest first."""
        ...

    def revoke_api_token(self, org_id: OrgId, coach_id: CoachId, token_id: UUID, at: datetime) -> None:
        """Revoke one of the coach's tokens, or NotFound."""
        ...

    def add_reset(self, token_digest: str, coach_id: CoachId, expires_at: datetime) -> None:
        """Store a password-reset token."""
        ...

    def take_reset(self, token_digest: str, now: datetime) -> CoachId | None:
        """Use a live reset token once, atomically; the coach it was for, or None."""
        ...

    def reserve_attempt(self, account: str, address: str, now: datetime, rule: ThrottleRule) -> AttemptSlot:
        """Count a log-in attempt for (account, address) unless it must wait; one conditional upsert."""
        ...

    def forget_attempts(self, account: str, address: str | None) -> None:
        """Forget the account's attempts from `address`, or (None) from everywhere with its account-wide count."""
        ...

    def bump_counter(self, scope: str, key: str, now: datetime, window: timedelta) -> int:
        """Add one to a fixed-window counter and return its count in the current window; one upsert."""
        ...

    def counter(self, scope: str, key: str, now: datetime, window: timedelta) -> int:
        """A fixed-window counter's count in the current window (0 once it has run out)."""
        ...

    def add_security_event(self, event: SecurityEvent) -> None:
        """Store something the coach should know about their account."""
        ...

    def security_events_of(self, org_id: OrgId, coach_id: CoachId, limit: int = 20) -> Sequence[SecurityEvent]:
        """The coach's security events, newest first."""
        ...

    def login_of(self, coach_id: CoachId) -> Login | None:
        """The coach's login, if they have one."""
        ...

    def revoke_api_tokens_of(self, org_id: OrgId, coach_id: CoachId, at: datetime) -> int:
        """Revoke every live API token of the coach (after a password reset); how many were live."""
        ...

    def prune(
        self, now: datetime, *, attempts_before: datetime, counters_before: datetime, events_before: datetime
    ) -> int:
        """Delete expired sessions, dead reset links, stale throttle rows and old security events; rows deleted."""
        ...

    def add_calendar_feed(self, org_id: OrgId, coach_id: CoachId, token_digest: str, at: datetime) -> bool:
        """Store the coach's calendar-feed digest unless they have one; whether it was stored."""
        ...

    def replace_calendar_feed(self, org_id: OrgId, coach_id: CoachId, token_digest: str, at: datetime) -> None:
        """Make `token_digest` the coach's only calendar-feed digest (the old one stops working)."""
        ...

    def calendar_feed_since(self, org_id: OrgId, coach_id: CoachId) -> datetime | None:
        """When the coach's current calendar feed was made, or None if they have none."""
        ...

    def calendar_feed_owner(self, token_digest: str) -> tuple[OrgId, CoachId] | None:
        """The organisation and coach whose calendar feed has this digest, if any."""
        ...


class AutomationRepository(Protocol):
    """Automations and the record of their runs (one run per automation and run key, ever)."""

    def add(self, automation: Automation) -> None:
        """Store a new automation."""
        ...

    def get(self, org_id: OrgId, automation_id: UUID) -> Automation:
        """The automation, or NotFound."""
        ...

    def list(self, org_id: OrgId) -> Rows[Automation]:
        """All automations of the organisation, by name."""
        ...

    def update(self, automation: Automation) -> None:
        """Replace the stored automation (enabled, last due time), or NotFound."""
        ...

    def org_ids(self) -> Sequence[OrgId]:
        """The organisations that have an enabled automation (the runner then works one at a time)."""
        ...

    def claim_run(self, run: AutomationRun) -> bool:
        """Record `run`; False (and nothing stored) if its automation already has a run with its key."""
        ...

    def finish_run(self, org_id: OrgId, automation_id: UUID, key: str, status: AutomationStatus, affected: int) -> None:
        """Set how the run with that key ended and what it changed."""
        ...

    def runs(self, org_id: OrgId, automation_id: UUID, limit: int = 20) -> Sequence[AutomationRun]:
        """The automation's latest runs, newest due time first."""
        ...

    def last_active_between(
        self, org_id: OrgId, after: datetime, until: datetime
    ) -> Sequence[tuple[ClientId, datetime]]:
        """Clients whose last activity is in (after, until], with it: the start of their latest booking
        that was not cancelled (past or future), or when they were added if they never booked."""
        ...

    def birthdays(self, org_id: OrgId, days: Sequence[tuple[int, int]]) -> Sequence[ClientId]:
        """Clients whose birthday falls on one of the (month, day) pairs."""
        ...


class TodoRepository(Protocol):
    """The coach's to-dos."""

    def add(self, todo: Todo) -> Todo:
        """Store `todo` unless its organisation has one with the same key; the stored one either way."""
        ...

    def get(self, org_id: OrgId, todo_id: UUID) -> Todo:
        """The to-do, or NotFound."""
        ...

    def open(self, org_id: OrgId, limit: int = 50) -> Rows[Todo]:
        """To-dos not yet done, oldest first."""
        ...

    def mark_done(self, org_id: OrgId, todo_id: UUID, at: datetime) -> Todo:
        """Tick the to-do off (ticking a done one again keeps its first time), or NotFound."""
        ...


class PortalRepository(Protocol):
    """Clients' sign-in links and codes, client sessions and deletion requests; always within one organisation."""

    def put_challenge(self, challenge: SignInChallenge) -> None:
        """Store the client's sign-in link and code, replacing any earlier one (which stops working)."""
        ...

    def take_link(self, org_id: OrgId, link_digest: str, now: datetime) -> ClientId | None:
        """Use a live, unused link of this organisation once (one conditional update); its client, or None."""
        ...

    def take_code(
        self, org_id: OrgId, client_id: ClientId, code_digest: str, now: datetime, max_failures: int
    ) -> ClientId | None:
        """Use the live code once if it matches and is not locked, else count a failure; its client, or None."""
        ...

    def add_session(self, session: ClientSession) -> None:
        """Store a new client session."""
        ...

    def session(self, org_id: OrgId, token_digest: str) -> ClientSession | None:
        """The organisation's client session with this digest, if any."""
        ...

    def end_session(self, org_id: OrgId, token_digest: str) -> None:
        """Delete one client session (unknown ones are ignored)."""
        ...

    def end_sessions_of(self, org_id: OrgId, client_id: ClientId) -> None:
        """Delete every session and pending sign-in of a client."""
        ...

    def request_deletion(self, org_id: OrgId, client_id: ClientId, at: datetime) -> datetime:
        """Record that the client asked to delete their account; the first request's time."""
        ...

    def deletion_requested(self, org_id: OrgId, client_id: ClientId) -> datetime | None:
        """When the client asked to delete their account, if they did and it is still open."""
        ...

    def forget_deletion_request(self, org_id: OrgId, client_id: ClientId) -> None:
        """Close the client's deletion request (approved or withdrawn)."""
        ...

    def put_contact_change(self, change: ContactChange) -> None:
        """Store the client's pending contact change, replacing any earlier one."""
        ...

    def take_contact_change(
        self, org_id: OrgId, client_id: ClientId, code_digest: str, now: datetime, max_failures: int
    ) -> ContactChange | None:
        """Use the live change's code once if it matches and is not locked, else count a failure; the change or None."""
        ...

    def prune(self, now: datetime) -> int:
        """Delete every organisation's expired client sessions and used or expired sign-ins and changes; how many."""
        ...


class MessageRepository(Protocol):
    """Every SMS and email an organisation sends or receives (see `domain/messages.py`)."""

    def add(self, message: Message) -> Message:
        """Store `message` unless its organisation already has one with the same key (outgoing) or the
        same provider id on the same channel (incoming); the stored message either way, so a retry
        that writes the same key again gets the first message back and queues nothing."""
        ...

    def get(self, org_id: OrgId, message_id: UUID) -> Message:
        """The message, or NotFound."""
        ...

    def by_key(self, org_id: OrgId, key: str) -> Message | None:
        """The outgoing message with this idempotency key, if any."""
        ...

    def for_client(self, org_id: OrgId, client_id: ClientId, limit: int = 200) -> Rows[Message]:
        """The client's latest messages, both directions, oldest first (a conversation)."""
        ...

    def cancel(self, org_id: OrgId, keys: Sequence[str], at: datetime) -> int:
        """Cancel those of `keys` still queued (not yet claimed by a worker); how many were cancelled."""
        ...

    def conversations(self, org_id: OrgId, limit: int, offset: int = 0) -> Rows[Conversation]:
        """One row per client with messages (latest message, unread count), most recent first, `offset` rows skipped."""
        ...

    def unread_count(self, org_id: OrgId) -> int:
        """Incoming messages of the organisation that no coach has read."""
        ...

    def mark_read(self, org_id: OrgId, client_id: ClientId, at: datetime) -> int:
        """Mark the client's unread incoming messages read at `at`; how many were marked."""
        ...

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> Sequence[ClaimedMessage]:
        """Up to `limit` outgoing messages of any organisation that are due at `now` (queued and past
        `not_before`, or `sending` with a lease that ran out), now `sending`, held until `lease_until`,
        with one more attempt counted; the caller commits this claim before it talks to the provider."""
        ...

    def settle(self, claim: ClaimedMessage, outcome: Message) -> bool:
        """Store `outcome` (the claimed message's new status, times, attempts, provider id, error) and end
        the claim, only while the claim still holds; whether it did (False: the lease ran out and
        another worker took the message over, or a delivery report moved it on)."""
        ...

    def delivery_report(
        self,
        provider_id: str,
        message_id: UUID | None,
        status: MessageStatus,
        last_error: str | None,
        at: datetime,
    ) -> Message | None:
        """Apply a provider's delivery report to the outgoing SMS of any organisation with this provider id
        (or, before its sender stored the id, the message `message_id` with none yet); the message as it
        now stands, or None if no message matches. A report only moves a message forward (see
        `domain/sending.MOVES_FROM`), so reports arriving out of order never undo a delivery."""
        ...

    def take_send_token(self, number: str, now: datetime, rate_per_second: float, burst: int) -> bool:
        """Take one token from the sending number's bucket (refilled at `rate_per_second`, holding at most
        `burst`), shared by every worker process; whether there was one."""


class MessageTemplateRepository(Protocol):
    """A business's own wording of its messages, one per (kind, channel); the defaults live in code."""

    def get(self, org_id: OrgId, kind: TemplateKind, channel: MessageChannel) -> MessageTemplate | None:
        """The business's wording, or None (use the default; also for a stored one that cannot be read)."""
        ...

    def list(self, org_id: OrgId) -> Sequence[MessageTemplate]:
        """Every wording the business saved (those that can be read)."""
        ...

    def save(self, template: MessageTemplate) -> None:
        """Store the wording, replacing the business's earlier one for that kind and channel."""
        ...

    def delete(self, org_id: OrgId, kind: TemplateKind, channel: MessageChannel) -> bool:
        """Remove the business's wording (the default applies again); whether there was one."""
        ...


class PhoneNumberRepository(Protocol):
    """The numbers each organisation receives texts on; a number belongs to one organisation at most."""

    def add(self, number: PhoneNumber) -> None:
        """Store `number`; Conflict if any organisation (this one included) already has it."""
        ...

    def remove(self, org_id: OrgId, number_id: UUID) -> PhoneNumber:
        """Delete one of the organisation's numbers and return it, or NotFound."""
        ...

    def list(self, org_id: OrgId) -> Rows[PhoneNumber]:
        """The organisation's numbers, in the order they were added."""
        ...

    def owner(self, number: str) -> PhoneNumber | None:
        """The record of `number` (E.164) whichever organisation has it: an incoming text names no organisation."""
        ...

    def hold_sender(self, org_id: OrgId, sender: str) -> None:
        """Until this transaction ends, make other transactions taking in texts from `sender` to this
        organisation wait, so two texts from a new person arriving together make one lead, not two."""
        ...


class FormRepository(Protocol):
    """Forms, their published versions (never changed), clients' submissions (never changed), clearances and the
    log of coaches viewing answers (both only ever added to)."""

    def add(self, form: Form) -> None:
        """Store a new form (its draft)."""
        ...

    def get(self, org_id: OrgId, form_id: UUID) -> Form:
        """The form with its draft, or NotFound."""
        ...

    def list(self, org_id: OrgId) -> Rows[Form]:
        """Every form, by name."""
        ...

    def update(self, form: Form) -> None:
        """Replace the form's draft and published count, or NotFound."""
        ...

    def publish(self, version: FormVersion) -> None:
        """Store a new version; Conflict if the form already has one with its number."""
        ...

    def version(self, org_id: OrgId, version_id: UUID) -> FormVersion:
        """A published version, or NotFound."""
        ...

    def versions(self, org_id: OrgId, form_id: UUID) -> Sequence[FormVersion]:
        """The form's published versions, newest first."""
        ...

    def submit(self, submission: Submission) -> Submission:
        """Store the answers; a repeated (org, key) stores nothing and returns the first submission."""
        ...

    def submission(self, org_id: OrgId, submission_id: UUID) -> Submission:
        """A submission, or NotFound."""
        ...

    def submissions(self, org_id: OrgId, client_id: ClientId) -> Sequence[Submission]:
        """The client's submissions of every form, newest first."""
        ...

    def latest_screening(self, org_id: OrgId, client_id: ClientId) -> Submission | None:
        """The client's newest submission of any screening form."""
        ...

    def completed_current(self, org_id: OrgId, client_id: ClientId, form_id: UUID) -> bool:
        """Whether the client submitted the form's newest published version (False if none is published)."""
        ...

    def add_clearance(self, clearance: Clearance, document: Document | None = None) -> None:
        """Keep a clearance, with its document if any, for good."""
        ...

    def clearance_document(self, org_id: OrgId, clearance_id: UUID) -> Document:
        """The document kept with a clearance; NotFound if there is none."""
        ...

    def clearances(self, org_id: OrgId, client_id: ClientId) -> Sequence[Clearance]:
        """The client's clearances, newest first."""
        ...

    def log_view(self, viewed: AnswersViewed) -> None:
        """Record that a coach opened a client's answers, for good."""
        ...

    def views(self, org_id: OrgId, client_id: ClientId, limit: int = 100) -> Sequence[AnswersViewed]:
        """Who opened the client's answers, newest first."""
        ...


class Outbox(Protocol):
    """Events recorded with the change that caused them, for later delivery."""

    def pending(self, limit: int = 100) -> Sequence[Event]:
        """Events not yet handed to their consumers, oldest first."""
        ...

    def fan_out(self, consumers: Mapping[str, Sequence[str]], now: datetime, limit: int) -> int:
        """Give up to `limit` new events a pending delivery per consumer of their type name; events taken."""
        ...

    def claim(self, now: datetime, until: datetime, limit: int) -> Sequence[Delivery]:
        """Up to `limit` deliveries due at `now` that no one holds, held by the caller until `until`."""
        ...

    def delivered(self, event_id: UUID, consumer: str) -> None:
        """Mark the consumer's delivery of the event done."""
        ...

    def failed(self, event_id: UUID, consumer: str, error: str, retry_at: datetime | None) -> None:
        """Count a failed attempt: try again at `retry_at`, or dead-letter it when that is None."""
        ...

    def dead_letters(self, limit: int) -> Sequence[DeadLetter]:
        """Deliveries given up on, oldest event first."""
        ...

    def requeue(self, event_id: UUID, consumer: str | None, now: datetime) -> int:
        """Make the event's dead deliveries (one consumer's, or all) due at `now` with fresh attempts; how many."""
        ...


class LedgerRepository(Protocol):
    """The append-only ledger: transactions are recorded once per (business, key), never changed.

    The database itself refuses UPDATE and DELETE of its rows (migration 0022).
    """

    def record(self, tx: LedgerTransaction) -> bool:
        """Store `tx` with its lines; False (nothing written) if the business has a transaction with its key."""
        ...

    def by_key(self, org_id: OrgId, key: str) -> LedgerTransaction | None:
        """The business's transaction recorded under `key`, if any."""
        ...

    def transactions(self, org_id: OrgId) -> Sequence[LedgerTransaction]:
        """The business's transactions, oldest first (by when they happened, then key)."""
        ...

    def balances(self, org_id: OrgId, currency: str) -> Mapping[Account, int]:
        """Each account's balance in `currency` (debits positive), summed by the store; unused accounts left out."""
        ...

    def summary(self, org_id: OrgId, boundaries: Sequence[datetime]) -> Sequence[LedgerSum]:
        """The business's lines summed by the store per period (see `domain.accounting.summarise`)."""
        ...

    def window(
        self,
        org_id: OrgId,
        start: datetime,
        end: datetime,
        *,
        newest_first: bool = False,
        limit: int,
        offset: int = 0,
        kinds: Collection[SourceKind] = (),
        after: tuple[datetime, str] | None = None,
    ) -> Sequence[LedgerTransaction]:
        """Up to `limit` transactions that happened in [start, end) (of `kinds`, if any), by time then key,
        skipping `offset` of them and, if `after` is given, every one up to that (time, key) in this order."""
        ...


class WaiverRepository(Protocol):
    """Waivers, their published versions and clients' signatures; versions and signatures are never changed.

    The database itself refuses UPDATE and DELETE of versions and signatures (migration 0018), so
    there are no methods here to change them.
    """

    def add(self, waiver: Waiver) -> None:
        """Store a new waiver (its title; its text comes with its first version)."""
        ...

    def get(self, org_id: OrgId, waiver_id: WaiverId) -> Waiver:
        """One of the organisation's waivers, or NotFound."""
        ...

    def list(self, org_id: OrgId) -> Sequence[Waiver]:
        """The organisation's waivers, by title."""
        ...

    def publish(self, version: WaiverVersion) -> None:
        """Store a new version; Conflict if the waiver already has a version with that number."""
        ...

    def versions(self, org_id: OrgId, waiver_id: WaiverId) -> Sequence[WaiverVersion]:
        """The waiver's versions, oldest first."""
        ...

    def version(self, org_id: OrgId, version_id: WaiverVersionId) -> WaiverVersion:
        """One version, or NotFound."""
        ...

    def sign(self, signature: WaiverSignature) -> WaiverSignature:
        """Store a signature, or return the one the client already gave on that version (signing twice is once)."""
        ...

    def signature(self, org_id: OrgId, signature_id: UUID) -> WaiverSignature:
        """One signature, or NotFound."""
        ...

    def signatures(self, org_id: OrgId, client_id: ClientId) -> Sequence[WaiverSignature]:
        """Every signature of the client, newest first."""
        ...

    def signed_current(self, org_id: OrgId, client_id: ClientId, waiver_id: WaiverId) -> bool:
        """Whether the client has signed the waiver's latest material version or a later one."""
        ...


class UnitOfWork(Protocol):
    """One transaction over every repository: all of it commits, or none of it."""

    orgs: OrganizationRepository
    coaches: CoachRepository
    clients: ClientRepository
    services: ServiceRepository
    availability: AvailabilityRepository
    calendar: CalendarRepository
    bookings: BookingRepository
    packages: PackageRepository
    outbox: Outbox
    accounts: AccountRepository
    automations: AutomationRepository
    messages: MessageRepository
    templates: MessageTemplateRepository
    phone_numbers: PhoneNumberRepository
    todos: TodoRepository
    portal: PortalRepository
    forms: FormRepository
    waivers: WaiverRepository
    onboarding: OnboardingRepository
    ledger: LedgerRepository
    stripe: StripeRepository
    memberships: MembershipRepository
    platform: PlatformRepository
    refunds: RefundRepository

    def __enter__(self) -> Self:
        """Begin the transaction."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed, and end the transaction."""
        ...

    def emit(self, event: Event) -> None:
        """Record `event` to be stored with this transaction's changes."""
        ...

    def commit(self) -> None:
        """Make every change and emitted event permanent, together."""
        ...

    def rollback(self) -> None:
        """Discard every change and emitted event."""
        ...
