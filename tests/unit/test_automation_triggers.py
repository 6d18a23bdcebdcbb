"""Automations triggered by events and daily checks, their conditions and actions, on the fakes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest

from coachos import CoachOS, ValidationError
from coachos.adapters.clock import FixedClock
from coachos.domain.automations import (
    Action,
    Automation,
    AutomationRun,
    AutomationStatus,
    Condition,
    CreateTodo,
    SendMessage,
    TagClients,
    TriggerKind,
    birthdays_on,
)
from coachos.domain.bookings import Booking, GuestDetails
from coachos.domain.clients import Client
from coachos.domain.ids import Actor
from coachos.domain.messages import Message, MessageChannel, MessageStatus, Purpose
from coachos.domain.todos import Todo
from coachos.domain.usecases import (
    BookSession,
    CancelBooking,
    CompleteBooking,
    CompleteTodo,
    ConfirmBooking,
    CreateAutomation,
    ListAutomations,
    ListOpenTodos,
    RunDueAutomations,
    SetAutomationEnabled,
    UpdateClient,
)
from coachos.domain.usecases.automation_events import run_event_automations
from tests.helpers import World, add_client, local, make_world

TODO = CreateTodo(title="Call {client_first_name}")


def automate(
    app: CoachOS,
    w: World,
    trigger: TriggerKind,
    action: Action = TODO,
    *,
    threshold: int | None = None,
    conditions: Sequence[Condition] = (),
    schedule: str | None = None,
    name: str = "Automation",
) -> Automation:
    return app.execute(
        CreateAutomation(
            org_id=w.org.id,
            actor=w.me,
            name=name,
            trigger=trigger,
            action=action,
            threshold=threshold,
            conditions=conditions,
            schedule=schedule,
        )
    )


def book(app: CoachOS, w: World, start: datetime, client: Client | None = None, *, confirm: bool = False) -> Booking:
    return app.execute(
        BookSession(
            org_id=w.org.id,
            coach_id=w.coach.id,
            service_id=w.pt.id,
            client_id=(client or w.client).id,
            start=start,
            actor=w.me,
            confirm=confirm,
            allow_without_credit=True,
        )
    )


def runs(app: CoachOS, w: World, automation: Automation) -> list[AutomationRun]:
    return list(app.read(lambda uow: uow.automations.runs(w.org.id, automation.id, limit=10_000)))


def todos(app: CoachOS, w: World) -> list[Todo]:
    return list(app.execute(ListOpenTodos(org_id=w.org.id)))


def messages_of(app: CoachOS, w: World, client: Client) -> list[Message]:
    """The messages automations queued for `client` (booking notices of other consumers left out)."""
    found = app.read(lambda uow: uow.messages.for_client(w.org.id, client.id))
    return [m for m in found if (m.key or "").startswith("automation:")]


def relay(app: CoachOS) -> None:
    while app.relay.relay_once(limit=100).fanned_out:
        pass


def tick(app: CoachOS, clock: FixedClock, start: datetime, end: datetime, step: timedelta) -> None:
    at = start
    while at < end:
        clock.set(at)
        app.execute(RunDueAutomations())
        at += step


def set_birthday(app: CoachOS, w: World, client: Client, birthday: date) -> None:
    app.execute(UpdateClient(org_id=w.org.id, client_id=client.id, actor=w.me, birthday=birthday))


class TestBookingTriggers:
    def test_a_booking_requested_then_confirmed_runs_booking_created_once(self, app: CoachOS, world: World) -> None:
        """A booking made as a request and confirmed later runs a 'booking created' automation once, for its client."""
        created = automate(app, world, TriggerKind.BOOKING_CREATED)
        booking = book(app, world, local(world, 3, 10))
        relay(app)
        app.execute(ConfirmBooking(org_id=world.org.id, booking_id=booking.id, actor=world.me))
        relay(app)
        [run] = runs(app, world, created)
        assert (run.key, run.client_id, run.status, run.affected) == (
            f"booking_created:{booking.id}",
            world.client.id,
            AutomationStatus.DONE,
            1,
        )
        assert [t.title for t in todos(app, world)] == ["Call Jordan"]

    def test_a_maybe_booking_from_the_public_form_waits_for_the_coachs_confirmation(
        self, app: CoachOS, world: World
    ) -> None:
        """A public booking held for a client on file runs 'booking created' only when the coach confirms it,
        and never 'booking cancelled'."""
        created = automate(app, world, TriggerKind.BOOKING_CREATED, name="Made")
        gone = automate(app, world, TriggerKind.BOOKING_CANCELLED, name="Gone")
        guest = GuestDetails(
            name="Jordan",
            email=None,
            phone="+12125550101",
            sms_consent=False,
            consent_wording="",
            timezone=None,
            matched=True,
        )
        booking = app.execute(
            BookSession(
                org_id=world.org.id,
                coach_id=world.coach.id,
                service_id=world.pt.id,
                client_id=world.client.id,
                start=local(world, 3, 10),
                actor=Actor("client", world.client.id),
                guest=guest,
                take_credit=False,
            )
        )
        relay(app)
        assert runs(app, world, created) == []
        app.execute(ConfirmBooking(org_id=world.org.id, booking_id=booking.id, actor=world.me))
        app.execute(CancelBooking(org_id=world.org.id, booking_id=booking.id, actor=world.me))
        relay(app)
        assert [r.key for r in runs(app, world, created)] == [f"booking_created:{booking.id}"]
        assert runs(app, world, gone) == []

    def test_an_event_delivered_twice_runs_once(self, app: CoachOS, world: World) -> None:
        """The same event handed to the automations consumer again (at-least-once delivery) makes no second run."""
        created = automate(app, world, TriggerKind.BOOKING_CREATED)
        book(app, world, local(world, 3, 10))
        [event] = [e for e in app.read(lambda uow: uow.outbox.pending(10)) if e.type_name == "booking.requested"]
        for _ in range(3):
            run_event_automations(event, app.deps)
        relay(app)
        assert len(runs(app, world, created)) == 1
        assert len(todos(app, world)) == 1

    def test_completed_and_cancelled_run_their_own_automations(
        self, app: CoachOS, clock: FixedClock, world: World
    ) -> None:
        """Completing one booking and cancelling another runs each trigger's automation once, for that booking."""
        done = automate(app, world, TriggerKind.BOOKING_COMPLETED, name="Done")
        gone = automate(app, world, TriggerKind.BOOKING_CANCELLED, name="Gone")
        first, second = book(app, world, local(world, 3, 10)), book(app, world, local(world, 3, 12))
        app.execute(CancelBooking(org_id=world.org.id, booking_id=second.id, actor=world.me))
        clock.set(local(world, 3, 11, 30))
        app.execute(CompleteBooking(org_id=world.org.id, booking_id=first.id, actor=world.me))
        relay(app)
        assert [r.key for r in runs(app, world, done)] == [f"booking_completed:{first.id}"]
        assert [r.key for r in runs(app, world, gone)] == [f"booking_cancelled:{second.id}"]

    def test_disabled_or_later_automations_do_not_run_for_an_event(
        self, app: CoachOS, clock: FixedClock, world: World
    ) -> None:
        """An automation switched off, or made after the event happened, does not run for it."""
        off = automate(app, world, TriggerKind.BOOKING_CREATED, name="Off")
        app.execute(SetAutomationEnabled(org_id=world.org.id, automation_id=off.id, actor=world.me, enabled=False))
        book(app, world, local(world, 3, 10))
        clock.set(clock.now() + timedelta(minutes=5))
        later = automate(app, world, TriggerKind.BOOKING_CREATED, name="Later")
        relay(app)
        assert runs(app, world, later) == []
        assert runs(app, world, off) == []

    def test_an_automation_on_another_trigger_does_not_run(self, app: CoachOS, world: World) -> None:
        """A 'booking cancelled' automation ignores a booking being made."""
        gone = automate(app, world, TriggerKind.BOOKING_CANCELLED)
        book(app, world, local(world, 3, 10))
        relay(app)
        assert runs(app, world, gone) == []


