"""The message store: one row per idempotency key or provider id, cancelling only what is still queued."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.domain.errors import NotFound, ValidationError
from coachos.domain.messages import (
    Direction,
    Message,
    MessageChannel,
    MessageStatus,
    Purpose,
    outgoing,
)
from tests.helpers import World, add_client


def reminder(app: CoachOS, world: World, clock: FixedClock, key: str, **kw: object) -> Message:
    values: dict[str, object] = {
        "id": uuid4(),
        "org_id": world.org.id,
        "key": key,
        "channel": MessageChannel.SMS,
        "purpose": Purpose.TRANSACTIONAL,
        "to": "+12125550123",
        "body": "See you tomorrow at 9:00 AM EST.",
        "now": clock.now(),
        "not_before": clock.now() + timedelta(hours=1),
        "template": "reminder_24h",
    }
    values.update(kw)
    return outgoing(**values)  # type: ignore[arg-type]


def incoming(world: World, clock: FixedClock, sid: str, **kw: object) -> Message:
    values: dict[str, object] = {
        "id": uuid4(),
        "org_id": world.org.id,
        "direction": Direction.IN,
        "channel": MessageChannel.SMS,
        "purpose": Purpose.TRANSACTIONAL,
        "status": MessageStatus.RECEIVED,
        "to": "+12125550100",
        "sender": "+12125550123",
        "body": "Running 5 min late",
        "created_at": clock.now(),
        "not_before": clock.now(),
        "provider_id": sid,
    }
    values.update(kw)
    return Message(**values)  # type: ignore[arg-type]


class TestMessageStore:
    def test_the_same_key_twice_keeps_the_first_message(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A retried use case that queues `booking:…:reminder-24h` again gets the first row back; one row is stored."""
        first = reminder(app, world, clock, "booking:1:reminder-24h")
        second = reminder(app, world, clock, "booking:1:reminder-24h", body="another body")
        with app.deps.uow() as uow:
            assert uow.messages.add(first) == first
            uow.commit()
        with app.deps.uow() as uow:
            assert uow.messages.add(second) == first
            uow.commit()
        with app.deps.uow() as uow:
            assert uow.messages.by_key(world.org.id, "booking:1:reminder-24h") == first
            with pytest.raises(NotFound):
                uow.messages.get(world.org.id, second.id)

    def test_keys_are_per_business(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """Another business's key is another key."""
        from tests.helpers import make_world

        other = make_world(app, slug="other-biz")
        mine = reminder(app, world, clock, "booking:1:reminder-24h")
        theirs = reminder(app, other, clock, "booking:1:reminder-24h")
        with app.deps.uow() as uow:
            uow.messages.add(mine)
            uow.messages.add(theirs)
            uow.commit()
        with app.deps.uow() as uow:
            assert uow.messages.get(world.org.id, mine.id) == mine
            assert uow.messages.get(other.org.id, theirs.id) == theirs
            with pytest.raises(NotFound):
                uow.messages.get(world.org.id, theirs.id)

    def test_an_incoming_message_repeated_by_the_provider_is_stored_once(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        first = incoming(world, clock, "SM" + "a" * 32)
        again = incoming(world, clock, "SM" + "a" * 32)
        with app.deps.uow() as uow:
            assert uow.messages.add(first) == first
            assert uow.messages.add(again) == first
            uow.commit()

    def test_a_conversation_is_both_directions_oldest_first(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        client = add_client(app, world)
        out = reminder(app, world, clock, "k1", client_id=client.id)
        clock.advance(timedelta(minutes=1))
        reply = incoming(world, clock, "SM1", client_id=client.id, created_at=clock.now(), not_before=clock.now())
        stranger = incoming(world, clock, "SM2")
        with app.deps.uow() as uow:
            for m in (reply, out, stranger):
                uow.messages.add(m)
            uow.commit()
        with app.deps.uow() as uow:
            assert list(uow.messages.for_client(world.org.id, client.id)) == [out, reply]
            assert list(uow.messages.for_client(world.org.id, client.id, limit=1)) == [reply]

    def test_cancel_touches_only_queued_messages_of_the_keys(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        queued = reminder(app, world, clock, "booking:1:reminder-24h")
        other = reminder(app, world, clock, "booking:2:reminder-24h")
        with app.deps.uow() as uow:
            uow.messages.add(queued)
            uow.messages.add(other)
            assert (
                uow.messages.cancel(world.org.id, ["booking:1:reminder-24h", "booking:1:reminder-2h"], clock.now()) == 1
            )
            assert uow.messages.cancel(world.org.id, ["booking:1:reminder-24h"], clock.now()) == 0
            uow.commit()
        with app.deps.uow() as uow:
            assert uow.messages.get(world.org.id, queued.id).status is MessageStatus.CANCELLED
            assert uow.messages.get(world.org.id, other.id).status is MessageStatus.QUEUED


class TestMessageValues:
    def test_marketing_cannot_skip_quiet_hours(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        with pytest.raises(ValidationError, match="quiet hours"):
            reminder(app, world, clock, "m", purpose=Purpose.MARKETING, quiet_hours=False)

    def test_directions_and_statuses_agree(self, world: World, clock: FixedClock) -> None:
        with pytest.raises(ValidationError):
            incoming(world, clock, "SM1", status=MessageStatus.QUEUED)
        with pytest.raises(ValidationError):
            incoming(world, clock, "SM1", direction=Direction.OUT)

    def test_a_nul_byte_in_a_body_is_refused(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        with pytest.raises(ValidationError):
            reminder(app, world, clock, "k", body="hi\x00there")


class TestRequiredConsent:
    @pytest.mark.parametrize(
        ("channel", "purpose", "needed"),
        [
            (MessageChannel.SMS, Purpose.TRANSACTIONAL, "sms"),
            (MessageChannel.SMS, Purpose.MARKETING, "sms_marketing"),
            (MessageChannel.EMAIL, Purpose.MARKETING, "email_marketing"),
            (MessageChannel.EMAIL, Purpose.TRANSACTIONAL, None),
        ],
    )
    def test_sms_always_needs_consent_and_transactional_email_never(
        self, channel: MessageChannel, purpose: Purpose, needed: str | None
    ) -> None:
        from coachos.domain.messages import required_consent

        assert required_consent(channel, purpose) == needed
