"""Rows spoiled by raw SQL on SQLite and PostgreSQL: the SQL adapter names them and reads the rest."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import BookSession, CoachOS, FindSlots, Money, SellPackage
from coachos.adapters.clock import FixedClock
from coachos.domain.errors import CorruptRecord
from tests.helpers import World, local, make_world

#: A stored instant Python cannot hold, per database: PostgreSQL refuses text that is no timestamp,
#: but takes 'infinity'; SQLite takes any text (month 13 still sorts after every real 2026 date).
BAD_INSTANT = {"postgresql": "infinity", "sqlite": "2026-13-01 00:00:00"}


def _as_owner(conn: sa.Connection) -> None:
    """Act as the database's owner for this transaction only, as a manual fix would (row-level security
    hides every row from the app role until a transaction names its organisation)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL ROLE NONE")


def spoil(engine: Engine, table: str, row_id: UUID, column: str, literal: str) -> None:
    """Overwrite one column of one row with a literal in raw SQL, as a manual fix might."""
    sql = f"UPDATE {table} SET {column} = '{literal}' WHERE id = :id"  # noqa: S608  # the test's own constants
    with engine.begin() as conn:
        _as_owner(conn)
        done = conn.execute(sa.text(sql).bindparams(sa.bindparam("id", row_id, type_=sa.Uuid())))
        assert done.rowcount == 1


def sell(app: CoachOS, w: World, name: str, clock: FixedClock | None = None) -> UUID:
    """A package sold to the world's client (a minute after the last one, when given the clock)."""
    if clock is not None:
        clock.set(clock.now() + timedelta(minutes=1))
    package = app.execute(
        SellPackage(org_id=w.org.id, client_id=w.client.id, name=name, sessions=5, price=Money(100, "USD"), actor=w.me)
    )
    return package.id


@pytest.fixture
def world(app: CoachOS) -> World:
    """A business on the test's database."""
    return make_world(app)


class TestSpoiledPackages:
    @pytest.mark.parametrize("spoiled", ["currency", "expires_at"])
    def test_lists_read_around_the_spoiled_row_and_name_it(
        self, app: CoachOS, engine: Engine, clock: FixedClock, world: World, spoiled: str
    ) -> None:
        """A package with currency 'ZZZ' or an impossible expiry is left out of lists and named; the rest keep order."""
        w = world
        before, bad, after = (sell(app, w, name, clock) for name in ("Before", "Spoiled", "After"))
        spoil(engine, "packages", bad, spoiled, "ZZZ" if spoiled == "currency" else BAD_INSTANT[engine.dialect.name])
        with app.unit_of_work() as uow:
            mine = uow.packages.for_client(w.org.id, w.client.id)
            recent = uow.packages.recent(w.org.id)
        assert [p.id for p in mine] == [w.package.id, before, after]
        assert [p.id for p in recent] == [after, before, w.package.id]
        for found in (mine, recent):
            (record,) = found.unreadable
            assert (record.table, record.row_id, record.what) == ("packages", str(bad), "package")

    def test_reading_the_spoiled_currency_by_id_is_a_corrupt_record_without_the_value(
        self, app: CoachOS, engine: Engine, world: World
    ) -> None:
        """Getting a package stored in 'ZZZ' raises CorruptRecord naming the refused field, never the value."""
        bad = sell(app, world, "Spoiled")
        spoil(engine, "packages", bad, "currency", "ZZZ")
        with app.unit_of_work() as uow, pytest.raises(CorruptRecord) as caught:
            uow.packages.get(world.org.id, bad)  # type: ignore[arg-type]
        assert (caught.value.table, caught.value.row_id) == ("packages", str(bad))
        assert caught.value.cause == "ValidationError on currency"
        assert "ZZZ" not in caught.value.message

    def test_reading_the_spoiled_date_by_id_is_a_corrupt_record(
        self, app: CoachOS, engine: Engine, world: World
    ) -> None:
        """Getting a package whose expiry the driver cannot load raises CorruptRecord naming the row."""
        bad = sell(app, world, "Spoiled")
        spoil(engine, "packages", bad, "expires_at", BAD_INSTANT[engine.dialect.name])
        with app.unit_of_work() as uow, pytest.raises(CorruptRecord) as caught:
            uow.packages.get(world.org.id, bad)  # type: ignore[arg-type]
        assert (caught.value.table, caught.value.row_id) == ("packages", str(bad))

    def test_a_booking_is_paid_from_a_readable_package_and_the_transaction_goes_on(
        self, app: CoachOS, engine: Engine, world: World
    ) -> None:
        """With a spoiled package stored first, booking still uses a credit of the client's readable package."""
        w = world
        bad = sell(app, w, "Spoiled")
        spoil(engine, "packages", bad, "expires_at", BAD_INSTANT[engine.dialect.name])
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


class TestSpoiledClients:
    def test_a_client_with_an_unknown_status_is_left_out_of_the_list_and_named(
        self, app: CoachOS, engine: Engine, world: World
    ) -> None:
        """A client row whose status is no status is named by the list and raises CorruptRecord when read."""
        spoil(engine, "clients", world.client.id, "status", "vip")
        with app.unit_of_work() as uow:
            listed = uow.clients.list(world.org.id)
            assert list(listed) == []
            assert [r.row_id for r in listed.unreadable] == [str(world.client.id)]
            with pytest.raises(CorruptRecord):
                uow.clients.get(world.org.id, world.client.id)


class TestSpoiledAppointments:
    def test_free_time_is_refused_rather_than_guessed(self, app: CoachOS, engine: Engine, world: World) -> None:
        """FindSlots raises CorruptRecord when one of the coach's appointments cannot be read."""
        w = world
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
        spoil(engine, "appointments", booking.appointment_id, "blocks_until", BAD_INSTANT[engine.dialect.name])
        with pytest.raises(CorruptRecord) as caught:
            app.execute(
                FindSlots(
                    org_id=w.org.id, coach_id=w.coach.id, service_id=w.pt.id, start=local(w, 3, 0), end=local(w, 4, 0)
                )
            )
        assert caught.value.table == "appointments"
