"""The outbox relay on SQLite and PostgreSQL: stable type names, and racing relays deliver exactly once."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock
from coachos.adapters.sql import migrate
from coachos.adapters.sql.engine import make_engine
from coachos.adapters.sql.tables import outbox
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.events import MAX_ATTEMPTS, BookingRequested, ClientUpdated, Event, PackageSold
from coachos.domain.ids import ClientId, OrgId, PackageId
from coachos.domain.usecases import Deps
from coachos.domain.usecases.relay import Handler, Relay, RelayReport
from tests.helpers import MONDAY_NOON_UTC
from tests.integration.conftest import fresh_sqlite
from tests.integration.test_cli_serve import _coachos
from tests.unit.test_relay import booking_requested, store


def drain(relay: Relay, limit: int = 100) -> None:
    """Run the relay until a pass finds nothing to do."""
    while relay.relay_once(limit) != RelayReport():
        pass


class TestTypeNamesOnDatabases:
    def test_events_are_stored_under_their_type_name_and_read_back_equal(self, app: CoachOS, engine: Engine) -> None:
        """Each event is stored under its dotted type name with an id, and comes back to its consumer unchanged."""
        org = OrgId(uuid.uuid4())
        sent: list[Event] = [
            booking_requested(org),
            ClientUpdated(
                org_id=org, occurred_at=MONDAY_NOON_UTC, actor="coach", client_id=ClientId(uuid.uuid4()), changed=("a",)
            ),
            PackageSold(
                org_id=org,
                occurred_at=MONDAY_NOON_UTC,
                actor="coach",
                package_id=PackageId(uuid.uuid4()),
                client_id=ClientId(uuid.uuid4()),
                total=10,
                price_minor=50_000,
                currency="USD",
            ),
        ]
        got: list[Event] = []
        consumer = f"roundtrip-{uuid.uuid4().hex[:8]}"
        for t in (BookingRequested, ClientUpdated, PackageSold):
            app.relay.subscribe(consumer, t, lambda e, _d: got.append(e) if e.org_id == org else None)
        store(app, *sent)
        drain(app.relay)
        assert got == sent
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT set_config('app.outbox_relay', 'on', true)"))
            rows = conn.execute(
                sa.select(outbox.c.event_type, outbox.c.event_id).where(outbox.c.org_id == org).order_by(outbox.c.id)
            ).all()
        assert [r.event_type for r in rows] == ["booking.requested", "client.updated", "package.sold"]
        assert len({r.event_id for r in rows}) == 3


class TestRelayRaces:
    def test_two_relays_racing_deliver_each_event_to_each_consumer_once(self, app: CoachOS) -> None:
        """Two relays on their own connections, run at once, call each consumer exactly once per event."""
        org = OrgId(uuid.uuid4())
        events = [booking_requested(org) for _ in range(40)]
        calls: Counter[tuple[uuid.UUID, str]] = Counter()
        lock = threading.Lock()
        consumers = [f"race-{n}-{uuid.uuid4().hex[:8]}" for n in range(2)]

        def handler(consumer: str) -> Handler:
            def handle(event: Event, _deps: Deps) -> None:
                if event.org_id == org:
                    assert isinstance(event, BookingRequested)
                    with lock:
                        calls[(event.booking_id, consumer)] += 1

            return handle

        relays = [Relay(app.deps), Relay(app.deps)]
        for relay in relays:
            for c in consumers:
                relay.subscribe(c, BookingRequested, handler(c))
        store(app, *events)
        barrier = threading.Barrier(len(relays))

        def run(relay: Relay) -> None:
            barrier.wait(timeout=30)
            drain(relay, limit=7)

        with ThreadPoolExecutor(max_workers=len(relays)) as pool:
            list(pool.map(run, relays))
        assert calls == Counter({(e.booking_id, c): 1 for e in events for c in consumers})

    def test_a_failing_consumer_goes_dead_and_is_requeued_on_the_database(
        self, app: CoachOS, clock: FixedClock
    ) -> None:
        """A consumer failing MAX_ATTEMPTS times is listed dead; requeued, it is delivered; the other got it once."""
        org = OrgId(uuid.uuid4())
        event = booking_requested(org)
        good: list[Event] = []
        failing = [True]
        tries: list[Event] = []
        suffix = uuid.uuid4().hex[:8]

        def bad(e: Event, _d: Deps) -> None:
            if e.org_id == org:
                tries.append(e)
                if failing[0]:
                    raise ConnectionError("refused")

        app.relay.subscribe(
            f"good-{suffix}", BookingRequested, lambda e, _d: good.append(e) if e.org_id == org else None
        )
        app.relay.subscribe(f"bad-{suffix}", BookingRequested, bad)
        store(app, event)
        for _ in range(MAX_ATTEMPTS + 2):
            drain(app.relay)
            clock.advance(timedelta(hours=2))
        assert good == [event]
        assert len(tries) == MAX_ATTEMPTS
        [dead] = [d for d in app.relay.dead_letters(limit=10_000) if d.consumer == f"bad-{suffix}"]
        assert (dead.event_type, dead.attempts, dead.last_error) == (
            "booking.requested",
            MAX_ATTEMPTS,
            "ConnectionError",
        )
        failing[0] = False
        assert app.relay.retry(dead.event_id, consumer=f"bad-{suffix}") == 1
        drain(app.relay)
        assert len(tries) == MAX_ATTEMPTS + 1
        assert good == [event]


class TestMigration0008:
    def test_existing_rows_get_ids_and_stable_type_names(self, tmp_path: Path) -> None:
        """Rows stored under class names before 0008 get an event id and their dotted type name."""
        engine = make_engine(fresh_sqlite(tmp_path))
        try:
            migrate.upgrade(engine, "0007")
            with engine.begin() as conn:
                for name in ("BookingRequested", "CreditUsed"):
                    conn.execute(
                        sa.text(
                            "INSERT INTO outbox (org_id, event_type, payload, occurred_at) "
                            "VALUES (:org, :t, '{}', '2026-03-02 12:00:00.000000')"
                        ),
                        {"org": uuid.uuid4().hex, "t": name},
                    )
            migrate.upgrade(engine)
            with engine.connect() as conn:
                rows = conn.execute(sa.select(outbox.c.event_type, outbox.c.event_id).order_by(outbox.c.id)).all()
            assert [r.event_type for r in rows] == ["booking.requested", "credit.used"]
            assert all(isinstance(r.event_id, uuid.UUID) for r in rows)
            assert rows[0].event_id != rows[1].event_id
        finally:
            engine.dispose()


class TestOutboxCli:
    def test_dead_lists_dead_letters_and_retry_requeues_them(self, tmp_path: Path, clock: FixedClock) -> None:
        """`coachos outbox dead` names the dead letter; `outbox retry` requeues it once, then has nothing to do."""
        url = fresh_sqlite(tmp_path)
        engine = make_engine(url)
        migrate.upgrade(engine)
        try:
            with bootstrap(Settings(database_url="memory://"), uow=lambda: SqlUnitOfWork(engine), clock=clock) as app:
                app.relay.subscribe("webhooks", BookingRequested, _always_fails)
                store(app, booking_requested())
                for _ in range(MAX_ATTEMPTS):
                    app.relay.relay_once()
                    clock.advance(timedelta(hours=2))
                [dead] = app.relay.dead_letters()
        finally:
            engine.dispose()
        listed = _coachos(tmp_path, url, "outbox", "dead")
        assert listed.returncode == 0, listed.stderr
        assert f"{dead.event_id}  booking.requested  webhooks  attempts={MAX_ATTEMPTS}  last_error=ConnectionError" in (
            listed.stdout
        )
        requeued = _coachos(tmp_path, url, "outbox", "retry", str(dead.event_id), "--consumer", "webhooks")
        assert requeued.returncode == 0, requeued.stderr
        assert f"Requeued 1 delivery of event {dead.event_id}." in requeued.stdout
        again = _coachos(tmp_path, url, "outbox", "retry", str(dead.event_id))
        assert again.returncode == 1
        assert "has no dead deliveries" in again.stderr
        assert "No dead letters." in _coachos(tmp_path, url, "outbox", "dead").stdout


def _always_fails(_event: Event, _deps: Deps) -> None:
    raise ConnectionError("refused")
