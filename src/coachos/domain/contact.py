"""Validation of the contact details people type: names, phone numbers, email addresses."""

from __future__ import annotations

import re

from coachos.domain.checks import check_text
from coachos.domain.errors import ValidationError

_E164 = re.compile(r"^\+[1-9]\d{6,14}$", re.ASCII)  # ASCII: \d would accept e.g. Arabic-Indic digits
# Deliberately modest: one @, no spaces, a dot in the domain. Deliverability is proven by sending.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")
_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")


def check_name(value: str, *, field: str = "name") -> str:
    """`value` trimmed, if it is a non-empty name of at most 200 characters on one line."""
    name = _trimmed(value, field)
    if not name:
        raise ValidationError("A name is required.", field=field)
    if len(name) > 200:
        raise ValidationError("Names are limited to 200 characters.", field=field)
    return check_text(name, field=field, max_len=200)


def _trimmed(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"The {field} must be text, not {type(value).__name__}.", field=field)
    return value.strip()


def normalise_phone(value: str) -> str:
    """`value` in E.164 form (+ and digits), accepting spaces, dashes, dots and brackets."""
    compact = check_text(_PHONE_PUNCTUATION.sub("", _trimmed(value, "phone")), field="phone", max_len=100)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164.fullmatch(compact):
        raise ValidationError(
            "Phone numbers need the country code, e.g. +1 415 555 0100 or +44 7700 900123.",
            field="phone",
        )
    return compact


def check_email(value: str) -> str:
    """`value` trimmed and lower-cased, if it looks like an email address."""
    email = check_text(_trimmed(value, "email").lower(), field="email", max_len=10_000)
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise ValidationError(
            f"'{value}' is not an email address (expected something like name@example.com).",
            field="email",
        )
    return email


def optional_phone(value: str | None) -> str | None:
    """`normalise_phone(value)`, or None for a missing or blank value."""
    return None if value is None or (isinstance(value, str) and not value.strip()) else normalise_phone(value)


def optional_email(value: str | None) -> str | None:
    """`check_email(value)`, or None for a missing or blank value."""
    return None if value is None or (isinstance(value, str) and not value.strip()) else check_email(value)
