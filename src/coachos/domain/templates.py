"""Message templates: what each kind of message says, per channel, with the business's own wording.

A template is text with placeholders in braces, such as `{client_first_name}` or `{when}`; `{{`
and `}}` stand for literal braces. Each kind of message allows its own placeholders, and a
template naming any other is refused when it is saved, so a typo never reaches a client as
"{clinet_name}". Values are inserted as plain text: the SMS and the email's text part carry them
as they are, and the email's HTML part is built by escaping everything (template and values
alike), so nothing a client typed can become markup.

Every kind has a default for each channel (below); a business may save its own wording, and
resetting removes it so the default applies again.
"""

from __future__ import annotations

import enum
import html
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from coachos.domain.checks import check_text
from coachos.domain.errors import ValidationError
from coachos.domain.ids import OrgId
from coachos.domain.messages import MAX_BODY as MAX_MESSAGE
from coachos.domain.messages import MessageChannel
from coachos.domain.messaging import SmsSegments, count_segments
from coachos.domain.timezones import require_utc

#: Longest template body per channel: ten SMS parts of GSM-7 text, and a generous email.
MAX_BODY = {MessageChannel.SMS: 1_530, MessageChannel.EMAIL: 10_000}
#: Longest email subject in a template.
MAX_SUBJECT = 200
#: Longest rendered subject, text and HTML part (what a stored message can hold).
MAX_RENDERED_SUBJECT = 300
MAX_RENDERED_TEXT = MAX_MESSAGE
MAX_RENDERED_HTML = MAX_MESSAGE * 5


class TemplateKind(enum.StrEnum):
    """Each kind of message Coach OS sends, to a client or to the coach."""

    BOOKING_RECEIVED = "booking_received"
    BOOKING_CONFIRMED = "booking_confirmed"
    REMINDER_24H = "reminder_24h"
    REMINDER_2H = "reminder_2h"
    BOOKING_RESCHEDULED = "booking_rescheduled"
    BOOKING_CANCELLED = "booking_cancelled"
    COACH_NEW_BOOKING = "coach_new_booking"
    COACH_BOOKING_REQUESTED = "coach_booking_requested"
    COACH_BOOKING_RESCHEDULED = "coach_booking_rescheduled"
    COACH_BOOKING_CANCELLED = "coach_booking_cancelled"
    COACH_CLIENT_REPLY = "coach_client_reply"
    MEMBERSHIP_PAYMENT_FAILED = "membership_payment_failed"


#: What each placeholder stands for (shown beside the editor).
PLACEHOLDERS: dict[str, str] = {
    "client_first_name": "The client's first name",
    "client_name": "The client's full name",
    "service": "The service booked, e.g. 'Personal training'",
    "when": "Date and time with the zone, e.g. 'Tue 3 Mar, 9:00 AM EST'",
    "previous_when": "The time a moved booking had before",
    "coach_name": "The coach's name",
    "business": "Your business's name",
    "manage_link": "The client's link to cancel or move the booking",
    "reply": "The text the client sent",
    "client_link": "The client's page in Coach OS",
    "membership": "The membership plan's name, e.g. 'Monthly 8'",
    "portal_link": "The client's portal, where they update their card",
    "grace_until": "When a membership's credits pause unless the payment goes through, with the zone",
}

_BOOKING = ("client_first_name", "client_name", "service", "when", "coach_name", "business")


@attrs.frozen
class KindInfo:
    """How a kind of message is shown to the coach, who receives it and which placeholders it allows."""

    title: str
    to_coach: bool
    placeholders: tuple[str, ...]
    #: When it goes, in a sentence for the templates page.
    when_sent: str


