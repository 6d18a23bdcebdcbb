"""Taking in texts: numbers that belong to one business, ReceiveSms finding the business, the client and the keyword."""

from __future__ import annotations

import uuid
from datetime import timedelta
from uuid import UUID

import attrs
import pytest

from coachos import Channel, CoachOS, Conflict, CreateClient, NotFound, RecordConsent, ValidationError
from coachos.adapters.clock import FixedClock
from coachos.domain.clients import Client, ClientStatus
from coachos.domain.events import (
    ClientCreated,
    ConsentRecorded,
    ConsentWithdrawn,
    Event,
    MessageReceived,
)
from coachos.domain.ids import OrgId
from coachos.domain.messages import Direction, Message, MessageChannel, MessageStatus, Purpose
from coachos.domain.numbers import NUMBER_TAKEN, PhoneNumber
from coachos.domain.sms_keywords import HELP_REPLY, OPT_IN_CONFIRMATION, OPT_OUT_CONFIRMATION, Keyword
from coachos.domain.usecases import (
    AddPhoneNumber,
    ListPhoneNumbers,
    ReceiveSms,
    RemovePhoneNumber,
    SmsReceived,
)
from coachos.domain.usecases.inbound import SMS_KEYWORD, lead_name
from tests.helpers import World, make_world

#: Email marketing consent (named by its stored value, which outlives any rename of the enum member).
EMAIL_MARKETING = Channel("marketing")
#: The phone of the world's client (see tests.helpers.make_world).
CLIENT_PHONE = "+12125550101"


def fresh_number() -> str:
    """A North American number no other test uses (tests share databases, and numbers are unique across them)."""
    return f"+1{200 + uuid.uuid4().int % 800}{uuid.uuid4().int % 10_000_000:07d}"


def fresh_sid() -> str:
    """A Twilio-shaped MessageSid no other test uses."""
    return "SM" + uuid.uuid4().hex


def add_number(app: CoachOS, world: World, number: str | None = None, label: str = "Studio") -> PhoneNumber:
    return app.execute(
        AddPhoneNumber(
            org_id=world.org.id, number=fresh_number() if number is None else number, label=label, actor=world.me
        )
    )


def receive(
    app: CoachOS, to: str, body: str = "Running 5 min late", *, sender: str = CLIENT_PHONE, sid: str = ""
) -> SmsReceived | None:
    return app.execute(ReceiveSms(message_sid=sid or fresh_sid(), to=to, sender=sender, body=body))


def got(app: CoachOS, to: str, body: str = "Running 5 min late", **kw: str) -> SmsReceived:
    received = receive(app, to, body, **kw)
    assert received is not None
    return received


def clients_of(app: CoachOS, org_id: OrgId) -> list[Client]:
    return list(app.read(lambda uow: uow.clients.list(org_id, limit=1000)))


def messages_of(app: CoachOS, org_id: OrgId) -> list[Message]:
    """Every message of the business that belongs to a client (incoming texts always do)."""
    found: list[Message] = []
    for c in clients_of(app, org_id):
        found += app.read(lambda uow, c=c: uow.messages.for_client(org_id, c.id))
    return found


def events_of(app: CoachOS, org_id: OrgId) -> list[Event]:
    return [e for e in app.read(lambda uow: uow.outbox.pending(limit=100_000)) if e.org_id == org_id]


def client(app: CoachOS, world: World, client_id: UUID | None = None) -> Client:
    return app.read(lambda uow: uow.clients.get(world.org.id, client_id or world.client.id))  # type: ignore[arg-type]


def consent_to_texts(app: CoachOS, world: World, *channels: Channel) -> None:
    for channel in channels or (Channel.SMS, Channel.SMS_MARKETING):
        app.execute(
            RecordConsent(
                org_id=world.org.id,
                client_id=world.client.id,
                channel=channel,
                method="coach_entered",
                wording="Texts about your sessions",
                actor=world.me,
            )
        )


