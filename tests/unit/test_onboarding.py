"""Onboarding flows on the fakes: the pure rules, Setup's edits, progress, holding bookings, reminders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock
from coachos.adapters.memory import FakeSteps
from coachos.adapters.onboarding_steps import StepRegistry
from coachos.domain.bookings import Booking, BookingStatus
from coachos.domain.errors import NotFound, PolicyViolation, ValidationError
from coachos.domain.ids import OrgId
from coachos.domain.messages import Message
from coachos.domain.onboarding import (
    OnboardingFlow,
    OnboardingStart,
    Step,
    StepKind,
    due_reminder,
    progress,
    step_kind,
)
from coachos.domain.usecases import (
    AddOnboardingStep,
    BookSession,
    ClientOnboarding,
    ConfirmBooking,
    CreateOnboardingFlow,
    DeleteOnboardingFlow,
    GetOnboardingFlow,
    HeldBookings,
    ListStepChoices,
    MoveOnboardingStep,
    RemoveOnboardingStep,
    SendOnboarding,
    SendOnboardingReminders,
    UpdateOnboardingFlow,
)
from tests.helpers import MONDAY_NOON_UTC, World, later, local, make_world
from tests.unit.test_public_usecases import guest


@pytest.fixture(name="steps")
def fake_steps(app: CoachOS) -> FakeSteps:
    """Waivers and forms the tests say exist and are done, plugged into the app's real step registry."""
    fake = FakeSteps()
    registry = app.deps.steps
    assert isinstance(registry, StepRegistry)
    for kind in (StepKind.SIGN_WAIVER, StepKind.FILL_FORM):
        registry.register(kind, fake.source(kind))
    return fake


def flow_with(app: CoachOS, w: World, steps: FakeSteps, *, gate: bool = True, count: int = 2) -> OnboardingFlow:
    """A flow 'New clients' of a waiver then a form (count 1: the waiver only), holding PT bookings if `gate`."""
    flow = app.execute(CreateOnboardingFlow(org_id=w.org.id, name="New clients", actor=w.me))
    waiver = steps.offer(w.org.id, StepKind.SIGN_WAIVER, uuid.uuid4(), "Liability waiver")
    form = steps.offer(w.org.id, StepKind.FILL_FORM, uuid.uuid4(), "Health screening")
    for step in (waiver, form)[:count]:
        app.execute(
            AddOnboardingStep(org_id=w.org.id, flow_id=flow.id, kind=step.kind.value, target=step.target, actor=w.me)
        )
    if gate:
        app.execute(
            UpdateOnboardingFlow(
                org_id=w.org.id,
                flow_id=flow.id,
                name="New clients",
                all_services=False,
                service_ids=frozenset({w.pt.id}),
                actor=w.me,
            )
        )
    return app.execute(GetOnboardingFlow(org_id=w.org.id, flow_id=flow.id))


def book(app: CoachOS, w: World, *, day: int = 4, confirm: bool = True, service: str = "pt") -> Booking:
    return app.execute(
        BookSession(
            org_id=w.org.id,
            coach_id=w.coach.id,
            service_id=(w.pt if service == "pt" else w.group).id,
            client_id=w.client.id,
            start=local(w, day, 10),
            actor=w.me,
            confirm=confirm,
        )
    )


def onboarding_messages(app: CoachOS, w: World) -> list[Message]:
    found = app.read(lambda uow: uow.messages.for_client(w.org.id, w.client.id))
    return [m for m in found if (m.key or "").startswith("onboarding:")]


def complete_all(steps: FakeSteps, w: World, flow: OnboardingFlow) -> None:
    for step in flow.steps:
        steps.complete(w.org.id, w.client.id, step)


