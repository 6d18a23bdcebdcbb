"""The JSON API's request and response shapes (attrs classes that quart-schema validates and documents).

Ids are UUID strings, instants ISO 8601 (answered in UTC, accepted with any offset but never
without one), money `{amount_minor, currency}` in minor units, never floats. Wall-clock times of
weekly hours are "HH:MM" in the organisation's zone. Shapes are built from domain records by the
`of` classmethods; the API never hands out a domain object as it is.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import attrs
from msgspec import UNSET, Meta, UnsetType

from coachos.domain import bookings, catalog, clients, consent, orgs
from coachos.domain import money as domain_money
from coachos.domain.availability import Slot as DomainSlot
from coachos.domain.availability import WeeklyRule
from coachos.domain.bookings import BookingStatus
from coachos.domain.clients import Channel, ClientStatus
from coachos.domain.consent import LABELS
from coachos.entrypoints.web.unreadable import Marker

#: An instant: ISO 8601 with a UTC offset ("2026-03-03T14:00:00Z"); a time without one is refused.
Instant = Annotated[datetime, Meta(tz=True, description="ISO 8601 instant with an offset; answers are in UTC.")]
#: A wall-clock time of day in the organisation's zone.
WallTime = Annotated[str, Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, organisation's zone.")]
Weekday = Annotated[int, Meta(ge=0, le=6, description="0 is Monday, 6 is Sunday.")]
Name = Annotated[str, Meta(min_length=1, max_length=200)]


@attrs.frozen(kw_only=True)
class Money:
    """An amount in minor units of its currency (4500 USD is $45.00)."""

    amount_minor: int
    currency: Annotated[str, Meta(min_length=3, max_length=3, description="ISO 4217 code, e.g. USD.")]

    @classmethod
    def of(cls, value: domain_money.Money) -> Money:
        """The JSON shape of a domain amount."""
        return cls(amount_minor=value.amount_minor, currency=value.currency)

    def to_domain(self) -> domain_money.Money:
        """The domain amount (its own checks apply: whole minor units, a known currency format)."""
        return domain_money.Money(self.amount_minor, self.currency)


@attrs.frozen(kw_only=True)
class FieldError:
    """One offending field and what is wrong with it."""

    field: Annotated[
        str,
        Meta(
            description="Where in the request, as the request names it: `name`, `price.currency`, "
            "`rules[0].start`; empty for the request as a whole."
        ),
    ]
    message: str


@attrs.frozen(kw_only=True)
class Problem:
    """An RFC 9457 problem (application/problem+json): why the request was refused or failed, for a coach."""

    type: Annotated[str, Meta(description='Always "about:blank": `code` says what happened.')]
    title: str
    status: Annotated[int, Meta(ge=400, le=599, description="The HTTP status, repeated.")]
    detail: Annotated[str, Meta(description="What went wrong and what to do, in words a coach can act on.")]
    code: Annotated[str, Meta(description="A stable machine-readable reason: invalid, not_found, slot_unavailable, …")]
    errors: Annotated[list[FieldError], Meta(description="The offending fields; empty when none is to blame.")]
    #: Only on 500s: the id the server logged the failure under.
    error_id: Annotated[str, Meta(description="Only on 500 answers: quote it to support.")] | UnsetType = UNSET


@attrs.frozen(kw_only=True)
class Organization:
    """The coach's business (the tenant)."""

    id: UUID
    name: str
    slug: str
    timezone: str
    currency: str

    @classmethod
    def of(cls, org: orgs.Organization) -> Organization:
        """The JSON shape of an organisation."""
        return cls(id=org.id, name=org.name, slug=org.slug, timezone=org.timezone, currency=org.currency)


@attrs.frozen(kw_only=True)
class Coach:
    """A member of staff."""

    id: UUID
    name: str
    email: str
    active: bool

    @classmethod
    def of(cls, coach: orgs.Coach) -> Coach:
        """The JSON shape of a coach."""
        return cls(id=coach.id, name=coach.name, email=coach.email, active=coach.active)


@attrs.frozen(kw_only=True)
class Me:
    """Who the request acts as: the organisation and coach, and how they signed in."""

    org: Organization
    coach: Coach
    via: Literal["session", "token"]


