"""In-memory repositories, scoped by organisation exactly as the SQL ones are."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

import attrs

from coachos.domain.accounts import ApiToken, Login, SecurityEvent, WebSession
from coachos.domain.automations import Automation, AutomationRun, AutomationStatus
from coachos.domain.availability import BusyBlock, DateOverride, WeeklyRule
from coachos.domain.bookings import (
    ALLOWED_FROM,
    Appointment,
    Booking,
    BookingStatus,
    CreditChange,
    CreditEvent,
    CreditEventKind,
    FeeCharge,
    FeeState,
    PaymentIssue,
    SavedCard,
)
from coachos.domain.catalog import PackageOffer, PaymentMethod, PaymentState, Service, SessionPackage
from coachos.domain.clients import Client, ClientStatus
from coachos.domain.consent import ConsentChange
from coachos.domain.errors import (
    Conflict,
    CorruptRecord,
    NoCreditsLeft,
    NotFound,
    PackageExpired,
    PackageUnpaid,
    SlotUnavailable,
)
from coachos.domain.events import DeadLetter, Delivery, Event
from coachos.domain.forms import AnswersViewed, Clearance, Document, Form, FormVersion, Submission
from coachos.domain.ids import (
    SYSTEM,
    Actor,
    AppointmentId,
    BookingId,
    ClientId,
    CoachId,
    OrgId,
    PackageId,
    PackageOfferId,
    ServiceId,
)
from coachos.domain.ledger import LedgerTransaction
from coachos.domain.memberships import Membership, MembershipPlan, PeriodGrant
from coachos.domain.messages import Message, MessageChannel
from coachos.domain.numbers import PhoneNumber
from coachos.domain.onboarding import OnboardingFlow, OnboardingStart
from coachos.domain.orgs import Coach, Organization
from coachos.domain.platform import SEED_PLANS, OrgSubscription, PlatformInvoice, PlatformPlan
from coachos.domain.portal import ClientSession, ContactChange, SignInChallenge
from coachos.domain.refunds import Refund, RefundTotals
from coachos.domain.rows import Rows, corrupt_record
from coachos.domain.stripe_events import StripeAccount, StripeEvent
from coachos.domain.templates import MessageTemplate, TemplateKind
from coachos.domain.todos import Todo
from coachos.domain.waivers import Waiver, WaiverSignature, WaiverVersion

T = TypeVar("T")


@attrs.frozen
class UnreadableRow:
    """A stored row the fake cannot read: tests plant one to play a faulty migration or a manual SQL fix.

    `keys` holds the columns list reads filter on (client_id, coach_id, starts_at); a read finds
    the row when the keys it filters on match, as SQL still finds a row by its readable columns.
    A key the row does not give matches any filter.
    """

    table: str
    id: UUID
    org_id: OrgId
    keys: Mapping[str, object] = attrs.field(factory=dict)

    def matches(self, **wanted: object) -> bool:
        """Whether a read filtering on `wanted` (column → value) finds this row."""
        return all(self.keys.get(k, v) == v for k, v in wanted.items())

    def starts_within(self, start: datetime, end: datetime) -> bool:
        """Whether a read of [start, end) by start time finds this row (one planted with no start always)."""
        at = self.keys.get("starts_at")
        return not isinstance(at, datetime) or start <= at < end


@attrs.frozen
class DeliveryRow:
    """A row of outbox_deliveries."""

    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    claimed_until: datetime | None = None


@attrs.define
class Tables:
    """The fake's tables."""

    orgs: dict[UUID, Organization] = attrs.Factory(dict)
    coaches: dict[UUID, Coach] = attrs.Factory(dict)
    clients: dict[UUID, Client] = attrs.Factory(dict)
    services: dict[UUID, Service] = attrs.Factory(dict)
    weekly: dict[tuple[UUID, UUID], tuple[WeeklyRule, ...]] = attrs.Factory(dict)
    overrides: dict[UUID, tuple[OrgId, DateOverride]] = attrs.Factory(dict)
    appointments: dict[UUID, Appointment] = attrs.Factory(dict)
    bookings: dict[UUID, Booking] = attrs.Factory(dict)
    packages: dict[UUID, SessionPackage] = attrs.Factory(dict)
    package_offers: dict[UUID, PackageOffer] = attrs.Factory(dict)
    credit_events: list[tuple[OrgId, CreditEvent]] = attrs.Factory(list)
    outbox: list[Event] = attrs.Factory(list)
    #: The id of each event in `outbox`, at the same position.
    event_ids: list[UUID] = attrs.Factory(list)
    #: Ids of the events the relay has given their deliveries.
    published: set[UUID] = attrs.Factory(set)
    #: (event id, consumer) → that consumer's progress with that event.
    deliveries: dict[tuple[UUID, str], DeliveryRow] = attrs.Factory(dict)
    logins: dict[str, Login] = attrs.Factory(dict)
    sessions: dict[str, WebSession] = attrs.Factory(dict)
    api_tokens: dict[str, ApiToken] = attrs.Factory(dict)
    resets: dict[str, tuple[CoachId, datetime, datetime | None]] = attrs.Factory(dict)
    #: (account, address) → (attempts, last attempt, retry at)
    attempts: dict[tuple[str, str], tuple[int, datetime, datetime | None]] = attrs.Factory(dict)
    #: (scope, key) → (count, window start)
    counters: dict[tuple[str, str], tuple[int, datetime]] = attrs.Factory(dict)
    security_events: list[SecurityEvent] = attrs.Factory(list)
    #: coach id → (org id, feed token digest, created at)
    calendar_feeds: dict[UUID, tuple[OrgId, str, datetime]] = attrs.Factory(dict)
    #: (org id, kind, channel) → the business's own wording.
    templates: dict[tuple[OrgId, TemplateKind, MessageChannel], MessageTemplate] = attrs.Factory(dict)
    automations: dict[UUID, Automation] = attrs.Factory(dict)
    #: (automation id, run key) → run
    automation_runs: dict[tuple[UUID, str], AutomationRun] = attrs.Factory(dict)
    messages: dict[UUID, Message] = attrs.Factory(dict)
    #: message id → the lease of the worker sending it (the SQL table's `lease_until`)
    message_leases: dict[UUID, datetime] = attrs.Factory(dict)
    #: sending number → (micro-tokens, refilled at, in microseconds since the epoch)
    send_rates: dict[str, tuple[int, int]] = attrs.Factory(dict)
    waivers: dict[UUID, Waiver] = attrs.Factory(dict)
    waiver_versions: dict[UUID, WaiverVersion] = attrs.Factory(dict)
    waiver_signatures: dict[UUID, WaiverSignature] = attrs.Factory(dict)
    phone_numbers: dict[UUID, PhoneNumber] = attrs.Factory(dict)
    consent_log: list[ConsentChange] = attrs.Factory(list)
    todos: dict[UUID, Todo] = attrs.Factory(dict)
    #: (org id, client id) → the client's live sign-in link and code
    client_challenges: dict[tuple[UUID, UUID], SignInChallenge] = attrs.Factory(dict)
    #: session token digest → client session
    client_sessions: dict[str, ClientSession] = attrs.Factory(dict)
    #: (org id, client id) → the client's pending new email or phone
    contact_changes: dict[tuple[UUID, UUID], ContactChange] = attrs.Factory(dict)
    #: (org id, client id) → when the client asked to delete their account
    deletion_requests: dict[tuple[UUID, UUID], datetime] = attrs.Factory(dict)
    forms: dict[UUID, Form] = attrs.Factory(dict)
    form_versions: dict[UUID, FormVersion] = attrs.Factory(dict)
    form_submissions: dict[UUID, Submission] = attrs.Factory(dict)
    form_clearances: list[Clearance] = attrs.Factory(list)
    form_documents: dict[UUID, Document] = attrs.Factory(dict)
    form_views: list[AnswersViewed] = attrs.Factory(list)
    onboarding_flows: dict[UUID, OnboardingFlow] = attrs.Factory(dict)
    #: (flow id, client id) → when that client's onboarding in that flow started
    onboarding_starts: dict[tuple[UUID, UUID], OnboardingStart] = attrs.Factory(dict)
    #: (org id, key) → ledger transaction
    ledger: dict[tuple[UUID, str], LedgerTransaction] = attrs.Factory(dict)
    #: Stripe event id → the event, kept once
    stripe_events: dict[str, StripeEvent] = attrs.Factory(dict)
    #: Stripe account id → the business's connected account
    stripe_accounts: dict[str, StripeAccount] = attrs.Factory(dict)
    membership_plans: dict[UUID, MembershipPlan] = attrs.Factory(dict)
    memberships: dict[UUID, Membership] = attrs.Factory(dict)
    #: Stripe invoice id → the period (and package) it granted
    membership_periods: dict[str, PeriodGrant] = attrs.Factory(dict)
    #: plan key → plan, seeded as migration 0026 seeds the table
    platform_plans: dict[str, PlatformPlan] = attrs.Factory(lambda: {p.key: p for p in SEED_PLANS})
    #: org id → the business's platform subscription
    org_subscriptions: dict[UUID, OrgSubscription] = attrs.Factory(dict)
    #: Stripe invoice id → what a business paid the platform
    platform_invoices: dict[str, PlatformInvoice] = attrs.Factory(dict)
    #: (org id, invoice id) of failed payments the coach was told about
    platform_failure_notices: set[tuple[UUID, str]] = attrs.Factory(set)
    refunds: dict[UUID, Refund] = attrs.Factory(dict)
    #: (org id, sale key) → that sale's refund sums
    refund_totals: dict[tuple[UUID, str], RefundTotals] = attrs.Factory(dict)
    #: Rows that cannot be read, by id (see UnreadableRow).
    unreadable: dict[UUID, UnreadableRow] = attrs.Factory(dict)


