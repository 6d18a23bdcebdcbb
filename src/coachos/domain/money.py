"""Money as integer minor units with an ISO 4217 currency; floats are refused."""

from __future__ import annotations

import re

import attrs

from coachos.domain.errors import CurrencyMismatch, ValidationError

_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _check_amount(_: object, __: attrs.Attribute[int], value: object) -> None:
    # bool is an int subclass and float is a common slip; both would corrupt sums silently.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"Amounts are whole minor units (e.g. 4500 for 45.00), not {type(value).__name__}.",
            field="amount_minor",
        )


def _normalise_currency(value: str) -> str:
    code = str(value).strip().upper()
    if not _CURRENCY.match(code):
        raise ValidationError(
            f"'{value}' is not a currency code; use three letters such as USD or EUR.",
            field="currency",
        )
    return code


@attrs.frozen
class Money:
    """An amount of one currency, in its minor units (cents, pence)."""

    amount_minor: int = attrs.field(validator=_check_amount)
    currency: str = attrs.field(converter=_normalise_currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Nothing, in `currency`."""
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"Cannot combine {self.currency} with {other.currency}; convert first.")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __mul__(self, times: int) -> Money:
        _check_amount(None, None, times)  # type: ignore[arg-type]  # reuse the int-only check
        return Money(self.amount_minor * times, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor <= other.amount_minor

    @property
    def is_negative(self) -> bool:
        """Whether the amount is below zero."""
        return self.amount_minor < 0

    def __str__(self) -> str:
        sign = "-" if self.amount_minor < 0 else ""
        whole, cents = divmod(abs(self.amount_minor), 100)
        return f"{sign}{whole}.{cents:02d} {self.currency}"