class TestPhoneNumbers:
    def test_add_list_and_remove(self, app: CoachOS, world: World) -> None:
        """A number typed with spaces is stored in E.164 with its label, listed, and gone once removed."""
        number = fresh_number()
        added = add_number(app, world, f"{number[:2]} {number[2:5]} {number[5:]}", label="  Studio line ")
        assert (added.number, added.label, added.org_id) == (number, "Studio line", world.org.id)
        assert list(app.execute(ListPhoneNumbers(org_id=world.org.id))) == [added]
        removed = app.execute(RemovePhoneNumber(org_id=world.org.id, number_id=added.id, actor=world.me))
        assert removed == added
        assert list(app.execute(ListPhoneNumbers(org_id=world.org.id))) == []

    def test_a_number_of_another_business_is_a_conflict_that_names_no_business(
        self, app: CoachOS, world: World
    ) -> None:
        """A number another business has is refused with a message saying what to do, never whose it is."""
        other = make_world(app)
        number = add_number(app, other).number
        with pytest.raises(Conflict) as refused:
            add_number(app, world, number)
        assert refused.value.message == NUMBER_TAKEN
        assert other.org.name not in refused.value.message
        assert list(app.execute(ListPhoneNumbers(org_id=world.org.id))) == []

    def test_the_same_number_twice_says_it_is_already_yours(self, app: CoachOS, world: World) -> None:
        """Adding one of the business's own numbers again says it is already theirs."""
        number = add_number(app, world).number
        with pytest.raises(Conflict, match="already one of your numbers"):
            add_number(app, world, number)

    @pytest.mark.parametrize("number", ["", "12", "555-0100", "+0123456789", "+1 415 555 0100 ext 2", "+1\x00415"])
    def test_a_number_without_country_code_is_refused(self, app: CoachOS, world: World, number: str) -> None:
        """A number that is not E.164 (with punctuation allowed) is refused naming the number field."""
        with pytest.raises(ValidationError) as refused:
            add_number(app, world, number)
        assert refused.value.field == "number"

    def test_a_label_over_100_characters_is_refused(self, app: CoachOS, world: World) -> None:
        """Labels are short names; a long one is refused naming the label."""
        with pytest.raises(ValidationError) as refused:
            add_number(app, world, label="x" * 101)
        assert refused.value.field == "label"

    def test_another_businesss_number_cannot_be_removed_or_listed(self, app: CoachOS, world: World) -> None:
        """Another business's number id is NotFound to remove and absent from the list."""
        other = make_world(app)
        theirs = add_number(app, other)
        with pytest.raises(NotFound):
            app.execute(RemovePhoneNumber(org_id=world.org.id, number_id=theirs.id, actor=world.me))
        assert app.execute(ListPhoneNumbers(org_id=other.org.id)) == [theirs]

    def test_a_removed_number_can_join_another_business(self, app: CoachOS, world: World) -> None:
        """Once removed, a number is free for any business."""
        other = make_world(app)
        theirs = add_number(app, other)
        app.execute(RemovePhoneNumber(org_id=other.org.id, number_id=theirs.id, actor=other.me))
        assert add_number(app, world, theirs.number).org_id == world.org.id