def _scoped(table: dict[UUID, T], org_id: OrgId, key: UUID, what: str) -> T:
    row = table.get(key)
    if row is None or getattr(row, "org_id", None) != org_id:
        raise NotFound(f"No such {what} in this business.")
    return row


class _Repo:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def _check_readable(self, table: str, org_id: OrgId, key: UUID) -> None:
        """Raise CorruptRecord, as SQL does, when the row asked for by id is one that cannot be read."""
        bad = self._t.unreadable.get(key)
        if bad is not None and bad.table == table and bad.org_id == org_id:
            raise corrupt_record(table, key)

    def _rows(self, table: str, org_id: OrgId, items: Iterable[T], **wanted: object) -> Rows[T]:
        """`items` with the unreadable rows of `table` that a read filtering on `wanted` would meet."""
        return Rows(items, self._unreadable(table, org_id, wanted))

    def _unreadable(
        self,
        table: str,
        org_id: OrgId,
        wanted: Mapping[str, object],
        where: Callable[[UnreadableRow], bool] | None = None,
    ) -> list[CorruptRecord]:
        return [
            corrupt_record(table, bad.id)
            for bad in self._t.unreadable.values()
            if bad.table == table and bad.org_id == org_id and bad.matches(**wanted) and (where is None or where(bad))
        ]


