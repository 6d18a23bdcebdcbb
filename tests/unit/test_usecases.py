"""The use cases' behaviour. Runs on the fakes here and on SQLite and PostgreSQL in tests/integration."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from coachos import (
    Actor,
    AddCoach,
    AddDateOverride,
    BookingStatus,
    BookSession,
    CancelBooking,
    CoachOS,
    CompleteBooking,
    ConfirmBooking,
    Conflict,
    CreateClient,
    CreateService,
    CurrencyMismatch,
    FindSlots,
    InvalidTransition,
    ListBookings,
    MarkNoShow,
    Money,
    NoCreditsLeft,
    NotFound,
    PackageExpired,
    PolicyViolation,
    RemoveDateOverride,
    SellPackage,
    SlotUnavailable,
    UseCredit,
    ValidationError,
)
from coachos.adapters.clock import FixedClock
from coachos.domain import events
from coachos.domain.catalog import PaymentMethod, PaymentState, SessionPackage
from coachos.domain.errors import PackageUnpaid
from coachos.domain.ids import PackageId
from tests.helpers import World, add_client, local, make_world


def book(app: CoachOS, w: World, start_day: int = 3, hour: int = 10, **kw: object) -> object:
    cmd = {
        "org_id": w.org.id,
        "coach_id": w.coach.id,
        "service_id": w.pt.id,
        "client_id": w.client.id,
        "start": local(w, start_day, hour),
        "actor": w.me,
    } | kw
    return app.execute(BookSession(**cmd))  # type: ignore[arg-type]


def package_used(app: CoachOS, w: World, package_id: object = None) -> int:
    with app.unit_of_work() as uow:
        return uow.packages.get(w.org.id, package_id or w.package.id).used  # type: ignore[arg-type]


def outbox_types(app: CoachOS, w: World) -> list[str]:
    """The types of the organisation's stored events, oldest first (the outbox serves every tenant)."""
    with app.unit_of_work() as uow:
        return [type(e).__name__ for e in uow.outbox.pending(limit=100_000) if e.org_id == w.org.id]


class TestSetup:
    def test_duplicate_slug_is_a_conflict_and_writes_nothing(self, app: CoachOS, world: World) -> None:
        """A second organisation with a taken slug is refused and leaves no coach behind."""
        with pytest.raises(Conflict, match="taken"):
            make_world(app, slug=world.org.slug)
        with app.unit_of_work() as uow:
            assert [c.id for c in uow.coaches.list(world.org.id)] == [world.coach.id]

    def test_unknown_timezone_is_refused(self, app: CoachOS) -> None:
        """An organisation in an unknown zone is refused with a message naming the field."""
        with pytest.raises(ValidationError, match="time zone") as info:
            make_world(app, timezone="Mars/Olympus_Mons")
        assert info.value.field == "timezone"

    def test_service_price_in_another_currency_is_refused(self, app: CoachOS, world: World) -> None:
        """A service priced in a currency other than the organisation's is refused."""
        with pytest.raises(CurrencyMismatch, match="USD"):
            app.execute(
                CreateService(
                    org_id=world.org.id,
                    name="X",
                    duration=timedelta(minutes=30),
                    price=Money(100, "EUR"),
                    actor=world.me,
                )
            )

    def test_bad_phone_writes_no_client(self, app: CoachOS, world: World) -> None:
        """A client with a phone lacking its country code is refused and not stored."""
        with pytest.raises(ValidationError, match="country code"):
            app.execute(CreateClient(org_id=world.org.id, name="Kim", phone="555 0101", actor=world.me))
        with app.unit_of_work() as uow:
            assert [c.name for c in uow.clients.list(world.org.id)] == ["Jordan Lee"]

    def test_client_search_matches_name_email_and_phone(self, app: CoachOS, world: World) -> None:
        """Searching clients finds them by part of the name, email or phone, case-insensitively."""
        app.execute(CreateClient(org_id=world.org.id, name="Sam Patel", email="sam@x.io", actor=world.me))
        with app.unit_of_work() as uow:
            assert [c.name for c in uow.clients.list(world.org.id, search="PAT")] == ["Sam Patel"]
            assert [c.name for c in uow.clients.list(world.org.id, search="sam@")] == ["Sam Patel"]
            assert [c.name for c in uow.clients.list(world.org.id, search="5550101")] == ["Jordan Lee"]
            assert uow.clients.list(world.org.id, search="100%") == []

    def test_events_are_recorded_with_the_change(self, app: CoachOS, world: World) -> None:
        """Setting up a business records its events in the outbox, in order."""
        assert outbox_types(app, world)[:2] == ["OrganizationCreated", "CoachAdded"]
        assert "PackageSold" in outbox_types(app, world)