class TestReceiveSms:
    def test_a_text_from_a_client_joins_their_conversation(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A text to the business's number from a client's phone is stored as received, in that client's thread."""
        ours = add_number(app, world).number
        sid = fresh_sid()
        received = got(app, ours, "Running 5 min late", sid=sid)
        m = received.message
        assert (m.direction, m.status, m.channel, m.purpose) == (
            Direction.IN,
            MessageStatus.RECEIVED,
            MessageChannel.SMS,
            Purpose.TRANSACTIONAL,
        )
        assert (m.org_id, m.client_id, m.to, m.sender, m.body, m.provider_id) == (
            world.org.id,
            world.client.id,
            ours,
            CLIENT_PHONE,
            "Running 5 min late",
            sid,
        )
        assert (m.created_at, m.key, m.read_at) == (clock.now(), None, None)
        assert (received.keyword, received.reply, received.new_lead, received.duplicate) == (None, None, False, False)
        assert list(app.read(lambda uow: uow.messages.for_client(world.org.id, world.client.id))) == [m]
        assert [e for e in events_of(app, world.org.id) if isinstance(e, MessageReceived)] == [
            MessageReceived(
                org_id=world.org.id,
                occurred_at=clock.now(),
                actor=f"client:{world.client.id}",
                message_id=m.id,
                client_id=world.client.id,
            )
        ]

    def test_a_sender_typed_differently_is_still_the_client(self, app: CoachOS, world: World) -> None:
        """The sender's number is normalised before the client is looked up."""
        ours = add_number(app, world).number
        assert got(app, ours, sender="+1 (212) 555-0101").message.client_id == world.client.id

    def test_a_text_to_a_number_no_business_has_stores_nothing(self, app: CoachOS, world: World) -> None:
        """A text to an unknown number is None and stores no message, client or event."""
        before = (clients_of(app, world.org.id), events_of(app, world.org.id))
        assert receive(app, fresh_number(), sender="+447700900123") is None
        assert (clients_of(app, world.org.id), events_of(app, world.org.id)) == before
        assert messages_of(app, world.org.id) == []

    def test_an_unknown_sender_becomes_a_lead(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A stranger's text makes a lead with their phone and a name showing only its last digits."""
        ours = add_number(app, world).number
        received = got(app, ours, "Hi, do you have space on Mondays?", sender="+44 7700 900123")
        lead = client(app, world, received.message.client_id)
        assert received.new_lead
        assert (lead.status, lead.phone, lead.name, lead.consents) == (
            ClientStatus.LEAD,
            "+447700900123",
            lead_name("+447700900123"),
            (),
        )
        assert lead.name == "Text from …0123"
        assert ClientCreated(
            org_id=world.org.id, occurred_at=clock.now(), actor=f"client:{lead.id}", client_id=lead.id
        ) in events_of(app, world.org.id)
        again = got(app, ours, "Hello?", sender="+447700900123")
        assert (again.new_lead, again.message.client_id) == (False, lead.id)

    def test_a_repeated_delivery_is_stored_once_and_changes_nothing(self, app: CoachOS, world: World) -> None:
        """The same MessageSid again answers with the stored message; no second row, lead, event or reply."""
        ours = add_number(app, world).number
        sid = fresh_sid()
        first = got(app, ours, "STOP", sender="+447700900555", sid=sid)
        clients, events = clients_of(app, world.org.id), events_of(app, world.org.id)
        again = got(app, ours, "STOP", sender="+447700900555", sid=sid)
        assert again.duplicate
        assert again.message == first.message
        assert again.reply is None
        assert (clients_of(app, world.org.id), events_of(app, world.org.id)) == (clients, events)
        assert len(messages_of(app, world.org.id)) == 2  # the text and its one reply

    def test_each_text_lands_in_the_business_that_owns_the_number(self, app: CoachOS, world: World) -> None:
        """The same phone is a client of two businesses; each text joins the thread of the business it was sent to."""
        other = make_world(app)  # its client has the same phone, CLIENT_PHONE
        mine, theirs = add_number(app, world).number, add_number(app, other).number
        to_me = got(app, mine, "for the first").message
        to_them = got(app, theirs, "for the second").message
        assert (to_me.org_id, to_me.client_id) == (world.org.id, world.client.id)
        assert (to_them.org_id, to_them.client_id) == (other.org.id, other.client.id)
        assert [m.body for m in messages_of(app, world.org.id)] == ["for the first"]
        assert [m.body for m in messages_of(app, other.org.id)] == ["for the second"]

    def test_the_oldest_client_with_the_phone_gets_the_text(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """When two clients share a phone (a family), the text joins the conversation of the one added first."""
        clock.advance(timedelta(minutes=1))
        app.execute(CreateClient(org_id=world.org.id, name="Jordan's partner", phone=CLIENT_PHONE, actor=world.me))
        ours = add_number(app, world).number
        assert got(app, ours).message.client_id == world.client.id

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"message_sid": ""}, "message_sid"),
            ({"message_sid": "SM 1"}, "message_sid"),
            ({"message_sid": "SM" + "a" * 80}, "message_sid"),
            ({"to": "not a number"}, "to"),
            ({"sender": "12"}, "sender"),
            ({"sender": "ALPHA"}, "sender"),
            ({"body": "nul \x00 byte"}, "body"),
            ({"body": "x" * 20_001}, "body"),
        ],
    )
    def test_bad_input_is_refused_and_nothing_stored(
        self, app: CoachOS, world: World, change: dict[str, str], field: str
    ) -> None:
        """A malformed id, number or body is a ValidationError naming the field; nothing is stored."""
        ours = add_number(app, world).number
        values = {"message_sid": fresh_sid(), "to": ours, "sender": "+447700900321", "body": "hello"} | change
        with pytest.raises(ValidationError) as refused:
            app.execute(ReceiveSms(**values))
        assert refused.value.field == field
        assert messages_of(app, world.org.id) == []
        assert len(clients_of(app, world.org.id)) == 1


