"""Bookings and the calendar appointments they take a seat in."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from coachos.domain.checks import text
from coachos.domain.clients import Channel
from coachos.domain.consent import LABELS
from coachos.domain.errors import ValidationError
from coachos.domain.ids import (
    Actor,
    AppointmentId,
    BookingId,
    ClientId,
    CoachId,
    OrgId,
    PackageId,
    ServiceId,
)
from coachos.domain.money import Money


class BookingStatus(enum.StrEnum):
    """Where a booking is in its life: requested → confirmed → completed / cancelled / no-show.

    A booking of a service paid when booked starts HELD: it keeps its seat, is not confirmed and sends
    no confirmation, until the payment succeeds (→ confirmed) or fails or its hold expires (→ cancelled,
    the seat released).
    """

    HELD = "held"
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"

    @property
    def is_open(self) -> bool:
        """Whether the booking still holds its seat."""
        return self in (BookingStatus.HELD, BookingStatus.REQUESTED, BookingStatus.CONFIRMED)


#: For each target status, the statuses a booking may move to it from.
ALLOWED_FROM: dict[BookingStatus, frozenset[BookingStatus]] = {
    BookingStatus.CONFIRMED: frozenset({BookingStatus.REQUESTED}),
    BookingStatus.COMPLETED: frozenset({BookingStatus.REQUESTED, BookingStatus.CONFIRMED}),
    BookingStatus.NO_SHOW: frozenset({BookingStatus.REQUESTED, BookingStatus.CONFIRMED}),
    # A held booking may be cancelled (by the coach, or released by its payment failing or expiring);
    # it is confirmed only by its payment (`BookingRepository.confirm_held`), never by hand.
    BookingStatus.CANCELLED: frozenset({BookingStatus.HELD, BookingStatus.REQUESTED, BookingStatus.CONFIRMED}),
}


class PaymentIssue(enum.StrEnum):
    """Something about a booking's payment the coach must look at."""

    #: The client paid after the hold had been released: the booking stays released; refund or rebook by hand.
    PAID_AFTER_RELEASE = "paid_after_release"


class FeeKind(enum.StrEnum):
    """Which policy fee: for cancelling inside the cancellation window, or for not showing up."""

    LATE_CANCEL = "late_cancel"
    NO_SHOW = "no_show"


class FeeState(enum.StrEnum):
    """Where a fee charge is: waiting for the worker, charged, or refused (the coach sees why)."""

    PENDING = "pending"
    CHARGED = "charged"
    FAILED = "failed"


@attrs.frozen
class FeeAgreement:
    """The fee policy the client agreed to when booking: its amounts and words, and when they ticked "I agree"."""

    late_cancel: Money | None
    no_show: Money | None
    agreed_at: datetime
    wording: str

    def amount(self, kind: FeeKind) -> Money | None:
        """The fee of `kind` they agreed to, or None."""
        return self.late_cancel if kind is FeeKind.LATE_CANCEL else self.no_show


@attrs.frozen
class SavedCard:
    """The card a client paid with and agreed to keep for fees: the provider's customer and payment method ids."""

    customer_id: str
    payment_method_id: str


@attrs.frozen
class FeeCharge:
    """A policy fee owed for the booking and what became of charging it."""

    kind: FeeKind
    amount: Money
    state: FeeState
    at: datetime
    #: The provider's PaymentIntent when charged.
    ref: str | None = None
    #: Why it failed, in words a coach can act on (never card data).
    error: str | None = None


def _ordered(instance: Appointment | Booking, _: object, end: datetime) -> None:
    if end <= instance.start:
        raise ValidationError("A session must end after it starts.", field="end")


@attrs.frozen
class Appointment:
    """A block of a coach's calendar for one service at one time, with seats for clients.

    One-to-one training has one seat; a group class has `capacity` seats. The block reaches to
    `blocks_until` (the end plus the buffer) so that no other appointment of the coach may start
    inside it; the database enforces that.
    """

    id: AppointmentId
    org_id: OrgId
    coach_id: CoachId
    service_id: ServiceId
    start: datetime
    end: datetime = attrs.field(validator=_ordered)
    blocks_until: datetime
    capacity: int
    seats_taken: int = 0

    @property
    def seats_left(self) -> int:
        """Seats still free."""
        return self.capacity - self.seats_taken


