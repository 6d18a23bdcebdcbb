"""Sending due messages: consent, quiet hours in the recipient's zone, retries, permanent failures, opt-outs,
the per-number rate, recovering an attempt whose outcome was unknown, and delivery reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import attrs
import pytest

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.adapters.email import MemoryEmail
from coachos.adapters.memory import MemoryStore
from coachos.adapters.sms import MemorySms
from coachos.domain.clients import Channel
from coachos.domain.errors import PermanentSendError, RecipientOptedOut, TransientSendError
from coachos.domain.ids import ClientId
from coachos.domain.messages import Message, MessageChannel, MessageStatus, Purpose, outgoing
from coachos.domain.sending import SendingOptions, retry_delay
from coachos.domain.sms_keywords import OPT_OUT_CONFIRMATION
from coachos.domain.usecases import RecordConsent, RecordDeliveryStatus, SendDueMessages, SendReport, UpdateClient
from tests.helpers import World, make_world

#: 15:00 UTC on Monday 2 March 2026: 10:00 in New York, 15:00 in London, 07:00 in Los Angeles.
DAYTIME = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
FROM = "+15005550006"
CALLBACK = "https://coach.example/webhooks/twilio/status"


@pytest.fixture
def sms() -> MemorySms:
    """The SMS provider, recording what it was asked."""
    return MemorySms()


@pytest.fixture
def mailbox() -> MemoryEmail:
    """The email provider, recording what it was asked."""
    return MemoryEmail()


@pytest.fixture
def app(clock: FixedClock, sms: MemorySms, mailbox: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on the fakes, sending through the recording SMS and email fakes."""
    clock.set(DAYTIME)
    options = SendingOptions(default_sms_from=FROM, status_callback_url=CALLBACK, rate_per_second=1, burst=1)
    with bootstrap(
        Settings(database_url="memory://"),
        uow=MemoryStore().unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        sms=sms,
        email=mailbox,
        sending=options,
    ) as built:
        yield built


def consent(app: CoachOS, world: World, *channels: Channel, client_id: ClientId | None = None) -> None:
    for channel in channels:
        app.execute(
            RecordConsent(
                org_id=world.org.id,
                client_id=client_id or world.client.id,
                channel=channel,
                method="booking_form",
                actor=world.me,
            )
        )


def queue(app: CoachOS, world: World, **kw: object) -> Message:
    values: dict[str, object] = {
        "id": uuid4(),
        "org_id": world.org.id,
        "key": f"test:{uuid4()}",
        "channel": MessageChannel.SMS,
        "purpose": Purpose.TRANSACTIONAL,
        "to": world.client.phone,
        "body": "See you tomorrow at 9:00 AM EST.",
        "now": app.clock.now(),
        "client_id": world.client.id,
        "template": "reminder_24h",
    }
    values.update(kw)
    message = outgoing(**values)  # type: ignore[arg-type]
    with app.deps.uow() as uow:
        uow.messages.add(message)
        uow.commit()
    return message


def stored(app: CoachOS, message: Message) -> Message:
    with app.deps.uow() as uow:
        return uow.messages.get(message.org_id, message.id)


def run(app: CoachOS) -> SendReport:
    return app.execute(SendDueMessages())


