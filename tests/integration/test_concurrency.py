"""Races on real connections: credits, seats and cancellations stay right under concurrent requests.

Each worker runs a whole use case on its own pooled connection; a barrier releases them together
so their transactions overlap. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar
from uuid import uuid4

import attrs
import pytest

from coachos import (
    Actor,
    AddCoach,
    BookAsGuest,
    BookSession,
    CancelBooking,
    CoachOS,
    CoachOSError,
    CreateService,
    Money,
    NoCreditsLeft,
    SlotUnavailable,
    UseCredit,
)
from coachos.domain.bookings import Booking
from coachos.domain.catalog import PaymentMethod, PaymentState, Service
from coachos.domain.ids import PackageId
from tests.helpers import World, add_client, local, make_world

T = TypeVar("T")


def race(calls: Sequence[Callable[[], T]]) -> list[T | CoachOSError]:
    """Run every call at once on its own thread; each result, or the domain error it raised."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T | CoachOSError:
        barrier.wait(timeout=30)
        try:
            return call()
        except CoachOSError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def kinds(results: Sequence[object]) -> Counter[str]:
    return Counter("ok" if not isinstance(r, CoachOSError) else type(r).__name__ for r in results)


def drop_in(app: CoachOS, w: World, capacity: int = 50, *, uses_credit: bool = False) -> Service:
    return app.execute(
        CreateService(
            org_id=w.org.id,
            name="Drop-in",
            duration=timedelta(minutes=60),
            price=Money(0, "USD"),
            capacity=capacity,
            uses_credit=uses_credit,
            actor=w.me,
        )
    )


def used(app: CoachOS, w: World) -> int:
    with app.unit_of_work() as uow:
        return uow.packages.get(w.org.id, w.package.id).used


