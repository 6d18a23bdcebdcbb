"""Consent evidence: what each consent is called, how it can be given or withdrawn, and the log of both.

A client's current consents live on the client (`Client.consents`, one per `Channel`). Every time
one is given or withdrawn, a `ConsentChange` is also kept for good, so that the evidence of a
withdrawal (when, how, in which words) survives the consent it ended.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

import attrs

from coachos.domain.checks import text
from coachos.domain.clients import Channel
from coachos.domain.errors import ValidationError
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.timezones import require_utc

#: What a coach or a client reads for each consent, in the order pages list them.
LABELS: Mapping[Channel, str] = {
    Channel.SMS: "Texts about bookings",
    Channel.SMS_MARKETING: "Marketing texts",
    Channel.EMAIL_MARKETING: "Marketing emails",
    Channel.EMAIL: "Emails about bookings",
}

# How a consent was given or withdrawn (`ConsentChange.method`, `Consent.method`).
#: Ticked on the public booking form.
BOOKING_FORM = "booking_form"
#: Typed in by the coach, who records what the client agreed to or asked for.
COACH_ENTERED = "coach_entered"
#: The client asked (by phone, in person, by email) and the coach or an API caller noted it.
CLIENT_REQUEST = "client_request"
#: A STOP / START keyword texted by the client.
SMS_KEYWORD = "sms_keyword"
#: The SMS provider refused to deliver because the number opted out (Twilio error 21610).
CARRIER_OPT_OUT = "carrier_opt_out"
#: Done by Coach OS itself without a person's request (e.g. an import).
SYSTEM = "system"

#: How each method reads on the client page.
METHOD_LABELS: Mapping[str, str] = {
    BOOKING_FORM: "on the booking form",
    COACH_ENTERED: "entered by a coach",
    CLIENT_REQUEST: "at the client's request",
    SMS_KEYWORD: "by text keyword",
    CARRIER_OPT_OUT: "opted out with the phone carrier",
    SYSTEM: "by Coach OS",
}


def method_label(method: str) -> str:
    """How `method` reads for a coach; an unknown method (from an integration) as it was stored."""
    return METHOD_LABELS.get(method, method.replace("_", " "))


class ConsentAction(enum.StrEnum):
    """Whether a consent was given or withdrawn."""

    GIVEN = "given"
    WITHDRAWN = "withdrawn"


def _at(value: datetime) -> datetime:
    return require_utc(value, field="at")


def _method(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("Say how the consent was given or withdrawn, e.g. 'coach_entered'.", field="method")
    return value.strip()


@attrs.frozen(kw_only=True)
class ConsentChange:
    """One consent given or withdrawn: when, how, by whom and in which words, kept for good."""

    id: UUID
    org_id: OrgId
    client_id: ClientId
    channel: Channel = attrs.field(converter=Channel)
    action: ConsentAction = attrs.field(converter=ConsentAction)
    at: datetime = attrs.field(converter=_at)
    #: How, e.g. "booking_form", "coach_entered", "client_request", "sms_keyword".
    method: str = attrs.field(converter=_method, validator=text(100))
    #: Who made the change, as `str(Actor)`: "coach:<id>", "client:<id>" or "system".
    actor: str = attrs.field(validator=text(200))
    #: The exact words agreed to (or, for a withdrawal, the words of the request: "STOP", a coach's note).
    wording: str | None = attrs.field(default=None, validator=text(2000, multiline=True, optional=True))

    @property
    def label(self) -> str:
        """What the consent is called on pages: "Texts about bookings", …"""
        return LABELS[self.channel]

    @property
    def how(self) -> str:
        """How it was given or withdrawn, in words."""
        return method_label(self.method)