class TestCreditsLow:
    def test_runs_for_each_use_at_or_below_the_threshold(self, app: CoachOS, world: World) -> None:
        """With 10 credits and a threshold of 8, the first use (9 left) runs nothing; the next two (8, 7) run."""
        low = automate(app, world, TriggerKind.CREDITS_LOW, threshold=8)
        bookings = [book(app, world, local(world, 3, h)) for h in (10, 12, 14)]
        relay(app)
        assert sorted(r.key for r in runs(app, world, low)) == sorted(f"credits_low:{b.id}" for b in bookings[1:])
        assert all(r.client_id == world.client.id for r in runs(app, world, low))

    def test_zero_runs_only_when_the_last_credit_is_used(self, app: CoachOS, world: World) -> None:
        """A threshold of 0 runs when the package is used up, not before."""
        small = make_world(app, sessions=2)
        low = automate(app, small, TriggerKind.CREDITS_LOW, threshold=0)
        book(app, small, local(small, 3, 10))
        relay(app)
        assert runs(app, small, low) == []
        last = book(app, small, local(small, 3, 12))
        relay(app)
        assert [r.key for r in runs(app, small, low)] == [f"credits_low:{last.id}"]


class TestConditions:
    @pytest.mark.parametrize(
        ("condition", "runs_for_tagged", "runs_for_plain"),
        [
            (("has_tag", " VIP "), True, False),
            (("lacks_tag", "vip"), False, True),
            (("status_is", "lead"), True, True),
            (("status_is", "active"), False, False),
        ],
    )
    def test_client_conditions(
        self,
        app: CoachOS,
        world: World,
        condition: tuple[str, str],
        runs_for_tagged: bool,
        runs_for_plain: bool,
    ) -> None:
        """Tag and status conditions decide, client by client, whether the action runs."""
        plain = add_client(app, world)
        app.execute(
            UpdateClient(org_id=world.org.id, client_id=world.client.id, actor=world.me, tags=frozenset({"vip"}))
        )
        automation = automate(app, world, TriggerKind.BOOKING_CREATED, conditions=[Condition.make(*condition)])
        book(app, world, local(world, 3, 10))
        book(app, world, local(world, 3, 12), plain)
        relay(app)
        ran_for = {r.client_id for r in runs(app, world, automation)}
        assert (world.client.id in ran_for, plain.id in ran_for) == (runs_for_tagged, runs_for_plain)

    def test_service_is(self, app: CoachOS, world: World) -> None:
        """'Service is' runs for bookings of that service only."""
        automation = automate(
            app, world, TriggerKind.BOOKING_CREATED, conditions=[Condition.make("service_is", str(world.group.id))]
        )
        book(app, world, local(world, 3, 10))
        relay(app)
        assert runs(app, world, automation) == []

    def test_an_unmet_condition_leaves_no_run(self, app: CoachOS, world: World) -> None:
        """A client who does not meet the conditions gets no run row and no to-do."""
        automation = automate(app, world, TriggerKind.BOOKING_CREATED, conditions=[Condition.make("has_tag", "x")])
        book(app, world, local(world, 3, 10))
        relay(app)
        assert runs(app, world, automation) == []
        assert todos(app, world) == []