class TestRules:
    def test_progress_counts_the_steps_done_in_order(self) -> None:
        """Progress is x/N over the flow's steps, listing what is missing in the flow's order."""
        a, b, c = (
            Step(StepKind.SIGN_WAIVER, uuid.uuid4()),
            Step(StepKind.FILL_FORM, uuid.uuid4()),
            Step(StepKind.FILL_FORM, uuid.uuid4()),
        )
        flow = OnboardingFlow(
            id=uuid.uuid4(), org_id=OrgId(uuid.uuid4()), name="F", steps=(a, b, c), created_at=MONDAY_NOON_UTC
        )
        p = progress(flow, {b: True})
        assert (p.summary, p.complete, p.missing) == ("1/3", False, (a, c))
        assert progress(flow, {a: True, b: True, c: True}).complete

    def test_billing_kinds_are_refused_with_a_reason(self) -> None:
        """Package and card steps are refused until payments exist; unknown kinds are named."""
        with pytest.raises(ValidationError, match="payments"):
            step_kind("buy_package")
        with pytest.raises(ValidationError, match="payments"):
            step_kind("add_card")
        with pytest.raises(ValidationError, match="sign_waiver"):
            step_kind("juggle")

    def test_reminders_fall_at_24h_72h_and_7d(self) -> None:
        """Each reminder is due at its time; after downtime only the latest due one is sent."""
        start = OnboardingStart(
            org_id=OrgId(uuid.uuid4()),
            flow_id=uuid.uuid4(),
            client_id=uuid.uuid4(),  # type: ignore[arg-type]
            started_at=MONDAY_NOON_UTC,
        )
        assert due_reminder(start, later(MONDAY_NOON_UTC, hours=23, minutes=59)) is None
        assert due_reminder(start, later(MONDAY_NOON_UTC, hours=24)).label == "24h"  # type: ignore[union-attr]
        assert due_reminder(start, later(MONDAY_NOON_UTC, hours=100)).label == "72h"  # type: ignore[union-attr]
        sent_two = OnboardingStart(
            org_id=start.org_id,
            flow_id=start.flow_id,
            client_id=start.client_id,
            started_at=MONDAY_NOON_UTC,
            reminders_sent=2,
        )
        assert due_reminder(sent_two, later(MONDAY_NOON_UTC, hours=100)) is None
        assert due_reminder(sent_two, later(MONDAY_NOON_UTC, days=7)).label == "7d"  # type: ignore[union-attr]


class TestSetup:
    def test_steps_are_added_reordered_and_removed(self, app: CoachOS, world: World, steps: FakeSteps) -> None:
        """A flow keeps its steps in the order the coach sets."""
        flow = flow_with(app, world, steps)
        waiver, form = flow.steps
        moved = app.execute(MoveOnboardingStep(org_id=world.org.id, flow_id=flow.id, index=1, by=-1, actor=world.me))
        assert moved.steps == (form, waiver)
        left = app.execute(RemoveOnboardingStep(org_id=world.org.id, flow_id=flow.id, index=0, actor=world.me))
        assert app.execute(GetOnboardingFlow(org_id=world.org.id, flow_id=flow.id)).steps == left.steps == (waiver,)
        assert left.services == frozenset({world.pt.id})

    def test_bad_steps_are_refused_and_nothing_is_stored(self, app: CoachOS, world: World, steps: FakeSteps) -> None:
        """Billing steps, targets the business does not have and repeats are refused; the flow is unchanged."""
        flow = flow_with(app, world, steps, count=1)
        other = make_world(app)
        theirs = steps.offer(other.org.id, StepKind.FILL_FORM, uuid.uuid4(), "Their form")
        for kind, target in (
            ("buy_package", uuid.uuid4()),
            ("fill_form", theirs.target),
            ("sign_waiver", flow.steps[0].target),
        ):
            with pytest.raises(ValidationError):
                app.execute(
                    AddOnboardingStep(org_id=world.org.id, flow_id=flow.id, kind=kind, target=target, actor=world.me)
                )
        with pytest.raises(ValidationError):
            app.execute(MoveOnboardingStep(org_id=world.org.id, flow_id=flow.id, index=0, by=1, actor=world.me))
        assert app.execute(GetOnboardingFlow(org_id=world.org.id, flow_id=flow.id)).steps == flow.steps

    def test_another_businesss_flow_and_services_are_not_found(
        self, app: CoachOS, world: World, steps: FakeSteps
    ) -> None:
        """Another business's flow cannot be read, edited or deleted, nor can its services be chosen."""
        flow = flow_with(app, world, steps)
        other = make_world(app)
        with pytest.raises(NotFound):
            app.execute(GetOnboardingFlow(org_id=other.org.id, flow_id=flow.id))
        with pytest.raises(NotFound):
            app.execute(DeleteOnboardingFlow(org_id=other.org.id, flow_id=flow.id, actor=other.me))
        with pytest.raises(NotFound):
            app.execute(
                UpdateOnboardingFlow(
                    org_id=world.org.id,
                    flow_id=flow.id,
                    name="X",
                    all_services=False,
                    service_ids=frozenset({other.pt.id}),
                    actor=world.me,
                )
            )
        assert app.execute(GetOnboardingFlow(org_id=world.org.id, flow_id=flow.id)).name == "New clients"

    def test_choices_list_what_steps_can_point_at(self, app: CoachOS, world: World, steps: FakeSteps) -> None:
        """The choices are the business's waivers and forms, by kind."""
        flow_with(app, world, steps)
        choices = app.execute(ListStepChoices(org_id=world.org.id))
        assert [c.title for c in choices["sign_waiver"]] == ["Liability waiver"]
        assert [c.title for c in choices["fill_form"]] == ["Health screening"]

    def test_a_deleted_flow_holds_nothing(self, app: CoachOS, world: World, steps: FakeSteps) -> None:
        """Once deleted, the flow no longer holds bookings."""
        flow = flow_with(app, world, steps)
        app.execute(DeleteOnboardingFlow(org_id=world.org.id, flow_id=flow.id, actor=world.me))
        assert book(app, world).status is BookingStatus.CONFIRMED


