"""An organisation's booking policy: how early, how far ahead, how late to cancel, gaps between sessions."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from coachos.domain.errors import ValidationError
from coachos.domain.money import Money

#: The longest each setting may be. Far beyond any sensible policy, and short enough that every
#: one fits the 32-bit columns that store them in seconds and that `now` plus any of them stays
#: a date Coach OS can handle.
LONGEST = {
    "min_notice": timedelta(days=365),
    "horizon": timedelta(days=3660),
    "cancellation_window": timedelta(days=365),
    "buffer": timedelta(days=1),
    "slot_interval": timedelta(days=1),
}


def _at_most(attribute: attrs.Attribute[timedelta], value: timedelta) -> None:
    longest = LONGEST[attribute.name]
    if value > longest:
        words = f"{longest.days} days" if longest >= timedelta(days=2) else f"{longest // timedelta(hours=1)} hours"
        raise ValidationError(f"{attribute.name} can be at most {words}.", field=attribute.name)


def _non_negative(_: object, attribute: attrs.Attribute[timedelta], value: timedelta) -> None:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise ValidationError(f"{attribute.name} cannot be negative.", field=attribute.name)
    _at_most(attribute, value)


def _positive(_: object, attribute: attrs.Attribute[timedelta], value: timedelta) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationError(f"{attribute.name} must be longer than zero.", field=attribute.name)
    _at_most(attribute, value)


@attrs.frozen
class BookingPolicy:
    """The rules a client's booking must meet."""

    #: A client cannot book a session starting sooner than this.
    min_notice: timedelta = attrs.field(default=timedelta(hours=12), validator=_non_negative)
    #: A client cannot book further ahead than this.
    horizon: timedelta = attrs.field(default=timedelta(days=60), validator=_positive)
    #: A client may cancel (and get the credit back) until this long before the start.
    cancellation_window: timedelta = attrs.field(default=timedelta(hours=24), validator=_non_negative)
    #: Free time the coach keeps after every session before the next may start.
    buffer: timedelta = attrs.field(default=timedelta(0), validator=_non_negative)
    #: Offered start times step by this much from the start of each available period.
    slot_interval: timedelta = attrs.field(default=timedelta(minutes=30), validator=_positive)

    #: Charged to the client's saved card when they cancel inside the cancellation window (if they agreed).
    late_cancel_fee: Money | None = attrs.field(default=None, validator=lambda _, a, v: _fee(a.name, v))
    #: Charged to the client's saved card when the coach marks them a no-show (if they agreed).
    no_show_fee: Money | None = attrs.field(default=None, validator=lambda _, a, v: _fee(a.name, v))

    def is_late(self, start: datetime, now: datetime) -> bool:
        """Whether cancelling a session starting at `start` at `now` is inside the cancellation window."""
        return now > start - self.cancellation_window

    @property
    def has_fees(self) -> bool:
        """Whether a client booking online must agree to a fee policy."""
        return self.late_cancel_fee is not None or self.no_show_fee is not None

    def fee_text(self) -> str:
        """The fee policy as the client reads it before ticking "I agree" ('' when there is none)."""
        parts = []
        if self.late_cancel_fee is not None:
            window = _span(self.cancellation_window)
            parts.append(f"cancelling less than {window} before the session costs {self.late_cancel_fee}")
        if self.no_show_fee is not None:
            parts.append(f"not showing up costs {self.no_show_fee}")
        if not parts:
            return ""
        return "By booking you agree that " + " and ".join(parts) + ", charged to the card you pay with."

    def __attrs_post_init__(self) -> None:
        if self.slot_interval < timedelta(minutes=5):
            raise ValidationError("slot_interval must be at least 5 minutes.", field="slot_interval")


def _fee(name: str, value: Money | None) -> None:
    if value is None:
        return
    if not isinstance(value, Money) or value.amount_minor <= 0:
        raise ValidationError("A fee is an amount above zero (leave it empty for no fee).", field=name)


def _span(span: timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    return f"{hours} hour{'s' * (hours != 1)}"