class TestKeywords:
    def test_stop_withdraws_every_text_consent_and_queues_one_confirmation(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """STOP removes SMS and SMS-marketing consent (email stays) and queues the opt-out confirmation once."""
        consent_to_texts(app, world, Channel.SMS, Channel.SMS_MARKETING, EMAIL_MARKETING)
        ours = add_number(app, world).number
        sid = fresh_sid()
        received = got(app, ours, " Stop. ", sid=sid)
        assert received.keyword is Keyword.STOP
        assert [c.channel for c in client(app, world).consents] == [EMAIL_MARKETING]
        reply = received.reply
        assert reply is not None
        assert (reply.key, reply.template, reply.quiet_hours, reply.to, reply.sender, reply.client_id) == (
            f"inbound:{sid}:reply",
            OPT_OUT_CONFIRMATION,
            False,
            CLIENT_PHONE,
            ours,
            world.client.id,
        )
        assert (reply.direction, reply.status, reply.not_before) == (Direction.OUT, MessageStatus.QUEUED, clock.now())
        assert "Peak Coaching" in reply.body
        assert "START" in reply.body
        withdrawn = {e.channel for e in events_of(app, world.org.id) if isinstance(e, ConsentWithdrawn)}
        assert withdrawn == {"sms", "sms_marketing"}
        assert not any(isinstance(e, MessageReceived) for e in events_of(app, world.org.id)), "not news for the coach"
        assert sorted(m.body for m in messages_of(app, world.org.id)) == sorted([" Stop. ", reply.body])

    @pytest.mark.parametrize(
        "word", ["STOPALL", "unsubscribe", "Cancel", "end", "QUIT!", "revoke", "optout", "opt out"]
    )
    def test_every_stop_word_opts_out(self, app: CoachOS, world: World, word: str) -> None:
        """Each opt-out word withdraws SMS consent and is answered with the opt-out confirmation."""
        consent_to_texts(app, world)
        received = got(app, add_number(app, world).number, word)
        assert client(app, world).consent(Channel.SMS) is None
        assert received.reply is not None
        assert received.reply.template == OPT_OUT_CONFIRMATION

    def test_stop_without_consent_still_confirms(self, app: CoachOS, world: World) -> None:
        """Someone with no consent on file who texts STOP still gets the one confirmation."""
        received = got(app, add_number(app, world).number, "STOP")
        assert received.reply is not None
        assert received.reply.template == OPT_OUT_CONFIRMATION
        assert not any(isinstance(e, ConsentWithdrawn) for e in events_of(app, world.org.id))

    def test_start_records_sms_consent_with_the_words_sent(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """START records SMS consent by keyword, with the exact text as its wording, and confirms it."""
        received = got(app, add_number(app, world).number, "Start!")
        consent = client(app, world).consent(Channel.SMS)
        assert consent is not None
        assert (consent.method, consent.wording, consent.granted_at) == (SMS_KEYWORD, "Start!", clock.now())
        assert client(app, world).consent(Channel.SMS_MARKETING) is None
        assert received.reply is not None
        assert received.reply.template == OPT_IN_CONFIRMATION
        assert any(isinstance(e, ConsentRecorded) and e.channel == "sms" for e in events_of(app, world.org.id))

    def test_stop_then_unstop(self, app: CoachOS, world: World) -> None:
        """An opted-out client who texts UNSTOP has SMS consent again."""
        consent_to_texts(app, world)
        ours = add_number(app, world).number
        got(app, ours, "stop")
        got(app, ours, "unstop")
        assert client(app, world).consent(Channel.SMS) is not None

    def test_yes_from_a_subscribed_client_is_only_conversation(self, app: CoachOS, world: World) -> None:
        """'Yes' from someone already subscribed keeps the consent on file (its own evidence) and queues no reply."""
        consent_to_texts(app, world, Channel.SMS)
        before = client(app, world).consent(Channel.SMS)
        received = got(app, add_number(app, world).number, "Yes")
        assert received.keyword is Keyword.START
        assert received.reply is None
        assert client(app, world).consent(Channel.SMS) == before
        assert [m.body for m in messages_of(app, world.org.id)] == ["Yes"]
        assert any(isinstance(e, MessageReceived) for e in events_of(app, world.org.id)), "the coach hears of it"

    def test_help_queues_the_help_text_and_changes_no_consent(self, app: CoachOS, world: World) -> None:
        """HELP (or INFO) gets the business's name and how to stop; consents stay as they were."""
        consent_to_texts(app, world, Channel.SMS)
        before = client(app, world).consents
        for word in ("HELP", "info?"):
            received = got(app, add_number(app, world).number, word)
            assert received.keyword is Keyword.HELP
            assert received.reply is not None
            assert received.reply.template == HELP_REPLY
            assert "Peak Coaching" in received.reply.body
            assert "STOP" in received.reply.body
        assert client(app, world).consents == before
        assert not any(isinstance(e, MessageReceived) for e in events_of(app, world.org.id))

    def test_a_lead_who_texts_stop_is_a_lead_with_the_confirmation_queued(self, app: CoachOS, world: World) -> None:
        """A stranger's STOP makes a lead (so the opt-out has a record) and queues the confirmation to them."""
        received = got(app, add_number(app, world).number, "STOP", sender="+447700900777")
        assert received.new_lead
        assert received.reply is not None
        assert received.reply.to == "+447700900777"

    def test_a_keyword_inside_a_sentence_is_conversation(self, app: CoachOS, world: World) -> None:
        """'Can we stop at 5?' changes no consent and queues no reply."""
        consent_to_texts(app, world)
        received = got(app, add_number(app, world).number, "Can we stop at 5?")
        assert (received.keyword, received.reply) == (None, None)
        assert client(app, world).consent(Channel.SMS) is not None


class TestMessageReceivedEvent:
    def test_it_round_trips_through_the_outbox(self, app: CoachOS, world: World) -> None:
        """The event is stored under 'message.received' and read back equal, client id included."""
        received = got(app, add_number(app, world).number)
        (event,) = [e for e in events_of(app, world.org.id) if isinstance(e, MessageReceived)]
        assert MessageReceived.type_name == "message.received"
        assert event.message_id == received.message.id
        assert attrs.asdict(event)["client_id"] == world.client.id