@attrs.frozen(kw_only=True)
class ClientQuery:
    """Filters for the client list."""

    q: str = ""
    limit: Annotated[int, Meta(ge=1, le=500)] = 100


@attrs.frozen(kw_only=True)
class ClientInput:
    """A new client or lead."""

    name: Name
    email: str | None = None
    phone: str | None = None
    timezone: str | None = None
    status: ClientStatus = ClientStatus.LEAD
    notes: str = ""
    tags: list[str] = attrs.field(factory=list)
    #: For birthday automations (any year will do).
    birthday: date | None = None


#: A consent's channel and purpose. Exactly these four: the old name "marketing" the library still reads is not offered.
#: How a package was (or is being) paid for.
PaidBy = Literal["card", "cash", "bank", "complimentary", "unrecorded"]
ConsentChannel = Literal["sms", "sms_marketing", "email_marketing", "email"]


def _channel_name(channel: Channel) -> ConsentChannel:
    names: dict[Channel, ConsentChannel] = {
        Channel.SMS: "sms",
        Channel.SMS_MARKETING: "sms_marketing",
        Channel.EMAIL_MARKETING: "email_marketing",
        Channel.EMAIL: "email",
    }
    return names[channel]


@attrs.frozen(kw_only=True)
class Consent:
    """A consent the client has given now, for one channel and purpose, with its evidence."""

    channel: Annotated[
        ConsentChannel,
        Meta(
            description="sms: texts about bookings; sms_marketing: marketing texts; "
            "email_marketing: marketing emails; email: emails about bookings (never required)."
        ),
    ]
    label: Annotated[str, Meta(description='What it is called for people: "Texts about bookings", …')]
    granted_at: Instant
    method: Annotated[str, Meta(description="How it was given: booking_form, coach_entered, client_request, …")]
    wording: Annotated[str | None, Meta(description="The exact words the client agreed to.")]

    @classmethod
    def of(cls, consent: clients.Consent) -> Consent:
        """The JSON shape of a consent."""
        return cls(
            channel=_channel_name(consent.channel),
            label=LABELS[consent.channel],
            granted_at=consent.granted_at,
            method=consent.method,
            wording=consent.wording,
        )


@attrs.frozen(kw_only=True)
class ConsentChange:
    """One consent given or withdrawn, as kept in the client's consent log."""

    channel: ConsentChannel
    action: Literal["given", "withdrawn"]
    at: Instant
    method: Annotated[str, Meta(description="How: booking_form, coach_entered, client_request, sms_keyword, …")]
    actor: Annotated[str, Meta(description='Who: "coach:<id>", "client:<id>" or "system".')]
    wording: Annotated[str | None, Meta(description="The words agreed to, or of the request to stop.")]

    @classmethod
    def of(cls, change: consent.ConsentChange) -> ConsentChange:
        """The JSON shape of a consent change."""
        return cls(
            channel=_channel_name(change.channel),
            action="given" if change.action is consent.ConsentAction.GIVEN else "withdrawn",
            at=change.at,
            method=change.method,
            actor=change.actor,
            wording=change.wording,
        )


@attrs.frozen(kw_only=True)
class Consents:
    """A client's consents now (one per channel and purpose given) and every change behind them."""

    current: Annotated[list[Consent], Meta(description="The consents given now; a channel missing has none.")]
    history: Annotated[list[ConsentChange], Meta(description="Every consent given or withdrawn, oldest first.")]
    #: null unless some stored changes could not be read and were left out.
    unreadable: Unreadable | None = None


@attrs.frozen(kw_only=True)
class ConsentInput:
    """A consent the client gave: which, how, and the words they agreed to."""

    channel: ConsentChannel
    method: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=100,
            description="How it was given: coach_entered (needs `wording`), client_request, booking_form, …",
        ),
    ]
    wording: Annotated[str, Meta(max_length=2000)] | None = None


@attrs.frozen(kw_only=True)
class WithdrawalInput:
    """A consent the client withdrew: which, how, and the words of their request."""

    channel: ConsentChannel
    method: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=100,
            description="How: client_request, coach_entered, sms_keyword, …; left out, client_request.",
        ),
    ] = "client_request"
    wording: Annotated[str, Meta(max_length=2000)] | None = None