class MemoryOrganizations(_Repo):
    """Organisations in memory."""

    def add(self, org: Organization) -> None:
        """Store a new organisation."""
        if any(o.slug == org.slug for o in self._t.orgs.values()):
            raise Conflict(f"The address '{org.slug}' is taken; choose another.")
        self._t.orgs[org.id] = org

    def get(self, org_id: OrgId) -> Organization:
        """The organisation."""
        if org_id not in self._t.orgs:
            raise NotFound("No such business.")
        return self._t.orgs[org_id]

    def by_slug(self, slug: str) -> Organization:
        """The organisation with this slug."""
        for org in self._t.orgs.values():
            if org.slug == slug:
                return org
        raise NotFound("No such business.")

    def ids(self) -> Sequence[OrgId]:
        """Every organisation's id."""
        return sorted((OrgId(i) for i in self._t.orgs), key=str)

    def update(self, org: Organization) -> None:
        """Replace the stored organisation."""
        self.get(org.id)
        self._t.orgs[org.id] = org


class MemoryCoaches(_Repo):
    """Coaches in memory."""

    def add(self, coach: Coach) -> None:
        """Store a new coach."""
        self._org(coach.org_id)
        if any(c.org_id == coach.org_id and c.email == coach.email for c in self._t.coaches.values()):
            raise Conflict("A coach with this email already works here.")
        self._t.coaches[coach.id] = coach

    def _org(self, org_id: OrgId) -> None:
        if org_id not in self._t.orgs:
            raise NotFound("No such business.")

    def get(self, org_id: OrgId, coach_id: CoachId) -> Coach:
        """The coach."""
        self._check_readable("coaches", org_id, coach_id)
        return _scoped(self._t.coaches, org_id, coach_id, "coach")

    def list(self, org_id: OrgId) -> Rows[Coach]:
        """All coaches, by name."""
        mine = sorted((c for c in self._t.coaches.values() if c.org_id == org_id), key=lambda c: c.name)
        return self._rows("coaches", org_id, mine)


class MemoryClients(_Repo):
    """Clients in memory."""

    def add(self, client: Client) -> None:
        """Store a new client."""
        self._t.clients[client.id] = client

    def get(self, org_id: OrgId, client_id: ClientId) -> Client:
        """The client."""
        self._check_readable("clients", org_id, client_id)
        return _scoped(self._t.clients, org_id, client_id, "client")

    def update(self, client: Client) -> None:
        """Replace the stored client."""
        self.get(client.org_id, client.id)
        self._t.clients[client.id] = client

    def by_contact(self, org_id: OrgId, *, email: str | None, phone: str | None) -> Client | None:
        """The oldest client with this email, else with this phone."""
        mine = sorted((c for c in self._t.clients.values() if c.org_id == org_id), key=lambda c: c.created_at)
        for field, value in (("email", email), ("phone", phone)):
            if value is not None and (found := next((c for c in mine if getattr(c, field) == value), None)):
                return found
        return None

    def list(
        self,
        org_id: OrgId,
        *,
        search: str = "",
        limit: int = 100,
        status: ClientStatus | None = None,
        tag: str | None = None,
    ) -> Rows[Client]:
        """Clients matching `search`, status and tag, by name."""
        needle = search.strip().lower()

        def hit(c: Client) -> bool:
            return (
                any(needle in (v or "").lower() for v in (c.name, c.email, c.phone))
                and status in (None, c.status)
                and (tag is None or tag in c.tags)
            )

        found = [c for c in self._t.clients.values() if c.org_id == org_id and hit(c)]
        return self._rows("clients", org_id, sorted(found, key=lambda c: c.name.lower())[:limit])

    def lock(self, org_id: OrgId, client_id: ClientId) -> Client:
        """The client (a memory unit of work already holds the whole store)."""
        return self.get(org_id, client_id)

    def log_consent(self, change: ConsentChange) -> None:
        """Keep a consent given or withdrawn."""
        self.get(change.org_id, change.client_id)
        self._t.consent_log.append(change)

    def consent_log(self, org_id: OrgId, client_id: ClientId) -> Rows[ConsentChange]:
        """The client's consent changes, oldest first."""
        mine = [c for c in self._t.consent_log if c.org_id == org_id and c.client_id == client_id]
        return self._rows("consent_events", org_id, sorted(mine, key=lambda c: c.at), client_id=client_id)