class TestProgressAndHolds:
    def test_progress_is_x_of_n(self, app: CoachOS, world: World, steps: FakeSteps) -> None:
        """The client's progress counts the steps the checks say are done."""
        flow = flow_with(app, world, steps)
        steps.complete(world.org.id, world.client.id, flow.steps[0])
        [p] = app.execute(ClientOnboarding(org_id=world.org.id, client_id=world.client.id))
        assert (p.flow.id, p.summary) == (flow.id, "1/2")
        assert (
            app.execute(ClientOnboarding(org_id=world.org.id, client_id=world.client.id, service_id=world.group.id))
            == []
        )

    def test_a_held_service_is_booked_as_requested_with_a_reason(
        self, app: CoachOS, world: World, steps: FakeSteps
    ) -> None:
        """Booking a held service confirms nothing; confirming is refused, saying why; other services are not held."""
        flow_with(app, world, steps)
        booking = book(app, world)
        assert booking.status is BookingStatus.REQUESTED
        with pytest.raises(PolicyViolation, match=r"Onboarding not complete: New clients 0/2"):
            app.execute(ConfirmBooking(org_id=world.org.id, booking_id=booking.id, actor=world.me))
        [held] = app.execute(
            HeldBookings(org_id=world.org.id, start=MONDAY_NOON_UTC, end=later(MONDAY_NOON_UTC, days=7))
        )
        assert (held.booking.id, held.reason) == (booking.id, "Onboarding not complete: New clients 0/2")
        assert book(app, world, day=5, service="group").status is BookingStatus.CONFIRMED

    def test_completing_the_last_step_leaves_the_booking_for_the_coach(
        self, app: CoachOS, world: World, steps: FakeSteps
    ) -> None:
        """After the last step the booking is still requested, no longer held, and the coach can confirm it."""
        flow = flow_with(app, world, steps)
        booking = book(app, world)
        complete_all(steps, world, flow)
        window = {"start": MONDAY_NOON_UTC, "end": later(MONDAY_NOON_UTC, days=7)}
        assert app.execute(HeldBookings(org_id=world.org.id, client_id=world.client.id, **window)) == []
        assert app.read(lambda uow: uow.bookings.get(world.org.id, booking.id)).status is BookingStatus.REQUESTED
        confirmed = app.execute(ConfirmBooking(org_id=world.org.id, booking_id=booking.id, actor=world.me))
        assert confirmed.status is BookingStatus.CONFIRMED
        assert book(app, world, day=5).status is BookingStatus.CONFIRMED

    def test_a_public_booking_by_a_new_person_starts_their_onboarding(
        self, app: CoachOS, world: World, steps: FakeSteps, clock: FixedClock
    ) -> None:
        """A public booking by someone new is held with its reason, and their reminders start with it."""
        flow_with(app, world, steps)
        booking = app.execute(guest(world))
        [held] = app.execute(
            HeldBookings(org_id=world.org.id, start=MONDAY_NOON_UTC, end=later(MONDAY_NOON_UTC, days=7))
        )
        assert (held.booking.id, held.client.name) == (booking.id, "Casey Morgan")
        [start] = app.read(lambda uow: uow.onboarding.starts_for(world.org.id, booking.client_id))
        assert start.started_at == clock.now()

    def test_a_flow_for_every_service_holds_them_all(self, app: CoachOS, world: World, steps: FakeSteps) -> None:
        """A flow for all services holds a class booking too."""
        flow = flow_with(app, world, steps, gate=False)
        app.execute(
            UpdateOnboardingFlow(org_id=world.org.id, flow_id=flow.id, name="All", all_services=True, actor=world.me)
        )
        assert book(app, world, service="group").status is BookingStatus.REQUESTED


