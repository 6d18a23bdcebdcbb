"""The coach's inbox: one conversation per client over the stored messages, and the rules of a reply.

A reply goes by text when the client has a phone and agreed to texts, else by email when they
have an address; it is keyed `reply:<form id>` so a form sent twice queues one message, and it
waits for the end of quiet hours on the client's clock (or the business's) like every text
nobody asked for at that moment.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import attrs

from coachos.domain.checks import check_text
from coachos.domain.clients import Channel, Client
from coachos.domain.errors import ValidationError
from coachos.domain.ids import ClientId
from coachos.domain.messages import Direction, Message, MessageChannel
from coachos.domain.orgs import Organization
from coachos.domain.portal import SECRET_TEMPLATES
from coachos.domain.quiet_hours import next_allowed, recipient_zone

#: Longest reply: Twilio refuses longer bodies (about ten GSM-7 parts, or twenty-four UCS-2 ones).
MAX_REPLY = 1600
#: Characters of the last message the conversation list shows.
PREVIEW = 120
#: Template name recorded on replies, so they can be told apart from notices and reminders.
REPLY_TEMPLATE = "inbox_reply"


@attrs.frozen
class Conversation:
    """A client's thread as the conversation list shows it: the latest message and how many are unread."""

    client_id: ClientId
    client_name: str
    last: Message
    #: Incoming messages no coach has read yet.
    unread: int

    @property
    def preview(self) -> str:
        """The latest message on one line, shortened to PREVIEW characters."""
        flat = " ".join(shown_body(self.last).split())
        return flat if len(flat) <= PREVIEW else flat[: PREVIEW - 1].rstrip() + "…"


#: What coaches see instead of a portal sign-in or contact-change message's body.
SIGN_IN_WITHHELD = "(The client's sign-in link and code: hidden, because whoever holds them can sign in as the client.)"


def shown_body(message: Message) -> str:
    """The body as coaches may read it: sign-in secrets that may still work are left out, as in the data export."""
    return SIGN_IN_WITHHELD if message.template in SECRET_TEMPLATES else message.body


def unread(message: Message) -> bool:
    """Whether `message` came in and no coach has read it yet."""
    return message.direction is Direction.IN and message.read_at is None


def check_reply(body: object) -> str:
    """`body` if a coach may send it: some text, no control characters, at most MAX_REPLY characters."""
    # Browsers send a textarea's line breaks as CRLF; a text message needs only the LF (one character less).
    value = check_text(body, field="body", max_len=None, multiline=True).replace("\r\n", "\n")
    if not value.strip():
        raise ValidationError("Write a message before sending.", field="body")
    if len(value) > MAX_REPLY:
        raise ValidationError(
            f"A reply is limited to {MAX_REPLY:,} characters (this one has {len(value):,}); shorten it or split it.",
            field="body",
        )
    return value.strip()


@attrs.frozen
class ReplyRoute:
    """How a reply reaches a client."""

    channel: MessageChannel
    to: str


def reply_route(client: Client) -> ReplyRoute:
    """By text if the client has a phone and agreed to texts, else by email; refused if neither is possible."""
    if client.phone and client.consent(Channel.SMS) is not None:
        return ReplyRoute(MessageChannel.SMS, client.phone)
    if client.email:
        return ReplyRoute(MessageChannel.EMAIL, client.email)
    if client.phone:
        raise ValidationError(
            "This client has not agreed to text messages and has no email address: record their SMS "
            "consent or add an email address on their profile, then reply.",
            field="body",
        )
    raise ValidationError(
        "This client has no phone number or email address: add one on their profile, then reply.", field="body"
    )


def reply_key(form_id: UUID) -> str:
    """The idempotency key of the reply sent by the form carrying `form_id`."""
    return f"reply:{form_id}"


def reply_time(now: datetime, org: Organization, client: Client) -> datetime:
    """When a reply written at `now` may go: now, or the end of quiet hours on the client's (else the org's) clock."""
    return next_allowed(now, org.quiet_hours, recipient_zone(client.timezone, org.timezone))
