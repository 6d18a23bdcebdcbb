"""Migrations build the schema the code expects, and the schema itself enforces the guarantees."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from coachos import BookSession, Channel, CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.sql import migrate
from coachos.adapters.sql.engine import make_engine
from coachos.adapters.sql.tables import metadata
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.bookings import Booking
from tests.helpers import MONDAY_NOON_UTC, local, make_world
from tests.integration.conftest import PostgresDatabases, fresh_sqlite


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A brand-new empty database of each kind."""
    if request.param == "sqlite":
        url = fresh_sqlite(tmp_path)
    else:
        dbs: PostgresDatabases = request.getfixturevalue("pg_databases")
        url = dbs.create()
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata))


class TestMigrations:
    def test_upgrade_from_empty_matches_the_models(self, empty_engine: Engine) -> None:
        """Migrating an empty database reaches the newest revision with exactly the tables the code declares."""
        assert migrate.current_revision(empty_engine) is None
        migrate.upgrade(empty_engine)
        assert migrate.is_current(empty_engine)
        assert _diff(empty_engine) == []

    def test_downgrade_to_empty_and_up_again(self, empty_engine: Engine) -> None:
        """The schema can be taken down to nothing and rebuilt."""
        migrate.upgrade(empty_engine)
        migrate.downgrade(empty_engine, "base")
        assert set(sa.inspect(empty_engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(empty_engine)
        assert _diff(empty_engine) == []

    def test_upgrade_twice_is_harmless(self, empty_engine: Engine) -> None:
        """Running the upgrade on every deploy changes nothing the second time."""
        migrate.upgrade(empty_engine)
        migrate.upgrade(empty_engine)
        assert migrate.is_current(empty_engine)


class TestScopedKeysMigration:
    """0005 scopes idempotency keys; it must carry existing bookings (referenced by credit events) both ways."""

    def test_bookings_with_keys_and_credits_survive_down_and_up(self, empty_engine: Engine) -> None:
        """A keyed booking that used a credit survives 0005 down and up again, its key scoped to its maker."""
        migrate.upgrade(empty_engine)
        with bootstrap(
            Settings(database_url="memory://"),
            uow=lambda: SqlUnitOfWork(empty_engine),
            clock=FixedClock(MONDAY_NOON_UTC),
            ids=RandomIds(),
        ) as app:
            booking = _keyed_booking(app)
            migrate.downgrade(empty_engine, "0004")
            with empty_engine.connect() as conn:
                kept = conn.execute(sa.text("SELECT idempotency_key FROM bookings")).scalar_one()
            assert kept == "retry-1"
            migrate.upgrade(empty_engine)
            again = app.read(
                lambda uow: uow.bookings.by_idempotency_key(booking.org_id, str(booking.created_by), "retry-1")
            )
            assert again is not None
            assert (again.id, again.package_id) == (booking.id, booking.package_id)
        assert _diff(empty_engine) == []


def _keyed_booking(app: CoachOS) -> Booking:
    world = make_world(app)
    return app.execute(
        BookSession(
            org_id=world.org.id,
            coach_id=world.coach.id,
            service_id=world.pt.id,
            client_id=world.client.id,
            start=local(world, 3, 10),
            actor=world.me,
            idempotency_key="retry-1",
        )
    )


def _seed(conn: sa.Connection) -> dict[str, uuid.UUID]:
    """Rows for one organisation, written with plain SQL, bypassing every application check."""
    ids = {k: uuid.uuid4() for k in ("org", "coach", "service", "client", "package", "other_org", "other_client")}
    now = datetime(2026, 3, 2, tzinfo=UTC)
    t = metadata.tables
    for org, slug in ((ids["org"], "a-org"), (ids["other_org"], "b-org")):
        conn.execute(
            t["organizations"]
            .insert()
            .values(
                id=org,
                name="Org",
                slug=slug,
                timezone="UTC",
                currency="USD",
                created_at=now,
                min_notice_s=0,
                horizon_s=86400,
                cancellation_window_s=0,
                buffer_s=0,
                slot_interval_s=1800,
                quiet_start=time(21),
                quiet_end=time(8),
            )
        )
    conn.execute(
        t["coaches"].insert().values(id=ids["coach"], org_id=ids["org"], name="C", email="c@x.io", active=True)
    )
    conn.execute(
        t["services"]
        .insert()
        .values(
            id=ids["service"],
            org_id=ids["org"],
            name="S",
            duration_s=3600,
            price_minor=100,
            currency="USD",
            capacity=1,
            uses_credit=True,
            active=True,
        )
    )
    for client, org in ((ids["client"], ids["org"]), (ids["other_client"], ids["other_org"])):
        conn.execute(
            t["clients"]
            .insert()
            .values(id=client, org_id=org, name="K", status="active", consents=[], notes="", tags=[], created_at=now)
        )
    conn.execute(
        t["packages"]
        .insert()
        .values(
            id=ids["package"],
            org_id=ids["org"],
            client_id=ids["client"],
            name="P",
            total=1,
            used=1,
            price_minor=0,
            currency="USD",
            purchased_at=now,
        )
    )
    return ids


def _appointment(ids: dict[str, uuid.UUID], start: datetime, *, seats: int = 1, capacity: int = 1) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "org_id": ids["org"],
        "coach_id": ids["coach"],
        "service_id": ids["service"],
        "starts_at": start,
        "ends_at": start + timedelta(hours=1),
        "blocks_until": start + timedelta(hours=1),
        "capacity": capacity,
        "seats_taken": seats,
    }


class TestDatabaseGuarantees:
    """Each guarantee holds even for SQL that skips the application entirely."""

    @pytest.fixture
    def conn(self, empty_engine: Engine) -> Iterator[sa.Connection]:
        migrate.upgrade(empty_engine)
        with empty_engine.connect() as conn:
            yield conn

    def test_credits_cannot_exceed_total(self, conn: sa.Connection) -> None:
        """The database refuses used > total."""
        ids = _seed(conn)
        with pytest.raises(IntegrityError):
            conn.execute(
                sa.text("UPDATE packages SET used = used + 1 WHERE id = :id"), {"id": _param(conn, ids["package"])}
            )

    def test_credits_cannot_go_below_zero(self, conn: sa.Connection) -> None:
        """The database refuses used < 0."""
        ids = _seed(conn)
        with pytest.raises(IntegrityError):
            conn.execute(sa.text("UPDATE packages SET used = -1 WHERE id = :id"), {"id": _param(conn, ids["package"])})

    def test_overlapping_appointments_refused(self, conn: sa.Connection) -> None:
        """A coach's second appointment overlapping the first is refused by the database."""
        ids = _seed(conn)
        start = datetime(2026, 3, 3, 10, tzinfo=UTC)
        conn.execute(metadata.tables["appointments"].insert().values(**_appointment(ids, start)))
        with pytest.raises(IntegrityError, match="appointments_no_overlap"):
            conn.execute(
                metadata.tables["appointments"].insert().values(**_appointment(ids, start + timedelta(minutes=30)))
            )

    def test_adjacent_and_released_appointments_allowed(self, conn: sa.Connection) -> None:
        """Back-to-back appointments and one over a released (empty) appointment are accepted."""
        ids = _seed(conn)
        start = datetime(2026, 3, 3, 10, tzinfo=UTC)
        table = metadata.tables["appointments"]
        conn.execute(table.insert().values(**_appointment(ids, start)))
        conn.execute(table.insert().values(**_appointment(ids, start + timedelta(hours=1))))
        conn.execute(table.insert().values(**_appointment(ids, start + timedelta(hours=3), seats=0)))
        conn.execute(table.insert().values(**_appointment(ids, start + timedelta(hours=3))))

    def test_seats_cannot_exceed_capacity(self, conn: sa.Connection) -> None:
        """The database refuses more seats taken than the appointment has."""
        ids = _seed(conn)
        with pytest.raises(IntegrityError):
            conn.execute(
                metadata.tables["appointments"]
                .insert()
                .values(**_appointment(ids, datetime(2026, 3, 3, 10, tzinfo=UTC), seats=4, capacity=3))
            )

    def test_cross_tenant_reference_refused(self, conn: sa.Connection) -> None:
        """A package cannot point at a client of another organisation."""
        ids = _seed(conn)
        with pytest.raises(IntegrityError):
            conn.execute(
                metadata.tables["packages"]
                .insert()
                .values(
                    id=uuid.uuid4(),
                    org_id=ids["org"],
                    client_id=ids["other_client"],
                    name="P",
                    total=1,
                    used=0,
                    price_minor=0,
                    currency="USD",
                    purchased_at=datetime(2026, 3, 2, tzinfo=UTC),
                )
            )

    def test_a_key_is_unique_within_its_scope_only(self, conn: sa.Connection) -> None:
        """The same key is stored once per scope: a second caller's use of it is its own, a repeat is refused."""
        ids = _seed(conn)
        appointment = _appointment(ids, datetime(2026, 3, 3, 10, tzinfo=UTC), capacity=3)
        conn.execute(metadata.tables["appointments"].insert().values(**appointment))
        table = metadata.tables["bookings"]
        conn.execute(table.insert().values(**_booking(ids, appointment, "coach:a", "k")))
        conn.execute(table.insert().values(**_booking(ids, appointment, "guest:b", "k")))
        with pytest.raises(IntegrityError, match="idempotency"):
            conn.execute(table.insert().values(**_booking(ids, appointment, "coach:a", "k")))

    def test_a_key_needs_a_scope(self, conn: sa.Connection) -> None:
        """A key stored without whose it is is refused."""
        ids = _seed(conn)
        appointment = _appointment(ids, datetime(2026, 3, 3, 10, tzinfo=UTC))
        conn.execute(metadata.tables["appointments"].insert().values(**appointment))
        with pytest.raises(IntegrityError, match="key_has_scope"):
            conn.execute(metadata.tables["bookings"].insert().values(**_booking(ids, appointment, None, "k")))


def _booking(
    ids: dict[str, uuid.UUID], appointment: dict[str, object], scope: str | None, key: str
) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "org_id": ids["org"],
        "appointment_id": appointment["id"],
        "coach_id": ids["coach"],
        "service_id": ids["service"],
        "client_id": ids["client"],
        "starts_at": appointment["starts_at"],
        "ends_at": appointment["ends_at"],
        "status": "requested",
        "idempotency_key": key,
        "idempotency_scope": scope,
        "note": "",
        "created_at": appointment["starts_at"],
        "created_by": "system",
        "updated_at": appointment["starts_at"],
        "updated_by": "system",
    }