class MemoryServices(_Repo):
    """Services in memory."""

    def add(self, service: Service) -> None:
        """Store a new service."""
        self._t.services[service.id] = service

    def get(self, org_id: OrgId, service_id: ServiceId) -> Service:
        """The service."""
        self._check_readable("services", org_id, service_id)
        return _scoped(self._t.services, org_id, service_id, "service")

    def list(self, org_id: OrgId) -> Rows[Service]:
        """All services, by name."""
        mine = sorted((s for s in self._t.services.values() if s.org_id == org_id), key=lambda s: s.name)
        return self._rows("services", org_id, mine)

    def update(self, service: Service) -> None:
        """Replace the stored service."""
        self.get(service.org_id, service.id)
        self._t.services[service.id] = service


class MemoryAvailability(_Repo):
    """Weekly hours and overrides in memory."""

    def replace_weekly(self, org_id: OrgId, coach_id: CoachId, rules: Sequence[WeeklyRule]) -> None:
        """Make `rules` the coach's week."""
        self._t.weekly[(org_id, coach_id)] = tuple(rules)

    def weekly(self, org_id: OrgId, coach_id: CoachId) -> Rows[WeeklyRule]:
        """The coach's week."""
        return self._rows("weekly_rules", org_id, self._t.weekly.get((org_id, coach_id), ()), coach_id=coach_id)

    def add_override(self, org_id: OrgId, override: DateOverride) -> None:
        """Store an override."""
        self._t.overrides[override.id] = (org_id, override)

    def remove_override(self, org_id: OrgId, override_id: UUID) -> None:
        """Delete an override."""
        row = self._t.overrides.get(override_id)
        if row is None or row[0] != org_id:
            raise NotFound("No such date override in this business.")
        del self._t.overrides[row[1].id]

    def overrides(self, org_id: OrgId, coach_id: CoachId, first: date, last: date) -> Rows[DateOverride]:
        """The coach's overrides between two local dates."""
        found = sorted(
            (
                o
                for org, o in self._t.overrides.values()
                if org == org_id and o.coach_id == coach_id and first <= o.on <= last
            ),
            key=lambda o: (o.on, o.start or o.end or datetime.min.time()),
        )
        return self._rows("date_overrides", org_id, found, coach_id=coach_id)


class MemoryCalendar(_Repo):
    """Appointments in memory; the store's lock makes each change atomic."""

    def busy(self, org_id: OrgId, coach_id: CoachId, start: datetime, end: datetime) -> Sequence[BusyBlock]:
        """The coach's active appointments overlapping [start, end); CorruptRecord if one cannot be read."""
        for bad in self._unreadable("appointments", org_id, {"coach_id": coach_id}):
            raise bad
        return sorted(
            (
                BusyBlock(start=a.start, end=a.blocks_until, service_id=a.service_id, seats_left=a.seats_left)
                for a in self._active(org_id, coach_id)
                if a.start < end and a.blocks_until > start
            ),
            key=lambda b: b.start,
        )

    def _active(self, org_id: OrgId, coach_id: CoachId) -> list[Appointment]:
        return [
            a
            for a in self._t.appointments.values()
            if a.org_id == org_id and a.coach_id == coach_id and a.seats_taken > 0
        ]

    def take_seat(self, org_id: OrgId, wanted: Appointment) -> Appointment:
        """A seat in the matching appointment, created if there is none."""
        overlapping = [
            a
            for a in self._active(org_id, wanted.coach_id)
            if a.start < wanted.blocks_until and a.blocks_until > wanted.start
        ]
        same = [
            a for a in overlapping if (a.service_id, a.start, a.end) == (wanted.service_id, wanted.start, wanted.end)
        ]
        if len(overlapping) != len(same) or (same and same[0].seats_left < 1):
            raise SlotUnavailable("That time is not available any more; please pick another slot.")
        taken = attrs.evolve(same[0] if same else wanted, seats_taken=(same[0].seats_taken if same else 0) + 1)
        self._t.appointments[taken.id] = taken
        return taken

    def release_seat(self, org_id: OrgId, appointment_id: AppointmentId) -> None:
        """Give one seat back."""
        a = _scoped(self._t.appointments, org_id, appointment_id, "appointment")
        self._t.appointments[a.id] = attrs.evolve(a, seats_taken=max(0, a.seats_taken - 1))