class TestCreditRaces:
    def test_fifty_uses_of_a_ten_session_package(self, app: CoachOS) -> None:
        """Fifty concurrent uses of a ten-session package: exactly ten succeed, forty hear no credits are left."""
        w = make_world(app, sessions=10)
        service = drop_in(app, w)
        bookings: list[Booking] = [
            app.execute(
                BookSession(
                    org_id=w.org.id,
                    coach_id=w.coach.id,
                    service_id=service.id,
                    client_id=w.client.id,
                    start=local(w, 3, 10),
                    actor=w.me,
                )
            )
            for _ in range(50)
        ]
        results = race(
            [
                lambda b=b: app.execute(
                    UseCredit(org_id=w.org.id, booking_id=b.id, package_id=w.package.id, actor=w.me)
                )
                for b in bookings
            ]
        )
        assert kinds(results) == {"ok": 10, "NoCreditsLeft": 40}
        assert all(isinstance(r, NoCreditsLeft) for r in results if isinstance(r, CoachOSError))
        assert used(app, w) == 10
        with app.unit_of_work() as uow:
            assert len(uow.packages.credit_events(w.org.id, w.package.id)) == 10

    def test_unpaid_package_gives_no_credit_to_racing_uses(self, app: CoachOS) -> None:
        """Twenty concurrent uses of a package whose card payment is pending: none succeeds, none is counted.

        The database's conditional UPDATE checks the payment state, so even a caller that skips the
        domain's own check (UseCredit names the package) cannot spend an unpaid credit.
        """
        w = make_world(app, sessions=1)
        service = drop_in(app, w)
        pending = attrs.evolve(
            w.package,
            id=PackageId(uuid4()),
            total=5,
            used=0,
            payment_state=PaymentState.PENDING,
            payment_method=PaymentMethod.CARD,
        )
        with app.unit_of_work() as uow:
            uow.packages.add(pending)
            uow.commit()
        bookings = [
            app.execute(
                BookSession(
                    org_id=w.org.id,
                    coach_id=w.coach.id,
                    service_id=service.id,
                    client_id=w.client.id,
                    start=local(w, 3, 10),
                    actor=w.me,
                )
            )
            for _ in range(20)
        ]
        results = race(
            [
                lambda b=b: app.execute(UseCredit(org_id=w.org.id, booking_id=b.id, package_id=pending.id, actor=w.me))
                for b in bookings
            ]
        )
        assert kinds(results) == {"PackageUnpaid": 20}
        with app.unit_of_work() as uow:
            assert uow.packages.get(w.org.id, pending.id).used == 0
            assert len(uow.packages.credit_events(w.org.id, pending.id)) == 0

    def test_one_bookings_credit_asked_twenty_times(self, app: CoachOS) -> None:
        """The same booking's credit requested twenty times at once is used exactly once."""
        w = make_world(app, sessions=10)
        service = drop_in(app, w)
        booking = app.execute(
            BookSession(
                org_id=w.org.id,
                coach_id=w.coach.id,
                service_id=service.id,
                client_id=w.client.id,
                start=local(w, 3, 10),
                actor=w.me,
            )
        )
        results = race(
            [lambda: app.execute(UseCredit(org_id=w.org.id, booking_id=booking.id, actor=w.me)) for _ in range(20)]
        )
        changes = [r for r in results if not isinstance(r, CoachOSError)]
        assert len(changes) == 20
        assert sum(c.applied for c in changes) == 1
        assert used(app, w) == 1

    def test_fifty_bookings_paid_from_ten_credits(self, app: CoachOS) -> None:
        """Fifty concurrent bookings of a credit-using class by one client with ten credits: ten are booked."""
        w = make_world(app, sessions=10)
        service = drop_in(app, w, uses_credit=True)
        results = race(
            [
                lambda: app.execute(
                    BookSession(
                        org_id=w.org.id,
                        coach_id=w.coach.id,
                        service_id=service.id,
                        client_id=w.client.id,
                        start=local(w, 3, 10),
                        actor=w.me,
                    )
                )
                for _ in range(50)
            ]
        )
        assert kinds(results) == {"ok": 10, "NoCreditsLeft": 40}
        assert used(app, w) == 10
        with app.unit_of_work() as uow:
            assert len(uow.bookings.for_client(w.org.id, w.client.id)) == 10
            (block,) = uow.calendar.busy(w.org.id, w.coach.id, local(w, 3, 10), local(w, 3, 11))
            assert block.seats_left == 40

    def test_cancelling_twenty_times_returns_one_credit(self, app: CoachOS) -> None:
        """Twenty concurrent cancellations of one booking return its credit once."""
        w = make_world(app, sessions=10)
        booking = app.execute(
            BookSession(
                org_id=w.org.id,
                coach_id=w.coach.id,
                service_id=w.pt.id,
                client_id=w.client.id,
                start=local(w, 5, 10),
                actor=w.me,
            )
        )
        assert used(app, w) == 1
        results = race(
            [lambda: app.execute(CancelBooking(org_id=w.org.id, booking_id=booking.id, actor=w.me)) for _ in range(20)]
        )
        assert kinds(results) == {"ok": 20}
        assert used(app, w) == 0
        with app.unit_of_work() as uow:
            history = uow.packages.credit_events(w.org.id, w.package.id)
        assert [e.kind.value for e in history] == ["use", "return"]