class TestFindSlots:
    def test_slots_follow_hours_notice_and_bookings(self, app: CoachOS, world: World) -> None:
        """Slots run hourly-by-half-hour inside hours, skip the booked hour and respect minimum notice."""
        book(app, world, 3, 10)
        slots = app.execute(
            FindSlots(
                org_id=world.org.id,
                coach_id=world.coach.id,
                service_id=world.pt.id,
                start=local(world, 3, 0),
                end=local(world, 4, 0),
            )
        )
        starts = [s.start.astimezone(world.org.tz).strftime("%H:%M") for s in slots]
        assert starts[0] == "09:00"
        assert starts[-1] == "16:00"
        assert not {"09:30", "10:00", "10:30"} & set(starts)
        assert "11:00" in starts

    def test_day_off_removes_slots_until_the_override_goes(self, app: CoachOS, world: World) -> None:
        """A whole-day override empties the day; removing it brings the weekly hours back."""
        query = FindSlots(
            org_id=world.org.id,
            coach_id=world.coach.id,
            service_id=world.pt.id,
            start=local(world, 4, 0),
            end=local(world, 5, 0),
        )
        before = app.execute(query)
        day_off = app.execute(
            AddDateOverride(
                org_id=world.org.id,
                coach_id=world.coach.id,
                on=local(world, 4, 12).date(),
                available=False,
                actor=world.me,
            )
        )
        assert app.execute(query) == []
        other = make_world(app)
        with pytest.raises(NotFound):
            app.execute(
                RemoveDateOverride(org_id=other.org.id, coach_id=other.coach.id, override_id=day_off.id, actor=other.me)
            )
        app.execute(
            RemoveDateOverride(org_id=world.org.id, coach_id=world.coach.id, override_id=day_off.id, actor=world.me)
        )
        assert app.execute(query) == before

    def test_range_must_be_ordered_and_bounded(self, app: CoachOS, world: World) -> None:
        """An empty, reversed or over-long range is refused."""
        base = {"org_id": world.org.id, "coach_id": world.coach.id, "service_id": world.pt.id}
        with pytest.raises(ValidationError, match="after its start"):
            app.execute(FindSlots(**base, start=local(world, 4, 0), end=local(world, 3, 0)))
        with pytest.raises(ValidationError, match="92 days"):
            app.execute(FindSlots(**base, start=local(world, 3, 0), end=local(world, 3, 0) + timedelta(days=100)))