class MemoryBookings(_Repo):
    """Bookings in memory."""

    def add(self, booking: Booking) -> None:
        """Store a new booking."""
        if (
            booking.idempotency_key is not None
            and booking.idempotency_scope is not None
            and self.by_idempotency_key(booking.org_id, booking.idempotency_scope, booking.idempotency_key)
        ):
            raise Conflict("This booking request was already made.")
        self._t.bookings[booking.id] = booking

    def get(self, org_id: OrgId, booking_id: BookingId) -> Booking:
        """The booking."""
        self._check_readable("bookings", org_id, booking_id)
        return _scoped(self._t.bookings, org_id, booking_id, "booking")

    def by_idempotency_key(self, org_id: OrgId, scope: str, key: str) -> Booking | None:
        """The booking made with `key` in `scope`."""
        return next(
            (
                b
                for b in self._t.bookings.values()
                if b.org_id == org_id and b.idempotency_scope == scope and b.idempotency_key == key
            ),
            None,
        )

    def transition(
        self, org_id: OrgId, booking_id: BookingId, to: BookingStatus, *, at: datetime, actor: Actor
    ) -> Booking | None:
        """Move the booking if its status allows."""
        b = self.get(org_id, booking_id)
        if b.status not in ALLOWED_FROM[to]:
            return None
        moved = attrs.evolve(b, status=to, updated_at=at, updated_by=actor)
        self._t.bookings[b.id] = moved
        return moved

    def set_package(self, org_id: OrgId, booking_id: BookingId, package_id: PackageId) -> None:
        """Record the paying package."""
        b = self.get(org_id, booking_id)
        self._t.bookings[b.id] = attrs.evolve(b, package_id=package_id)

    def _held_update(self, org_id: OrgId, booking_id: BookingId, **changes: Any) -> Booking | None:
        b = self.get(org_id, booking_id)
        if b.status is not BookingStatus.HELD:
            return None
        moved = attrs.evolve(b, **changes)
        self._t.bookings[b.id] = moved
        return moved

    def confirm_held(
        self, org_id: OrgId, booking_id: BookingId, *, at: datetime, payment_ref: str | None
    ) -> Booking | None:
        """HELD → CONFIRMED with the payment recorded; None unless it was still held."""
        return self._held_update(
            org_id,
            booking_id,
            status=BookingStatus.CONFIRMED,
            paid_at=at,
            payment_ref=payment_ref,
            updated_at=at,
            updated_by=SYSTEM,
        )

    def release_held(self, org_id: OrgId, booking_id: BookingId, *, at: datetime) -> Booking | None:
        """HELD → CANCELLED; None unless still held."""
        return self._held_update(org_id, booking_id, status=BookingStatus.CANCELLED, updated_at=at, updated_by=SYSTEM)

    def record_late_payment(
        self, org_id: OrgId, booking_id: BookingId, *, at: datetime, payment_ref: str | None
    ) -> Booking | None:
        """Mark a booking no longer held as paid after its release, once; None if it was marked before."""
        b = self.get(org_id, booking_id)
        if b.status is BookingStatus.HELD or b.paid_at is not None:
            return None
        marked = attrs.evolve(b, paid_at=at, payment_ref=payment_ref, payment_issue=PaymentIssue.PAID_AFTER_RELEASE)
        self._t.bookings[b.id] = marked
        return marked

    def set_payment_ref(self, org_id: OrgId, booking_id: BookingId, payment_ref: str) -> None:
        """Record the Checkout Session of a held booking."""
        self._held_update(org_id, booking_id, payment_ref=payment_ref)

    def expired_holds(self, now: datetime, *, limit: int = 100) -> list[tuple[OrgId, BookingId]]:
        """Held bookings of every organisation whose hold ended by `now`, oldest expiry first."""
        due = sorted(
            (b for b in self._t.bookings.values() if b.status is BookingStatus.HELD and b.hold_expires_at is not None),
            key=lambda b: b.hold_expires_at or now,
        )
        return [(b.org_id, b.id) for b in due if b.hold_expires_at is not None and b.hold_expires_at <= now][:limit]

    def save_card(self, org_id: OrgId, booking_id: BookingId, card: SavedCard) -> None:
        """Keep the card the booking was paid with, for its fees (the first one kept stays)."""
        b = self.get(org_id, booking_id)
        if b.saved_card is None:
            self._t.bookings[b.id] = attrs.evolve(b, saved_card=card)

    def start_fee(self, org_id: OrgId, booking_id: BookingId, fee: FeeCharge) -> bool:
        """Record the fee owed unless the booking has one already; True if this call recorded it."""
        b = self.get(org_id, booking_id)
        if b.fee is not None:
            return False
        self._t.bookings[b.id] = attrs.evolve(b, fee=fee)
        return True

    def finish_fee(
        self, org_id: OrgId, booking_id: BookingId, *, state: FeeState, at: datetime, ref: str | None, error: str | None
    ) -> Booking | None:
        """PENDING → `state`; None if the fee was not pending any more."""
        b = self.get(org_id, booking_id)
        if b.fee is None or b.fee.state is not FeeState.PENDING:
            return None
        done = attrs.evolve(b, fee=attrs.evolve(b.fee, state=state, at=at, ref=ref, error=error))
        self._t.bookings[b.id] = done
        return done

    def pending_fees(self, *, limit: int = 100) -> list[tuple[OrgId, BookingId]]:
        """Bookings of every organisation whose fee waits to be charged."""
        return [
            (b.org_id, b.id) for b in self._t.bookings.values() if b.fee is not None and b.fee.state is FeeState.PENDING
        ][:limit]

    def unpaid_fees(self, org_id: OrgId, *, limit: int = 100) -> Rows[Booking]:
        """The organisation's bookings whose fee is pending or failed, oldest fee first."""
        owed = (FeeState.PENDING, FeeState.FAILED)
        mine = [
            b for b in self._t.bookings.values() if b.org_id == org_id and b.fee is not None and b.fee.state in owed
        ]
        mine.sort(key=lambda b: (b.fee.at if b.fee is not None else b.created_at, str(b.id)))
        return self._rows("bookings", org_id, mine[:limit])

    def between(
        self, org_id: OrgId, start: datetime, end: datetime, *, coach_id: CoachId | None = None
    ) -> Rows[Booking]:
        """Bookings starting in [start, end)."""
        found = sorted(
            (
                b
                for b in self._t.bookings.values()
                if b.org_id == org_id and start <= b.start < end and coach_id in (None, b.coach_id)
            ),
            key=lambda b: (b.start, b.created_at),
        )
        wanted = {} if coach_id is None else {"coach_id": coach_id}
        return Rows(found, self._unreadable("bookings", org_id, wanted, lambda bad: bad.starts_within(start, end)))

    def for_client(self, org_id: OrgId, client_id: ClientId) -> Rows[Booking]:
        """A client's bookings."""
        found = sorted(
            (b for b in self._t.bookings.values() if b.org_id == org_id and b.client_id == client_id),
            key=lambda b: (b.start, b.created_at),
        )
        return self._rows("bookings", org_id, found, client_id=client_id)


