"""The phone numbers a business texts from and receives texts on.

A number belongs to one organisation only (across every organisation), which is how an incoming
text, addressed to a number and naming no business, finds the business it is for.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import attrs

from coachos.domain.checks import text
from coachos.domain.contact import normalise_phone
from coachos.domain.errors import ValidationError
from coachos.domain.ids import OrgId
from coachos.domain.timezones import require_utc

#: What adding a number someone already has says; it never tells which business has it.
NUMBER_TAKEN = (
    "This number is already connected to a Coach OS business. Each number can belong to one business only: "
    "remove it there first, or use another number."
)
#: Longest label a number may carry ("Studio line", "Alex's mobile").
MAX_LABEL = 100


def _label(value: str | None) -> str:
    return "" if value is None else value.strip() if isinstance(value, str) else value


def _number(value: str) -> str:
    try:
        return normalise_phone(value)
    except ValidationError as exc:
        raise ValidationError(exc.message, field="number") from None


def _created(value: datetime) -> datetime:
    return require_utc(value, field="created_at")


@attrs.frozen(kw_only=True)
class PhoneNumber:
    """A number (E.164) that receives the business's texts, e.g. a Twilio number."""

    id: UUID
    org_id: OrgId
    number: str = attrs.field(converter=_number)
    label: str = attrs.field(default="", converter=_label, validator=text(MAX_LABEL))
    created_at: datetime = attrs.field(converter=_created)