class TestSeatRaces:
    def test_twenty_clients_one_slot(self, app: CoachOS) -> None:
        """Twenty concurrent bookings of one coach's same slot: exactly one succeeds, and only it uses a credit."""
        w = make_world(app)
        clients = [add_client(app, w, f"Client {i}", sessions=1) for i in range(20)]
        results = race(
            [
                lambda c=c: app.execute(
                    BookSession(
                        org_id=w.org.id,
                        coach_id=w.coach.id,
                        service_id=w.pt.id,
                        client_id=c.id,
                        start=local(w, 3, 10),
                        actor=w.me,
                    )
                )
                for c in clients
            ]
        )
        assert kinds(results) == {"ok": 1, "SlotUnavailable": 19}
        with app.unit_of_work() as uow:
            assert len(uow.bookings.between(w.org.id, local(w, 3, 0), local(w, 4, 0))) == 1
            assert sum(p.used for c in clients for p in uow.packages.for_client(w.org.id, c.id)) == 1

    def test_overlapping_starts_race(self, app: CoachOS) -> None:
        """Concurrent bookings at 10:00, 10:30 and 11:00 of sixty-minute sessions never overlap on the calendar."""
        w = make_world(app)
        clients = [add_client(app, w, f"Client {i}", sessions=1) for i in range(12)]
        starts = [local(w, 3, 10), local(w, 3, 10, 30), local(w, 3, 11)] * 4
        results = race(
            [
                lambda c=c, s=s: app.execute(
                    BookSession(
                        org_id=w.org.id, coach_id=w.coach.id, service_id=w.pt.id, client_id=c.id, start=s, actor=w.me
                    )
                )
                for c, s in zip(clients, starts, strict=True)
            ]
        )
        booked = sorted(r.start for r in results if isinstance(r, Booking))
        assert all(isinstance(r, SlotUnavailable) for r in results if isinstance(r, CoachOSError))
        assert 1 <= len(booked) <= 2
        assert all(b - a >= timedelta(minutes=60) for a, b in itertools.pairwise(booked))

    def test_class_capacity_race(self, app: CoachOS) -> None:
        """Twenty concurrent bookings of a three-seat class: exactly three get a seat."""
        w = make_world(app)
        clients = [add_client(app, w, f"Client {i}") for i in range(20)]
        results = race(
            [
                lambda c=c: app.execute(
                    BookSession(
                        org_id=w.org.id,
                        coach_id=w.coach.id,
                        service_id=w.group.id,
                        client_id=c.id,
                        start=local(w, 3, 10),
                        actor=w.me,
                    )
                )
                for c in clients
            ]
        )
        assert kinds(results) == {"ok": 3, "SlotUnavailable": 17}

    def test_double_click_with_one_key(self, app: CoachOS) -> None:
        """Ten concurrent submissions of one booking request with the same key make one booking."""
        w = make_world(app)
        results = race(
            [
                lambda: app.execute(
                    BookSession(
                        org_id=w.org.id,
                        coach_id=w.coach.id,
                        service_id=w.pt.id,
                        client_id=w.client.id,
                        start=local(w, 3, 10),
                        actor=w.me,
                        idempotency_key="form-123",
                    )
                )
                for _ in range(10)
            ]
        )
        assert kinds(results) == {"ok": 10}
        assert len({r.id for r in results if isinstance(r, Booking)}) == 1
        assert used(app, w) == 1


@pytest.fixture(autouse=True)
def _enough_connections(app: CoachOS) -> None:
    """Races need the pool to hand each worker its own connection (checked, not assumed)."""
    engine_pool = getattr(app.unit_of_work(), "_engine", None)
    if engine_pool is not None and engine_pool.dialect.name == "postgresql":
        assert engine_pool.pool.size() + engine_pool.pool._max_overflow >= 50


class TestRescheduleRaces:
    def test_reschedules_racing_bookings_neither_deadlock_nor_overlap(self, app: CoachOS) -> None:
        """Moves racing new bookings of the freed and target times all finish, and never overlap."""
        from coachos import RescheduleBooking

        w = make_world(app)
        movers = [add_client(app, w, f"Mover {i}", sessions=2) for i in range(4)]
        booked = [
            app.execute(
                BookSession(
                    org_id=w.org.id,
                    coach_id=w.coach.id,
                    service_id=w.pt.id,
                    client_id=c.id,
                    start=local(w, 4, 9 + 2 * i),
                    actor=w.me,
                )
            )
            for i, c in enumerate(movers)
        ]
        newcomers = [add_client(app, w, f"New {i}", sessions=1) for i in range(8)]
        calls: list[Callable[[], object]] = [
            lambda b=b, i=i: app.execute(
                RescheduleBooking(org_id=w.org.id, booking_id=b.id, new_start=local(w, 4, 10 + 2 * i), actor=w.me)
            )
            for i, b in enumerate(booked)
        ]
        calls += [
            lambda c=c, i=i: app.execute(
                BookSession(
                    org_id=w.org.id,
                    coach_id=w.coach.id,
                    service_id=w.pt.id,
                    client_id=c.id,
                    start=local(w, 4, 9 + i, 30 if i % 2 else 0),
                    actor=w.me,
                )
            )
            for i, c in enumerate(newcomers)
        ]
        results = race(calls)
        assert all(isinstance(r, SlotUnavailable) for r in results if isinstance(r, CoachOSError))
        with app.unit_of_work() as uow:
            active = sorted(
                (b.start, b.end)
                for b in uow.bookings.between(w.org.id, local(w, 4, 0), local(w, 5, 0))
                if b.status.is_open
            )
        assert len(active) >= len(booked)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(active))


