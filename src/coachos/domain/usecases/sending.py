"""Sending the stored messages (the worker's tick) and recording the provider's delivery reports.

Each message goes through four short transactions and one provider call:
1. the claim (`claim_due`, committed): status `sending`, a lease, one more attempt counted;
2. the checks (consent, quiet hours in the recipient's zone, the sending number's token bucket),
   committed; a message that may not go now is settled here (failed, or queued for later);
3. the provider call, outside any transaction;
4. the outcome (`settle`), written only while the claim still holds.

At most once: a worker that dies between 3 and 4 leaves the row `sending` with a lease. Whoever
claims it after the lease runs out knows the outcome is unknown (`ClaimedMessage.unsure`) and asks
the provider first (`SmsSender.find_sent`); a message the provider has is recorded as sent, not
sent again. The same holds after a timeout or 5xx (the provider may have accepted the message
before failing): an SMS retry is left `sending` with its lease set to the retry time, so the retry
is an unsure claim that checks first. Email carries the message id as its Message-ID, so the rare
resend is one message to receivers (mail systems and clients collapse equal Message-IDs).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from uuid import UUID

import attrs

from coachos.domain.clients import Channel, Client
from coachos.domain.consent import CARRIER_OPT_OUT
from coachos.domain.errors import NotFound, PermanentSendError, RecipientOptedOut, TransientSendError
from coachos.domain.ids import SYSTEM, ClientId, OrgId
from coachos.domain.messages import Message, MessageChannel, MessageStatus, required_consent
from coachos.domain.orgs import Organization
from coachos.domain.quiet_hours import is_quiet, next_allowed, recipient_zone
from coachos.domain.sending import (
    TWILIO_OPTED_OUT,
    ClaimedMessage,
    delivery_error,
    delivery_status,
    retry_delay,
)
from coachos.domain.sms_keywords import OPT_OUT_CONFIRMATION
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases.clients import withdraw_consents
from coachos.ports.storage import UnitOfWork

log = logging.getLogger("coachos.sending")

#: How long a message whose number's bucket is empty waits before it is tried again.
THROTTLE_WAIT = timedelta(seconds=1)
#: Slack for clocks that disagree, when asking the provider for messages made since a message was queued.
CLOCK_SLACK = timedelta(minutes=5)
CLIENT_GONE = "The client was removed, so the message was not sent."
#: What a coach reads on a message to a client with no consent for it, by the consent missing.
NO_CONSENT = {
    Channel.SMS: "No SMS consent: the client has not agreed to texts. Record their consent on their page to text them.",
    Channel.SMS_MARKETING: "No SMS marketing consent: the client has not agreed to marketing texts.",
    Channel.EMAIL_MARKETING: "No email marketing consent: the client has not agreed to marketing emails.",
    Channel.EMAIL: "No email consent: the client has not agreed to emails.",
}


@attrs.frozen(kw_only=True)
class SendReport:
    """What one run of SendDueMessages did, by outcome."""

    claimed: int = 0
    sent: int = 0
    #: Found at the provider after an attempt whose outcome was unknown: recorded, not sent again.
    recovered: int = 0
    #: Held back by quiet hours until the next allowed instant.
    quiet: int = 0
    #: Held back a moment because their number had used its rate.
    throttled: int = 0
    #: To be tried again later (a passing provider error).
    retrying: int = 0
    failed: int = 0
    #: Claims that ended before the outcome was written (a delivery report got there first).
    lost: int = 0

    def __add__(self, other: SendReport) -> SendReport:
        return SendReport(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in attrs.fields(SendReport)})


@attrs.frozen(kw_only=True)
class SendDueMessages(Command[SendReport]):
    """Send every outgoing message that is due, batch after batch, until none is due or the time budget is spent."""

    #: Seconds to keep claiming new batches; None takes the configured budget.
    budget_seconds: float | None = None


@handles(SendDueMessages)
def send_due_messages(cmd: SendDueMessages, deps: Deps) -> SendReport:
    """Claim, check and send due messages of every organisation (see the module's docstring)."""
    options = deps.sending
    started = deps.clock.now()
    budget = options.budget if cmd.budget_seconds is None else timedelta(seconds=cmd.budget_seconds)
    report = SendReport()
    pass_ = _Pass(deps)
    while True:
        now = deps.clock.now()
        with deps.uow() as uow:
            claims = uow.messages.claim_due(now, now + options.lease, options.batch)
            uow.commit()
        if not claims:
            break
        report += SendReport(claimed=len(claims))
        for claim in claims:
            try:
                report += pass_.send(claim)
            except Exception:
                # The claim stays until its lease runs out; the retry then checks with the provider first.
                log.exception("message send failed unexpectedly: message_id=%s", claim.message.id)
        if deps.clock.now() - started >= budget:
            break
    return report


class _Pass:
    """One run's state: organisations read once, and numbers found out of tokens."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._orgs: dict[OrgId, Organization] = {}
        self._numbers: dict[OrgId, str | None] = {}
        self._empty: dict[str, datetime] = {}

    def send(self, claim: ClaimedMessage) -> SendReport:
        """Check one claimed message, send it if it may go now, and record the outcome."""
        m = claim.message
        deps, options = self._deps, self._deps.sending
        now = deps.clock.now()
        with deps.uow() as uow:
            org = self._org(uow, m.org_id)
            client = _client(uow, m)
            number = self._number(uow, m)
            held = self._hold(uow, claim, org, client, number, now)
            if held is not None:
                uow.commit()
                return held
            uow.commit()

        if m.channel is MessageChannel.EMAIL:
            return self._email(claim)
        if number is None:  # checked in _hold
            return SendReport()
        # Recorded on the row, so a reclaimed message asks the provider about the number it really used.
        m = attrs.evolve(m, sender=number)
        claim = attrs.evolve(claim, message=m)
        callback = options.status_callback(m)
        if claim.unsure:
            try:
                found = deps.sms.find_sent(
                    from_number=number, to=m.to, body=m.body, since=m.created_at - CLOCK_SLACK, status_callback=callback
                )
            except TransientSendError as e:
                return self._retry(claim, e)
            if found is not None:
                log.info("message found at the provider, not sent again: message_id=%s", m.id)
                sent = attrs.evolve(m, status=MessageStatus.SENT, provider_id=found.provider_id, status_at=now)
                return self._settle(claim, sent, SendReport(recovered=1))
        try:
            receipt = deps.sms.send(from_number=number, to=m.to, body=m.body, status_callback=callback)
        except TransientSendError as e:
            return self._retry(claim, e)
        except RecipientOptedOut as e:
            return self._fail(claim, str(e), opted_out=True)
        except PermanentSendError as e:
            return self._fail(claim, str(e))
        sent = attrs.evolve(
            m, status=MessageStatus.SENT, provider_id=receipt.provider_id, status_at=deps.clock.now(), last_error=None
        )
        return self._settle(claim, sent, SendReport(sent=1))

    def _org(self, uow: UnitOfWork, org_id: OrgId) -> Organization:
        if org_id not in self._orgs:
            self._orgs[org_id] = uow.orgs.get(org_id)
        return self._orgs[org_id]

    def _number(self, uow: UnitOfWork, m: Message) -> str | None:
        """The number a text goes from: the one the message names (a reply goes from the number the client
        texted), else the business's first number, else the platform's default (`COACHOS_SMS_FROM`)."""
        if m.channel is not MessageChannel.SMS:
            return None
        if m.sender is not None:
            return m.sender
        if m.org_id not in self._numbers:
            owned = uow.phone_numbers.list(m.org_id)
            self._numbers[m.org_id] = owned[0].number if owned else None
        return self._numbers[m.org_id] or self._deps.sending.default_sms_from

    def _hold(
        self,
        uow: UnitOfWork,
        claim: ClaimedMessage,
        org: Organization,
        client: Client | None,
        number: str | None,
        now: datetime,
    ) -> SendReport | None:
        """Settle the message here if it may not go now (no consent, quiet hours, no token); None if it may."""
        m, options = claim.message, self._deps.sending
        if m.client_id is not None and client is None:
            return _settle(uow, claim, _failed(m, CLIENT_GONE, now), "failed")
        needed = required_consent(m.channel, m.purpose)
        exempt = m.template == OPT_OUT_CONFIRMATION
        if client is not None and needed is not None and not exempt and client.consent(needed) is None:
            return _settle(uow, claim, _failed(m, NO_CONSENT[needed], now), "failed")
        if m.quiet_hours:
            tz = recipient_zone(client.timezone if client is not None else None, org.timezone)
            if is_quiet(now, org.quiet_hours, tz):
                later = next_allowed(now, org.quiet_hours, tz)
                return _settle(uow, claim, _requeued(m, later, now), "quiet")
        if m.channel is not MessageChannel.SMS:
            return None
        if number is None:
            error = "No number to send texts from: set COACHOS_SMS_FROM or give the business a number."
            return _settle(uow, claim, _failed(m, error, now), "failed")
        empty_until = self._empty.get(number)
        if (empty_until is not None and now < empty_until) or not uow.messages.take_send_token(
            number, now, options.rate_per_second, options.burst
        ):
            self._empty[number] = now + THROTTLE_WAIT
            return _settle(uow, claim, _requeued(m, now + THROTTLE_WAIT, now), "throttled")
        return None

    def _email(self, claim: ClaimedMessage) -> SendReport:
        m = claim.message
        try:
            self._deps.email.send(m.to, m.subject or "", m.body, m.html, message_id=str(m.id))
        except TransientSendError as e:
            return self._retry(claim, e)
        except PermanentSendError as e:
            return self._fail(claim, str(e))
        sent = attrs.evolve(m, status=MessageStatus.SENT, status_at=self._deps.clock.now(), last_error=None)
        return self._settle(claim, sent, SendReport(sent=1))

    def _retry(self, claim: ClaimedMessage, error: TransientSendError) -> SendReport:
        m, now = claim.message, self._deps.clock.now()
        if m.attempts >= self._deps.sending.max_attempts:
            return self._fail(claim, f"Gave up after {m.attempts} attempts: {error}")
        at = now + retry_delay(m.attempts, error.retry_after)
        # An SMS stays `sending` until `at` (its lease): the retry is then an unsure claim that asks the
        # provider first, since a timeout or 5xx can follow the provider's acceptance. Email is queued.
        status = MessageStatus.SENDING if m.channel is MessageChannel.SMS else MessageStatus.QUEUED
        later = attrs.evolve(m, status=status, not_before=at, last_error=str(error)[:500], status_at=now)
        return self._settle(claim, later, SendReport(retrying=1))

    def _fail(self, claim: ClaimedMessage, error: str, *, opted_out: bool = False) -> SendReport:
        m, now = claim.message, self._deps.clock.now()
        with self._deps.uow() as uow:
            done = uow.messages.settle(claim, _failed(m, error, now))
            if opted_out and m.client_id is not None:
                withdraw_sms_consent(uow, self._deps, m.org_id, m.client_id, now)
            uow.commit()
        log.info("message failed: message_id=%s opted_out=%s", m.id, opted_out)
        return SendReport(failed=1) if done else SendReport(lost=1)

    def _settle(self, claim: ClaimedMessage, outcome: Message, counted: SendReport) -> SendReport:
        with self._deps.uow() as uow:
            done = uow.messages.settle(claim, outcome)
            uow.commit()
        if not done:
            log.info("message claim ended before its outcome was written: message_id=%s", claim.message.id)
            return SendReport(lost=1)
        return counted


def _client(uow: UnitOfWork, m: Message) -> Client | None:
    if m.client_id is None:
        return None
    try:
        return uow.clients.get(m.org_id, m.client_id)
    except NotFound:
        return None


def _settle(uow: UnitOfWork, claim: ClaimedMessage, outcome: Message, kind: str) -> SendReport:
    if not uow.messages.settle(claim, outcome):
        return SendReport(lost=1)
    return SendReport(**{kind: 1})


def _failed(m: Message, error: str, now: datetime) -> Message:
    return attrs.evolve(m, status=MessageStatus.FAILED, last_error=error[:500], status_at=now)


def _requeued(m: Message, at: datetime, now: datetime) -> Message:
    """Queued again for `at`, this attempt not counted (nothing was tried)."""
    return attrs.evolve(m, status=MessageStatus.QUEUED, not_before=at, attempts=max(m.attempts - 1, 0), status_at=now)


def withdraw_sms_consent(uow: UnitOfWork, deps: Deps, org_id: OrgId, client_id: ClientId, now: datetime) -> None:
    """Withdraw the client's SMS and SMS marketing consents (the carrier reported them opted out)."""
    withdraw_consents(
        uow, deps, org_id, client_id, [Channel.SMS, Channel.SMS_MARKETING], at=now, method=CARRIER_OPT_OUT, actor=SYSTEM
    )


@attrs.frozen(kw_only=True)
class RecordDeliveryStatus(Command[Message | None]):
    """A provider's delivery report for an SMS it accepted (Twilio's status callback)."""

    #: The provider's id for the message (Twilio's MessageSid).
    provider_id: str
    #: The provider's word for where the message stands ("sent", "delivered", "undelivered", …).
    status: str
    #: The provider's error code when it failed ("30003", "21610").
    error_code: str | None = None
    #: Our message's id, from the status callback URL (found by it while the provider id is not yet stored).
    message_id: str | None = None


@handles(RecordDeliveryStatus)
def record_delivery_status(cmd: RecordDeliveryStatus, deps: Deps) -> Message | None:
    """Move the message forward to what the report says; None if no message matches (nothing is stored).

    A failure with Twilio's 21610 also withdraws the client's SMS consents, as a failed send does.
    """
    status = delivery_status(cmd.status)
    if status is None:
        return None
    try:
        message_id = UUID(cmd.message_id) if cmd.message_id else None
    except ValueError:
        message_id = None
    now = deps.clock.now()
    error = delivery_error(cmd.error_code) if status is MessageStatus.FAILED else None
    with deps.uow() as uow:
        found = uow.messages.delivery_report(cmd.provider_id, message_id, status, error, now)
        if found is None:
            return None
        if status is MessageStatus.FAILED and cmd.error_code == TWILIO_OPTED_OUT and found.client_id is not None:
            withdraw_sms_consent(uow, deps, found.org_id, found.client_id, now)
        uow.commit()
    return found