def _param(conn: sa.Connection, value: uuid.UUID) -> object:
    """A UUID as the driver stores it in a raw statement (native on PostgreSQL, hex text on SQLite)."""
    return value if conn.dialect.name == "postgresql" else value.hex


class TestConsentPerPurposeMigration:
    """0013 renames stored "marketing" consents to "email_marketing" and starts the consent log from them."""

    def _client_with(self, engine: Engine, consents: list[dict[str, object]]) -> dict[str, uuid.UUID]:
        with engine.begin() as conn:
            ids = _seed(conn)
            conn.execute(
                metadata.tables["clients"].update().where(metadata.tables["clients"].c.id == ids["client"]),
                {"consents": consents},
            )
        return ids

    def _consents(self, engine: Engine, client_id: uuid.UUID) -> list[dict[str, object]]:
        t = metadata.tables["clients"]
        with engine.connect() as conn:
            return list(conn.execute(sa.select(t.c.consents).where(t.c.id == client_id)).scalar_one())

    def test_marketing_becomes_email_marketing_and_is_logged(self, empty_engine: Engine) -> None:
        """A consent stored as "marketing" before 0013 reads as email marketing after it, with a "given" log row."""
        migrate.upgrade(empty_engine, _BEFORE_0013)
        granted = "2026-03-02T09:30:00+00:00"
        marketing = {"channel": "marketing", "granted_at": granted, "method": "coach_entered", "wording": "News"}
        sms = {"channel": "sms", "granted_at": granted, "method": "booking_form", "wording": "Reminders"}
        ids = self._client_with(empty_engine, [sms, marketing])
        migrate.upgrade(empty_engine, "0013")
        assert self._consents(empty_engine, ids["client"]) == [sms, marketing | {"channel": "email_marketing"}]
        # The repositories read today's schema; the later revisions add columns and leave consents alone.
        migrate.upgrade(empty_engine)
        with bootstrap(
            Settings(database_url="memory://"),
            uow=lambda: SqlUnitOfWork(empty_engine),
            clock=FixedClock(MONDAY_NOON_UTC),
            ids=RandomIds(),
        ) as app:
            client = app.read(lambda uow: uow.clients.get(ids["org"], ids["client"]))
            log = app.read(lambda uow: uow.clients.consent_log(ids["org"], ids["client"]))
        assert [c.channel for c in client.consents] == [Channel.SMS, Channel.EMAIL_MARKETING]
        assert sorted((c.channel.value, c.action.value, c.method, c.wording) for c in log) == [
            ("email_marketing", "given", "coach_entered", "News"),
            ("sms", "given", "booking_form", "Reminders"),
        ]
        assert {c.at for c in log} == {datetime.fromisoformat(granted)}

    def test_down_and_up_again_keeps_the_consents(self, empty_engine: Engine) -> None:
        """Downgrading names email marketing "marketing" again; upgrading again renames it once more."""
        migrate.upgrade(empty_engine, _BEFORE_0013)
        old = {"channel": "marketing", "granted_at": "2026-03-02T09:30:00+00:00", "method": "m", "wording": None}
        ids = self._client_with(empty_engine, [old])
        migrate.upgrade(empty_engine, "0013")
        migrate.downgrade(empty_engine, _BEFORE_0013)
        assert self._consents(empty_engine, ids["client"]) == [old]
        migrate.upgrade(empty_engine)
        assert self._consents(empty_engine, ids["client"]) == [old | {"channel": "email_marketing"}]
        assert _diff(empty_engine) == []

    def test_the_rename_touches_nothing_else(self, empty_engine: Engine) -> None:
        """Clients without a "marketing" consent (or with none) are left exactly as they were."""
        migrate.upgrade(empty_engine, _BEFORE_0013)
        sms = {"channel": "sms_marketing", "granted_at": "2026-03-02T09:30:00+00:00", "method": "m", "wording": "W"}
        ids = self._client_with(empty_engine, [sms])
        migrate.upgrade(empty_engine, "0013")
        assert self._consents(empty_engine, ids["client"]) == [sms]
        t = metadata.tables["clients"]
        with empty_engine.connect() as conn:
            other = conn.execute(sa.select(t.c.consents).where(t.c.id == ids["other_client"])).scalar_one()
        assert other == []


def _down_revision(revision: str) -> str:
    config = Config()
    config.set_main_option("script_location", "coachos.adapters.sql:migrations")
    found = ScriptDirectory.from_config(config).get_revision(revision)
    assert found is not None
    assert isinstance(found.down_revision, str)
    return found.down_revision


#: The revision 0013 builds on (read from the chain, which may be relinked when branches merge).
_BEFORE_0013 = _down_revision("0013")