KINDS: dict[TemplateKind, KindInfo] = {
    TemplateKind.BOOKING_RECEIVED: KindInfo(
        "Booking request received",
        False,
        (*_BOOKING, "manage_link"),
        "At once, when someone books on your public page and you have yet to confirm.",
    ),
    TemplateKind.BOOKING_CONFIRMED: KindInfo(
        "Booking confirmation", False, (*_BOOKING, "manage_link"), "At once, when a booking is confirmed."
    ),
    TemplateKind.REMINDER_24H: KindInfo(
        "Reminder 24 hours before", False, (*_BOOKING, "manage_link"), "24 hours before, outside quiet hours."
    ),
    TemplateKind.REMINDER_2H: KindInfo(
        "Reminder 2 hours before", False, (*_BOOKING, "manage_link"), "2 hours before, outside quiet hours."
    ),
    TemplateKind.BOOKING_RESCHEDULED: KindInfo(
        "Booking moved", False, (*_BOOKING, "previous_when", "manage_link"), "At once, when a booking is moved."
    ),
    TemplateKind.BOOKING_CANCELLED: KindInfo(
        "Booking cancelled", False, _BOOKING, "At once, when a booking is cancelled."
    ),
    TemplateKind.COACH_NEW_BOOKING: KindInfo(
        "To you: new booking", True, (*_BOOKING, "client_link"), "When a client books (not when you do)."
    ),
    TemplateKind.COACH_BOOKING_REQUESTED: KindInfo(
        "To you: booking to confirm",
        True,
        (*_BOOKING, "client_link"),
        "When someone books on your public page.",
    ),
    TemplateKind.COACH_BOOKING_RESCHEDULED: KindInfo(
        "To you: booking moved",
        True,
        (*_BOOKING, "previous_when", "client_link"),
        "When a client moves a booking.",
    ),
    TemplateKind.COACH_BOOKING_CANCELLED: KindInfo(
        "To you: booking cancelled", True, (*_BOOKING, "client_link"), "When a client cancels (not when you do)."
    ),
    TemplateKind.COACH_CLIENT_REPLY: KindInfo(
        "To you: a client texted",
        True,
        ("client_first_name", "client_name", "business", "reply", "client_link"),
        "When a client's text arrives.",
    ),
    TemplateKind.MEMBERSHIP_PAYMENT_FAILED: KindInfo(
        "Membership payment failed",
        False,
        ("client_first_name", "client_name", "business", "membership", "grace_until", "portal_link"),
        "At once, each time a membership's renewal payment fails (Stripe retries it).",
    ),
}


@attrs.frozen
class Wording:
    """A template's text: a subject (email only) and a body."""

    subject: str | None
    body: str


_S = MessageChannel.SMS
_E = MessageChannel.EMAIL

