"""Reading typed input and shared bits of the setup pages."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from quart import request

from coachos.domain.errors import NotFound
from coachos.domain.ids import Actor, OrgId
from coachos.domain.money import Money
from coachos.domain.orgs import Organization
from coachos.entrypoints.web.parsing import calendar_date, time_of_day, whole_number
from coachos.entrypoints.web.security import require_principal

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: How far ahead the availability page lists date overrides.
OVERRIDES_AHEAD = timedelta(days=366)
#: The largest number any settings field accepts (catches typos, keeps timedeltas small).
MAX_NUMBER = 100_000
#: Messages shown after a successful change (keys come from our own redirects only).
SAVED = {
    "hours": "Weekly hours saved.",
    "override": "Date change added.",
    "removed": "Date change removed.",
    "service": "Service saved.",
    "created": "Service added.",
    "package": "Package sold.",
    "offer": "Package offer saved.",
    "settings": "Settings saved.",
    "revoked": "Token revoked; it no longer works.",
}

Form = Mapping[str, str]


# --- reading typed input ------------------------------------------------------------------


def _text(form: Form, name: str) -> str:
    return (form.get(name) or "").strip()


def _time(text: str, label: str, field: str) -> time:
    return time_of_day(text, field=field, label=label)


def _whole(form: Form, name: str, label: str, *, minimum: int = 0, maximum: int = MAX_NUMBER) -> int:
    return whole_number(_text(form, name), field=name, label=label, minimum=minimum, maximum=maximum)


def _date(text: str, label: str, field: str) -> date:
    return calendar_date(text, field=field, label=label)


def _uuid(text: str, what: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise NotFound(f"No such {what} in this business.") from None


def _amount(money: Money) -> str:
    """The amount as typed in a form, e.g. '85.50' (no currency)."""
    return str(money).rsplit(" ", 1)[0]


def _day_label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def zone_label(org: Organization, now: datetime) -> str:
    """The organisation's zone with its current abbreviation, e.g. 'America/New_York (EST)'."""
    return f"{org.timezone} ({now.astimezone(org.tz).tzname()})"


def _actor() -> tuple[OrgId, Actor, Any]:
    who = require_principal()
    return who.org_id, Actor("coach", who.coach_id), who.coach_id


def _saved() -> str | None:
    return SAVED.get(request.args.get("saved", ""))


# --- index ---------------------------------------------------------------------------------
