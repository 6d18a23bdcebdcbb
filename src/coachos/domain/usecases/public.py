"""Use cases for people without an account: booking as a guest, and coaches' secret calendar feeds."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from coachos.domain.accounts import digest
from coachos.domain.bookings import Booking, BookingStatus, GuestConsent, GuestDetails
from coachos.domain.checks import text
from coachos.domain.clients import Channel, Client, ClientStatus, Consent
from coachos.domain.consent import BOOKING_FORM
from coachos.domain.contact import check_name, optional_email, optional_phone
from coachos.domain.errors import Conflict, NotFound, ValidationError
from coachos.domain.events import ClientCreated
from coachos.domain.ids import Actor, ClientId, CoachId, OrgId, ServiceId
from coachos.domain.orgs import Coach, Organization, check_timezone
from coachos.domain.timezones import require_utc
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases.booking import BookSession, book_in
from coachos.domain.usecases.clients import log_given
from coachos.domain.usecases.forms import check_screening
from coachos.domain.usecases.waivers import check_waivers
from coachos.ports.storage import UnitOfWork

#: The calendar feed covers bookings from this long ago …
FEED_PAST = timedelta(days=30)
#: … to this far ahead.
FEED_AHEAD = timedelta(days=180)


def first_active_coach(uow: UnitOfWork, org_id: OrgId) -> Coach:
    """The coach who takes public bookings when none is chosen: the first active one by name."""
    coach = next((c for c in uow.coaches.list(org_id) if c.active), None)
    if coach is None:
        raise ValidationError("This business is not taking bookings online yet.", field="coach_id")
    return coach


@attrs.frozen(kw_only=True)
class BookAsGuest(Command[Booking]):
    """Book a session from the public page as whoever the visitor says they are, which proves nothing.

    The booking is `requested` and never uses a credit. When the email (else phone) belongs to a
    client on file, the booking is held for that client, but only as "maybe them" for the coach to
    confirm: the stored client is not changed (no consent, no zone) and the visitor's typed details
    are kept on the booking instead. Anybody else is added as a lead from what they typed.

    Repeating the request with the same `idempotency_key` from the same `visitor` returns the first
    booking and adds no second client; the same key from another visitor (or an API caller) is
    another key.
    """

    org_id: OrgId
    service_id: ServiceId
    start: datetime
    name: str
    idempotency_key: str = attrs.field(validator=text(200))
    #: Who is asking, as far as the caller can tell (the web's anonymous cookie id): the key's scope.
    visitor: str = attrs.field(repr=False)
    #: Whether the person ticked the box agreeing to text reminders.
    sms_consent: bool
    #: The exact words next to that box, kept as evidence of what they agreed to.
    consent_wording: str = attrs.field(validator=text(2000, multiline=True))
    #: The separate, unticked-by-default marketing boxes they ticked (texts, emails), each with its exact words.
    marketing: tuple[GuestConsent, ...] = ()
    #: None books with the organisation's first active coach.
    coach_id: CoachId | None = None
    phone: str | None = None
    email: str | None = None
    #: The person's own IANA zone (from their browser), stored on a new client.
    timezone: str | None = None
    #: Whether they ticked "I agree" to the business's cancellation and no-show fees (needed when it has any).
    agree_to_fees: bool = False


#: Prefix of the public form's key scopes; actors ("coach:…", "client:…", "system") never start with it.
GUEST_SCOPE = "guest:"


def guest_scope(visitor: str) -> str:
    """The idempotency scope of a public visitor: a digest, so the stored scope does not reveal their cookie."""
    if not 1 <= len(visitor) <= 200:
        raise ValidationError("The visitor is not known; please reload the page.", field="visitor")
    return GUEST_SCOPE + digest(visitor)[:40]


def _guest(cmd: BookAsGuest) -> GuestDetails:
    """Check everything the person typed before anything is looked up or written."""
    guest = GuestDetails(
        name=check_name(cmd.name),
        phone=optional_phone(cmd.phone),
        email=optional_email(cmd.email),
        timezone=check_timezone(cmd.timezone) if cmd.timezone else None,
        sms_consent=cmd.sms_consent,
        consent_wording=cmd.consent_wording if cmd.sms_consent else "",
        matched=False,
        marketing=_marketing(cmd.marketing),
    )
    if guest.phone is None and guest.email is None:
        raise ValidationError("Give a phone number or an email address so your coach can reach you.", field="email")
    if cmd.sms_consent and guest.phone is None:
        raise ValidationError("To get text reminders, give your mobile number.", field="phone")
    if cmd.sms_consent and not cmd.consent_wording.strip():
        raise ValidationError("The consent wording is missing.", field="consent_wording")
    if any(m.channel is Channel.SMS_MARKETING for m in guest.marketing) and guest.phone is None:
        raise ValidationError("To get marketing texts, give your mobile number.", field="phone")
    if any(m.channel is Channel.EMAIL_MARKETING for m in guest.marketing) and guest.email is None:
        raise ValidationError("To get marketing emails, give your email address.", field="email")
    if not 1 <= len(cmd.idempotency_key) <= 200:
        raise ValidationError("Idempotency keys are 1 to 200 characters.", field="idempotency_key")
    return guest


#: The consents the public form may ask for besides the texts about bookings.
MARKETING = (Channel.SMS_MARKETING, Channel.EMAIL_MARKETING)


def _marketing(ticked: tuple[GuestConsent, ...]) -> tuple[GuestConsent, ...]:
    """The marketing boxes ticked, each a marketing consent at most once and with its words."""
    channels = [m.channel for m in ticked]
    if any(c not in MARKETING for c in channels) or len(channels) != len(set(channels)):
        raise ValidationError("Only marketing texts and marketing emails can be ticked, once each.", field="marketing")
    if any(not m.wording.strip() for m in ticked):
        raise ValidationError("The consent wording is missing.", field="consent_wording")
    return tuple(ticked)


@handles(BookAsGuest)
def book_as_guest(cmd: BookAsGuest, deps: Deps) -> Booking:
    """Find or add the client and book, in one transaction: a refused booking leaves no client behind."""
    guest = _guest(cmd)
    start = require_utc(cmd.start, field="start")
    scope = guest_scope(cmd.visitor)
    if (earlier := _earlier(cmd, scope, start, deps)) is not None:
        return earlier
    now = deps.clock.now()
    try:
        with deps.uow() as uow:
            coach_id = cmd.coach_id or first_active_coach(uow, cmd.org_id).id
            client, guest = _find_or_add_client(uow, cmd, guest, now, deps)
            # The same screening hold as for the coach's bookings (a new lead has no screening yet).
            check_screening(uow, cmd.org_id, client.id, now, guest=True)
            check_waivers(uow, cmd.org_id, client.id, guest=True)
            booking = book_in(
                uow,
                BookSession(
                    org_id=cmd.org_id,
                    coach_id=coach_id,
                    service_id=cmd.service_id,
                    client_id=client.id,
                    start=start,
                    actor=Actor("client", client.id),
                    idempotency_key=cmd.idempotency_key,
                    idempotency_scope=scope,
                    # Nobody proved who they are, so nobody's credits are touched; the coach may charge later.
                    take_credit=False,
                    guest=guest,
                    hold_for_payment=True,
                    agree_to_fees=cmd.agree_to_fees,
                ),
                start,
                now,
                deps,
            )
            uow.commit()
    except Conflict:
        # A concurrent twin of this request (same visitor and key) may have committed first: its booking answers.
        if (earlier := _earlier(cmd, scope, start, deps)) is not None:
            return earlier
        raise
    return booking


def _earlier(cmd: BookAsGuest, scope: str, start: datetime, deps: Deps) -> Booking | None:
    """The booking this visitor already made with this request's key, if it was for the same service and time."""
    with deps.uow() as uow:
        earlier = uow.bookings.by_idempotency_key(cmd.org_id, scope, cmd.idempotency_key)
    if earlier is None:
        return None
    if (earlier.service_id, earlier.start) != (cmd.service_id, start) or cmd.coach_id not in (None, earlier.coach_id):
        raise Conflict("This booking form was already used for another booking; please start again.")
    return earlier


