"""Stored rows that cannot be read: named, never guessed at, never the caller's fault (on the in-memory fake)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from coachos import BookSession, CoachOS, FindSlots, ListBookings, Settings, bootstrap
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.adapters.memory import MemoryStore
from coachos.domain.errors import CorruptRecord, ValidationError
from coachos.domain.rows import Rows, corrupt_record, unreadable_in
from tests.helpers import World, add_client, local, make_world


@pytest.fixture
def store() -> MemoryStore:
    """The fake's storage, so tests can plant unreadable rows."""
    return MemoryStore()


@pytest.fixture
def app(store: MemoryStore, clock: FixedClock) -> Iterator[CoachOS]:
    """Coach OS on `store`."""
    with bootstrap(
        Settings(database_url="memory://"), uow=store.unit_of_work, clock=clock, ids=SequentialIds()
    ) as built:
        yield built


class TestRows:
    def test_is_a_list_of_the_records_read(self) -> None:
        """Rows compare, index and iterate as the list of records they hold."""
        rows = Rows(["a", "b"], [corrupt_record("packages", 1)])
        assert rows == ["a", "b"]
        assert rows[1] == "b"
        assert list(rows) == ["a", "b"]
        assert [r.row_id for r in rows.unreadable] == ["1"]

    def test_complete_answers_the_rows_only_when_every_row_was_read(self) -> None:
        """complete() answers the rows when none were left out and raises the first unreadable one otherwise."""
        assert Rows(["a"]).complete() == ["a"]
        with pytest.raises(CorruptRecord) as caught:
            Rows(["a"], [corrupt_record("weekly_rules", 7), corrupt_record("weekly_rules", 8)]).complete()
        assert (caught.value.table, caught.value.row_id) == ("weekly_rules", "7")

    def test_unreadable_in_names_each_row_once(self) -> None:
        """The same row met by two reads is named once, in the order first met."""
        a, b = corrupt_record("packages", "a"), corrupt_record("clients", "b")
        found = unreadable_in(Rows([], [a]), Rows([1], [corrupt_record("packages", "a"), b]), [b])
        assert [(r.table, r.row_id) for r in found] == [("packages", "a"), ("clients", "b")]


class TestCorruptRecord:
    def test_names_the_record_but_no_values(self) -> None:
        """The error names the kind, table and id of the row, and says the fault is not the caller's."""
        error = corrupt_record("packages", "1234", cause="ValidationError on currency")
        assert (error.what, error.table, error.row_id, error.code) == ("package", "packages", "1234", "corrupt_record")
        assert error.message == "A stored package could not be read. This is a fault on our side, not in your request."

    def test_is_not_a_validation_error(self) -> None:
        """A stored row that cannot be read is never reported as the caller's invalid input."""
        assert not isinstance(corrupt_record("clients", 1), ValidationError)


class TestMemoryFake:
    def test_a_list_shows_the_readable_rows_and_names_the_unreadable_one(
        self, app: CoachOS, store: MemoryStore
    ) -> None:
        """A client's packages list the good one and name the planted one; other clients' lists do not meet it."""
        w = make_world(app)
        other = add_client(app, w, sessions=3)
        bad = uuid.uuid4()
        store.add_unreadable("packages", bad, w.org.id, client_id=w.client.id)
        with app.unit_of_work() as uow:
            mine = uow.packages.for_client(w.org.id, w.client.id)
            theirs = uow.packages.for_client(w.org.id, other.id)
            recent = uow.packages.recent(w.org.id)
        assert [p.id for p in mine] == [w.package.id]
        assert [(r.table, r.row_id) for r in mine.unreadable] == [("packages", str(bad))]
        assert theirs.unreadable == ()
        assert [r.row_id for r in recent.unreadable] == [str(bad)]

    def test_reading_the_row_by_id_raises_corrupt_record(self, app: CoachOS, store: MemoryStore) -> None:
        """Getting the planted package raises CorruptRecord naming it, in its own organisation only."""
        w, elsewhere = make_world(app), make_world(app)
        bad = uuid.uuid4()
        store.add_unreadable("packages", bad, w.org.id, client_id=w.client.id)
        with app.unit_of_work() as uow, pytest.raises(CorruptRecord) as caught:
            uow.packages.get(w.org.id, bad)  # type: ignore[arg-type]
        assert caught.value.row_id == str(bad)
        with app.unit_of_work() as uow, pytest.raises(Exception, match="No such package") as hidden:
            uow.packages.get(elsewhere.org.id, bad)  # type: ignore[arg-type]
        assert not isinstance(hidden.value, CorruptRecord)

    def test_list_bookings_answers_the_readable_ones_and_names_the_others(
        self, app: CoachOS, store: MemoryStore, world: World
    ) -> None:
        """ListBookings answers the readable bookings of the range with the unreadable ones named."""
        w = world
        app.execute(
            BookSession(
                org_id=w.org.id,
                coach_id=w.coach.id,
                service_id=w.pt.id,
                client_id=w.client.id,
                start=local(w, 3, 10),
                actor=w.me,
            )
        )
        inside, outside = uuid.uuid4(), uuid.uuid4()
        store.add_unreadable("bookings", inside, w.org.id, starts_at=local(w, 3, 12))
        store.add_unreadable("bookings", outside, w.org.id, starts_at=local(w, 20, 12))
        found = app.execute(ListBookings(org_id=w.org.id, start=local(w, 3, 0), end=local(w, 4, 0)))
        assert len(found) == 1
        assert [r.row_id for r in found.unreadable] == [str(inside)]

    def test_free_time_is_refused_rather_than_guessed_when_hours_cannot_be_read(
        self, app: CoachOS, store: MemoryStore, world: World
    ) -> None:
        """FindSlots raises CorruptRecord when one of the coach's weekly hours cannot be read."""
        w = world
        store.add_unreadable("weekly_rules", uuid.uuid4(), w.org.id, coach_id=w.coach.id)
        with pytest.raises(CorruptRecord):
            app.execute(
                FindSlots(
                    org_id=w.org.id, coach_id=w.coach.id, service_id=w.pt.id, start=local(w, 3, 0), end=local(w, 4, 0)
                )
            )

    def test_free_time_is_refused_when_an_appointment_cannot_be_read(
        self, app: CoachOS, store: MemoryStore, world: World
    ) -> None:
        """FindSlots raises CorruptRecord when one of the coach's appointments cannot be read."""
        w = world
        store.add_unreadable("appointments", uuid.uuid4(), w.org.id, coach_id=w.coach.id)
        with pytest.raises(CorruptRecord):
            app.execute(
                FindSlots(
                    org_id=w.org.id, coach_id=w.coach.id, service_id=w.pt.id, start=local(w, 3, 0), end=local(w, 4, 0)
                )
            )

    def test_a_booking_is_paid_from_a_readable_package(self, app: CoachOS, store: MemoryStore, world: World) -> None:
        """With one of the client's packages unreadable, a booking uses a credit of the readable one."""
        w = world
        store.add_unreadable("packages", uuid.uuid4(), w.org.id, client_id=w.client.id)
        booking = app.execute(
            BookSession(
                org_id=w.org.id,
                coach_id=w.coach.id,
                service_id=w.pt.id,
                client_id=w.client.id,
                start=local(w, 3, 10),
                actor=w.me,
            )
        )
        assert booking.package_id == w.package.id
