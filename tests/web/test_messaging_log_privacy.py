"""The whole messaging flow — booking, confirmation, reminder, the client's reply, the coach's notice —
logs ids and outcomes only: no phone, name, email or message body, at DEBUG level, as production logs."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from quart import Quart

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sms import MemorySms
from coachos.domain.messages import Direction, MessageChannel, MessageStatus
from coachos.domain.money import Money
from coachos.domain.usecases import BookSession, CreateClient, SellPackage
from coachos.domain.usecases.clients import RecordConsent
from coachos.domain.usecases.sending import SendDueMessages
from tests.helpers import World, local, make_world
from tests.unit.test_inbound import add_number, fresh_sid, messages_of
from tests.web.support import serving
from tests.web.test_inbound_sms import PUBLIC, TOKEN, URL, post, sign
from tests.web.test_log_privacy import logs  # noqa: F401  # the JSON-lines log buffer

NAME, PHONE, EMAIL = "Barnabus Thistlewood", "+447700900461", "barnabus.t@example.net"
REPLY = "Running late, Thistlewood here, see you at quarter past"
WORDING = "Text me about my sessions, Barnabus"


@pytest.fixture
def sms() -> MemorySms:
    return MemorySms()


@pytest.fixture
def mail() -> MemoryEmail:
    return MemoryEmail()


@pytest.fixture
def core(clock: FixedClock, mail: MemoryEmail, sms: MemorySms) -> Iterator[CoachOS]:
    with bootstrap(
        Settings(database_url="memory://", public_url=PUBLIC),
        uow=MemoryStore().unit_of_work,
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
        sms=sms,
    ) as built:
        yield built


@pytest.fixture
async def web(core: CoachOS) -> AsyncIterator[Quart]:
    async with serving(core, twilio_auth_token=TOKEN, public_url=PUBLIC) as app:
        yield app


def deliver(core: CoachOS) -> None:
    """What the worker's tick does: hand the outbox to its consumers, then send what is due."""
    for _ in range(5):  # events fanned out in one pass are delivered in the next
        report = core.relay.relay_once(100)
        if not (report.fanned_out or report.delivered):
            break
    core.execute(SendDueMessages())


async def test_booking_confirmation_reminder_and_reply_log_nothing_personal(
    web: Quart,
    core: CoachOS,
    clock: FixedClock,
    sms: MemorySms,
    mail: MemoryEmail,
    logs: io.StringIO,  # noqa: F811
) -> None:
    world: World = make_world(core)
    number = add_number(core, world).number
    client = core.execute(CreateClient(org_id=world.org.id, name=NAME, phone=PHONE, email=EMAIL, actor=world.me))
    core.execute(
        RecordConsent(
            org_id=world.org.id,
            client_id=client.id,
            channel="sms",
            method="booking_form",
            wording=WORDING,
            actor=world.me,
        )
    )
    core.execute(
        SellPackage(
            org_id=world.org.id, client_id=client.id, name="Five", sessions=5, price=Money(0, "USD"), actor=world.me
        )
    )
    start = local(world, 3, 10)
    core.execute(
        BookSession(
            org_id=world.org.id,
            coach_id=world.coach.id,
            service_id=world.pt.id,
            client_id=client.id,
            start=start,
            actor=world.me,
            confirm=True,
        )
    )
    deliver(core)  # the confirmation, by text and email
    clock.set(start - timedelta(hours=24) + timedelta(minutes=1))
    deliver(core)  # the 24-hour reminder
    form = {
        "MessageSid": fresh_sid(),
        "AccountSid": "AC" + "0" * 32,
        "From": PHONE,
        "To": number,
        "Body": REPLY,
        "NumMedia": "0",
    }
    assert (await post(web, form, signature=sign(URL, form))).status_code == 200
    deliver(core)  # the coach's notice of the reply

    stored = messages_of(core, world.org.id)
    sent = {(m.template, m.channel) for m in stored if m.status is MessageStatus.SENT}
    # The flow really ran (an empty log would prove nothing): confirmation and reminder by text and
    # email, the client's reply stored, and the coach told of it by email.
    assert sent == {(kind, channel) for kind in ("booking_confirmed", "reminder_24h") for channel in MessageChannel}
    assert [m.body for m in stored if m.direction is Direction.IN] == [REPLY]
    assert [r.to for r in sms.sent] == [PHONE, PHONE]
    assert [e.to for e in mail.sent].count(EMAIL) == 2
    assert any(e.to == world.coach.email and REPLY in e.text for e in mail.sent), "the coach heard of the reply"

    text = logs.getvalue()
    assert "message" in text  # the flow logged something
    secrets = [NAME, "Barnabus", "Thistlewood", PHONE, "7700900461", EMAIL, REPLY, WORDING, number]
    secrets += [m.body for m in stored] + [m.subject for m in stored if m.subject]
    for secret in secrets:
        assert secret not in text, f"logs contain {secret[:20]!r}…"
