"""The web app on real PostgreSQL connections when one business is locked or the database stops answering.

One row lock on one coach must not starve every other business, and a database that goes
silent after start-up must turn into quick 503s with Retry-After, never hung requests.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS, CreateApiToken, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql import migrate
from coachos.adapters.sql.engine import make_engine
from coachos.entrypoints.web import create_app
from tests.helpers import World, make_world
from tests.integration.conftest import PostgresDatabases
from tests.integration.netfaults import FreezableProxy
from tests.web.support import web_settings

pytestmark = pytest.mark.postgres

#: Tuesday 3 March 2026, 09:00 in New York: inside every test world's hours and notice.
SLOT = "2026-03-03T14:00:00Z"


@pytest.fixture
def pg_url(pg_databases: PostgresDatabases) -> str:
    """A new migrated PostgreSQL database."""
    url = pg_databases.create()
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def _libpq(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _built(settings: Settings, clock: FixedClock, mail: MemoryEmail) -> CoachOS:
    return bootstrap(settings, clock=clock, ids=RandomIds(), hasher=fast_test_hasher(), email=mail)


def _bearer(core: CoachOS, world: World) -> dict[str, str]:
    token = core.execute(CreateApiToken(org_id=world.org.id, coach_id=world.coach.id, name="script"))
    return {"Authorization": f"Bearer {token.secret}", "Accept": "application/json"}


async def _timed(request: Any) -> tuple[Any, float]:
    started = time.monotonic()
    response = await request
    return response, time.monotonic() - started


async def _book(client: Client, world: World, bearer: dict[str, str]) -> tuple[Any, float]:
    body = {"client_id": str(world.client.id), "service_id": str(world.pt.id), "start": SLOT}
    return await _timed(client.post("/api/v1/bookings", json=body, headers=bearer))


class TestOneLockedCoach:
    """A row lock held on one coach, with many requests for that coach in flight."""

    async def test_other_businesses_and_healthz_answer_within_a_second(
        self, pg_url: str, clock: FixedClock, mail: MemoryEmail
    ) -> None:
        """Other businesses book and /healthz answers in under a second; the locked coach's requests get quick 503s."""
        settings = web_settings(
            database_url=pg_url, worker_threads=8, db_lock_timeout=1.0, tenant_queue_timeout=0.5, use_case_timeout=10
        )
        with _built(settings, clock, mail) as core:
            worlds = [make_world(core) for _ in range(4)]
            bearers = [_bearer(core, world) for world in worlds]
            async with create_app(settings, coachos=core).test_app() as served:
                client = served.test_client()
                with psycopg.connect(_libpq(pg_url)) as holder:
                    # A long transaction (a stuck job, a migration) holding the first coach's row.
                    holder.execute("SELECT id FROM coaches WHERE id = %s FOR UPDATE", (worlds[0].coach.id,))
                    try:
                        jammed = [asyncio.create_task(_book(client, worlds[0], bearers[0])) for _ in range(24)]
                        await asyncio.sleep(0.3)
                        for world, bearer in zip(worlds[1:], bearers[1:], strict=True):
                            response, took = await asyncio.wait_for(_book(client, world, bearer), 5)
                            assert response.status_code == 201, await response.get_data(as_text=True)
                            assert took < 1, f"another business waited {took:.2f} s"
                        health, took = await asyncio.wait_for(_timed(client.get("/healthz")), 5)
                        assert health.status_code == 200
                        assert took < 1, f"/healthz waited {took:.2f} s"
                        answers = await asyncio.wait_for(asyncio.gather(*jammed), 15)
                    finally:
                        holder.rollback()
        for response, took in answers:
            assert response.status_code == 503, await response.get_data(as_text=True)
            assert response.mimetype == "application/problem+json"
            assert int(response.headers["Retry-After"]) > 0
            assert took < 5, f"the locked coach's request waited {took:.2f} s"


@pytest.fixture
def proxy(pg_url: str) -> Iterator[FreezableProxy]:
    """A proxy in front of the test database that the test can make go silent."""
    target = sa.make_url(pg_url)
    with FreezableProxy(target.host or "127.0.0.1", target.port or 5432) as made:
        yield made


class TestDatabaseStopsAnswering:
    """The database answers at start-up, then goes silent (connections stay open, nothing comes back)."""

    async def test_requests_get_503_quickly_and_healthz_stays_up(
        self, pg_url: str, proxy: FreezableProxy, clock: FixedClock, mail: MemoryEmail
    ) -> None:
        """After the database goes silent, API calls and pages answer 503 with Retry-After in about a second."""
        url = sa.make_url(pg_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        settings = web_settings(database_url=url, worker_threads=4, db_connect_timeout=2, use_case_timeout=1)
        core = _built(settings, clock, mail)
        try:
            world = make_world(core)
            bearer = _bearer(core, world)
            async with create_app(settings, coachos=core).test_app() as served:
                client = served.test_client()
                assert (await client.get("/api/v1/me", headers=bearer)).status_code == 200
                assert (await client.get("/readyz")).status_code == 200
                proxy.freeze()
                for path in ("/api/v1/me", "/api/v1/clients", "/today"):
                    response, took = await asyncio.wait_for(_timed(client.get(path, headers=bearer)), 10)
                    assert response.status_code == 503, path
                    assert int(response.headers["Retry-After"]) > 0
                    assert took < 2.5, f"{path} waited {took:.2f} s"
                health, took = await asyncio.wait_for(_timed(client.get("/healthz")), 5)
                assert (health.status_code, took < 1) == (200, True)
                ready, took = await asyncio.wait_for(_timed(client.get("/readyz")), 10)
                assert ready.status_code == 503
                assert took < 3.5
        finally:
            proxy.close()  # lets the threads still reading the silent connections fail and finish
            core.close()

    async def test_an_address_where_nothing_listens_is_503_at_once(self, clock: FixedClock, mail: MemoryEmail) -> None:
        """With nothing listening at the database's address, an API call answers 503 within a second."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        settings = web_settings(database_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/none")
        with _built(settings, clock, mail) as core:
            async with create_app(settings, coachos=core).test_app() as served:
                response, took = await asyncio.wait_for(
                    _timed(served.test_client().get("/api/v1/me", headers={"Authorization": "Bearer coa_x"})), 10
                )
        assert response.status_code == 503
        assert "Retry-After" in response.headers
        assert took < 1