DEFAULTS: dict[tuple[TemplateKind, MessageChannel], Wording] = {
    (TemplateKind.BOOKING_RECEIVED, _S): Wording(
        None,
        "Hi {client_first_name}, {business} got your request for {service} on {when}. "
        "You'll hear once it's confirmed. Manage it: {manage_link}",
    ),
    (TemplateKind.BOOKING_RECEIVED, _E): Wording(
        "Your booking request: {service} on {when}",
        "Hi {client_first_name},\n\n{business} got your request for {service} with {coach_name} on {when}. "
        "You'll hear from us once it's confirmed.\n\nTo cancel or move it: {manage_link}\n\n{business}",
    ),
    (TemplateKind.BOOKING_CONFIRMED, _S): Wording(
        None,
        "Hi {client_first_name}, you're booked for {service} with {coach_name} on {when}. Manage it: {manage_link}",
    ),
    (TemplateKind.BOOKING_CONFIRMED, _E): Wording(
        "Booked: {service} on {when}",
        "Hi {client_first_name},\n\nYou're booked for {service} with {coach_name} on {when}.\n\n"
        "To cancel or move it: {manage_link}\n\n{business}",
    ),
    (TemplateKind.REMINDER_24H, _S): Wording(
        None, "Reminder: {service} with {coach_name} tomorrow, {when}. Manage it: {manage_link}"
    ),
    (TemplateKind.REMINDER_24H, _E): Wording(
        "Tomorrow: {service} at {when}",
        "Hi {client_first_name},\n\nA reminder of {service} with {coach_name} on {when}.\n\n"
        "To cancel or move it: {manage_link}\n\n{business}",
    ),
    (TemplateKind.REMINDER_2H, _S): Wording(None, "See you soon: {service} with {coach_name} at {when}."),
    (TemplateKind.REMINDER_2H, _E): Wording(
        "Soon: {service} at {when}",
        "Hi {client_first_name},\n\nSee you soon: {service} with {coach_name} on {when}.\n\n{business}",
    ),
    (TemplateKind.BOOKING_RESCHEDULED, _S): Wording(
        None,
        "Hi {client_first_name}, your {service} has moved from {previous_when} to {when}. Manage it: {manage_link}",
    ),
    (TemplateKind.BOOKING_RESCHEDULED, _E): Wording(
        "Moved: {service} is now on {when}",
        "Hi {client_first_name},\n\nYour {service} with {coach_name} has moved from {previous_when} to {when}."
        "\n\nTo cancel or move it: {manage_link}\n\n{business}",
    ),
    (TemplateKind.BOOKING_CANCELLED, _S): Wording(
        None, "Hi {client_first_name}, your {service} on {when} is cancelled. {business}"
    ),
    (TemplateKind.BOOKING_CANCELLED, _E): Wording(
        "Cancelled: {service} on {when}",
        "Hi {client_first_name},\n\nYour {service} with {coach_name} on {when} is cancelled.\n\n{business}",
    ),
    (TemplateKind.COACH_NEW_BOOKING, _S): Wording(None, "New booking: {client_name}, {service}, {when}."),
    (TemplateKind.COACH_NEW_BOOKING, _E): Wording(
        "New booking: {client_name}, {when}", "{client_name} booked {service} on {when}.\n\n{client_link}"
    ),
    (TemplateKind.COACH_BOOKING_REQUESTED, _S): Wording(
        None, "To confirm: {client_name} asked for {service} on {when}. {client_link}"
    ),
    (TemplateKind.COACH_BOOKING_REQUESTED, _E): Wording(
        "To confirm: {client_name}, {when}",
        "{client_name} asked for {service} on {when} on your booking page. Confirm or decline it in Coach OS."
        "\n\n{client_link}",
    ),
    (TemplateKind.COACH_BOOKING_RESCHEDULED, _S): Wording(
        None, "Moved: {client_name}'s {service} from {previous_when} to {when}."
    ),
    (TemplateKind.COACH_BOOKING_RESCHEDULED, _E): Wording(
        "Moved: {client_name}, now {when}",
        "{client_name} moved {service} from {previous_when} to {when}.\n\n{client_link}",
    ),
    (TemplateKind.COACH_BOOKING_CANCELLED, _S): Wording(None, "Cancelled: {client_name}'s {service} on {when}."),
    (TemplateKind.COACH_BOOKING_CANCELLED, _E): Wording(
        "Cancelled: {client_name}, {when}", "{client_name} cancelled {service} on {when}.\n\n{client_link}"
    ),
    (TemplateKind.COACH_CLIENT_REPLY, _S): Wording(None, "{client_name}: {reply}"),
    (TemplateKind.COACH_CLIENT_REPLY, _E): Wording(
        "Text from {client_name}", "{client_name} sent:\n\n{reply}\n\nReply in Coach OS: {client_link}"
    ),
    (TemplateKind.MEMBERSHIP_PAYMENT_FAILED, _S): Wording(
        None,
        "Hi {client_first_name}, the payment for your {membership} membership with {business} didn't go through. "
        "Please update your card by {grace_until}: {portal_link}",
    ),
    (TemplateKind.MEMBERSHIP_PAYMENT_FAILED, _E): Wording(
        "Your {membership} payment didn't go through",
        "Hi {client_first_name},\n\nThe payment for your {membership} membership didn't go through. We'll try "
        "again over the next few days; to keep your sessions, please update your card by {grace_until}:\n\n"
        "{portal_link}\n\n{business}",
    ),
}