class TestConsent:
    def test_a_client_with_sms_consent_gets_the_text_with_a_status_callback_naming_the_message(
        self, app: CoachOS, world: World, sms: MemorySms
    ) -> None:
        """A due text to a client who agreed to texts goes out once, from the default number, and is stored as sent."""
        consent(app, world, Channel.SMS)
        message = queue(app, world)
        assert run(app) == SendReport(claimed=1, sent=1)
        [request] = sms.sent
        assert (request.from_number, request.to, request.body) == (FROM, world.client.phone, message.body)
        assert request.status_callback == f"{CALLBACK}?m={message.id}"
        after = stored(app, message)
        assert (after.status, after.provider_id, after.attempts, after.status_at) == (
            MessageStatus.SENT,
            "SM-memory-1",
            1,
            DAYTIME,
        )

    def test_no_sms_consent_fails_the_text_without_sending(self, app: CoachOS, world: World, sms: MemorySms) -> None:
        """A text to a client who never agreed to texts fails with a reason the coach can act on."""
        message = queue(app, world)
        assert run(app) == SendReport(claimed=1, failed=1)
        assert sms.requests == []
        after = stored(app, message)
        assert after.status is MessageStatus.FAILED
        assert after.last_error is not None
        assert after.last_error.startswith("No SMS consent")

    def test_a_marketing_text_needs_the_sms_marketing_consent(self, app: CoachOS, world: World, sms: MemorySms) -> None:
        """Consent to transactional texts does not cover marketing texts."""
        consent(app, world, Channel.SMS)
        message = queue(app, world, purpose=Purpose.MARKETING, template="winback")
        run(app)
        assert sms.requests == []
        assert (stored(app, message).last_error or "").startswith("No SMS marketing consent")

    def test_the_opt_out_confirmation_goes_to_an_opted_out_number(
        self, app: CoachOS, world: World, sms: MemorySms
    ) -> None:
        """The reply confirming an opt-out is the one text a client without SMS consent still gets."""
        message = queue(app, world, template=OPT_OUT_CONFIRMATION, quiet_hours=False, body="You are unsubscribed.")
        assert run(app).sent == 1
        assert [r.body for r in sms.sent] == [message.body]

    def test_a_transactional_email_needs_no_consent_and_carries_the_message_id(
        self, app: CoachOS, world: World, mailbox: MemoryEmail
    ) -> None:
        """A transactional email needs no consent and carries our message id as Message-ID (a resend is one email)."""
        message = queue(
            app, world, channel=MessageChannel.EMAIL, to="jordan@example.test", subject="Booked", body="See you"
        )
        assert run(app).sent == 1
        [mail] = mailbox.sent
        assert (mail.to, mail.subject, mail.message_id) == ("jordan@example.test", "Booked", str(message.id))
        assert stored(app, message).status is MessageStatus.SENT

    def test_a_marketing_email_needs_the_email_marketing_consent(
        self, app: CoachOS, world: World, mailbox: MemoryEmail
    ) -> None:
        """Marketing email to a client without marketing consent fails and is not sent."""
        message = queue(
            app, world, channel=MessageChannel.EMAIL, purpose=Purpose.MARKETING, to="jordan@example.test", subject="Hi"
        )
        run(app)
        assert mailbox.sent == []
        assert stored(app, message).status is MessageStatus.FAILED

    def test_a_message_to_a_coach_needs_no_client_consent(self, app: CoachOS, world: World, sms: MemorySms) -> None:
        """A notice to the coach (no client) goes out without any client's consent."""
        queue(app, world, client_id=None, coach_id=world.coach.id, to="+12125550199", template="new_booking")
        assert run(app).sent == 1


class TestSendingNumber:
    def test_a_business_with_its_own_number_texts_from_it_and_the_row_records_it(
        self, app: CoachOS, world: World, sms: MemorySms
    ) -> None:
        """Without a number on the message, a text goes from the business's first number, not the platform's."""
        from coachos.domain.usecases.numbers import AddPhoneNumber

        consent(app, world, Channel.SMS)
        app.execute(AddPhoneNumber(org_id=world.org.id, number="+12125550199", actor=world.me))
        app.execute(AddPhoneNumber(org_id=world.org.id, number="+12125550198", actor=world.me))
        message = queue(app, world)
        assert run(app) == SendReport(claimed=1, sent=1)
        assert [r.from_number for r in sms.sent] == ["+12125550199"]
        assert stored(app, message).sender == "+12125550199"

    def test_a_reply_goes_from_the_number_it_names(self, app: CoachOS, world: World, sms: MemorySms) -> None:
        from coachos.domain.usecases.numbers import AddPhoneNumber

        consent(app, world, Channel.SMS)
        app.execute(AddPhoneNumber(org_id=world.org.id, number="+12125550199", actor=world.me))
        queue(app, world, sender="+12125550177")
        run(app)
        assert [r.from_number for r in sms.sent] == ["+12125550177"]

    def test_an_email_records_no_sending_number(self, app: CoachOS, world: World, mailbox: MemoryEmail) -> None:
        message = queue(app, world, channel=MessageChannel.EMAIL, to="sam@example.com", subject="Hi")
        run(app)
        assert stored(app, message).sender is None


