"""What a coach sells: bookable services and session packages."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

import attrs

from coachos.domain.contact import check_name
from coachos.domain.errors import ValidationError
from coachos.domain.ids import ClientId, OrgId, PackageId, PackageOfferId, ServiceId
from coachos.domain.money import Money


def _duration(_: object, __: attrs.Attribute[timedelta], value: timedelta) -> None:
    if not isinstance(value, timedelta):
        raise ValidationError(
            f"duration must be a length of time (timedelta), not {type(value).__name__}.", field="duration"
        )
    if value <= timedelta(0) or value > timedelta(hours=12):
        raise ValidationError("A session lasts more than 0 minutes and at most 12 hours.", field="duration")
    if value % timedelta(minutes=1):
        raise ValidationError("Durations are whole minutes.", field="duration")


def _price(_: object, __: attrs.Attribute[Money], value: Money) -> None:
    if not isinstance(value, Money):
        raise ValidationError(f"price must be an amount of money (Money), not {type(value).__name__}.", field="price")
    if value.is_negative:
        raise ValidationError("A price cannot be negative.", field="price")


def _offer_price(instance: object, attribute: attrs.Attribute[Money], value: Money) -> None:
    # Clients buy offers by card, and a card payment of nothing cannot be taken: a free package is sold by hand.
    _price(instance, attribute, value)
    if value.amount_minor == 0:
        raise ValidationError(
            "A package clients buy by card costs more than zero; give a free package from the client's page.",
            field="price",
        )


def _capacity(_: object, __: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 500:
        raise ValidationError("Capacity is a whole number from 1 to 500.", field="capacity")


@attrs.frozen
class Service:
    """Something clients book: one-to-one training (capacity 1) or a group class."""

    id: ServiceId
    org_id: OrgId
    name: str = attrs.field(converter=check_name)
    duration: timedelta = attrs.field(validator=_duration)
    price: Money = attrs.field(validator=_price)
    capacity: int = attrs.field(default=1, validator=_capacity)
    #: Whether booking it takes a credit from one of the client's session packages.
    uses_credit: bool = True
    active: bool = True
    #: Whether a client booking it online pays its price by card when booking (the booking is held until paid).
    pay_at_booking: bool = False

    def __attrs_post_init__(self) -> None:
        if self.pay_at_booking and self.uses_credit:
            raise ValidationError(
                "A service is paid either with a package credit or by card when booked, not both.",
                field="pay_at_booking",
            )
        if self.pay_at_booking and self.price.amount_minor <= 0:
            raise ValidationError("A service paid when booked needs a price above zero.", field="pay_at_booking")


def _sessions(_: object, __: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise ValidationError("A package holds from 1 to 1000 sessions.", field="total")


class PaymentState(StrEnum):
    """Whether a package has been paid for; only a PAID package's credits can be used.

    A package sold by card is PENDING from the moment the client starts Checkout until Stripe says
    the payment succeeded (then PAID) or failed (FAILED). One the coach records as paid in cash or by
    bank transfer is PAID at once. REFUNDED is a package whose money went back in full: its credits
    are gone.
    """

    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    REFUNDED = "refunded"


class PaymentMethod(StrEnum):
    """How a package was (or is being) paid for."""

    CARD = "card"
    CASH = "cash"
    BANK = "bank"
    #: Given without payment (a gift, a make-good); grants credits, records no money.
    COMPLIMENTARY = "complimentary"
    #: Sold before Coach OS recorded payments (packages from before migration 0023).
    UNRECORDED = "unrecorded"


@attrs.frozen
class SessionPackage:
    """Sessions a client bought in advance; each booking of a credit-using service uses one.

    `used` is only ever changed by the database, atomically (see the packages repository);
    this object is a snapshot of it.
    """

    id: PackageId
    org_id: OrgId
    client_id: ClientId
    name: str = attrs.field(converter=check_name)
    total: int = attrs.field(validator=_sessions)
    price: Money = attrs.field(validator=_price)
    purchased_at: datetime
    used: int = 0
    expires_at: datetime | None = None
    payment_state: PaymentState = attrs.field(default=PaymentState.PAID, converter=PaymentState)
    payment_method: PaymentMethod = attrs.field(default=PaymentMethod.UNRECORDED, converter=PaymentMethod)
    paid_at: datetime | None = None
    #: Stripe's id for the payment (Checkout Session, then PaymentIntent), for refunds and reconciliation.
    payment_ref: str | None = None

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.used <= self.total:
            raise ValidationError("Used sessions must be between 0 and the total.", field="used")
        if self.expires_at is not None and self.expires_at <= self.purchased_at:
            raise ValidationError("A package must expire after it was bought.", field="expires_at")

    @property
    def remaining(self) -> int:
        """Credits left to use."""
        return self.total - self.used

    def is_expired(self, now: datetime) -> bool:
        """Whether the package can no longer be used at `now`."""
        return self.expires_at is not None and self.expires_at <= now

    def usable(self, now: datetime) -> bool:
        """Whether a credit could be used at `now` (the database has the final word)."""
        return self.is_paid and self.remaining > 0 and not self.is_expired(now)

    @property
    def is_paid(self) -> bool:
        """Whether its credits may be used: paid for (by card, cash or bank) or given."""
        return self.payment_state is PaymentState.PAID

    def credit_share(self, n: int) -> Money:
        """The part of the price the `n`-th credit (1-based) earns when used: price // total each, and
        the last credit the remainder too, so the shares of all credits sum exactly to the price."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= self.total:
            raise ValidationError(f"A credit's number is from 1 to {self.total}.", field="n")
        unit = self.price.amount_minor // self.total
        last = self.price.amount_minor - unit * (self.total - 1)
        return Money(last if n == self.total else unit, self.price.currency)

    def unearned(self, used: int) -> Money:
        """What of the price the unused credits still stand for after `used` credits were used."""
        if isinstance(used, bool) or not isinstance(used, int) or not 0 <= used <= self.total:
            raise ValidationError(f"Used credits are from 0 to {self.total}.", field="used")
        earned = sum(self.credit_share(n).amount_minor for n in range(1, used + 1))
        return Money(self.price.amount_minor - earned, self.price.currency)


def _validity(_: object, __: attrs.Attribute[int | None], value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3660:
        raise ValidationError(
            "A package is valid for 1 to 3660 days, or leave it empty for no limit.", field="validity_days"
        )


@attrs.frozen
class PackageOffer:
    """A package in the coach's catalogue that clients can buy themselves (by card from the portal)."""

    id: PackageOfferId
    org_id: OrgId
    name: str = attrs.field(converter=check_name)
    sessions: int = attrs.field(validator=_sessions)
    price: Money = attrs.field(validator=_offer_price)
    created_at: datetime
    #: Days a bought package stays usable; None: it never expires.
    validity_days: int | None = attrs.field(default=None, validator=_validity)
    #: Whether clients can buy it now; an inactive offer stays for the record of packages sold from it.
    active: bool = True

    def expires_at(self, bought_at: datetime) -> datetime | None:
        """When a package bought from it at `bought_at` expires."""
        return None if self.validity_days is None else bought_at + timedelta(days=self.validity_days)
