"""Organisations (tenants) and the coaches who work in them."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import attrs

from coachos.domain.contact import check_email, check_name, optional_phone
from coachos.domain.errors import CurrencyMismatch, ValidationError
from coachos.domain.ids import CoachId, OrgId
from coachos.domain.money import check_currency
from coachos.domain.policy import BookingPolicy
from coachos.domain.quiet_hours import QuietHours
from coachos.domain.timezones import zone

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")


def check_slug(value: str) -> str:
    """`value` if it is a usable public slug (3 to 40 of a-z, 0-9 and inner hyphens)."""
    slug = value.strip().lower() if isinstance(value, str) else ""
    if not _SLUG.fullmatch(slug) or "--" in slug:
        raise ValidationError(
            f"'{value}' cannot be a web address name: use 3 to 40 lowercase letters, digits and "
            "single hyphens, starting and ending with a letter or digit.",
            field="slug",
        )
    return slug


def check_timezone(value: str) -> str:
    """`value` if it names a known IANA time zone."""
    zone(value)
    return value


@attrs.frozen(kw_only=True)
class Notifications:
    """Which reminders clients get and how the coach hears about bookings and replies."""

    #: Remind clients 24 hours before a session.
    reminder_24h: bool = True
    #: Remind clients 2 hours before a session.
    reminder_2h: bool = True
    #: Tell the coach by email (at the coach's login address).
    notice_email: bool = True
    #: Tell the coach by text, at `notice_phone`.
    notice_sms: bool = False
    #: The number coach notices are texted to (E.164).
    notice_phone: str | None = attrs.field(default=None, converter=optional_phone)

    def __attrs_post_init__(self) -> None:
        for name in ("reminder_24h", "reminder_2h", "notice_email", "notice_sms"):
            if not isinstance(getattr(self, name), bool):
                raise ValidationError(f"{name.replace('_', ' ').capitalize()} must be on or off.", field=name)
        if self.notice_sms and self.notice_phone is None:
            raise ValidationError(
                "To get notices by text, give the mobile number to send them to.", field="notice_phone"
            )


@attrs.frozen
class Organization:
    """A coach's business: the tenant every other record belongs to.

    `timezone` is the one place the organisation's zone is stored; everything shown or sent in
    local time reads it from here.
    """

    id: OrgId
    name: str = attrs.field(converter=check_name)
    slug: str = attrs.field(converter=check_slug)
    timezone: str = attrs.field(converter=check_timezone)
    currency: str = attrs.field(converter=check_currency)
    created_at: datetime
    policy: BookingPolicy = attrs.field(factory=BookingPolicy)
    quiet_hours: QuietHours = attrs.field(factory=QuietHours)
    notifications: Notifications = attrs.field(factory=Notifications)

    def __attrs_post_init__(self) -> None:
        for field, fee in (("late_cancel_fee", self.policy.late_cancel_fee), ("no_show_fee", self.policy.no_show_fee)):
            if fee is not None and fee.currency != self.currency:
                raise CurrencyMismatch(
                    f"Fees in this business are in {self.currency}; {fee.currency} was given.", field=field
                )

    @property
    def tz(self) -> ZoneInfo:
        """The organisation's zone."""
        return ZoneInfo(self.timezone)


@attrs.frozen
class Coach:
    """A member of staff who has availability and takes bookings."""

    id: CoachId
    org_id: OrgId
    name: str = attrs.field(converter=check_name)
    email: str = attrs.field(converter=check_email)
    active: bool = True
