"""Money as integer minor units with an ISO 4217 currency; floats are refused."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

import attrs

from coachos.domain import _iso4217
from coachos.domain.errors import CurrencyMismatch, ValidationError

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_AMOUNT = re.compile(r"^-?\d+(?:\.\d+)?$")
#: Active ISO 4217 codes and the decimals of their minor units, from the generated `_iso4217` module.
MINOR_DIGITS: Mapping[str, int] = _iso4217.MINOR_DIGITS


#: Amounts are below this in size, in minor units: far above any price in any currency (10^15
#: cents is ten trillion dollars, and currencies with many units to the dollar still leave
#: billions), and thousands of them still add up inside PostgreSQL's 64-bit integers.
AMOUNT_LIMIT = 10**15


def _check_amount(_: object, __: attrs.Attribute[int], value: object) -> None:
    # bool is an int subclass and float is a common slip; both would corrupt sums silently.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"Amounts are whole minor units (e.g. 4500 for 45.00), not {type(value).__name__}.",
            field="amount_minor",
        )
    if not -AMOUNT_LIMIT < value < AMOUNT_LIMIT:
        raise ValidationError(
            f"Amounts are limited to {AMOUNT_LIMIT - 1:,} minor units either way.", field="amount_minor"
        )


def check_currency(value: str) -> str:
    """`value` as an active ISO 4217 code (trimmed, upper-cased); ValidationError on the field 'currency' if not.

    Codes that are no money (XXX, XTS, metals) and fund codes are refused like made-up ones.
    """
    code = value.strip().upper() if isinstance(value, str) else ""
    if not _CURRENCY.fullmatch(code):
        raise ValidationError(
            f"'{value}' is not a currency code; use three letters such as USD or EUR.",
            field="currency",
        )
    if code not in MINOR_DIGITS:
        raise ValidationError(
            f"'{value}' is not a currency code in use (ISO 4217); use one such as USD or EUR.",
            field="currency",
        )
    return code


@attrs.frozen
class Money:
    """An amount of one currency, in its minor units (cents, pence)."""

    amount_minor: int = attrs.field(validator=_check_amount)
    currency: str = attrs.field(converter=check_currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """An amount typed by a person ("45", "45.5", "1,045.50") in `currency`, exactly (no floats)."""
        code = check_currency(currency)
        digits = MINOR_DIGITS[code]
        cleaned = str(text).strip().replace(",", "").replace(" ", "")
        if not _AMOUNT.match(cleaned):
            raise ValidationError(f"'{text}' is not an amount; write it like 45 or 45.50.", field="amount")
        amount = Decimal(cleaned)
        minor = amount.scaleb(digits)
        if minor != minor.to_integral_value():
            places = "no decimals" if digits == 0 else f"at most {digits} decimals"
            raise ValidationError(f"{code} amounts have {places}; '{text}' has more.", field="amount")
        return cls(int(minor), code)

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
        digits = MINOR_DIGITS[self.currency]
        if digits == 0:
            return f"{sign}{abs(self.amount_minor)} {self.currency}"
        whole, minor = divmod(abs(self.amount_minor), 10**digits)
        return f"{sign}{whole}.{minor:0{digits}d} {self.currency}"