def _find_or_add_client(
    uow: UnitOfWork, cmd: BookAsGuest, guest: GuestDetails, now: datetime, deps: Deps
) -> tuple[Client, GuestDetails]:
    """The organisation's client with this email (else phone), untouched, or a new lead made from what was typed."""
    found = uow.clients.by_contact(cmd.org_id, email=guest.email, phone=guest.phone)
    if found is not None:
        return found, attrs.evolve(guest, matched=True)
    uow.orgs.get(cmd.org_id)
    consents = tuple(
        Consent(channel=channel, granted_at=now, method=BOOKING_FORM, wording=wording)
        for channel, wording in (
            *([(Channel.SMS, cmd.consent_wording)] if cmd.sms_consent else []),
            *((m.channel, m.wording) for m in guest.marketing),
        )
    )
    client = Client(
        id=ClientId(deps.ids.new_id()),
        org_id=cmd.org_id,
        name=guest.name,
        created_at=now,
        phone=guest.phone,
        email=guest.email,
        timezone=guest.timezone,
        status=ClientStatus.LEAD,
        consents=consents,
    )
    uow.clients.add(client)
    actor = Actor("client", client.id)
    uow.emit(ClientCreated(org_id=cmd.org_id, occurred_at=now, actor=str(actor), client_id=client.id))
    log_given(uow, deps, client, actor)
    return client, guest