@attrs.frozen(kw_only=True)
class Client:
    """A client or lead."""

    id: UUID
    name: str
    email: str | None
    phone: str | None
    timezone: str | None
    status: ClientStatus
    notes: str
    tags: list[str]
    created_at: Instant
    consents: Annotated[list[Consent], Meta(description="The consents given now, one per channel and purpose.")]
    birthday: date | None = None

    @classmethod
    def of(cls, client: clients.Client) -> Client:
        """The JSON shape of a client."""
        return cls(
            id=client.id,
            name=client.name,
            email=client.email,
            phone=client.phone,
            timezone=client.timezone,
            status=client.status,
            notes=client.notes,
            tags=sorted(client.tags),
            created_at=client.created_at,
            consents=[Consent.of(c) for c in client.consents],
            birthday=client.birthday,
        )


@attrs.frozen(kw_only=True)
class Unreadable:
    """Stored records a list left out because they could not be read: a fault on our side, logged under `error_id`."""

    count: int
    error_id: str
    #: Ids of the records left out.
    ids: list[str]
    message: str

    @classmethod
    def of(cls, marker: Marker | None) -> Unreadable | None:
        """The JSON shape of a page marker; None when every record was read."""
        if marker is None:
            return None
        ids = [r.row_id for r in marker.records]
        return cls(count=marker.count, error_id=marker.error_id, ids=ids, message=marker.message)


@attrs.frozen(kw_only=True)
class ClientList:
    """Clients, by name."""

    items: list[Client]
    #: null unless some stored clients could not be read and were left out.
    unreadable: Unreadable | None = None


@attrs.frozen(kw_only=True)
class ServiceInput:
    """A new bookable service."""

    name: Name
    duration_minutes: Annotated[int, Meta(ge=1, le=720)]
    price: Money
    capacity: int = 1
    uses_credit: bool = True
    #: Clients booking it online pay by card at once; the booking is held until paid.
    pay_at_booking: bool = False


@attrs.frozen(kw_only=True)
class Service:
    """Something clients book: one-to-one (capacity 1) or a group class."""

    id: UUID
    name: str
    duration_minutes: int
    price: Money
    capacity: int
    uses_credit: bool
    active: bool
    pay_at_booking: bool = False

    @classmethod
    def of(cls, service: catalog.Service) -> Service:
        """The JSON shape of a service."""
        return cls(
            id=service.id,
            name=service.name,
            duration_minutes=int(service.duration.total_seconds() // 60),
            price=Money.of(service.price),
            capacity=service.capacity,
            uses_credit=service.uses_credit,
            active=service.active,
            pay_at_booking=service.pay_at_booking,
        )


@attrs.frozen(kw_only=True)
class ServiceList:
    """Services, by name."""

    items: list[Service]
    #: null unless some stored services could not be read and were left out.
    unreadable: Unreadable | None = None


@attrs.frozen(kw_only=True)
class SlotQuery:
    """Which slots: a service, a coach (yourself if left out) and a range of at most 92 days."""

    service_id: UUID
    start: Instant
    end: Instant
    coach_id: UUID | None = None


@attrs.frozen(kw_only=True)
class Slot:
    """A bookable start time, with the places still free at it."""

    coach_id: UUID
    service_id: UUID
    start: Instant
    end: Instant
    seats_left: int

    @classmethod
    def of(cls, slot: DomainSlot) -> Slot:
        """The JSON shape of a slot."""
        return cls(
            coach_id=slot.coach_id,
            service_id=slot.service_id,
            start=slot.start,
            end=slot.end,
            seats_left=slot.seats_left,
        )


@attrs.frozen(kw_only=True)
class SlotList:
    """Slots, earliest first."""

    items: list[Slot]


@attrs.frozen(kw_only=True)
class BookingQuery:
    """Bookings starting in [start, end), optionally of one coach."""

    start: Instant
    end: Instant
    coach_id: UUID | None = None


@attrs.frozen(kw_only=True)
class BookingHeaders:
    """Headers of a booking request."""

    idempotency_key: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=200,
                description="Same as the body's idempotency_key; repeats with it return the first booking.",
            ),
        ]
        | None
    ) = None