class MemoryPackages(_Repo):
    """Packages in memory; the store's lock stands in for the database's atomic statements."""

    def add(self, package: SessionPackage) -> None:
        """Store a new package."""
        self._t.packages[package.id] = package

    def get(self, org_id: OrgId, package_id: PackageId) -> SessionPackage:
        """The package."""
        self._check_readable("packages", org_id, package_id)
        return _scoped(self._t.packages, org_id, package_id, "package")

    def for_client(self, org_id: OrgId, client_id: ClientId) -> Rows[SessionPackage]:
        """A client's packages, soonest to expire first."""
        found = sorted(
            (p for p in self._t.packages.values() if p.org_id == org_id and p.client_id == client_id),
            key=lambda p: (p.expires_at is None, p.expires_at or p.purchased_at, p.purchased_at),
        )
        return self._rows("packages", org_id, found, client_id=client_id)

    def recent(self, org_id: OrgId, *, limit: int = 50) -> Rows[SessionPackage]:
        """The organisation's packages, most recently sold first."""
        mine = [p for p in self._t.packages.values() if p.org_id == org_id]
        return self._rows("packages", org_id, sorted(mine, key=lambda p: p.purchased_at, reverse=True)[:limit])

    def unsettled(self, org_id: OrgId, *, limit: int = 100) -> Rows[SessionPackage]:
        """The organisation's packages whose payment is pending or failed, oldest first (never a paid one paused)."""
        waiting = (PaymentState.PENDING, PaymentState.FAILED)
        mine = [
            p
            for p in self._t.packages.values()
            if p.org_id == org_id and p.payment_state in waiting and p.paid_at is None
        ]
        return self._rows("packages", org_id, sorted(mine, key=lambda p: (p.purchased_at, p.id))[:limit])

    def _event(self, booking_id: BookingId, kind: CreditEventKind) -> CreditEvent | None:
        return next((e for _, e in self._t.credit_events if e.booking_id == booking_id and e.kind is kind), None)

    def use_credit(self, org_id: OrgId, event: CreditEvent) -> CreditChange:
        """Use a credit for the booking, once."""
        package = self.get(org_id, event.package_id)
        earlier = self._event(event.booking_id, CreditEventKind.USE)
        if earlier is not None:
            current = self._t.packages[earlier.package_id]
            return CreditChange(current.id, applied=False, used=current.used, total=current.total)
        if not package.is_paid:
            raise PackageUnpaid("This package has not been paid for yet; its sessions can be used once it is.")
        if package.is_expired(event.at):
            raise PackageExpired("This package has expired; sell the client a new one.")
        if package.used >= package.total:
            raise NoCreditsLeft("This package has no sessions left.")
        updated = attrs.evolve(package, used=package.used + 1)
        self._t.packages[package.id] = updated
        self._t.credit_events.append((org_id, event))
        return CreditChange(package.id, applied=True, used=updated.used, total=updated.total)

    def return_credit(
        self, org_id: OrgId, booking_id: BookingId, *, at: datetime, actor: Actor, reason: str
    ) -> CreditChange | None:
        """Give the booking's credit back, once."""
        use = self._event(booking_id, CreditEventKind.USE)
        if use is None or self._t.packages[use.package_id].org_id != org_id:
            return None
        package = self._t.packages[use.package_id]
        if self._event(booking_id, CreditEventKind.RETURN) is not None:
            return CreditChange(package.id, applied=False, used=package.used, total=package.total)
        updated = attrs.evolve(package, used=max(0, package.used - 1))
        self._t.packages[package.id] = updated
        self._t.credit_events.append(
            (org_id, CreditEvent(package.id, booking_id, CreditEventKind.RETURN, at, actor, reason))
        )
        return CreditChange(package.id, applied=True, used=updated.used, total=updated.total)

    def credit_events(self, org_id: OrgId, package_id: PackageId) -> Rows[CreditEvent]:
        """Every use and return of the package's credits."""
        found = [e for org, e in self._t.credit_events if org == org_id and e.package_id == package_id]
        return self._rows("credit_events", org_id, found, package_id=package_id)

    def mark_paid(
        self, org_id: OrgId, package_id: PackageId, *, method: PaymentMethod, at: datetime, ref: str | None
    ) -> SessionPackage | None:
        """PENDING → PAID, once (None, like the SQL UPDATE, for a package that is not there)."""
        package = self._t.packages.get(package_id)
        if package is None or package.org_id != org_id or package.payment_state is not PaymentState.PENDING:
            return None
        paid = attrs.evolve(
            package, payment_state=PaymentState.PAID, payment_method=method, paid_at=at, payment_ref=ref
        )
        self._t.packages[package_id] = paid
        return paid

    def mark_failed(self, org_id: OrgId, package_id: PackageId) -> bool:
        """PENDING → FAILED, once (False for a package that is not there)."""
        package = self._t.packages.get(package_id)
        if package is None or package.org_id != org_id or package.payment_state is not PaymentState.PENDING:
            return False
        self._t.packages[package_id] = attrs.evolve(package, payment_state=PaymentState.FAILED)
        return True

    def add_offer(self, offer: PackageOffer) -> None:
        """Store a new offer."""
        self._t.package_offers[offer.id] = offer

    def offer(self, org_id: OrgId, offer_id: PackageOfferId) -> PackageOffer:
        """The offer."""
        self._check_readable("package_offers", org_id, offer_id)
        return _scoped(self._t.package_offers, org_id, offer_id, "package offer")

    def offers(self, org_id: OrgId, *, active_only: bool = False) -> Rows[PackageOffer]:
        """The business's offers, cheapest first."""
        mine = [o for o in self._t.package_offers.values() if o.org_id == org_id and (o.active or not active_only)]
        mine.sort(key=lambda o: (o.price.amount_minor, o.sessions, o.name, str(o.id)))
        return self._rows("package_offers", org_id, mine)

    def update_offer(self, offer: PackageOffer) -> None:
        """Store the offer's changes."""
        self.offer(offer.org_id, offer.id)
        self._t.package_offers[offer.id] = offer