class TestMoveTwice:
    def test_ten_identical_moves_move_once(self, app: CoachOS) -> None:
        """Ten concurrent requests to move one booking to the same time make one new booking."""
        from coachos import RescheduleBooking

        w = make_world(app)
        booking = app.execute(
            BookSession(
                org_id=w.org.id,
                coach_id=w.coach.id,
                service_id=w.pt.id,
                client_id=w.client.id,
                start=local(w, 4, 10),
                actor=w.me,
            )
        )
        results = race(
            [
                lambda: app.execute(
                    RescheduleBooking(org_id=w.org.id, booking_id=booking.id, new_start=local(w, 5, 10), actor=w.me)
                )
                for _ in range(10)
            ]
        )
        assert kinds(results) == {"ok": 10}
        assert len({r.id for r in results if isinstance(r, Booking)}) == 1
        assert used(app, w) == 1


def as_guest(w: World, service: Service, visitor: str, name: str, key: str = "form-1") -> BookAsGuest:
    """A public-form booking of `service` on Tuesday 10:00 by `visitor`, typing `name` and their own email."""
    return BookAsGuest(
        org_id=w.org.id,
        service_id=service.id,
        start=local(w, 3, 10),
        name=name,
        email=f"{name.split()[0].lower()}@example.com",
        sms_consent=False,
        consent_wording="",
        idempotency_key=key,
        visitor=visitor,
    )


class TestKeyScopeRaces:
    def test_one_key_raced_by_many_callers_answers_each_their_own(self, app: CoachOS) -> None:
        """Eight visitors and two coaches sending one key at once each get their own booking, never another's."""
        w = make_world(app)
        service = drop_in(app, w)
        other = app.execute(AddCoach(org_id=w.org.id, name="Robin Hale", email="robin@example.com", actor=w.me))
        coaches = [w.me, Actor("coach", other.id)]
        visitors = [f"Visitor{i} Person" for i in range(8)]
        calls: list[Callable[[], Booking]] = [
            lambda name=name: app.execute(as_guest(w, service, f"cookie-{name}", name)) for name in visitors
        ]
        calls += [
            lambda actor=actor: app.execute(
                BookSession(
                    org_id=w.org.id,
                    coach_id=w.coach.id,
                    service_id=service.id,
                    client_id=w.client.id,
                    start=local(w, 3, 10),
                    actor=actor,
                    idempotency_key="form-1",
                )
            )
            for actor in coaches
        ]
        results = race(calls)
        assert kinds(results) == {"ok": 10}
        booked = [r for r in results if isinstance(r, Booking)]
        assert len({b.id for b in booked}) == 10
        assert [b.guest.name if b.guest else None for b in booked] == [*visitors, None, None]
        assert [b.created_by for b in booked[8:]] == coaches

    def test_one_key_raced_by_one_visitor_books_once(self, app: CoachOS) -> None:
        """Ten submissions of one visitor's form at once make one booking and one lead, and all answer with it."""
        w = make_world(app)
        service = drop_in(app, w)
        results = race([lambda: app.execute(as_guest(w, service, "cookie-1", "Casey Morgan")) for _ in range(10)])
        assert kinds(results) == {"ok": 10}
        assert len({r.id for r in results if isinstance(r, Booking)}) == 1
        with app.unit_of_work() as uow:
            assert [c.name for c in uow.clients.list(w.org.id)] == ["Casey Morgan", "Jordan Lee"]
