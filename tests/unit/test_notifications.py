"""What the messaging consumer queues for each booking event: recipients, keys, times, repeats and cancellations."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from coachos import (
    Actor,
    BookAsGuest,
    Booking,
    BookSession,
    CancelBooking,
    CoachOS,
    ConfirmBooking,
    CreateClient,
    RescheduleBooking,
    Settings,
    UpdateOrganizationSettings,
    bootstrap,
)
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.adapters.memory import MemoryStore
from coachos.domain.clients import Channel, Client
from coachos.domain.events import BookingConfirmed, MessageReceived
from coachos.domain.ids import BookingId
from coachos.domain.messages import Direction, Message, MessageChannel, MessageStatus, Purpose, required_consent
from coachos.domain.orgs import Notifications
from coachos.domain.quiet_hours import QuietHours
from coachos.domain.usecases import SaveMessageTemplate
from coachos.domain.usecases.booking import booking_event
from coachos.domain.usecases.notifications import on_booking_confirmed
from tests.helpers import World, local, make_world

PUBLIC_URL = "https://coach.example"
#: Every key part a booking's messages can have.
PARTS = (
    "received",
    "confirmation",
    "reminder-24h",
    "reminder-2h",
    "rescheduled",
    "cancellation",
    "coach-requested",
    "coach-new",
    "coach-rescheduled",
    "coach-cancellation",
)


@pytest.fixture
def app(clock: FixedClock) -> Iterator[CoachOS]:
    """Coach OS on the fakes, with a known public address and secret for manage links."""
    store = MemoryStore()
    settings = Settings(database_url="memory://", secret_key="test-secret-key", public_url=PUBLIC_URL)
    with bootstrap(settings, uow=store.unit_of_work, clock=clock, ids=SequentialIds()) as built:
        yield built


@pytest.fixture
def client(app: CoachOS, world: World) -> Client:
    """A client with a phone and an email, who agreed to texts."""
    return app.execute(
        CreateClient(
            org_id=world.org.id,
            name="Jordan Lee",
            phone="+12125550123",
            email="jordan@example.com",
            actor=world.me,
        )
    )


def book(app: CoachOS, world: World, client: Client, day: int = 4, hour: int = 10, **kw: Any) -> Booking:
    values: dict[str, Any] = {
        "org_id": world.org.id,
        "coach_id": world.coach.id,
        "service_id": world.pt.id,
        "client_id": client.id,
        "start": local(world, day, hour),
        "actor": world.me,
        "confirm": True,
        "allow_without_credit": True,
    } | kw
    return app.execute(BookSession(**values))


def relay(app: CoachOS) -> None:
    """Deliver everything stored so far (as the worker's tick does)."""
    while app.relay.relay_once().fanned_out or app.relay.relay_once().delivered:
        pass


def queued(app: CoachOS, world: World, booking_id: BookingId) -> dict[str, Message]:
    """The booking's messages by key without the 'booking:<id>:' prefix, e.g. 'confirmation:sms'."""
    found: dict[str, Message] = {}
    with app.unit_of_work() as uow:
        for part in PARTS:
            for channel in MessageChannel:
                m = uow.messages.by_key(world.org.id, f"booking:{booking_id}:{part}:{channel.value}")
                if m is not None:
                    found[f"{part}:{channel.value}"] = m
    return found


class TestConfirmation:
    def test_a_confirmed_booking_queues_confirmations_at_once_and_reminders_before(
        self, app: CoachOS, world: World, client: Client, clock: FixedClock
    ) -> None:
        """A coach's booking two days ahead: SMS and email confirmations now, 24 h and 2 h reminders at their times."""
        booking = book(app, world, client)
        relay(app)
        got = queued(app, world, booking.id)
        assert sorted(got) == [
            "confirmation:email",
            "confirmation:sms",
            "reminder-24h:email",
            "reminder-24h:sms",
            "reminder-2h:email",
            "reminder-2h:sms",
        ]
        now = clock.now()
        assert all(m.purpose is Purpose.TRANSACTIONAL and m.status is MessageStatus.QUEUED for m in got.values())
        assert all(m.client_id == client.id and m.coach_id is None for m in got.values())
        sms = got["confirmation:sms"]
        assert (sms.to, sms.not_before, sms.quiet_hours, sms.template) == (
            "+12125550123",
            now,
            False,
            "booking_confirmed",
        )
        assert "Wed 4 Mar, 10:00 AM EST" in sms.body
        assert f"{PUBLIC_URL}/manage/" in sms.body
        assert got["confirmation:email"].to == "jordan@example.com"
        assert got["reminder-24h:sms"].not_before == booking.start - timedelta(hours=24)
        assert got["reminder-2h:email"].not_before == booking.start - timedelta(hours=2)
        assert got["reminder-24h:sms"].quiet_hours
        assert got["reminder-2h:email"].quiet_hours

    def test_the_email_has_a_subject_a_text_and_an_escaped_html_part(
        self, app: CoachOS, world: World, client: Client
    ) -> None:
        """The confirmation email carries both parts, the manage link clickable in the HTML."""
        booking = book(app, world, client)
        relay(app)
        email = queued(app, world, booking.id)["confirmation:email"]
        assert email.subject == "Booked: PT on Wed 4 Mar, 10:00 AM EST"
        assert email.html is not None
        assert '<a href="https://coach.example/manage/' in email.html
        assert "Hi Jordan," in email.body

    def test_the_coach_gets_no_notice_of_their_own_booking_but_does_of_a_clients(
        self, app: CoachOS, world: World, client: Client
    ) -> None:
        """A booking the coach made tells the coach nothing; one the client made tells them by email."""
        mine = book(app, world, client)
        theirs = book(app, world, client, day=5, actor=Actor("client", client.id))
        relay(app)
        assert not any(k.startswith("coach-") for k in queued(app, world, mine.id))
        notice = queued(app, world, theirs.id)["coach-new:email"]
        assert (notice.to, notice.coach_id, notice.client_id) == (world.coach.email, world.coach.id, None)
        assert "Jordan Lee booked PT on Thu 5 Mar, 10:00 AM EST" in notice.body
        assert f"{PUBLIC_URL}/clients/{client.id}" in notice.body

    def test_a_client_without_a_phone_gets_email_only(self, app: CoachOS, world: World) -> None:
        """No phone, no text: only email is queued."""
        who = app.execute(CreateClient(org_id=world.org.id, name="Em Only", email="em@example.com", actor=world.me))
        booking = book(app, world, who)
        relay(app)
        assert {k.split(":")[1] for k in queued(app, world, booking.id)} == {"email"}

    def test_a_repeated_delivery_queues_nothing_more(self, app: CoachOS, world: World, client: Client) -> None:
        """The relay is at least once: running the handler again for the same event adds no message."""
        booking = book(app, world, client)
        relay(app)
        before = queued(app, world, booking.id)
        event = booking_event(BookingConfirmed, booking, booking.created_at, world.me)
        on_booking_confirmed(event, app.deps)
        on_booking_confirmed(event, app.deps)
        assert queued(app, world, booking.id) == before

    def test_a_reminder_whose_time_has_passed_is_not_queued(self, app: CoachOS, world: World, client: Client) -> None:
        """Booked nine hours ahead: no 24-hour reminder, the 2-hour one still."""
        booking = book(app, world, client, day=2, hour=16)  # Monday 16:00 New York, 9 h from now
        relay(app)
        got = queued(app, world, booking.id)
        assert "reminder-24h:sms" not in got
        assert "reminder-2h:sms" in got

    def test_a_reminder_quiet_hours_would_hold_past_the_start_is_not_queued(
        self, app: CoachOS, world: World, client: Client
    ) -> None:
        """Quiet until 10:00 and a session at 10:00: the 2-hour reminder could only go too late, so it is not queued."""
        app.execute(
            UpdateOrganizationSettings(
                org_id=world.org.id, actor=world.me, quiet_hours=QuietHours(start=time(21), end=time(10))
            )
        )
        booking = book(app, world, client)
        relay(app)
        got = queued(app, world, booking.id)
        assert "reminder-2h:sms" not in got
        assert "reminder-24h:sms" in got

    def test_reminders_the_business_turned_off_are_not_queued(self, app: CoachOS, world: World, client: Client) -> None:
        """With both reminders off only the confirmations go."""
        app.execute(
            UpdateOrganizationSettings(
                org_id=world.org.id,
                actor=world.me,
                notifications=Notifications(reminder_24h=False, reminder_2h=False),
            )
        )
        booking = book(app, world, client)
        relay(app)
        assert sorted(queued(app, world, booking.id)) == ["confirmation:email", "confirmation:sms"]

    def test_a_clients_own_zone_is_used_and_labelled(self, app: CoachOS, world: World) -> None:
        """A client in London reads the time on their clock, with the zone named."""
        who = app.execute(
            CreateClient(
                org_id=world.org.id, name="Ali", phone="+447700900123", timezone="Europe/London", actor=world.me
            )
        )
        booking = book(app, world, who)
        relay(app)
        assert "Wed 4 Mar, 3:00 PM GMT (Europe/London)" in queued(app, world, booking.id)["confirmation:sms"].body

    def test_the_businesss_own_wording_is_used(self, app: CoachOS, world: World, client: Client) -> None:
        """A saved template replaces the default for that kind and channel only."""
        app.execute(
            SaveMessageTemplate(
                org_id=world.org.id,
                kind="booking_confirmed",
                channel="sms",
                subject=None,
                body="Yo {client_first_name}, {when}!",
                actor=world.me,
            )
        )
        booking = book(app, world, client)
        relay(app)
        got = queued(app, world, booking.id)
        assert got["confirmation:sms"].body == "Yo Jordan, Wed 4 Mar, 10:00 AM EST!"
        assert got["confirmation:email"].body.startswith("Hi Jordan,")

    def test_coach_notices_by_text_go_to_the_notice_number_and_wait_for_quiet_hours(
        self, app: CoachOS, world: World, client: Client
    ) -> None:
        """With SMS notices on, the coach's text goes to the business's notice number, held by quiet hours."""
        app.execute(
            UpdateOrganizationSettings(
                org_id=world.org.id,
                actor=world.me,
                notifications=Notifications(notice_email=False, notice_sms=True, notice_phone="+12125550999"),
            )
        )
        booking = book(app, world, client, actor=Actor("client", client.id))
        relay(app)
        got = queued(app, world, booking.id)
        assert "coach-new:email" not in got
        sms = got["coach-new:sms"]
        assert (sms.to, sms.quiet_hours, sms.client_id, sms.coach_id) == ("+12125550999", True, None, world.coach.id)


class TestLogs:
    def test_queueing_logs_ids_and_counts_only(
        self, app: CoachOS, world: World, client: Client, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The consumer's log lines name the event and booking, never a name, phone, email or message text."""
        caplog.set_level(logging.DEBUG)
        booking = book(app, world, client, actor=Actor("client", client.id))
        relay(app)
        lines = [r.getMessage() for r in caplog.records if r.name == "coachos.notifications"]
        assert any(str(booking.id) in line for line in lines)
        for line in lines:
            for secret in ("Jordan", "2125550123", "jordan@example.com", world.coach.email, "manage/"):
                assert secret not in line


class TestConsent:
    def test_an_opted_out_client_has_their_reminder_queued_needing_sms_consent(
        self, app: CoachOS, world: World, client: Client
    ) -> None:
        """A client who never agreed to texts still has the row, marked transactional, so the sender refuses it."""
        assert client.consent(Channel.SMS) is None
        booking = book(app, world, client)
        relay(app)
        reminder = queued(app, world, booking.id)["reminder-24h:sms"]
        assert required_consent(reminder.channel, reminder.purpose) is Channel.SMS


class TestCancellation:
    def test_cancelling_cancels_the_queued_reminders_and_tells_the_client(
        self, app: CoachOS, world: World, client: Client
    ) -> None:
        """A cancelled booking's reminders are cancelled; the client's notice goes at once."""
        booking = book(app, world, client)
        relay(app)
        app.execute(CancelBooking(org_id=world.org.id, booking_id=booking.id, actor=world.me))
        relay(app)
        got = queued(app, world, booking.id)
        assert all(
            got[f"{r}:{c}"].status is MessageStatus.CANCELLED
            for r in ("reminder-24h", "reminder-2h")
            for c in ("sms", "email")
        )
        assert got["confirmation:sms"].status is MessageStatus.QUEUED
        notice = got["cancellation:sms"]
        assert (notice.quiet_hours, notice.template) == (False, "booking_cancelled")
        assert "Wed 4 Mar, 10:00 AM EST is cancelled" in notice.body
        assert "coach-cancellation:email" not in got

    def test_a_client_cancelling_tells_the_coach(self, app: CoachOS, world: World, client: Client) -> None:
        """When the client cancels, the coach hears of it."""
        booking = book(app, world, client)
        app.execute(CancelBooking(org_id=world.org.id, booking_id=booking.id, actor=Actor("client", client.id)))
        relay(app)
        got = queued(app, world, booking.id)
        assert "Jordan Lee cancelled PT" in got["coach-cancellation:email"].body
        assert "reminder-24h:sms" not in got, "a booking cancelled before the relay ran gets no reminders"


class TestReschedule:
    def test_a_move_cancels_old_reminders_queues_new_ones_and_sends_one_notice(
        self, app: CoachOS, world: World, client: Client
    ) -> None:
        """Moving: old reminders cancelled, the new booking's queued, one notice and no confirmation."""
        old = book(app, world, client)
        relay(app)
        new = app.execute(
            RescheduleBooking(org_id=world.org.id, booking_id=old.id, new_start=local(world, 5, 14), actor=world.me)
        )
        relay(app)
        before = queued(app, world, old.id)
        assert all(before[f"{r}:sms"].status is MessageStatus.CANCELLED for r in ("reminder-24h", "reminder-2h"))
        assert "cancellation:sms" not in before
        after = queued(app, world, new.id)
        assert sorted(after) == [
            "reminder-24h:email",
            "reminder-24h:sms",
            "reminder-2h:email",
            "reminder-2h:sms",
            "rescheduled:email",
            "rescheduled:sms",
        ]
        assert after["reminder-2h:sms"].not_before == new.start - timedelta(hours=2)
        assert "from Wed 4 Mar, 10:00 AM EST to Thu 5 Mar, 2:00 PM EST" in after["rescheduled:sms"].body
        assert after["rescheduled:sms"].quiet_hours is False


class TestPublicBooking:
    def guest(self, world: World, **kw: Any) -> BookAsGuest:
        values: dict[str, Any] = {
            "org_id": world.org.id,
            "service_id": world.pt.id,
            "start": local(world, 4, 10),
            "name": "Casey Morgan",
            "phone": "+1 646 555 0199",
            "email": "casey@example.com",
            "sms_consent": True,
            "consent_wording": "Text me reminders about my bookings",
            "idempotency_key": "form-1",
            "visitor": "visitor-1",
        } | kw
        return BookAsGuest(**values)

    def test_a_public_booking_tells_the_visitor_it_is_received_and_the_coach_to_confirm(
        self, app: CoachOS, world: World
    ) -> None:
        """The visitor gets "request received" with the manage link; the coach a notice to confirm; reminders wait."""
        booking = app.execute(self.guest(world))
        relay(app)
        got = queued(app, world, booking.id)
        assert {"received:sms", "received:email", "coach-requested:email", "reminder-24h:sms"} <= set(got)
        assert "confirmation:sms" not in got
        assert got["received:email"].to == "casey@example.com"
        assert f"{PUBLIC_URL}/manage/" in got["received:sms"].body
        assert "Casey Morgan asked for PT on Wed 4 Mar, 10:00 AM EST" in got["coach-requested:email"].body

    def test_confirming_it_sends_the_confirmation(self, app: CoachOS, world: World) -> None:
        """When the coach confirms, the client gets the confirmation; the reminders are not queued twice."""
        booking = app.execute(self.guest(world))
        relay(app)
        count = len(queued(app, world, booking.id))
        app.execute(ConfirmBooking(org_id=world.org.id, booking_id=booking.id, actor=world.me))
        relay(app)
        got = queued(app, world, booking.id)
        assert {"confirmation:sms", "confirmation:email"} <= set(got)
        assert len(got) == count + 2

    def test_a_visitor_matching_a_client_is_written_to_as_typed_and_texted_only_at_that_clients_number(
        self, app: CoachOS, world: World, client: Client
    ) -> None:
        """Typed details matching a client by email, with another phone: email to what was typed, no text."""
        booking = app.execute(self.guest(world, name="Jo L", email="jordan@example.com", phone="+1 646 555 0100"))
        relay(app)
        got = queued(app, world, booking.id)
        assert not any(k.endswith(":sms") and not k.startswith("coach-") for k in got)
        assert got["received:email"].body.startswith("Hi Jo,")


class TestClientReply:
    def test_a_clients_text_tells_the_coach_with_the_text(self, app: CoachOS, world: World, client: Client) -> None:
        """A MessageReceived event queues the coach's notice quoting the text, keyed on the message."""
        now = app.clock.now()
        incoming = Message(
            id=app.ids.new_id(),
            org_id=world.org.id,
            direction=Direction.IN,
            channel=MessageChannel.SMS,
            purpose=Purpose.TRANSACTIONAL,
            status=MessageStatus.RECEIVED,
            to="+12125550100",
            sender=client.phone,
            body="Running 5 min late",
            created_at=now,
            not_before=now,
            client_id=client.id,
            provider_id=f"SM{uuid4().hex}",
        )
        with app.unit_of_work() as uow:
            uow.messages.add(incoming)
            uow.emit(
                MessageReceived(
                    org_id=world.org.id, occurred_at=now, actor="system", message_id=incoming.id, client_id=client.id
                )
            )
            uow.commit()
        relay(app)
        relay(app)
        with app.unit_of_work() as uow:
            notice = uow.messages.by_key(world.org.id, f"message:{incoming.id}:coach-reply:email")
        assert notice is not None
        assert (notice.to, notice.template, notice.client_id) == (world.coach.email, "coach_client_reply", None)
        assert "Jordan Lee sent:\n\nRunning 5 min late" in notice.body


@pytest.fixture
def world(app: CoachOS) -> World:
    """A business in New York taking bookings."""
    return make_world(app)


_IN_TOKYO = """
import time
from coachos import Settings, bootstrap
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.domain.usecases import BookSession
from tests.helpers import MONDAY_NOON_UTC, local, make_world

time.tzset()
assert time.strftime("%Z") == "JST", time.strftime("%Z")
settings = Settings(database_url="memory://", secret_key="k", public_url="https://coach.example")
with bootstrap(settings, clock=FixedClock(MONDAY_NOON_UTC), ids=SequentialIds()) as app:
    w = make_world(app)
    b = app.execute(BookSession(
        org_id=w.org.id, coach_id=w.coach.id, service_id=w.pt.id, client_id=w.client.id,
        start=local(w, 4, 10), actor=w.me, confirm=True,
    ))
    app.relay.relay_once()
    with app.unit_of_work() as uow:
        print(uow.messages.by_key(w.org.id, f"booking:{b.id}:confirmation:sms").body)
"""


class TestServerZone:
    def test_a_confirmation_rendered_under_tz_tokyo_shows_the_businesss_time(self) -> None:
        """A worker whose machine runs on Tokyo time still writes New York's 10:00 AM EST, not a Tokyo time."""
        root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "TZ": "Asia/Tokyo", "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}"}
        done = subprocess.run(  # noqa: S603  # our own interpreter and fixed code
            [sys.executable, "-c", _IN_TOKYO], cwd=root, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert "Wed 4 Mar, 10:00 AM EST" in done.stdout
        assert "JST" not in done.stdout