@attrs.frozen(kw_only=True)
class MessageTemplate:
    """A business's own wording for one kind of message on one channel."""

    org_id: OrgId
    kind: TemplateKind = attrs.field(converter=TemplateKind)
    channel: MessageChannel = attrs.field(converter=MessageChannel)
    subject: str | None
    body: str
    updated_at: datetime

    def __attrs_post_init__(self) -> None:
        check_template(self.kind, self.channel, self.subject, self.body)

    @property
    def wording(self) -> Wording:
        """The subject and body."""
        return Wording(self.subject, self.body)


def default_wording(kind: TemplateKind, channel: MessageChannel) -> Wording:
    """Coach OS's own wording for `kind` on `channel`."""
    return DEFAULTS[(TemplateKind(kind), MessageChannel(channel))]


# --- parsing -------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


@attrs.frozen
class _Part:
    literal: str
    placeholder: str | None = None


def _parts(template: str, *, field: str) -> Iterator[_Part]:
    """The template cut into literal text and placeholder names; ValidationError for a stray brace."""
    at = 0
    for match in _TOKEN.finditer(template):
        if match.start() > at:
            yield _Part(template[at : match.start()])
        token = match.group()
        if token in ("{{", "}}"):
            yield _Part(token[0])
        elif match.group(1) is not None and re.fullmatch(r"[a-z_]{1,40}", match.group(1).strip()):
            yield _Part("", match.group(1).strip())
        elif match.group(1) is not None:
            raise ValidationError(
                f"'{token[:50]}' is not a placeholder: use names such as {{client_first_name}} "
                "(write {{ and }} for literal braces).",
                field=field,
            )
        else:
            raise ValidationError(
                "A brace is not closed; placeholders look like {client_first_name} and literal braces are "
                "written {{ and }}.",
                field=field,
            )
        at = match.end()
    if at < len(template):
        yield _Part(template[at:])


def check_template(kind: TemplateKind, channel: MessageChannel, subject: str | None, body: str) -> None:
    """Refuse a template that cannot be stored or sent: control characters, a length past the
    channel's limit, a stray brace, or a placeholder this kind of message does not have."""
    kind, channel = TemplateKind(kind), MessageChannel(channel)
    check_text(body, field="body", max_len=MAX_BODY[channel], multiline=True)
    if not body.strip():
        raise ValidationError("The message cannot be empty.", field="body")
    fields: list[tuple[str, str]] = [("body", body)]
    if channel is MessageChannel.EMAIL:
        if subject is None or not subject.strip():
            raise ValidationError("An email needs a subject.", field="subject")
        check_text(subject, field="subject", max_len=MAX_SUBJECT)
        fields.append(("subject", subject))
    elif subject:
        raise ValidationError("A text message has no subject.", field="subject")
    allowed = KINDS[kind].placeholders
    for field, value in fields:
        for part in _parts(value, field=field):
            if part.placeholder is not None and part.placeholder not in allowed:
                raise ValidationError(
                    f"{{{part.placeholder}}} is not a placeholder of this message; use "
                    + ", ".join(f"{{{p}}}" for p in allowed)
                    + ".",
                    field=field,
                )


# --- rendering -----------------------------------------------------------------------------------

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def when_text(instant: datetime, tz: ZoneInfo, *, label_zone: bool = False) -> str:
    """`instant` on the clock of `tz` with the zone's abbreviation: 'Tue 3 Mar, 9:00 AM EST'.

    English names are spelled out here rather than taken from strftime, so neither the server's
    locale nor its time zone can change what a message says. `label_zone` adds the zone's name
    ('… GMT (Europe/London)') for a client's own zone, which differs from the business's.
    """
    local = require_utc(instant, field="when").astimezone(tz)
    hour = local.hour % 12 or 12
    text = (
        f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}, "
        f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'} {local.tzname()}"
    )
    return f"{text} ({tz.key})" if label_zone else text