@attrs.frozen
class CalendarFeed:
    """A coach's secret calendar feed. `secret` is there only when this call made it (only a digest is kept)."""

    coach_id: CoachId
    created_at: datetime
    secret: str | None = attrs.field(default=None, repr=False)


@attrs.frozen(kw_only=True)
class CalendarFeedUrl(Command[CalendarFeed]):
    """The coach's calendar feed, made on first use; its secret comes back only then."""

    org_id: OrgId
    coach_id: CoachId


@handles(CalendarFeedUrl)
def calendar_feed_url(cmd: CalendarFeedUrl, deps: Deps) -> CalendarFeed:
    """Make the coach's feed if they have none (returning its secret), else say since when it exists."""
    now = deps.clock.now()
    secret = deps.tokens.new_token()
    with deps.uow() as uow:
        uow.coaches.get(cmd.org_id, cmd.coach_id)
        if uow.accounts.add_calendar_feed(cmd.org_id, cmd.coach_id, digest(secret), now):
            uow.commit()
            return CalendarFeed(coach_id=cmd.coach_id, created_at=now, secret=secret)
        since = uow.accounts.calendar_feed_since(cmd.org_id, cmd.coach_id)
    if since is None:  # the insert found a feed, so this cannot happen; refuse rather than guess
        raise NotFound("No such coach in this business.")
    return CalendarFeed(coach_id=cmd.coach_id, created_at=since)


@attrs.frozen(kw_only=True)
class RotateCalendarFeed(Command[CalendarFeed]):
    """Give the coach a new feed address; the old one stops working at once."""

    org_id: OrgId
    coach_id: CoachId


@handles(RotateCalendarFeed)
def rotate_calendar_feed(cmd: RotateCalendarFeed, deps: Deps) -> CalendarFeed:
    """Replace the feed's digest with a new secret's, and return that secret."""
    now = deps.clock.now()
    secret = deps.tokens.new_token()
    with deps.uow() as uow:
        uow.coaches.get(cmd.org_id, cmd.coach_id)
        uow.accounts.replace_calendar_feed(cmd.org_id, cmd.coach_id, digest(secret), now)
        uow.commit()
    return CalendarFeed(coach_id=cmd.coach_id, created_at=now, secret=secret)


@attrs.frozen
class FeedEntry:
    """One booking as a calendar app shows it: no contact details, only the client's first name."""

    booking: Booking
    service_name: str
    #: e.g. 'Jordan', or 'maybe Jordan' for a public booking the coach has yet to confirm is theirs.
    client_first_name: str

    @property
    def summary(self) -> str:
        """The event's title, e.g. 'Personal training with Jordan'."""
        return f"{self.service_name} with {self.client_first_name}"


@attrs.frozen
class FeedContent:
    """What a coach's calendar feed lists."""

    org: Organization
    coach: Coach
    generated_at: datetime
    entries: tuple[FeedEntry, ...]


@attrs.frozen(kw_only=True)
class ReadCalendarFeed(Command[FeedContent]):
    """The bookings behind a calendar-feed secret: the coach's, from 30 days ago to 180 days ahead."""

    token: str = attrs.field(repr=False)


@handles(ReadCalendarFeed)
def read_calendar_feed(cmd: ReadCalendarFeed, deps: Deps) -> FeedContent:
    """The coach's bookings that are not cancelled, by start; NotFound for an unknown or replaced secret."""
    now = deps.clock.now()
    with deps.uow() as uow:
        owner = uow.accounts.calendar_feed_owner(digest(cmd.token)) if cmd.token else None
        if owner is None:
            raise NotFound("There is no calendar feed at this address; the coach may have made a new one.")
        org_id, coach_id = owner
        org, coach = uow.orgs.get(org_id), uow.coaches.get(org_id, coach_id)
        services = {s.id: s.name for s in uow.services.list(org_id)}
        first_names: dict[ClientId, str] = {}
        entries = []
        for booking in uow.bookings.between(org_id, now - FEED_PAST, now + FEED_AHEAD, coach_id=coach_id):
            if booking.status is BookingStatus.CANCELLED:
                continue
            if booking.client_id not in first_names:
                first_names[booking.client_id] = uow.clients.get(org_id, booking.client_id).name.split()[0]
            first = first_names[booking.client_id]
            # A public booking matched only by typed contact details may not be that client's.
            who = f"maybe {first}" if booking.identity_unconfirmed else first
            entries.append(FeedEntry(booking, services[booking.service_id], who))
    return FeedContent(org=org, coach=coach, generated_at=now, entries=tuple(entries))
