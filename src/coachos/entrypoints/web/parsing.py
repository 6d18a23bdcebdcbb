"""Reading typed values out of forms and query strings: each refusal is a ValidationError naming the field."""

from __future__ import annotations

from datetime import date, time

from coachos.domain.errors import ValidationError
from coachos.domain.timezones import MAX_DATE, MIN_DATE

#: Longer digit strings than this are refused before conversion (no field needs more, and
#: Python refuses to convert very long ones with a ValueError).
_MAX_DIGITS = 12


def whole_number(text: str, *, field: str, label: str, minimum: int, maximum: int) -> int:
    """`text` as a whole number from `minimum` to `maximum` (ASCII digits only, surrounding spaces allowed)."""
    digits = text.strip()
    # isdigit() alone accepts '²' and other digits int() refuses.
    if not (digits.isascii() and digits.isdigit() and len(digits) <= _MAX_DIGITS) or not (
        minimum <= int(digits) <= maximum
    ):
        raise ValidationError(f"{label} must be a whole number from {minimum} to {maximum}.", field=field)
    return int(digits)


def calendar_date(text: str, *, field: str, label: str) -> date:
    """`text` as a YYYY-MM-DD date inside the dates Coach OS accepts (1900-01-01 to 2200-01-01)."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"{label}: '{text}' is not a date; write it like 2026-03-31.", field=field) from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValidationError(f"{label}: choose a date from {MIN_DATE} to {MAX_DATE}.", field=field)
    return day


def time_of_day(text: str, *, field: str, label: str) -> time:
    """`text` as a wall-clock time such as 09:00."""
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"{label}: '{text}' is not a time; write it like 09:00.", field=field) from None