class TestActions:
    def test_send_sms_queues_one_marketing_text_that_waits_for_quiet_hours(self, app: CoachOS, world: World) -> None:
        """An SMS action queues one message for the client, placeholders filled, keyed by automation, run and client."""
        action = SendMessage(channel="sms", body="Hi {client_first_name}, thanks for booking with {business}!")
        automation = automate(app, world, TriggerKind.BOOKING_CREATED, action)
        booking = book(app, world, local(world, 3, 10))
        relay(app)
        [sent] = messages_of(app, world, world.client)
        assert sent.body == "Hi Jordan, thanks for booking with Peak Coaching!"
        assert sent.key == f"automation:{automation.id}:booking_created:{booking.id}:{world.client.id}"
        assert (sent.channel, sent.purpose, sent.status, sent.to) == (
            MessageChannel.SMS,
            Purpose.MARKETING,
            MessageStatus.QUEUED,
            "+12125550101",
        )
        assert sent.quiet_hours

    def test_a_transactional_email_has_its_subject_and_still_respects_quiet_hours(
        self, app: CoachOS, world: World
    ) -> None:
        """A transactional email is queued as such, its subject filled in, and still waits out quiet hours."""
        app.execute(
            UpdateClient(org_id=world.org.id, client_id=world.client.id, actor=world.me, email="jordan@example.com")
        )
        action = SendMessage(channel="email", subject="{business}", body="See you, {client_name}.", transactional=True)
        automate(app, world, TriggerKind.BOOKING_CREATED, action)
        book(app, world, local(world, 3, 10))
        relay(app)
        [sent] = messages_of(app, world, world.client)
        assert (sent.subject, sent.body, sent.purpose, sent.quiet_hours) == (
            "Peak Coaching",
            "See you, Jordan Lee.",
            Purpose.TRANSACTIONAL,
            True,
        )

    def test_a_client_without_an_address_gets_nothing_and_the_run_says_so(self, app: CoachOS, world: World) -> None:
        """An email action for a client with no email queues nothing; the run records 0 affected."""
        automation = automate(
            app, world, TriggerKind.BOOKING_CREATED, SendMessage(channel="email", subject="Hi", body="Hi")
        )
        book(app, world, local(world, 3, 10))
        relay(app)
        assert messages_of(app, world, world.client) == []
        assert [(r.status, r.affected) for r in runs(app, world, automation)] == [(AutomationStatus.DONE, 0)]

    def test_tag_the_client(self, app: CoachOS, world: World) -> None:
        """A tag action on an event tags that client only."""
        other = add_client(app, world)
        automate(app, world, TriggerKind.BOOKING_CREATED, TagClients(tag="Booked"))
        book(app, world, local(world, 3, 10))
        relay(app)
        tags = {c.id: c.tags for c in app.read(lambda uow: uow.clients.list(world.org.id))}
        assert "booked" in tags[world.client.id]
        assert "booked" not in tags[other.id]

    def test_a_scheduled_message_goes_to_every_matching_client_once(
        self, app: CoachOS, clock: FixedClock, world: World
    ) -> None:
        """A scheduled SMS queues one text per client meeting the conditions; more ticks queue no more."""
        other = app.execute(
            UpdateClient(org_id=world.org.id, client_id=add_client(app, world).id, actor=world.me, phone="+12125550102")
        )
        action = SendMessage(channel="sms", body="News from {business}")
        automate(
            app,
            world,
            TriggerKind.SCHEDULE,
            action,
            schedule="0 9 * * *",
            conditions=[Condition.make("lacks_tag", "x")],
        )
        nine = local(world, 3, 9)
        tick(app, clock, nine, nine + timedelta(minutes=3), timedelta(minutes=1))
        assert len(messages_of(app, world, world.client)) == len(messages_of(app, world, other)) == 1

    def test_a_scheduled_todo_is_one_per_run(self, app: CoachOS, clock: FixedClock, world: World) -> None:
        """A scheduled to-do is made once per due time, about nobody, and ticking it off leaves it done."""
        automate(app, world, TriggerKind.SCHEDULE, CreateTodo(title="Weekly admin at {business}"), schedule="0 9 * * 2")
        nine = local(world, 3, 9)
        tick(app, clock, nine - timedelta(minutes=2), nine + timedelta(minutes=3), timedelta(minutes=1))
        [todo] = todos(app, world)
        assert (todo.title, todo.client_id) == ("Weekly admin at Peak Coaching", None)
        done = app.execute(CompleteTodo(org_id=world.org.id, todo_id=todo.id, actor=world.me))
        again = app.execute(CompleteTodo(org_id=world.org.id, todo_id=todo.id, actor=world.me))
        assert done.done
        assert again.done_at == done.done_at
        assert todos(app, world) == []