#: Placeholders whose values are links (made clickable in the HTML part).
LINKS = frozenset({"manage_link", "client_link", "portal_link"})


@attrs.frozen
class Rendered:
    """A message ready to queue: the subject (email), the plain text and, for email, the HTML part."""

    subject: str | None
    text: str
    html: str | None

    @property
    def segments(self) -> SmsSegments:
        """What the text costs as an SMS."""
        return count_segments(self.text)


def _fill(parts: list[_Part], values: Mapping[str, str]) -> str:
    return "".join(p.literal if p.placeholder is None else values.get(p.placeholder, "") for p in parts)


def _html_text(value: str) -> str:
    return html.escape(value, quote=True).replace("\r\n", "\n").replace("\n", "<br>\n")


def _html(parts: list[_Part], values: Mapping[str, str]) -> str:
    """The body as HTML paragraphs: every piece escaped, links (ours) as anchors."""
    pieces: list[str] = []
    for p in parts:
        if p.placeholder is None:
            pieces.append(_html_text(p.literal))
            continue
        value = values.get(p.placeholder, "")
        if p.placeholder in LINKS and value.startswith(("https://", "http://")):
            escaped = html.escape(value, quote=True)
            pieces.append(f'<a href="{escaped}">{escaped}</a>')
        else:
            pieces.append(_html_text(value))
    body = "".join(pieces)
    paragraphs = [p.strip() for p in re.split(r"(?:<br>\n){2,}", body) if p.strip()]
    return "".join(f"<p>{p}</p>\n" for p in paragraphs)


def render(wording: Wording, channel: MessageChannel, values: Mapping[str, str]) -> Rendered:
    """`wording` with `values` put in: plain text for SMS, a subject, text and escaped HTML for email.

    Placeholders missing from `values` become empty text (a template is checked against its kind
    when saved, so this happens only for a value that does not exist, such as a client's link).
    """
    channel = MessageChannel(channel)
    parts = list(_parts(wording.body, field="body"))
    # A template repeating long values could outgrow what a message holds; it is cut rather than
    # refused, so one odd wording can never stop a business's reminders.
    text = _fill(parts, values)[:MAX_RENDERED_TEXT]
    if channel is MessageChannel.SMS:
        return Rendered(None, text, None)
    subject_parts = list(_parts(wording.subject or "", field="subject"))
    # A header is one line: whatever a value holds, the subject never carries a line break.
    subject = " ".join(_fill(subject_parts, values).split())[:MAX_RENDERED_SUBJECT]
    html_part = _html(parts, values)
    # Cutting markup could break it: an email too long for its HTML part goes as text only.
    return Rendered(subject, text, html_part if len(html_part) <= MAX_RENDERED_HTML else None)


def sample_values(
    business: str, tz: ZoneInfo, now: datetime, public_url: str = "https://example.com"
) -> dict[str, str]:
    """Made-up values for previewing a template: a booking tomorrow at 9:00 in the business's zone."""
    local = require_utc(now, field="now").astimezone(tz)
    tomorrow = (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    return {
        "client_first_name": "Jordan",
        "client_name": "Jordan Lee",
        "service": "Personal training",
        "when": when_text(tomorrow, tz),
        "previous_when": when_text(tomorrow - timedelta(days=1), tz),
        "coach_name": "Alex Rivera",
        "business": business,
        "manage_link": f"{public_url}/manage/sample",
        "reply": "Running 5 minutes late, sorry!",
        "client_link": f"{public_url}/clients/sample",
        "membership": "Monthly 8",
        "grace_until": when_text(tomorrow + timedelta(days=2), tz),
        "portal_link": f"{public_url}/c/sample",
    }