class TestBookSession:
    def test_booking_uses_one_credit_and_records_events(self, app: CoachOS, world: World) -> None:
        """Booking a PT session takes a seat, uses one credit and records both facts."""
        booking = book(app, world)
        assert booking.status is BookingStatus.REQUESTED  # type: ignore[attr-defined]
        assert booking.package_id == world.package.id  # type: ignore[attr-defined]
        assert package_used(app, world) == 1
        assert outbox_types(app, world)[-2:] == ["BookingRequested", "CreditUsed"]

    def test_same_slot_twice_is_refused(self, app: CoachOS, world: World) -> None:
        """A coach is never double-booked: the second booking of a taken time is refused and uses no credit."""
        book(app, world)
        other = add_client(app, world, sessions=5)
        with pytest.raises(SlotUnavailable):
            book(app, world, client_id=other.id)
        with pytest.raises(SlotUnavailable):
            book(app, world, 3, 10, client_id=other.id, start=local(world, 3, 10, 30))
        assert package_used(app, world) == 1

    def test_buffer_keeps_the_next_start_away(self, app: CoachOS, clock: FixedClock) -> None:
        """With a 15-minute buffer a session cannot start right when the previous one ends."""
        from coachos import BookingPolicy

        w = make_world(app, policy=BookingPolicy(min_notice=timedelta(0), buffer=timedelta(minutes=15)))
        book(app, w, 3, 10)
        other = add_client(app, w, sessions=2)
        with pytest.raises(SlotUnavailable):
            book(app, w, 3, 11, client_id=other.id)

    def test_idempotency_key_returns_the_first_booking(self, app: CoachOS, world: World) -> None:
        """Repeating a booking request with the same key returns the first booking and uses no second credit."""
        first = book(app, world, idempotency_key="click-1")
        again = book(app, world, idempotency_key="click-1")
        assert again == first
        assert package_used(app, world) == 1

    def test_idempotency_key_reused_for_another_booking_is_refused(self, app: CoachOS, world: World) -> None:
        """Reusing a request key for a different time is a conflict, not a silent return of the old booking."""
        book(app, world, idempotency_key="click-1")
        with pytest.raises(Conflict, match="different booking"):
            book(app, world, 3, 14, idempotency_key="click-1")
        assert package_used(app, world) == 1

    def test_another_callers_key_is_another_key(self, app: CoachOS, world: World) -> None:
        """The same key from another coach neither answers with the first coach's booking nor is refused for it."""
        other = app.execute(AddCoach(org_id=world.org.id, name="Robin Hale", email="robin@example.com", actor=world.me))
        them = Actor("coach", other.id)
        first = book(app, world, service_id=world.group.id, idempotency_key="click-1")
        theirs = book(app, world, 3, 14, service_id=world.group.id, idempotency_key="click-1", actor=them)
        alike = book(app, world, service_id=world.group.id, idempotency_key="click-2")
        same = book(app, world, service_id=world.group.id, idempotency_key="click-2", actor=them)
        assert len({first.id, theirs.id, alike.id, same.id}) == 4  # type: ignore[attr-defined]
        assert book(app, world, 3, 14, service_id=world.group.id, idempotency_key="click-1", actor=them) == theirs
        assert book(app, world, service_id=world.group.id, idempotency_key="click-1") == first

    def test_an_explicit_scope_keeps_keys_apart(self, app: CoachOS, world: World) -> None:
        """Two library callers naming their own scopes may use the same key without meeting each other's bookings."""
        first = book(app, world, service_id=world.group.id, idempotency_key="k", idempotency_scope="integration-a")
        second = book(app, world, service_id=world.group.id, idempotency_key="k", idempotency_scope="integration-b")
        assert first != second
        assert (
            book(app, world, service_id=world.group.id, idempotency_key="k", idempotency_scope="integration-a") == first
        )

    def test_past_notice_and_horizon_are_policy_errors(self, app: CoachOS, world: World) -> None:
        """Times in the past, inside the minimum notice or beyond the horizon are refused with reasons."""
        with pytest.raises(PolicyViolation, match="already passed"):
            book(app, world, 1, 10)
        with pytest.raises(PolicyViolation, match="notice"):
            book(app, world, start=local(world, 2, 7, 30))
        with pytest.raises(PolicyViolation, match="ahead"):
            book(app, world, start=local(world, 2, 10) + timedelta(days=200))
        assert package_used(app, world) == 0

    def test_outside_hours_is_refused(self, app: CoachOS, world: World) -> None:
        """A time outside the coach's hours or off the slot grid is not available."""
        with pytest.raises(SlotUnavailable):
            book(app, world, 3, 20)
        with pytest.raises(SlotUnavailable):
            book(app, world, start=local(world, 3, 10, 10))

    def test_naive_start_is_refused(self, app: CoachOS, world: World) -> None:
        """A start time without a zone is refused rather than guessed."""
        with pytest.raises(ValidationError, match="time zone"):
            book(app, world, start=local(world, 3, 10).replace(tzinfo=None))

    def test_no_credits_refuses_and_writes_nothing(self, app: CoachOS, world: World) -> None:
        """A client without usable credits cannot book a credit-using service, and no booking is stored."""
        other = add_client(app, world)
        with pytest.raises(NoCreditsLeft):
            book(app, world, client_id=other.id)
        assert app.execute(ListBookings(org_id=world.org.id, start=local(world, 1, 0), end=local(world, 30, 0))) == []

    def test_expired_package_is_refused(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A package past its expiry cannot pay for a booking."""
        other = add_client(app, world)
        pkg = app.execute(
            SellPackage(
                org_id=world.org.id,
                client_id=other.id,
                name="Short",
                sessions=3,
                price=Money(0, "USD"),
                expires_at=clock.now() + timedelta(hours=2),
                actor=world.me,
            )
        )
        clock.advance(timedelta(hours=3))
        with pytest.raises(PackageExpired):
            book(app, world, client_id=other.id, package_id=pkg.id)
        with pytest.raises(NoCreditsLeft):
            book(app, world, client_id=other.id)

    def test_unpaid_package_is_passed_over(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A package whose card payment has not succeeded pays for nothing; a paid one is used instead."""
        other = add_client(app, world)
        pending = SessionPackage(
            id=PackageId(uuid4()),
            org_id=world.org.id,
            client_id=other.id,
            name="By card",
            total=5,
            price=Money(5000, "USD"),
            purchased_at=clock.now(),
            payment_state=PaymentState.PENDING,
            payment_method=PaymentMethod.CARD,
        )
        with app.unit_of_work() as uow:
            uow.packages.add(pending)
            uow.commit()
        assert not pending.usable(clock.now())
        with pytest.raises(PackageUnpaid, match="not been paid"):
            book(app, world, client_id=other.id, package_id=pending.id)
        with pytest.raises(NoCreditsLeft):
            book(app, world, client_id=other.id)
        with app.unit_of_work() as uow:
            assert uow.packages.get(world.org.id, pending.id).used == 0

    def test_group_class_fills_to_capacity(self, app: CoachOS, world: World) -> None:
        """A three-seat class takes three bookings at the same time and refuses the fourth."""
        clients = [add_client(app, world, f"C{i}") for i in range(4)]
        for c in clients[:3]:
            book(app, world, service_id=world.group.id, client_id=c.id)
        with pytest.raises(SlotUnavailable, match="full"):
            book(app, world, service_id=world.group.id, client_id=clients[3].id)

    def test_other_orgs_ids_are_not_found(self, app: CoachOS, world: World) -> None:
        """Ids from another organisation behave as if they did not exist, and nothing is written."""
        other = make_world(app)
        for kw in ({"client_id": other.client.id}, {"service_id": other.pt.id}, {"coach_id": other.coach.id}):
            with pytest.raises(NotFound):
                book(app, world, **kw)
        with pytest.raises(NotFound):
            book(app, world, package_id=other.package.id)
        assert package_used(app, other, other.package.id) == 0
        assert package_used(app, world) == 0

    def test_anothers_package_is_refused(self, app: CoachOS, world: World) -> None:
        """A client cannot pay with another client's package."""
        other = add_client(app, world, sessions=1)
        with pytest.raises(ValidationError, match="another client"):
            book(app, world, client_id=other.id, package_id=world.package.id)


class TestCredits:
    def test_last_credit_then_refusal(self, app: CoachOS) -> None:
        """Using the last credit leaves none and a further use is refused."""
        w = make_world(app, sessions=2)
        book(app, w, 3, 9)
        book(app, w, 3, 11)
        with pytest.raises(NoCreditsLeft):
            book(app, w, 3, 13)
        assert package_used(app, w) == 2

    def test_use_credit_twice_for_one_booking_counts_once(self, app: CoachOS, world: World) -> None:
        """Charging the same booking to a package again changes nothing."""
        booking = book(app, world)
        change = app.execute(UseCredit(org_id=world.org.id, booking_id=booking.id, actor=world.me))  # type: ignore[attr-defined]
        assert change.applied is False
        assert change.used == 1
        assert package_used(app, world) == 1

    def test_history_keeps_who_when_why(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """Every use and return is kept with actor, time and reason."""
        booking = book(app, world)
        app.execute(CancelBooking(org_id=world.org.id, booking_id=booking.id, actor=world.me, reason="sick"))  # type: ignore[attr-defined]
        with app.unit_of_work() as uow:
            history = uow.packages.credit_events(world.org.id, world.package.id)
        assert [(e.kind.value, e.actor, e.reason) for e in history] == [
            ("use", world.me, "booked"),
            ("return", world.me, "sick"),
        ]
        assert all(e.at == clock.now() for e in history)


class TestCancelBooking:
    def test_in_policy_cancel_returns_credit_and_frees_slot(self, app: CoachOS, world: World) -> None:
        """A client cancelling within policy gets the credit back and the time is bookable again."""
        client_actor = Actor("client", world.client.id)
        booking = book(app, world, 5, 10)
        cancelled = app.execute(CancelBooking(org_id=world.org.id, booking_id=booking.id, actor=client_actor))  # type: ignore[attr-defined]
        assert cancelled.status is BookingStatus.CANCELLED
        assert cancelled.updated_by == client_actor
        assert package_used(app, world) == 0
        book(app, world, 5, 10)
        assert package_used(app, world) == 1

    def test_late_client_cancel_keeps_the_credit(self, app: CoachOS, world: World) -> None:
        """A client cancelling inside the cancellation window forfeits the credit."""
        booking = book(app, world, 2, 14)
        app.execute(CancelBooking(org_id=world.org.id, booking_id=booking.id, actor=Actor("client", world.client.id)))  # type: ignore[attr-defined]
        assert package_used(app, world) == 1
        assert outbox_types(app, world)[-1] == "BookingCancelled"

    def test_cancel_twice_returns_credit_once(self, app: CoachOS, world: World) -> None:
        """Cancelling again returns the cancelled booking and does not return a second credit."""
        booking = book(app, world, 5, 10)
        first = app.execute(CancelBooking(org_id=world.org.id, booking_id=booking.id, actor=world.me))  # type: ignore[attr-defined]
        second = app.execute(CancelBooking(org_id=world.org.id, booking_id=booking.id, actor=world.me))  # type: ignore[attr-defined]
        assert first == second
        assert package_used(app, world) == 0
        assert outbox_types(app, world).count("CreditReturned") == 1

    def test_only_coach_decides_on_credit(self, app: CoachOS, world: World) -> None:
        """A client cannot choose to have the credit returned."""
        booking = book(app, world, 5, 10)
        with pytest.raises(PolicyViolation, match="Only the coach"):
            app.execute(
                CancelBooking(
                    org_id=world.org.id,
                    booking_id=booking.id,
                    actor=Actor("client", world.client.id),
                    return_credit=True,  # type: ignore[attr-defined]
                )
            )


class TestMoves:
    def test_lifecycle_requested_confirmed_completed(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A booking is confirmed, then completed after it starts; completed cannot be cancelled."""
        booking = book(app, world, 3, 10)
        ids = {"org_id": world.org.id, "booking_id": booking.id, "actor": world.me}  # type: ignore[attr-defined]
        assert app.execute(ConfirmBooking(**ids)).status is BookingStatus.CONFIRMED
        with pytest.raises(PolicyViolation, match="not started"):
            app.execute(CompleteBooking(**ids))
        clock.set(local(world, 3, 11))
        done = app.execute(CompleteBooking(**ids))
        assert done.status is BookingStatus.COMPLETED
        assert app.execute(CompleteBooking(**ids)) == done
        with pytest.raises(InvalidTransition, match="completed booking cannot be cancelled"):
            app.execute(CancelBooking(**ids))
        with pytest.raises(InvalidTransition):
            app.execute(MarkNoShow(**ids))

    def test_no_show_keeps_credit(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A no-show leaves the credit used."""
        booking = book(app, world, 3, 10)
        clock.set(local(world, 3, 10, 30))
        assert (
            app.execute(MarkNoShow(org_id=world.org.id, booking_id=booking.id, actor=world.me)).status
            is BookingStatus.NO_SHOW
        )  # type: ignore[attr-defined]
        assert package_used(app, world) == 1


class TestOutbox:
    def test_events_carry_no_personal_data(self, app: CoachOS, world: World) -> None:
        """Stored events hold ids and times, never the client's name or phone."""
        book(app, world)
        with app.unit_of_work() as uow:
            stored = [e for e in uow.outbox.pending(limit=100_000) if e.org_id == world.org.id]
        text = repr(stored)
        assert "Jordan" not in text
        assert "5550101" not in text
        assert any(isinstance(e, events.CreditUsed) for e in stored)

    def test_failed_use_case_records_no_events(self, app: CoachOS, world: World) -> None:
        """A refused booking leaves no event behind."""
        before = outbox_types(app, world)
        with pytest.raises(SlotUnavailable):
            book(app, world, 3, 20)
        assert outbox_types(app, world) == before


def test_a_command_registered_twice_fails_at_import() -> None:
    """Two use cases for one command would silently shadow each other; `handles` refuses the second."""
    import pytest

    from coachos.domain.usecases import HANDLERS, BookSession, handles

    before = HANDLERS[BookSession]
    with pytest.raises(RuntimeError, match="BookSession already has a use case"):
        handles(BookSession)(lambda cmd, deps: None)
    assert HANDLERS[BookSession] is before