class TestQuietHours:
    @pytest.fixture
    def london(self, app: CoachOS) -> World:
        """A London business (quiet 21:00-08:00) whose client lives in Los Angeles."""
        world = make_world(app, timezone="Europe/London")
        client = app.execute(
            UpdateClient(org_id=world.org.id, client_id=world.client.id, actor=world.me, timezone="America/Los_Angeles")
        )
        consent(app, world, Channel.SMS)
        return attrs.evolve(world, client=client)

    def test_a_reminder_due_in_the_recipients_night_waits_for_their_morning(
        self, app: CoachOS, london: World, clock: FixedClock, sms: MemorySms
    ) -> None:
        """At 10:00 in London (02:00 in Los Angeles) a reminder waits for 08:00 in Los Angeles, counting no attempt."""
        clock.set(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
        message = queue(app, london)
        assert run(app) == SendReport(claimed=1, quiet=1)
        assert sms.requests == []
        after = stored(app, message)
        assert (after.status, after.attempts) == (MessageStatus.QUEUED, 0)
        assert after.not_before == datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 08:00 PST
        clock.set(datetime(2026, 3, 2, 15, 59, tzinfo=UTC))
        assert run(app) == SendReport()
        clock.set(datetime(2026, 3, 2, 16, 0, tzinfo=UTC))
        assert run(app).sent == 1

    def test_a_client_without_a_zone_is_judged_on_the_businesss_clock(
        self, app: CoachOS, london: World, clock: FixedClock
    ) -> None:
        """The same reminder to a client with no zone goes at 10:00 London time."""
        client = app.execute(
            UpdateClient(org_id=london.org.id, client_id=london.client.id, actor=london.me, timezone="")
        )
        assert client.timezone is None
        clock.set(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
        queue(app, london)
        assert run(app).sent == 1

    def test_a_confirmation_the_client_just_asked_for_goes_at_once(
        self, app: CoachOS, london: World, clock: FixedClock
    ) -> None:
        """A message not held by quiet hours (a booking confirmation) goes in the recipient's night."""
        clock.set(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
        queue(app, london, template="booking_confirmation", quiet_hours=False)
        assert run(app).sent == 1


class TestRetries:
    def test_a_passing_error_retries_with_growing_waits_and_checks_the_provider_first(
        self, app: CoachOS, world: World, clock: FixedClock, sms: MemorySms
    ) -> None:
        """After a 429 or timeout the text waits 1, then 2 minutes; each retry goes once it is clear none went out."""
        consent(app, world, Channel.SMS)
        message = queue(app, world)
        sms.fail_next(TransientSendError("busy"), TransientSendError("busy"))
        assert run(app) == SendReport(claimed=1, retrying=1)
        first = stored(app, message)
        assert (first.status, first.attempts, first.not_before) == (
            MessageStatus.SENDING,
            1,
            DAYTIME + timedelta(minutes=1),
        )
        assert first.last_error == "busy"
        clock.advance(timedelta(seconds=59))
        assert run(app) == SendReport()
        clock.advance(timedelta(seconds=1))
        assert run(app) == SendReport(claimed=1, retrying=1)
        assert stored(app, message).not_before == clock.now() + timedelta(minutes=2)
        clock.advance(timedelta(minutes=2))
        assert run(app) == SendReport(claimed=1, sent=1)
        assert len(sms.requests) == 3
        assert len(sms.sent) == 1
        assert stored(app, message).attempts == 3

    def test_after_the_last_attempt_the_text_fails_for_good(
        self, app: CoachOS, world: World, clock: FixedClock, sms: MemorySms
    ) -> None:
        """Eight passing errors in a row fail the text, saying it was given up on."""
        consent(app, world, Channel.SMS)
        message = queue(app, world)
        sms.fail_next(*[TransientSendError("busy") for _ in range(8)])
        for _ in range(8):
            run(app)
            clock.advance(timedelta(hours=1))
        after = stored(app, message)
        assert (after.status, after.attempts) == (MessageStatus.FAILED, 8)
        assert (after.last_error or "").startswith("Gave up after 8 attempts")
        assert run(app) == SendReport()

    def test_the_wait_doubles_up_to_an_hour_and_honours_retry_after(self) -> None:
        """Waits are 1, 2, 4 … minutes capped at an hour, and never shorter than the provider's Retry-After."""
        assert [retry_delay(n).total_seconds() // 60 for n in (1, 2, 3, 4, 7, 8, 30)] == [1, 2, 4, 8, 60, 60, 60]
        assert retry_delay(1, retry_after=300) == timedelta(minutes=5)

    def test_an_email_retry_is_queued_again(
        self, app: CoachOS, world: World, clock: FixedClock, mailbox: MemoryEmail
    ) -> None:
        """An email whose server was busy is queued for later (its Message-ID makes a resend harmless)."""
        message = queue(app, world, channel=MessageChannel.EMAIL, to="jordan@example.test", subject="Hi")

        class Busy:
            def send(self, *a: object, **kw: object) -> None:
                raise TransientSendError("deferred")

        busy = attrs.evolve(app.deps, email=Busy())
        from coachos.domain.usecases.sending import send_due_messages

        assert send_due_messages(SendDueMessages(), busy).retrying == 1
        assert stored(app, message).status is MessageStatus.QUEUED
        clock.advance(timedelta(minutes=1))
        assert run(app).sent == 1
        assert len(mailbox.sent) == 1


class TestPermanentFailures:
    def test_a_refused_number_fails_without_retrying(
        self, app: CoachOS, world: World, clock: FixedClock, sms: MemorySms
    ) -> None:
        """An invalid number fails the text with the provider's reason, and it is never tried again."""
        consent(app, world, Channel.SMS)
        message = queue(app, world)
        sms.fail_next(PermanentSendError("21211", "the phone number is not valid"))
        assert run(app) == SendReport(claimed=1, failed=1)
        clock.advance(timedelta(days=1))
        assert run(app) == SendReport()
        after = stored(app, message)
        assert after.status is MessageStatus.FAILED
        assert "the phone number is not valid" in (after.last_error or "")

    def test_an_opted_out_recipient_loses_sms_consent_and_gets_nothing_more(
        self, app: CoachOS, world: World, sms: MemorySms
    ) -> None:
        """Twilio's 21610 fails the text, withdraws SMS and SMS marketing consent, and the next text is not tried."""
        consent(app, world, Channel.SMS, Channel.SMS_MARKETING, Channel.EMAIL_MARKETING)
        first = queue(app, world)
        sms.fail_next(RecipientOptedOut())
        assert run(app) == SendReport(claimed=1, failed=1)
        assert "opted out" in (stored(app, first).last_error or "")
        with app.deps.uow() as uow:
            client = uow.clients.get(world.org.id, world.client.id)
        assert [c.channel for c in client.consents] == [Channel.EMAIL_MARKETING]
        second = queue(app, world)
        run(app)
        assert len(sms.requests) == 1
        assert stored(app, second).status is MessageStatus.FAILED


class TestRate:
    def test_one_number_sends_at_its_rate_and_the_rest_wait_without_counting_an_attempt(
        self, app: CoachOS, world: World, clock: FixedClock, sms: MemorySms
    ) -> None:
        """Three texts due at once from one number at 1 per second: one goes now, one a second later, then one more."""
        consent(app, world, Channel.SMS)
        texts = [queue(app, world) for _ in range(3)]
        assert run(app) == SendReport(claimed=3, sent=1, throttled=2)
        waiting = [stored(app, m) for m in texts if stored(app, m).status is MessageStatus.QUEUED]
        assert [(m.attempts, m.not_before) for m in waiting] == [(0, DAYTIME + timedelta(seconds=1))] * 2
        clock.advance(timedelta(milliseconds=999))
        assert run(app) == SendReport()
        clock.advance(timedelta(milliseconds=1))
        assert run(app) == SendReport(claimed=2, sent=1, throttled=1)
        clock.advance(timedelta(seconds=1))
        assert run(app).sent == 1
        assert len(sms.sent) == 3

    def test_each_number_has_its_own_bucket(self, app: CoachOS, world: World, sms: MemorySms) -> None:
        """Texts from two numbers due at once both go."""
        consent(app, world, Channel.SMS)
        queue(app, world, sender="+15005550001")
        queue(app, world, sender="+15005550002")
        assert run(app).sent == 2
        assert sorted(r.from_number for r in sms.sent) == ["+15005550001", "+15005550002"]

    def test_the_bucket_refills_to_its_size_and_no_further(self, app: CoachOS) -> None:
        """A bucket of 3 idle for an hour allows 3 texts back to back, then one per second."""
        now = DAYTIME
        with app.deps.uow() as uow:
            takes = [uow.messages.take_send_token(FROM, now, 1, 3) for _ in range(4)]
            later = now + timedelta(hours=1)
            refilled = [uow.messages.take_send_token(FROM, later, 1, 3) for _ in range(4)]
            next_second = uow.messages.take_send_token(FROM, later + timedelta(seconds=1), 1, 3)
        assert takes == [True, True, True, False]
        assert refilled == [True, True, True, False]
        assert next_second is True


class TestUnknownOutcome:
    def test_a_message_whose_worker_died_after_the_provider_accepted_it_is_not_sent_again(
        self, app: CoachOS, world: World, clock: FixedClock, sms: MemorySms
    ) -> None:
        """A claim that lapsed after the provider took the text is recorded as sent from the provider's answer."""
        consent(app, world, Channel.SMS)
        message = queue(app, world)
        now = clock.now()
        with app.deps.uow() as uow:
            [claim] = uow.messages.claim_due(now, now + timedelta(minutes=5), 10)
            uow.commit()
        sms.send(from_number=FROM, to=message.to, body=message.body, status_callback=f"{CALLBACK}?m={message.id}")
        # …and the worker dies here, before writing the outcome.
        assert run(app) == SendReport()  # the lease still holds
        clock.advance(timedelta(minutes=5))
        assert run(app) == SendReport(claimed=1, recovered=1)
        assert len(sms.sent) == 1
        after = stored(app, message)
        assert (after.status, after.provider_id, after.attempts) == (MessageStatus.SENT, "SM-memory-1", 2)
        assert claim.unsure is False

    def test_a_lapsed_claim_that_never_reached_the_provider_is_sent(
        self, app: CoachOS, world: World, clock: FixedClock, sms: MemorySms
    ) -> None:
        """A claim that lapsed before the provider was reached is sent by the next worker."""
        consent(app, world, Channel.SMS)
        queue(app, world)
        with app.deps.uow() as uow:
            uow.messages.claim_due(clock.now(), clock.now() + timedelta(minutes=5), 10)
            uow.commit()
        clock.advance(timedelta(minutes=5))
        assert run(app) == SendReport(claimed=1, sent=1)
        assert len(sms.sent) == 1


class TestDeliveryReports:
    def sent(self, app: CoachOS, world: World) -> Message:
        consent(app, world, Channel.SMS)
        message = queue(app, world)
        run(app)
        return stored(app, message)

    def report(
        self, app: CoachOS, sid: str, status: str, code: str | None = None, m: str | None = None
    ) -> Message | None:
        return app.execute(RecordDeliveryStatus(provider_id=sid, status=status, error_code=code, message_id=m))

    def test_delivered_then_a_late_sent_stays_delivered(self, app: CoachOS, world: World) -> None:
        """A 'sent' report arriving after 'delivered' never moves the message back."""
        message = self.sent(app, world)
        assert message.provider_id is not None
        delivered = self.report(app, message.provider_id, "delivered")
        assert delivered is not None
        assert delivered.status is MessageStatus.DELIVERED
        self.report(app, message.provider_id, "sent")
        assert stored(app, message).status is MessageStatus.DELIVERED

    def test_an_unknown_sid_changes_nothing(self, app: CoachOS, world: World) -> None:
        """A report for a message id no business has is ignored."""
        message = self.sent(app, world)
        assert self.report(app, "SMnobody", "delivered") is None
        assert self.report(app, "SMnobody", "delivered", m=str(message.id)) is None
        assert stored(app, message).status is MessageStatus.SENT

    def test_a_report_before_the_sender_stored_the_sid_finds_the_message_by_our_id(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """A delivery report racing the worker's write finds the message by the id in the callback URL."""
        message = queue(app, world)
        with app.deps.uow() as uow:
            [claim] = uow.messages.claim_due(clock.now(), clock.now() + timedelta(minutes=5), 10)
            uow.commit()
        found = self.report(app, "SMearly", "delivered", m=str(message.id))
        assert found is not None
        assert (found.status, found.provider_id) == (MessageStatus.DELIVERED, "SMearly")
        with app.deps.uow() as uow:
            assert not uow.messages.settle(claim, attrs.evolve(claim.message, status=MessageStatus.SENT))
        assert stored(app, message).status is MessageStatus.DELIVERED

    def test_undelivered_is_failed_with_a_readable_reason(self, app: CoachOS, world: World) -> None:
        """Carrier error 30003 becomes a reason a coach can read."""
        message = self.sent(app, world)
        assert message.provider_id is not None
        self.report(app, message.provider_id, "undelivered", "30003")
        after = stored(app, message)
        assert after.status is MessageStatus.FAILED
        assert after.last_error == "Not delivered: the phone is switched off or out of coverage."

    def test_a_21610_report_withdraws_sms_consent(self, app: CoachOS, world: World) -> None:
        """A failed report with 21610 marks the client opted out of texts."""
        message = self.sent(app, world)
        assert message.provider_id is not None
        self.report(app, message.provider_id, "failed", "21610")
        with app.deps.uow() as uow:
            assert uow.clients.get(world.org.id, world.client.id).consent(Channel.SMS) is None

    def test_reports_that_mean_nothing_new_are_ignored(self, app: CoachOS, world: World) -> None:
        """'queued' and 'sending' reports change nothing."""
        message = self.sent(app, world)
        assert message.provider_id is not None
        assert self.report(app, message.provider_id, "queued") is None
        assert stored(app, message).status is MessageStatus.SENT


class TestOptionsFromSettings:
    def test_status_reports_come_back_to_the_public_url(self) -> None:
        """The status callback is the public URL's /webhooks/twilio/status, naming each message."""
        from coachos.bootstrap import sending_options

        options = sending_options(Settings(public_url="https://coach.example", sms_rate_per_second=2, sms_burst=4))
        message = outgoing(
            id=uuid4(),
            org_id=uuid4(),  # type: ignore[arg-type]
            key="k",
            channel=MessageChannel.SMS,
            purpose=Purpose.TRANSACTIONAL,
            to="+12125550101",
            body="Hi",
            now=DAYTIME,
        )
        assert options.status_callback(message) == f"https://coach.example/webhooks/twilio/status?m={message.id}"
        assert (options.rate_per_second, options.burst, options.lease) == (2, 4, timedelta(minutes=5))

    def test_only_a_real_provider_needs_a_sending_number(self) -> None:
        """Files and memory send from Twilio's test number by default; twilio:// needs COACHOS_SMS_FROM or a number."""
        from coachos.bootstrap import PRETEND_FROM, sending_options

        assert sending_options(Settings()).default_sms_from == PRETEND_FROM
        assert sending_options(Settings(sms_url="twilio://")).default_sms_from is None
        assert (
            sending_options(Settings(sms_url="twilio://", sms_from="+15551234567")).default_sms_from == "+15551234567"
        )