@attrs.frozen
class GuestConsent:
    """A marketing box the visitor ticked on the public form, with the exact words beside it."""

    channel: Channel = attrs.field(converter=Channel)
    wording: str = attrs.field(validator=text(2000, multiline=True))

    @property
    def label(self) -> str:
        """What the consent is called: "Marketing texts", "Marketing emails"."""
        return LABELS[self.channel]


@attrs.frozen
class GuestDetails:
    """What a visitor typed on the public booking form, kept on the booking apart from the client on file.

    Typing an email or a phone proves nothing, so these details never change a stored client;
    when they matched one, the coach compares the two before confirming that it really is them.
    Personal data: left out of the repr so that no log line can carry it.
    """

    name: str = attrs.field(repr=False)
    email: str | None = attrs.field(repr=False)
    phone: str | None = attrs.field(repr=False)
    #: Whether they ticked the text-reminders box, and the exact words beside it ("" if not ticked).
    sms_consent: bool
    consent_wording: str
    #: The visitor's own IANA zone, from their browser.
    timezone: str | None
    #: Whether the email or phone belongs to a client already on file (the booking is held for that client).
    matched: bool
    #: The marketing boxes they ticked (texts, emails), each with its words; on a new client they become consents.
    marketing: tuple[GuestConsent, ...] = ()

    def ticked(self) -> tuple[GuestConsent, ...]:
        """Every consent box they ticked with its words: texts about bookings first, then marketing."""
        reminders = (GuestConsent(Channel.SMS, self.consent_wording),) if self.sms_consent else ()
        return (*reminders, *self.marketing)

    @property
    def summary(self) -> str:
        """What they typed, in one line for the coach: 'booked online as “Casey Morgan”, casey@example.com'."""
        typed = [f"booked online as \u201c{self.name}\u201d", self.email, self.phone]
        if self.sms_consent:
            typed.append("asked for text reminders")
        typed.extend(f"agreed to {m.label.lower()}" for m in self.marketing)
        return ", ".join(t for t in typed if t)


@attrs.frozen
class Booking:
    """A client's place in an appointment, with who changed it and when."""

    id: BookingId
    org_id: OrgId
    appointment_id: AppointmentId
    coach_id: CoachId
    service_id: ServiceId
    client_id: ClientId
    start: datetime
    end: datetime = attrs.field(validator=_ordered)
    status: BookingStatus
    created_at: datetime
    created_by: Actor
    updated_at: datetime
    updated_by: Actor
    #: The package whose credit this booking used, if any.
    package_id: PackageId | None = None
    #: Set by the caller to make retries of the same request return this booking.
    idempotency_key: str | None = None
    note: str = ""
    #: Whose key `idempotency_key` is (an actor, a public-form visitor, …): a key answers only its own scope.
    idempotency_scope: str | None = None
    #: What the visitor typed, for a booking made on the public form.
    guest: GuestDetails | None = None
    #: For a HELD booking (a service paid when booked): when the seat is given back if still unpaid.
    hold_expires_at: datetime | None = None
    #: Stripe's Checkout Session for the booking's payment, then the PaymentIntent once paid.
    payment_ref: str | None = None
    #: When the payment for a pay-at-booking service succeeded.
    paid_at: datetime | None = None
    #: What the coach must look at about the payment (e.g. paid after the hold was released).
    payment_issue: PaymentIssue | None = None
    #: The fee policy the client agreed to when booking (None: no policy, or not agreed: never charged).
    fee_agreement: FeeAgreement | None = None
    #: The card kept from the booking's payment, for fees.
    saved_card: SavedCard | None = None
    #: A late-cancellation or no-show fee owed for this booking, and its charge's outcome.
    fee: FeeCharge | None = None

    @property
    def identity_unconfirmed(self) -> bool:
        """Booked on the public form with contact details already on file, and not yet confirmed by the coach.

        The coach sees it as "maybe <client>" until they confirm the booking.
        """
        return self.guest is not None and self.guest.matched and self.status is BookingStatus.REQUESTED


class CreditEventKind(enum.StrEnum):
    """What happened to a credit."""

    USE = "use"
    RETURN = "return"


@attrs.frozen
class CreditEvent:
    """A credit used for, or returned from, a booking: who, when and why. At most one of each per booking."""

    package_id: PackageId
    booking_id: BookingId
    kind: CreditEventKind
    at: datetime
    actor: Actor
    reason: str


@attrs.frozen
class CreditChange:
    """What a use or return of a credit did: whether it changed the count, and the count after."""

    package_id: PackageId
    applied: bool
    used: int
    total: int
