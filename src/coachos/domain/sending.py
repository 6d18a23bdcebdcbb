"""Sending the stored messages: the worker's rules for claims, retries, the provider's rate and delivery reports.

How a message goes out (see `domain/usecases/sending.py`): a worker claims due rows in one short
transaction (status `sending`, a lease, `attempts + 1`) and commits that claim before it talks to
the provider, so a crash mid-send leaves a row that says "an attempt may have reached the
provider". Whoever reclaims such a row after its lease first asks the provider whether it already
has the message (`SmsSender.find_sent`) and records it as sent instead of sending it again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from coachos.domain.ids import OrgId
from coachos.domain.messages import Message, MessageStatus

# The template of the reply confirming an opt-out: the one message an opted-out number still gets.

#: Twilio's error for a recipient who replied STOP (also reported on the status callback).
TWILIO_OPTED_OUT = "21610"


@attrs.frozen(kw_only=True)
class SendingOptions:
    """How the worker sends: the provider's rate per sending number, leases, retries and batches."""

    #: Messages per second one sending number may hand to the provider (Twilio's long codes: 1).
    rate_per_second: float = attrs.field(default=1.0, validator=attrs.validators.gt(0))
    #: How many messages a number may send back to back after being idle (the bucket's size).
    burst: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    #: How long a claim holds a message; past it, another worker may take the message over. It
    #: outlives the provider's timeout many times, so a live worker never loses its claim.
    lease: timedelta = timedelta(minutes=5)
    #: After this many attempts that failed for a passing reason, the message fails for good.
    max_attempts: int = attrs.field(default=8, validator=attrs.validators.ge(1))
    #: Messages claimed at once by one worker.
    batch: int = attrs.field(default=50, validator=attrs.validators.ge(1))
    #: How long one run of the worker's tick keeps claiming more batches.
    budget: timedelta = timedelta(seconds=50)
    #: The number SMS go out from when a message names none (COACHOS_SMS_FROM).
    default_sms_from: str | None = None
    #: Where the provider reports delivery (`<public URL>/webhooks/twilio/status`); None asks for no reports.
    status_callback_url: str | None = None

    def status_callback(self, message: Message) -> str | None:
        """The status callback URL for `message`: ours, naming the message so an early report still finds it."""
        if self.status_callback_url is None:
            return None
        return f"{self.status_callback_url}?m={message.id}"


@attrs.frozen(kw_only=True)
class ClaimedMessage:
    """A message a worker holds until `lease_until`, with `attempts` already counting this attempt."""

    message: Message
    lease_until: datetime
    #: Whether an earlier attempt was claimed and never settled (its worker died): it may have reached
    #: the provider, so the provider is asked before sending again.
    unsure: bool = False

    @property
    def org_id(self) -> OrgId:
        """The organisation the message belongs to."""
        return self.message.org_id


def micro_tokens(burst: int) -> int:
    """A full bucket of `burst` tokens, in the millionths of a token buckets are stored in."""
    return burst * TOKEN


#: One token, in millionths (whole numbers keep refills exact on every database).
TOKEN = 1_000_000


def refill_parameters(rate_per_second: float, burst: int) -> tuple[int, int]:
    """(millitokens per second, microseconds to fill an empty bucket) for a bucket's refill arithmetic."""
    rate_milli = max(1, round(rate_per_second * 1000))
    fill_us = -(-micro_tokens(burst) * 1000 // rate_milli)
    return rate_milli, fill_us


def refilled(tokens: int, idle_us: int, rate_milli: int, fill_us: int, burst: int) -> int:
    """The micro-tokens a bucket holding `tokens` has after `idle_us` microseconds (the SQL does the same)."""
    idle = min(max(idle_us, 0), fill_us)
    return min(tokens + idle * rate_milli // 1000, micro_tokens(burst))


#: The wait after the first failed attempt, doubled after each further one, up to RETRY_CAP.
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(minutes=60)


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 1, 2, 4 … minutes, at most an hour,
    and never sooner than the provider asked (`retry_after` seconds)."""
    delay = min(RETRY_BASE * (1 << min(max(attempts - 1, 0), 16)), RETRY_CAP)
    if retry_after is not None and timedelta(seconds=retry_after) > delay:
        delay = min(timedelta(seconds=retry_after), RETRY_CAP)
    return delay


#: Twilio's delivery error codes in words a coach can act on (never the number or the body).
DELIVERY_ERRORS = {
    "30001": "the message queue overflowed at the provider; send it again later",
    "30002": "the Twilio account was suspended",
    "30003": "the phone is switched off or out of coverage",
    "30004": "the recipient's carrier blocked the message",
    "30005": "the number does not exist or is no longer in service",
    "30006": "the number is a landline or cannot receive SMS",
    "30007": "the carrier filtered the message as spam",
    "30008": "the carrier could not deliver it for an unknown reason",
    TWILIO_OPTED_OUT: "the recipient has opted out of text messages (they replied STOP)",
}


def delivery_error(code: str | None) -> str:
    """The reason a delivery failed, for the client's page."""
    if not code:
        return "The carrier reported the text as not delivered."
    return f"Not delivered: {DELIVERY_ERRORS.get(code, f'the carrier reported error {code}')}."


def delivery_status(provider_status: str) -> MessageStatus | None:
    """What a provider's delivery report means for our row; None for reports that change nothing."""
    word = provider_status.strip().lower()
    if word in ("delivered", "read"):
        return MessageStatus.DELIVERED
    if word in ("undelivered", "failed"):
        return MessageStatus.FAILED
    if word == "sent":
        return MessageStatus.SENT
    return None


#: The statuses a delivery report may move a message out of, by the status it reports: a report only
#: ever moves a message forward, so one arriving late ("sent" after "delivered") changes nothing.
MOVES_FROM: dict[MessageStatus, frozenset[MessageStatus]] = {
    MessageStatus.SENT: frozenset({MessageStatus.QUEUED, MessageStatus.SENDING}),
    MessageStatus.DELIVERED: frozenset({MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT}),
    MessageStatus.FAILED: frozenset({MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT}),
}