@attrs.frozen(kw_only=True)
class BookingInput:
    """A booking made by the coach; `coach_id` defaults to yourself, the package to the soonest-expiring one."""

    client_id: UUID
    service_id: UUID
    start: Instant
    coach_id: UUID | None = None
    package_id: UUID | None = None
    confirm: bool = False
    note: Annotated[str, Meta(max_length=2000)] = ""
    idempotency_key: Annotated[str, Meta(min_length=1, max_length=200)] | None = None


@attrs.frozen(kw_only=True)
class CancelInput:
    """Why the booking is cancelled, and whether to return the credit (left out: the coach's default, yes)."""

    reason: Annotated[str, Meta(max_length=500)] = ""
    return_credit: bool | None = None


@attrs.frozen(kw_only=True)
class Booking:
    """A client's booking and where it is in its life."""

    id: UUID
    coach_id: UUID
    service_id: UUID
    client_id: UUID
    package_id: UUID | None
    start: Instant
    end: Instant
    status: BookingStatus
    note: str
    created_at: Instant
    updated_at: Instant

    @classmethod
    def of(cls, booking: bookings.Booking) -> Booking:
        """The JSON shape of a booking."""
        return cls(
            id=booking.id,
            coach_id=booking.coach_id,
            service_id=booking.service_id,
            client_id=booking.client_id,
            package_id=booking.package_id,
            start=booking.start,
            end=booking.end,
            status=booking.status,
            note=booking.note,
            created_at=booking.created_at,
            updated_at=booking.updated_at,
        )


@attrs.frozen(kw_only=True)
class BookingList:
    """Bookings, by start time."""

    items: list[Booking]
    #: null unless some stored bookings could not be read and were left out.
    unreadable: Unreadable | None = None


@attrs.frozen(kw_only=True)
class PackageInput:
    """A package of sessions sold to the client, and how it was paid.

    cash / bank: paid now (recorded in the ledger, no platform fee); complimentary: free; card: the
    client pays by card from the portal (no usable credits until then); unrecorded (the default):
    usable at once, no money recorded.
    """

    name: Name
    sessions: int
    price: Money
    expires_at: Instant | None = None
    paid_by: PaidBy = "unrecorded"


@attrs.frozen(kw_only=True)
class Package:
    """A client's session package and its credits."""

    id: UUID
    client_id: UUID
    name: str
    total: int
    used: int
    remaining: int
    price: Money
    purchased_at: Instant
    expires_at: Instant | None
    #: pending (waiting for a card payment), paid, failed or refunded; only a paid package's credits are usable.
    payment_state: Literal["pending", "paid", "failed", "refunded"] = "paid"
    payment_method: PaidBy = "unrecorded"
    paid_at: Instant | None = None

    @classmethod
    def of(cls, package: catalog.SessionPackage) -> Package:
        """The JSON shape of a package."""
        return cls(
            id=package.id,
            client_id=package.client_id,
            name=package.name,
            total=package.total,
            used=package.used,
            remaining=package.remaining,
            price=Money.of(package.price),
            purchased_at=package.purchased_at,
            expires_at=package.expires_at,
            payment_state=package.payment_state.value,
            payment_method=package.payment_method.value,
            paid_at=package.paid_at,
        )


@attrs.frozen(kw_only=True)
class PackageList:
    """A client's packages, soonest to expire first."""

    items: list[Package]
    #: null unless some stored packages could not be read and were left out.
    unreadable: Unreadable | None = None


@attrs.frozen(kw_only=True)
class WeeklyHours:
    """Available every `weekday` from `start` to `end` (local wall-clock time)."""

    weekday: Weekday
    start: WallTime
    end: WallTime

    @classmethod
    def of(cls, rule: WeeklyRule) -> WeeklyHours:
        """The JSON shape of a weekly rule."""
        return cls(weekday=rule.weekday, start=f"{rule.start:%H:%M}", end=f"{rule.end:%H:%M}")


@attrs.frozen(kw_only=True)
class AvailabilityInput:
    """A coach's whole weekly schedule (replaces the current one)."""

    rules: list[WeeklyHours]


@attrs.frozen(kw_only=True)
class Availability:
    """A coach's weekly hours, in the organisation's zone."""

    coach_id: UUID
    timezone: str
    rules: list[WeeklyHours]