class TestReminders:
    def tick_at(self, app: CoachOS, clock: FixedClock, at: datetime) -> int:
        clock.set(at)
        return app.execute(SendOnboardingReminders())

    def test_each_reminder_is_queued_once_at_24h_72h_and_7d(
        self, app: CoachOS, world: World, steps: FakeSteps, clock: FixedClock
    ) -> None:
        """Reminders go at 24 h, 72 h and 7 days after the first booking, once each however often ticked, then stop."""
        flow_with(app, world, steps)
        started = clock.now()
        book(app, world, day=20)
        for hours in (1, 23, 24, 24.5, 48, 72, 73, 7 * 24, 7 * 24 + 1, 30 * 24):
            self.tick_at(app, clock, later(started, hours=hours))
        keys = [m.key for m in onboarding_messages(app, world)]
        suffixes = [k.split(":", 3)[3] for k in keys if k]
        assert suffixes == ["24h:sms", "72h:sms", "7d:sms"]
        assert all(m.quiet_hours and m.purpose.value == "transactional" for m in onboarding_messages(app, world))

    def test_nothing_is_sent_once_complete(
        self, app: CoachOS, world: World, steps: FakeSteps, clock: FixedClock
    ) -> None:
        """A client who completes the flow after the first reminder gets no further one."""
        flow = flow_with(app, world, steps)
        started = clock.now()
        book(app, world, day=20)
        self.tick_at(app, clock, later(started, hours=24))
        complete_all(steps, world, flow)
        for hours in (72, 7 * 24, 8 * 24):
            self.tick_at(app, clock, later(started, hours=hours))
        assert [m.key for m in onboarding_messages(app, world)] == [f"onboarding:{flow.id}:{world.client.id}:24h:sms"]

    def test_a_restarted_worker_sends_nothing_twice(
        self, app: CoachOS, world: World, steps: FakeSteps, clock: FixedClock
    ) -> None:
        """A new app on the same storage (a restarted worker) repeats no reminder and sends the next one due."""
        flow_with(app, world, steps)
        started = clock.now()
        book(app, world, day=20)
        self.tick_at(app, clock, later(started, hours=25))
        with bootstrap(
            Settings(database_url="memory://"), uow=app.deps.uow, clock=clock, steps=app.deps.steps
        ) as restarted:
            self.tick_at(restarted, clock, later(started, hours=26))
            assert len(onboarding_messages(app, world)) == 1
            self.tick_at(restarted, clock, later(started, hours=72))
        assert len(onboarding_messages(app, world)) == 2

    def test_sending_the_flow_starts_it(self, app: CoachOS, world: World, steps: FakeSteps, clock: FixedClock) -> None:
        """The coach sending the flow messages the client once and starts the reminders from then."""
        flow = flow_with(app, world, steps, gate=False)
        for _ in range(2):
            assert (
                app.execute(
                    SendOnboarding(org_id=world.org.id, client_id=world.client.id, flow_id=flow.id, actor=world.me)
                ).summary
                == "0/2"
            )
        self.tick_at(app, clock, later(clock.now(), hours=24))
        keys = [m.key for m in onboarding_messages(app, world)]
        assert keys == [
            f"onboarding:{flow.id}:{world.client.id}:sent:sms",
            f"onboarding:{flow.id}:{world.client.id}:24h:sms",
        ]
        complete_all(steps, world, flow)
        with pytest.raises(ValidationError, match="already completed"):
            app.execute(SendOnboarding(org_id=world.org.id, client_id=world.client.id, flow_id=flow.id, actor=world.me))

    def test_a_booking_that_may_be_someone_else_starts_nothing(
        self, app: CoachOS, world: World, steps: FakeSteps, clock: FixedClock
    ) -> None:
        """Reminders never start from a public booking whose contact only matched a client on file."""
        from coachos.domain.bookings import GuestDetails

        flow_with(app, world, steps)
        guest = GuestDetails(
            name="J",
            email=None,
            phone=world.client.phone,
            sms_consent=False,
            consent_wording="",
            timezone=None,
            matched=True,
        )
        app.execute(
            BookSession(
                org_id=world.org.id,
                coach_id=world.coach.id,
                service_id=world.pt.id,
                client_id=world.client.id,
                start=local(world, 20, 10),
                actor=world.me,
                guest=guest,
            )
        )
        self.tick_at(app, clock, datetime(2026, 3, 10, tzinfo=UTC))
        assert onboarding_messages(app, world) == []