class MemoryOutbox(_Repo):
    """The outbox in memory (claims need no locks: a unit of work holds the whole store)."""

    def _new(self) -> list[tuple[UUID, Event]]:
        return [(i, e) for i, e in zip(self._t.event_ids, self._t.outbox, strict=True) if i not in self._t.published]

    def pending(self, limit: int = 100) -> Sequence[Event]:
        """Events not yet handed to their consumers, oldest first."""
        return [e for _, e in self._new()[:limit]]

    def fan_out(self, consumers: Mapping[str, Sequence[str]], now: datetime, limit: int) -> int:
        """Give up to `limit` new events a pending delivery per consumer of their type name; events taken."""
        taken = self._new()[:limit]
        for event_id, event in taken:
            for consumer in consumers.get(event.type_name, ()):
                row = DeliveryRow(status="pending", attempts=0, next_attempt_at=now)
                self._t.deliveries[(event_id, consumer)] = row
            self._t.published.add(event_id)
        return len(taken)

    def claim(self, now: datetime, until: datetime, limit: int) -> Sequence[Delivery]:
        """Up to `limit` deliveries due at `now` that no one holds, held by the caller until `until`."""
        order = {event_id: n for n, event_id in enumerate(self._t.event_ids)}
        due = sorted(
            (row.next_attempt_at, order[event_id], event_id, consumer)
            for (event_id, consumer), row in self._t.deliveries.items()
            if row.status == "pending"
            and row.next_attempt_at <= now
            and (row.claimed_until is None or row.claimed_until <= now)
        )[:limit]
        events = dict(zip(self._t.event_ids, self._t.outbox, strict=True))
        found = []
        for _, _, event_id, consumer in due:
            row = self._t.deliveries[(event_id, consumer)]
            self._t.deliveries[(event_id, consumer)] = attrs.evolve(row, claimed_until=until)
            found.append(Delivery(event_id=event_id, consumer=consumer, attempts=row.attempts, event=events[event_id]))
        return found

    def delivered(self, event_id: UUID, consumer: str) -> None:
        """Mark the consumer's delivery of the event done."""
        row = self._t.deliveries.get((event_id, consumer))
        if row is not None:
            self._t.deliveries[(event_id, consumer)] = attrs.evolve(row, status="done", claimed_until=None)

    def failed(self, event_id: UUID, consumer: str, error: str, retry_at: datetime | None) -> None:
        """Count a failed attempt: try again at `retry_at`, or dead-letter it when that is None."""
        row = self._t.deliveries.get((event_id, consumer))
        if row is None:
            return
        row = attrs.evolve(row, attempts=row.attempts + 1, last_error=error[:200], claimed_until=None)
        row = attrs.evolve(row, status="dead") if retry_at is None else attrs.evolve(row, next_attempt_at=retry_at)
        self._t.deliveries[(event_id, consumer)] = row

    def dead_letters(self, limit: int) -> Sequence[DeadLetter]:
        """Deliveries given up on, oldest event first."""
        order = {event_id: n for n, event_id in enumerate(self._t.event_ids)}
        types = {i: e.type_name for i, e in zip(self._t.event_ids, self._t.outbox, strict=True)}
        dead = sorted(
            ((order[event_id], consumer), event_id, consumer, row)
            for (event_id, consumer), row in self._t.deliveries.items()
            if row.status == "dead"
        )[:limit]
        return [
            DeadLetter(
                event_id=event_id,
                event_type=types[event_id],
                consumer=consumer,
                attempts=row.attempts,
                last_error=row.last_error or "",
            )
            for _, event_id, consumer, row in dead
        ]

    def requeue(self, event_id: UUID, consumer: str | None, now: datetime) -> int:
        """Make the event's dead deliveries (one consumer's, or all) due at `now` with fresh attempts; how many."""
        keys = [
            key
            for key, row in self._t.deliveries.items()
            if key[0] == event_id and row.status == "dead" and consumer in (None, key[1])
        ]
        for key in keys:
            self._t.deliveries[key] = attrs.evolve(
                self._t.deliveries[key], status="pending", attempts=0, next_attempt_at=now, claimed_until=None
            )
        return len(keys)


