"""Sending due texts through the real twilio SDK, against a fake Twilio on loopback: the request, retries, 21610,
and a timeout after Twilio accepted the text, which must not become a second text."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.adapters.email import MemoryEmail
from coachos.adapters.memory import MemoryStore
from coachos.adapters.twilio_sms import TwilioSms
from coachos.domain.clients import Channel
from coachos.domain.messages import MessageStatus
from coachos.domain.sending import SendingOptions
from coachos.domain.usecases import SendDueMessages, SendReport
from tests.helpers import World
from tests.integration.fake_twilio import SID, TOKEN, FakeTwilio, fake_twilio
from tests.unit.test_sending import CALLBACK, DAYTIME, FROM, consent, queue, stored


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    """A fake Twilio on loopback."""
    with fake_twilio() as fake:
        yield fake


@pytest.fixture
def app(clock: FixedClock, twilio: FakeTwilio) -> Iterator[CoachOS]:
    """Coach OS on the fakes, sending SMS with the real SDK to the fake Twilio (short timeout)."""
    clock.set(DAYTIME)
    sms = TwilioSms(SID, TOKEN, api_url=twilio.url, timeout=0.5)
    options = SendingOptions(default_sms_from=FROM, status_callback_url=CALLBACK, rate_per_second=100, burst=10)
    with bootstrap(
        Settings(database_url="memory://"),
        uow=MemoryStore().unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        sms=sms,
        email=MemoryEmail(),
        sending=options,
    ) as built:
        yield built


def run(app: CoachOS) -> SendReport:
    return app.execute(SendDueMessages())


class TestSendingThroughTwilio:
    def test_the_request_names_the_numbers_body_and_a_status_callback_with_our_id(
        self, app: CoachOS, world: World, twilio: FakeTwilio
    ) -> None:
        """Twilio receives To, From, Body and a StatusCallback naming our message; its sid is stored."""
        consent(app, world, Channel.SMS)
        message = queue(app, world, body="See you at 9 €")
        assert run(app) == SendReport(claimed=1, sent=1)
        assert twilio.requests == [
            {
                "To": world.client.phone,
                "From": FROM,
                "Body": "See you at 9 €",
                "StatusCallback": f"{CALLBACK}?m={message.id}",
            }
        ]
        after = stored(app, message)
        assert (after.status, after.provider_id) == (MessageStatus.SENT, twilio.messages[0]["sid"])

    @pytest.mark.parametrize(("status", "wait"), [(429, timedelta(minutes=2)), (503, timedelta(minutes=1))])
    def test_a_busy_or_failing_twilio_is_retried_after_checking_nothing_went_out(
        self, app: CoachOS, world: World, clock: FixedClock, twilio: FakeTwilio, status: int, wait: timedelta
    ) -> None:
        """A 429 (Retry-After 120) or 503 waits, then the retry lists Twilio's messages first and sends once."""
        consent(app, world, Channel.SMS)
        message = queue(app, world)
        twilio.fail_next(status, headers={"Retry-After": "120"} if status == 429 else None)
        assert run(app) == SendReport(claimed=1, retrying=1)
        assert stored(app, message).not_before == DAYTIME + wait
        clock.advance(wait)
        assert run(app) == SendReport(claimed=1, sent=1)
        assert [q["To"] for q in twilio.lists] == [world.client.phone]
        assert twilio.created == {message.body: 1}
        assert stored(app, message).attempts == 2

    def test_error_21610_fails_the_text_and_withdraws_sms_consent(
        self, app: CoachOS, world: World, clock: FixedClock, twilio: FakeTwilio
    ) -> None:
        """Twilio's 21610 (the recipient replied STOP) fails the text for good and removes SMS consent."""
        consent(app, world, Channel.SMS, Channel.SMS_MARKETING)
        message = queue(app, world)
        twilio.fail_next(400, code=21610)
        assert run(app) == SendReport(claimed=1, failed=1)
        clock.advance(timedelta(hours=2))
        assert run(app) == SendReport()
        assert len(twilio.requests) == 1
        assert "opted out" in (stored(app, message).last_error or "")
        with app.deps.uow() as uow:
            assert uow.clients.get(world.org.id, world.client.id).consents == ()

    def test_an_invalid_number_fails_with_twilios_reason(self, app: CoachOS, world: World, twilio: FakeTwilio) -> None:
        """Twilio's 21211 fails the text with a reason a coach can act on."""
        consent(app, world, Channel.SMS)
        message = queue(app, world)
        twilio.fail_next(400, code=21211)
        assert run(app) == SendReport(claimed=1, failed=1)
        assert "the phone number is not valid" in (stored(app, message).last_error or "")

    def test_a_timeout_after_twilio_accepted_the_text_does_not_send_it_twice(
        self, app: CoachOS, world: World, clock: FixedClock, twilio: FakeTwilio
    ) -> None:
        """Twilio accepts the text but answers after our timeout; the retry finds it at Twilio and records it."""
        consent(app, world, Channel.SMS)
        message = queue(app, world)
        twilio.latency = 1.0
        assert run(app) == SendReport(claimed=1, retrying=1)
        deadline = time.monotonic() + 10
        while not twilio.created and time.monotonic() < deadline:
            time.sleep(0.05)
        twilio.latency = 0
        clock.advance(timedelta(minutes=1))
        assert run(app) == SendReport(claimed=1, recovered=1)
        assert twilio.created == {message.body: 1}
        assert stored(app, message).provider_id == twilio.messages[0]["sid"]


class TestFindSent:
    def test_finds_only_the_same_body_between_the_same_numbers_since_the_time_given(self, twilio: FakeTwilio) -> None:
        """find_sent lists the numbers' latest messages and picks the one with the body, created since `since`."""
        sms = TwilioSms(SID, TOKEN, api_url=twilio.url)
        receipt = sms.send(from_number=FROM, to="+12125550101", body="Hello", status_callback=None)
        sms.send(from_number=FROM, to="+12125550101", body="Other", status_callback=None)
        before = datetime.now(UTC) - timedelta(minutes=1)
        found = sms.find_sent(from_number=FROM, to="+12125550101", body="Hello", since=before, status_callback=None)
        assert found is not None
        assert found.provider_id == receipt.provider_id
        assert twilio.lists[-1] == {"To": "+12125550101", "From": FROM, "PageSize": "20"}
        later = datetime.now(UTC) + timedelta(minutes=1)
        assert (
            sms.find_sent(from_number=FROM, to="+12125550101", body="Hello", since=later, status_callback=None) is None
        )
        assert (
            sms.find_sent(from_number=FROM, to="+12125550102", body="Hello", since=before, status_callback=None) is None
        )
