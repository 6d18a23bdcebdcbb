"""Clients of a coach: contact details, their own zone, consent and status."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TypeVar

import attrs

from coachos.domain.checks import check_text, text
from coachos.domain.contact import check_name, optional_email, optional_phone
from coachos.domain.errors import ValidationError
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.timezones import require_utc, zone


class ClientStatus(enum.StrEnum):
    """Where a person stands with the business."""

    LEAD = "lead"
    ACTIVE = "active"
    INACTIVE = "inactive"


class Channel(enum.StrEnum):
    """What a consent covers: a channel and a purpose ("Texts about bookings", "Marketing emails", …).

    The words a coach or client sees for each are in `domain.consent.LABELS`.
    """

    #: Texts about the client's own bookings (confirmations, reminders, replies).
    SMS = "sms"
    #: Email about the client's own bookings; recorded when given, never required.
    EMAIL = "email"
    #: Marketing emails: offers, newsletters, win-back messages.
    EMAIL_MARKETING = "email_marketing"
    #: Marketing texts: offers, win-back messages, newsletters.
    SMS_MARKETING = "sms_marketing"
    #: Deprecated alias of EMAIL_MARKETING (the same member), for callers written before the rename.
    MARKETING = "email_marketing"

    @classmethod
    def _missing_(cls, value: object) -> Channel | None:
        # "marketing" was email marketing's name before SMS marketing became a consent of its own;
        # records, events and callers from before migration 0013 may still say it.
        return cls.EMAIL_MARKETING if value == "marketing" else None


E = TypeVar("E", bound=enum.StrEnum)


def _choose(kind: type[E], field: str, value: object) -> E:
    """`value` as a member of `kind`, refusing unknown values with the allowed ones listed."""
    try:
        return kind(str(value))
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise ValidationError(f"'{value}' is not a {field}; use one of: {allowed}.", field=field) from None


def _channel(value: object) -> Channel:
    return _choose(Channel, "channel", value)


def _status(value: object) -> ClientStatus:
    return _choose(ClientStatus, "status", value)


def _optional_zone(value: str | None) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    zone(value)
    return value


def _optional_birthday(value: object) -> date | None:
    """A birthday as a date: None or '' for none, a date, or ISO text such as '1990-02-28'."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError("Write the birthday as a date, such as 1990-02-28.", field="birthday") from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError("A birthday is a date, such as 1990-02-28.", field="birthday")
    if not date(1900, 1, 1) <= value <= date(2200, 1, 1):
        raise ValidationError("A birthday must fall between 1900 and 2200.", field="birthday")
    return value


def _granted_at(value: datetime) -> datetime:
    return require_utc(value, field="granted_at")


@attrs.frozen
class Consent:
    """Permission to contact a client on one channel, with the evidence of when and how it was given."""

    channel: Channel = attrs.field(converter=_channel)
    granted_at: datetime = attrs.field(converter=_granted_at)
    #: How it was given, e.g. "booking_form", "coach_entered", "sms_keyword".
    method: str = attrs.field(validator=text(100))
    #: The exact words the person agreed to, where there were any.
    wording: str | None = attrs.field(default=None, validator=text(2000, multiline=True, optional=True))


#: Most tags one client may carry.
MAX_TAGS = 100


def _tags(values: frozenset[str] | set[str] | list[str] | tuple[str, ...]) -> frozenset[str]:
    if isinstance(values, str):  # iterating it would make a tag of every letter
        raise ValidationError("Tags are a collection of words, not one string.", field="tags")
    tags = frozenset(str(v).strip().lower() for v in values if str(v).strip())
    if any(len(t) > 50 for t in tags):
        raise ValidationError("Tags are limited to 50 characters.", field="tags")
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"A client can have at most {MAX_TAGS} tags.", field="tags")
    for tag in tags:
        check_text(tag, field="tags", max_len=50)
    return tags


@attrs.frozen
class Client:
    """Somebody who trains with the coach (or might: a lead)."""

    id: ClientId
    org_id: OrgId
    name: str = attrs.field(converter=check_name)
    created_at: datetime
    phone: str | None = attrs.field(default=None, converter=optional_phone)
    email: str | None = attrs.field(default=None, converter=optional_email)
    #: The client's own zone, for reminders and quiet hours; None means the organisation's.
    timezone: str | None = attrs.field(default=None, converter=_optional_zone)
    status: ClientStatus = attrs.field(default=ClientStatus.LEAD, converter=_status)
    consents: tuple[Consent, ...] = ()
    notes: str = attrs.field(default="", validator=text(None, multiline=True))
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=_tags)
    #: For birthday automations; the year may be unknown to the coach (any year will do).
    birthday: date | None = attrs.field(default=None, converter=_optional_birthday)

    def __attrs_post_init__(self) -> None:
        if len(self.notes) > 10_000:
            raise ValidationError("Notes are limited to 10,000 characters.", field="notes")
        channels = [c.channel for c in self.consents]
        if len(channels) != len(set(channels)):
            raise ValidationError("Give at most one consent per channel.", field="consents")

    def consent(self, channel: Channel) -> Consent | None:
        """The consent for `channel`, or None if the client never gave it."""
        return next((c for c in self.consents if c.channel == channel), None)