class MemoryAutomations(_Repo):
    """Automations and their runs in memory."""

    def add(self, automation: Automation) -> None:
        """Store a new automation."""
        self._t.automations[automation.id] = automation

    def get(self, org_id: OrgId, automation_id: UUID) -> Automation:
        """The automation."""
        self._check_readable("automations", org_id, automation_id)
        return _scoped(self._t.automations, org_id, automation_id, "automation")

    def list(self, org_id: OrgId) -> Rows[Automation]:
        """All automations, by name."""
        found = [a for a in self._t.automations.values() if a.org_id == org_id]
        return self._rows("automations", org_id, sorted(found, key=lambda a: (a.name, str(a.id))))

    def update(self, automation: Automation) -> None:
        """Replace the stored automation."""
        self.get(automation.org_id, automation.id)
        self._t.automations[automation.id] = automation

    def org_ids(self) -> Sequence[OrgId]:
        """The organisations that have an enabled automation."""
        return sorted({a.org_id for a in self._t.automations.values() if a.enabled}, key=str)

    def claim_run(self, run: AutomationRun) -> bool:
        """Record the run unless one exists with its key."""
        self.get(run.org_id, run.automation_id)
        key = (run.automation_id, run.key)
        if key in self._t.automation_runs:
            return False
        self._t.automation_runs[key] = run
        return True

    def finish_run(self, org_id: OrgId, automation_id: UUID, key: str, status: AutomationStatus, affected: int) -> None:
        """Set how the run ended."""
        run = self._t.automation_runs.get((automation_id, key))
        if run is None or run.org_id != org_id:
            raise NotFound("No such automation run in this business.")
        self._t.automation_runs[(automation_id, key)] = attrs.evolve(run, status=status, affected=affected)

    def runs(self, org_id: OrgId, automation_id: UUID, limit: int = 20) -> Sequence[AutomationRun]:
        """The latest runs, newest due time first."""
        mine = [r for r in self._t.automation_runs.values() if r.org_id == org_id and r.automation_id == automation_id]
        return sorted(mine, key=lambda r: (r.due_at, r.started_at, r.key), reverse=True)[:limit]

    def last_active_between(
        self, org_id: OrgId, after: datetime, until: datetime
    ) -> Sequence[tuple[ClientId, datetime]]:
        """Clients whose last activity (latest booking not cancelled, else when added) is in (after, until]."""
        latest: dict[ClientId, datetime] = {}
        for b in self._t.bookings.values():
            if b.org_id == org_id and b.status is not BookingStatus.CANCELLED:
                latest[b.client_id] = max(latest.get(b.client_id, b.start), b.start)
        found = []
        for c in self._t.clients.values():
            if c.org_id == org_id:
                last = latest.get(c.id, c.created_at)
                if after < last <= until:
                    found.append((c.id, last))
        return sorted(found, key=lambda p: (p[1], str(p[0])))

    def birthdays(self, org_id: OrgId, days: Sequence[tuple[int, int]]) -> Sequence[ClientId]:
        """Clients whose birthday falls on one of the (month, day) pairs."""
        wanted = set(days)
        found = [
            c.id
            for c in self._t.clients.values()
            if c.org_id == org_id and c.birthday is not None and (c.birthday.month, c.birthday.day) in wanted
        ]
        return sorted(found, key=str)


class MemoryTodos(_Repo):
    """The coach's to-dos in memory."""

    def add(self, todo: Todo) -> Todo:
        """Store the to-do unless one has its key."""
        if todo.key is not None:
            for kept in self._t.todos.values():
                if kept.org_id == todo.org_id and kept.key == todo.key:
                    return kept
        self._t.todos[todo.id] = todo
        return todo

    def get(self, org_id: OrgId, todo_id: UUID) -> Todo:
        """The to-do."""
        return _scoped(self._t.todos, org_id, todo_id, "to-do")

    def open(self, org_id: OrgId, limit: int = 50) -> Rows[Todo]:
        """To-dos not yet done, oldest first."""
        found = [t for t in self._t.todos.values() if t.org_id == org_id and t.done_at is None]
        return Rows(sorted(found, key=lambda t: (t.created_at, str(t.id)))[:limit])

    def mark_done(self, org_id: OrgId, todo_id: UUID, at: datetime) -> Todo:
        """Tick it off (keeping the first time)."""
        todo = self.get(org_id, todo_id)
        if todo.done_at is None:
            todo = attrs.evolve(todo, done_at=at)
            self._t.todos[todo_id] = todo
        return todo