class TestBirthdays:
    @pytest.mark.parametrize(
        ("zone", "due_utc"),
        [
            ("Asia/Tokyo", datetime(2026, 3, 3, 0, tzinfo=UTC)),
            ("America/New_York", datetime(2026, 3, 3, 14, tzinfo=UTC)),
        ],
    )
    def test_runs_once_at_nine_on_the_birthday_in_the_organisations_zone(
        self, app: CoachOS, clock: FixedClock, zone: str, due_utc: datetime
    ) -> None:
        """A birthday runs once, at 09:00 on that date on the business's clock, whatever UTC says."""
        w = make_world(app, timezone=zone)
        set_birthday(app, w, w.client, date(1990, 3, 3))
        set_birthday(app, w, add_client(app, w), date(1990, 3, 4))
        automation = automate(app, w, TriggerKind.BIRTHDAY, CreateTodo(title="Happy birthday, {client_first_name}"))
        tick(
            app, clock, datetime(2026, 3, 2, 13, tzinfo=UTC), datetime(2026, 3, 4, 0, tzinfo=UTC), timedelta(minutes=20)
        )
        [run] = runs(app, w, automation)
        assert (run.due_at, run.client_id, run.key) == (due_utc, w.client.id, f"birthday:{w.client.id}:2026-03-03")
        assert [t.title for t in todos(app, w)] == ["Happy birthday, Jordan"]

    def test_29_february_is_celebrated_on_28_february_in_other_years(
        self, app: CoachOS, clock: FixedClock, world: World
    ) -> None:
        """A leap-day birthday runs on 28 February in 2027 and on 29 February (only) in 2028."""
        set_birthday(app, world, world.client, date(2000, 2, 29))
        automation = automate(app, world, TriggerKind.BIRTHDAY)
        for year in (2027, 2028):
            start = datetime(year, 2, 26, tzinfo=UTC)
            tick(app, clock, start, start + timedelta(days=5), timedelta(hours=1))
        days = sorted(r.due_at.astimezone(world.org.tz).date() for r in runs(app, world, automation))
        assert days == [date(2027, 2, 28), date(2028, 2, 29)]

    def test_birthdays_on(self) -> None:
        """28 February of a common year also celebrates 29 February; other days only themselves."""
        assert birthdays_on(date(2027, 2, 28)) == ((2, 28), (2, 29))
        assert birthdays_on(date(2028, 2, 28)) == ((2, 28),)
        assert birthdays_on(date(2028, 2, 29)) == ((2, 29),)


