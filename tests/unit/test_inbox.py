"""The inbox: conversations with unread counts, reading a thread marks it read, and replies queued once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.domain.clients import Client
from coachos.domain.errors import NotFound, ValidationError
from coachos.domain.inbox import MAX_REPLY, Conversation
from coachos.domain.messages import Direction, Message, MessageChannel, MessageStatus, Purpose, outgoing
from coachos.domain.usecases import (
    CreateClient,
    ListConversations,
    ReadConversation,
    RecordConsent,
    SendReply,
    UpdateClient,
)
from tests.helpers import World, add_client, make_world

#: 10:00 in New York on the helpers' Monday: outside the default quiet hours (21:00-08:00).
DAYTIME = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def texted(app: CoachOS, world: World, client: Client, at: datetime, body: str = "Running 5 min late") -> Message:
    """Store a text `client` sent at `at`, as the inbound handler does."""
    message = Message(
        id=uuid4(),
        org_id=world.org.id,
        direction=Direction.IN,
        channel=MessageChannel.SMS,
        purpose=Purpose.TRANSACTIONAL,
        status=MessageStatus.RECEIVED,
        to="+12125550100",
        sender=client.phone or "+12125550199",
        body=body,
        created_at=at,
        not_before=at,
        provider_id=f"SM{uuid4().hex}",
        client_id=client.id,
    )
    with app.deps.uow() as uow:
        kept = uow.messages.add(message)
        uow.commit()
    return kept


def sent(app: CoachOS, world: World, client: Client, at: datetime, body: str = "See you at 9") -> Message:
    """Store an outgoing text to `client` queued at `at`."""
    message = outgoing(
        id=uuid4(),
        org_id=world.org.id,
        key=f"test:{uuid4()}",
        channel=MessageChannel.SMS,
        purpose=Purpose.TRANSACTIONAL,
        to=client.phone or "+12125550199",
        body=body,
        now=at,
        client_id=client.id,
    )
    with app.deps.uow() as uow:
        kept = uow.messages.add(message)
        uow.commit()
    return kept


def texting(app: CoachOS, world: World, name: str, phone: str) -> Client:
    """A client with a phone who agreed to texts."""
    client = app.execute(CreateClient(org_id=world.org.id, name=name, phone=phone, actor=world.me))
    return app.execute(
        RecordConsent(
            org_id=world.org.id,
            client_id=client.id,
            channel="sms",
            method="coach_entered",
            wording="Yes to texts",
            actor=world.me,
        )
    )


def conversations(app: CoachOS, world: World, limit: int = 50, offset: int = 0) -> list[Conversation]:
    return app.read(lambda uow: uow.messages.conversations(world.org.id, limit, offset))


class TestInboxStore:
    def test_one_conversation_per_client_newest_first_with_unread_counts(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """Each client with messages is one row holding their latest message and their unread incoming count."""
        t0 = clock.now()
        sam = add_client(app, world, "Sam Patel")
        texted(app, world, world.client, t0, "first")
        texted(app, world, world.client, t0 + timedelta(minutes=1), "second")
        sent(app, world, sam, t0 + timedelta(minutes=2), "to Sam")
        texted(app, world, sam, t0 + timedelta(minutes=3), "from Sam")
        sent(app, world, world.client, t0 + timedelta(minutes=4), "to Jordan")
        rows = conversations(app, world)
        assert [(c.client_name, c.last.body, c.last.direction, c.unread) for c in rows] == [
            ("Jordan Lee", "to Jordan", Direction.OUT, 2),
            ("Sam Patel", "from Sam", Direction.IN, 1),
        ]
        assert app.read(lambda uow: uow.messages.unread_count(world.org.id)) == 3

    def test_pages_follow_each_other(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """Limit and offset page through the conversations without repeating or skipping one."""
        t0 = clock.now()
        for i in range(5):
            texted(app, world, add_client(app, world, f"Client {i}"), t0 + timedelta(minutes=i))
        first, second = conversations(app, world, 3, 0), conversations(app, world, 3, 3)
        assert [c.client_name for c in first + second] == [f"Client {i}" for i in (4, 3, 2, 1, 0)]

    def test_marking_read_clears_one_clients_unread_only(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """mark_read marks the client's unread incoming messages, leaves other clients' and counts what it marked."""
        sam = add_client(app, world, "Sam Patel")
        texted(app, world, world.client, clock.now())
        texted(app, world, world.client, clock.now() + timedelta(seconds=1))
        texted(app, world, sam, clock.now())
        with app.deps.uow() as uow:
            assert uow.messages.mark_read(world.org.id, world.client.id, clock.now()) == 2
            uow.commit()
        with app.deps.uow() as uow:
            assert uow.messages.mark_read(world.org.id, world.client.id, clock.now()) == 0
            assert uow.messages.unread_count(world.org.id) == 1
        read = app.read(lambda uow: uow.messages.for_client(world.org.id, world.client.id))
        assert all(m.read_at == clock.now() for m in read)

    def test_another_business_sees_none_of_it(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """Conversations, unread counts and marking read are per business."""
        texted(app, world, world.client, clock.now())
        other = make_world(app, slug=f"other-{uuid4().hex[:8]}")
        assert conversations(app, other) == []
        assert app.read(lambda uow: uow.messages.unread_count(other.org.id)) == 0
        with app.deps.uow() as uow:
            assert uow.messages.mark_read(other.org.id, world.client.id, clock.now()) == 0
        assert app.read(lambda uow: uow.messages.unread_count(world.org.id)) == 1


class TestListConversations:
    def test_a_page_says_whether_another_follows_and_the_unread_total(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """Two conversations at one per page: the first page has more, the second does not."""
        texted(app, world, world.client, clock.now())
        texted(app, world, add_client(app, world, "Sam Patel"), clock.now() + timedelta(minutes=1))
        first = app.execute(ListConversations(org_id=world.org.id, per_page=1))
        second = app.execute(ListConversations(org_id=world.org.id, page=2, per_page=1))
        assert [c.client_name for c in first.conversations] == ["Sam Patel"]
        assert [c.client_name for c in second.conversations] == ["Jordan Lee"]
        assert (first.has_more, second.has_more, first.unread) == (True, False, 2)

    @pytest.mark.parametrize("page", [0, -1, 10_001])
    def test_a_page_out_of_range_is_refused(self, app: CoachOS, world: World, page: int) -> None:
        """Page numbers start at 1 and stop at 10,000."""
        with pytest.raises(ValidationError):
            ListConversations(org_id=world.org.id, page=page)


class TestReadConversation:
    def test_reading_returns_the_thread_and_marks_it_read(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """The thread comes back oldest first as it was, with how many were new; afterwards nothing is unread."""
        texted(app, world, world.client, clock.now(), "hello")
        sent(app, world, world.client, clock.now() + timedelta(minutes=1), "hi back")
        thread = app.execute(ReadConversation(org_id=world.org.id, client_id=world.client.id))
        assert [m.body for m in thread.messages] == ["hello", "hi back"]
        assert thread.unread == 1
        assert thread.messages[0].read_at is None  # as it stood when opened, so the page can mark it new
        assert app.read(lambda uow: uow.messages.unread_count(world.org.id)) == 0
        again = app.execute(ReadConversation(org_id=world.org.id, client_id=world.client.id))
        assert again.unread == 0

    def test_another_business_client_is_not_found(self, app: CoachOS, world: World) -> None:
        """Reading a client of another business is NotFound, and nothing is marked."""
        other = make_world(app, slug=f"other-{uuid4().hex[:8]}")
        with pytest.raises(NotFound):
            app.execute(ReadConversation(org_id=other.org.id, client_id=world.client.id))


class TestSendReply:
    def test_a_reply_to_a_texting_client_is_queued_as_a_transactional_text(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """A client with a phone and SMS consent gets the reply by text, queued now in the daytime."""
        clock.set(DAYTIME)
        jo = texting(app, world, "Jo Park", "+12125550177")
        form = uuid4()
        reply = app.execute(SendReply(org_id=world.org.id, client_id=jo.id, body="  See you then!  ", form_id=form))
        assert reply.key == f"reply:{form}"
        assert (reply.channel, reply.to, reply.purpose) == (MessageChannel.SMS, "+12125550177", Purpose.TRANSACTIONAL)
        assert (reply.status, reply.not_before, reply.quiet_hours) == (MessageStatus.QUEUED, DAYTIME, True)
        assert reply.body == "See you then!"
        assert app.read(lambda uow: uow.messages.by_key(world.org.id, f"reply:{form}")) == reply

    def test_replying_marks_the_conversation_read(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A coach who answers from the client's page has read what the client wrote."""
        clock.set(DAYTIME)
        jo = texting(app, world, "Jo Park", "+12125550177")
        texted(app, world, jo, DAYTIME - timedelta(minutes=5))
        app.execute(SendReply(org_id=world.org.id, client_id=jo.id, body="Yes!", form_id=uuid4()))
        assert app.read(lambda uow: uow.messages.unread_count(world.org.id)) == 0

    def test_the_same_form_sent_twice_queues_one_message(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A double-submitted form gets the first reply back; one message is stored."""
        clock.set(DAYTIME)
        jo = texting(app, world, "Jo Park", "+12125550177")
        form = uuid4()
        first = app.execute(SendReply(org_id=world.org.id, client_id=jo.id, body="On my way", form_id=form))
        second = app.execute(SendReply(org_id=world.org.id, client_id=jo.id, body="On my way", form_id=form))
        assert first == second
        assert len(app.read(lambda uow: uow.messages.for_client(world.org.id, jo.id))) == 1

    def test_a_reply_written_in_quiet_hours_waits_for_their_end(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """At 07:00 New York time the reply waits until 08:00 EST (13:00 UTC)."""
        jo = texting(app, world, "Jo Park", "+12125550177")
        reply = app.execute(SendReply(org_id=world.org.id, client_id=jo.id, body="Morning!", form_id=uuid4()))
        assert reply.not_before == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)

    def test_quiet_hours_follow_the_clients_own_zone(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A London client written to at 22:00 London time (17:00 New York) waits until 08:00 London time."""
        clock.set(datetime(2026, 3, 2, 22, 0, tzinfo=UTC))
        jo = texting(app, world, "Jo Park", "+447700900123")
        app.execute(UpdateClient(org_id=world.org.id, client_id=jo.id, timezone="Europe/London", actor=world.me))
        reply = app.execute(SendReply(org_id=world.org.id, client_id=jo.id, body="Tomorrow?", form_id=uuid4()))
        assert reply.not_before == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)

    def test_without_a_phone_the_reply_goes_by_email(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A client with only an email address gets the reply by email, with the business in the subject."""
        clock.set(DAYTIME)
        em = app.execute(CreateClient(org_id=world.org.id, name="Em Stone", email="em@example.com", actor=world.me))
        reply = app.execute(SendReply(org_id=world.org.id, client_id=em.id, body="Thanks!", form_id=uuid4()))
        assert (reply.channel, reply.to, reply.subject) == (
            MessageChannel.EMAIL,
            "em@example.com",
            "A message from Peak Coaching",
        )

    def test_without_sms_consent_or_email_the_reply_is_refused(self, app: CoachOS, world: World) -> None:
        """A client whose only address is a phone they never agreed to texts on gets nothing, and the coach is told."""
        with pytest.raises(ValidationError, match="not agreed to text messages"):
            app.execute(SendReply(org_id=world.org.id, client_id=world.client.id, body="Hi", form_id=uuid4()))
        assert app.read(lambda uow: uow.messages.for_client(world.org.id, world.client.id)) == []

    @pytest.mark.parametrize(
        ("body", "says"),
        [
            ("", "Write a message"),
            ("   \n ", "Write a message"),
            ("nul\x00here", "control character"),
            ("x" * (MAX_REPLY + 1), "limited to 1,600"),
        ],
    )
    def test_bad_bodies_are_refused_and_nothing_is_stored(
        self, app: CoachOS, world: World, clock: FixedClock, body: str, says: str
    ) -> None:
        """Empty, NUL-carrying and over-long replies are refused with a reason; nothing is queued."""
        jo = texting(app, world, "Jo Park", "+12125550177")
        with pytest.raises(ValidationError, match=says):
            app.execute(SendReply(org_id=world.org.id, client_id=jo.id, body=body, form_id=uuid4()))
        assert app.read(lambda uow: uow.messages.for_client(world.org.id, jo.id)) == []

    def test_a_reply_at_the_length_limit_is_queued(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """1,600 characters is still one reply."""
        jo = texting(app, world, "Jo Park", "+12125550177")
        reply = app.execute(SendReply(org_id=world.org.id, client_id=jo.id, body="x" * MAX_REPLY, form_id=uuid4()))
        assert len(reply.body) == MAX_REPLY

    def test_another_business_client_is_not_found(self, app: CoachOS, world: World) -> None:
        """Replying to another business's client is NotFound and queues nothing."""
        other = make_world(app, slug=f"other-{uuid4().hex[:8]}")
        with pytest.raises(NotFound):
            app.execute(SendReply(org_id=other.org.id, client_id=world.client.id, body="Hi", form_id=uuid4()))
