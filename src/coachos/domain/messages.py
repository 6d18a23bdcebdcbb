"""Messages: every SMS and email the business sends or receives, as one stored row each.

An outgoing message is written in the same transaction as the change that caused it (a booking,
a reschedule, an automation run), with an idempotency `key` such as `booking:<id>:reminder-24h`:
writing the same key twice keeps the first row, so a retried use case or relay delivery never
queues a second text. The worker sends rows whose `not_before` has passed; what the provider
answered (its id, the status) is written back on the same row.

An incoming message is the same kind of row with `direction=in`, keyed by the provider's id
(Twilio's MessageSid), so a webhook the provider repeats is stored once.
"""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

import attrs

from coachos.domain.checks import text
from coachos.domain.clients import Channel
from coachos.domain.errors import ValidationError
from coachos.domain.ids import ClientId, CoachId, OrgId
from coachos.domain.timezones import require_utc

#: Longest body stored: ten SMS parts of UCS-2 comfortably, and any email we write.
MAX_BODY = 20_000
#: Longest idempotency key.
MAX_KEY = 200


class MessageChannel(enum.StrEnum):
    """How a message travels."""

    SMS = "sms"
    EMAIL = "email"


class Direction(enum.StrEnum):
    """Whether the business sent the message or received it."""

    OUT = "out"
    IN = "in"


class Purpose(enum.StrEnum):
    """Why a message is sent, which decides the consent it needs and whether quiet hours hold it."""

    #: About something the recipient did or booked: confirmations, reminders, notices, sign-in links.
    TRANSACTIONAL = "transactional"
    #: Anything the recipient did not ask for: offers, newsletters, win-back texts.
    MARKETING = "marketing"


class MessageStatus(enum.StrEnum):
    """Where a message stands."""

    #: Waiting for `not_before` (quiet hours, a reminder's time, a retry's backoff).
    QUEUED = "queued"
    #: Claimed by a worker that is talking to the provider now.
    SENDING = "sending"
    #: The provider accepted it.
    SENT = "sent"
    #: The provider reported it reached the handset or mailbox.
    DELIVERED = "delivered"
    #: It cannot be sent (invalid number, opted out, no consent, retries exhausted); `last_error` says why.
    FAILED = "failed"
    #: No longer wanted (its booking was cancelled or moved) before it was sent.
    CANCELLED = "cancelled"
    #: An incoming message.
    RECEIVED = "received"


#: Statuses after which nothing more happens to an outgoing message (except a late delivery report).
FINAL = frozenset({MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.CANCELLED, MessageStatus.RECEIVED})


def _utc(value: datetime) -> datetime:
    return require_utc(value, field="time")


def _optional_utc(value: datetime | None) -> datetime | None:
    return None if value is None else require_utc(value, field="time")


@attrs.frozen(kw_only=True)
class Message:
    """One SMS or email, sent or received by an organisation."""

    id: UUID
    org_id: OrgId
    direction: Direction = attrs.field(converter=Direction)
    channel: MessageChannel = attrs.field(converter=MessageChannel)
    purpose: Purpose = attrs.field(converter=Purpose)
    status: MessageStatus = attrs.field(converter=MessageStatus)
    #: The recipient's address (E.164 phone or email); for an incoming message, our number.
    to: str = attrs.field(validator=text(320))
    #: The sender's address: our number or address for outgoing, the person's for incoming.
    sender: str | None = attrs.field(default=None, validator=text(320, optional=True))
    body: str = attrs.field(validator=text(MAX_BODY, multiline=True))
    created_at: datetime = attrs.field(converter=_utc)
    #: Not sent before this instant; for incoming messages, when it arrived.
    not_before: datetime = attrs.field(converter=_utc)
    #: Idempotency key of an outgoing message, unique in its organisation.
    key: str | None = attrs.field(default=None, validator=text(MAX_KEY, optional=True))
    #: The client it is to or from, if known.
    client_id: ClientId | None = None
    #: The coach it is to (coach notices), if any.
    coach_id: CoachId | None = None
    #: The template it was rendered from (for the record and for editing), e.g. "booking_confirmation".
    template: str | None = attrs.field(default=None, validator=text(100, optional=True))
    subject: str | None = attrs.field(default=None, validator=text(300, optional=True))
    #: An email's HTML part (the plain-text part is `body`).
    html: str | None = attrs.field(default=None, validator=text(MAX_BODY * 5, multiline=True, optional=True))
    attempts: int = 0
    #: The provider's id (Twilio's MessageSid, an email's Message-ID), once it has one.
    provider_id: str | None = attrs.field(default=None, validator=text(100, optional=True))
    #: Why the last attempt failed, in words a coach can act on (never the body or an address).
    last_error: str | None = attrs.field(default=None, validator=text(500, optional=True))
    #: When `status` last changed.
    status_at: datetime | None = attrs.field(default=None, converter=_optional_utc)
    #: When a coach read it (incoming messages).
    read_at: datetime | None = attrs.field(default=None, converter=_optional_utc)
    #: Whether quiet hours hold it back. Reminders, marketing and automations: always; what the
    #: recipient just asked for (a booking confirmation, a sign-in link, an opt-out reply): no.
    quiet_hours: bool = True

    def __attrs_post_init__(self) -> None:
        if self.direction is Direction.OUT and self.status is MessageStatus.RECEIVED:
            raise ValidationError("An outgoing message cannot be 'received'.", field="status")
        if self.direction is Direction.IN and self.status is not MessageStatus.RECEIVED:
            raise ValidationError("An incoming message is always 'received'.", field="status")
        if self.purpose is Purpose.MARKETING and not self.quiet_hours:
            raise ValidationError("Marketing always waits for the end of quiet hours.", field="quiet_hours")
        if self.attempts < 0:
            raise ValidationError("Attempts cannot be negative.", field="attempts")

    @property
    def outgoing(self) -> bool:
        """Whether the business sends this message."""
        return self.direction is Direction.OUT


def outgoing(
    *,
    id: UUID,
    org_id: OrgId,
    key: str,
    channel: MessageChannel,
    purpose: Purpose,
    to: str,
    body: str,
    now: datetime,
    not_before: datetime | None = None,
    client_id: ClientId | None = None,
    coach_id: CoachId | None = None,
    template: str | None = None,
    subject: str | None = None,
    html: str | None = None,
    sender: str | None = None,
    quiet_hours: bool = True,
) -> Message:
    """A new outgoing message, queued to go at `not_before` (default: now)."""
    return Message(
        id=id,
        org_id=org_id,
        direction=Direction.OUT,
        channel=channel,
        purpose=purpose,
        status=MessageStatus.QUEUED,
        to=to,
        sender=sender,
        body=body,
        created_at=now,
        not_before=not_before or now,
        key=key,
        client_id=client_id,
        coach_id=coach_id,
        template=template,
        subject=subject,
        html=html,
        status_at=now,
        quiet_hours=quiet_hours,
    )


def required_consent(channel: MessageChannel, purpose: Purpose) -> Channel | None:
    """The consent a client must have given before we send on `channel` for `purpose`; None if none is needed.

    SMS always needs consent (transactional texts the SMS consent, marketing texts the SMS
    marketing consent); marketing email needs the email marketing consent; transactional email none.
    """
    if channel is MessageChannel.SMS:
        return Channel.SMS if purpose is Purpose.TRANSACTIONAL else Channel.SMS_MARKETING
    return None if purpose is Purpose.TRANSACTIONAL else Channel.EMAIL_MARKETING