class TestInactiveClients:
    def test_runs_once_per_quiet_spell(self, app: CoachOS, clock: FixedClock, world: World) -> None:
        """Thirty days without a booking runs once per client; booking again and lapsing again runs again."""
        clock.set(datetime(2026, 1, 1, tzinfo=UTC))
        long_gone = add_client(app, world, "Old Friend")
        clock.set(datetime(2026, 3, 2, 12, tzinfo=UTC))
        never_booked = add_client(app, world)
        book(app, world, local(world, 3, 10))
        automation = automate(app, world, TriggerKind.CLIENT_INACTIVE, threshold=30)
        tick(app, clock, datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 4, 5, tzinfo=UTC), timedelta(hours=1))
        first = {r.client_id: r.due_at.astimezone(world.org.tz).date() for r in runs(app, world, automation)}
        assert first == {never_booked.id: date(2026, 4, 1), world.client.id: date(2026, 4, 3)}
        assert long_gone.id not in first
        book(app, world, datetime(2026, 4, 6, 14, tzinfo=UTC))
        tick(app, clock, datetime(2026, 4, 5, tzinfo=UTC), datetime(2026, 5, 10, tzinfo=UTC), timedelta(hours=1))
        spells = [r.client_id for r in runs(app, world, automation)]
        assert spells.count(world.client.id) == 2
        assert spells.count(never_booked.id) == 1

    def test_a_cancelled_booking_is_not_activity(self, app: CoachOS, clock: FixedClock, world: World) -> None:
        """A client whose only recent booking was cancelled is inactive from when they were added."""
        booking = book(app, world, local(world, 20, 10))
        app.execute(CancelBooking(org_id=world.org.id, booking_id=booking.id, actor=world.me))
        automation = automate(app, world, TriggerKind.CLIENT_INACTIVE, threshold=1)
        tick(app, clock, local(world, 3, 8), local(world, 3, 10), timedelta(minutes=30))
        assert [r.client_id for r in runs(app, world, automation)] == [world.client.id]


