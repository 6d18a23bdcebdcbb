"""The JSON API served for real: hypercorn on a free loopback port, in this process, over a fresh SQLite file.

In process (a thread with its own event loop) rather than `coachos serve`, so the business and its API
token can be made through the use cases and the clock stays fixed; the HTTP between client and server
is real. Used by the generated-client test and the schemathesis gate.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import attrs
import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart
from sqlalchemy.engine import Engine

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql import migrate
from coachos.adapters.sql.engine import make_engine
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.usecases import CreateApiToken
from coachos.entrypoints.web import create_app
from tests.helpers import MONDAY_NOON_UTC, World, make_world
from tests.integration.live import free_port, is_healthy
from tests.web.support import web_settings


@attrs.frozen
class ServedApi:
    """A served app: where it answers, a bearer token of its one business, and that business."""

    url: str
    token: str
    world: World
    core: CoachOS

    @property
    def bearer(self) -> dict[str, str]:
        """The Authorization header of the token."""
        return {"Authorization": f"Bearer {self.token}"}


@contextmanager
def hypercorn_thread(app: Quart, port: int) -> Iterator[None]:
    """Serve `app` with hypercorn on 127.0.0.1:`port` from a background thread until the block ends."""
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failed: list[BaseException] = []

    def run() -> None:
        try:
            loop.run_until_complete(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
        except BaseException as exc:  # reported to the test below instead of dying silently in the thread
            failed.append(exc)

    thread = threading.Thread(target=run, name="hypercorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not is_healthy(port):
            if failed or not thread.is_alive():
                pytest.fail(f"hypercorn stopped before answering: {failed}")
            if time.monotonic() > deadline:
                pytest.fail("hypercorn did not answer /healthz within 30 s")
            time.sleep(0.05)
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=15)
        loop.close()


@contextmanager
def serving_api(engine: Engine, url: str, port: int) -> Iterator[ServedApi]:
    """The app on `engine` under hypercorn, clock at Monday 2 March 2026 12:00 UTC, with a new business
    (New York, hours 09:00-17:00 daily, a PT service, a class, a client with ten credits) and its API token."""
    with bootstrap(
        Settings(database_url="memory://"),
        uow=lambda: SqlUnitOfWork(engine),
        clock=FixedClock(MONDAY_NOON_UTC),
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=MemoryEmail(),
    ) as core:
        world = make_world(core)
        token = core.execute(CreateApiToken(org_id=world.org.id, coach_id=world.coach.id, name="contract"))
        with hypercorn_thread(create_app(web_settings(public_url=url), coachos=core), port):
            yield ServedApi(url=url, token=token.secret, world=world, core=core)


@pytest.fixture(scope="module")
def served_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApi]:
    """The app served over a fresh SQLite file (see `serving_api`)."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('served-api') / 'coachos.db'}")
    migrate.upgrade(engine)
    port = free_port()
    try:
        with serving_api(engine, f"http://127.0.0.1:{port}", port) as served:
            yield served
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def served_api_on_postgres(postgres_engine: Engine) -> Iterator[ServedApi]:
    """The app served over the session's PostgreSQL database, as a business of its own (see `serving_api`)."""
    port = free_port()
    with serving_api(postgres_engine, f"http://127.0.0.1:{port}", port) as served:
        yield served