class TestSetupRefusesBadInput:
    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"trigger": "booking_created", "schedule": "0 9 * * *"}, "schedule"),
            ({"trigger": "schedule"}, "schedule"),
            ({"trigger": "sometimes"}, "trigger"),
            ({"trigger": "credits_low"}, "threshold"),
            ({"trigger": "client_inactive", "threshold": 0}, "threshold"),
            ({"trigger": "birthday", "threshold": 3}, "threshold"),
            (
                {"trigger": "schedule", "schedule": "0 9 * * *", "conditions": [Condition.make("has_tag", "a")]},
                "conditions",
            ),
            ({"trigger": "birthday", "conditions": [Condition.make("service_is", str(uuid.uuid4()))]}, "conditions"),
            (
                {"trigger": "booking_created", "conditions": [Condition.make("service_is", str(uuid.uuid4()))]},
                "conditions",
            ),
        ],
    )
    def test_refused_naming_the_field_and_nothing_stored(
        self, app: CoachOS, world: World, kwargs: dict[str, object], field: str
    ) -> None:
        """A trigger without what it needs (or with what it cannot use) is a ValidationError naming the field."""
        with pytest.raises(ValidationError) as err:
            app.execute(CreateAutomation(org_id=world.org.id, actor=world.me, name="x", action=TODO, **kwargs))  # type: ignore[arg-type]
        assert err.value.field == field
        assert app.execute(ListAutomations(org_id=world.org.id)) == []

    @pytest.mark.parametrize(
        ("make", "field"),
        [
            (lambda: SendMessage(channel="sms", body="Hi {first_name}"), "body"),
            (lambda: SendMessage(channel="sms", body="Hi {client_first_name"), "body"),
            (lambda: SendMessage(channel="sms", body="  "), "body"),
            (lambda: SendMessage(channel="email", body="Hi"), "subject"),
            (lambda: SendMessage(channel="sms", body="Hi", subject="No"), "subject"),
            (lambda: SendMessage(channel="fax", body="Hi"), "channel"),
            (lambda: SendMessage(channel="sms", body="x" * 1531), "body"),
            (lambda: CreateTodo(title=""), "title"),
            (lambda: CreateTodo(title="Call {name}"), "title"),
            (lambda: Condition.make("has_tag", ""), "conditions"),
            (lambda: Condition.make("status_is", "vip"), "conditions"),
            (lambda: Condition.make("likes", "x"), "conditions"),
        ],
    )
    def test_bad_actions_and_conditions_name_their_field(self, make: object, field: str) -> None:
        """Malformed actions and conditions are refused as they are made, naming the field."""
        with pytest.raises(ValidationError) as err:
            make()  # type: ignore[operator]
        assert err.value.field == field

    def test_birthdays_are_dates(self, app: CoachOS, world: World) -> None:
        """A birthday that is not a date is refused naming it; an empty one clears it."""
        with pytest.raises(ValidationError) as err:
            app.execute(UpdateClient(org_id=world.org.id, client_id=world.client.id, actor=world.me, birthday="31/02"))
        assert err.value.field == "birthday"
        set_birthday(app, world, world.client, date(1990, 5, 1))
        cleared = app.execute(UpdateClient(org_id=world.org.id, client_id=world.client.id, actor=world.me, birthday=""))
        assert cleared.birthday is None
