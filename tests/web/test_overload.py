"""Probes, busy answers and 405s: what the web app says when it cannot or will not do the work."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from quart import Quart

from coachos import CoachOS, Settings, Unavailable, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.entrypoints.web import create_app
from tests.stalling import StallingStore
from tests.web.support import csrf, serving, sign_up, web_settings
from tests.web.test_api import open_account


@pytest.fixture
def stalling() -> Iterator[StallingStore]:
    """An in-memory store that can be made to stop answering; always let go at the end."""
    store = StallingStore()
    yield store
    store.resume()


@pytest.fixture
def slow_core(stalling: StallingStore, clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on the stalling store: two worker threads, and 0.3 s before a use case counts as unavailable."""
    settings = Settings(database_url="memory://", worker_threads=2, use_case_timeout=0.3, tenant_queue_timeout=0.3)
    app = bootstrap(
        settings, uow=stalling.unit_of_work, clock=clock, ids=RandomIds(), hasher=fast_test_hasher(), email=mail
    )
    try:
        yield app
    finally:
        stalling.resume()
        app.close()


@pytest.fixture
async def slow_web(slow_core: CoachOS) -> AsyncIterator[Quart]:
    """The web app serving `slow_core`."""
    async with serving(slow_core) as app:
        yield app


class TestHealth:
    """/healthz: liveness only."""

    async def test_answers_ok_without_a_database(self, slow_web: Quart, stalling: StallingStore) -> None:
        """With the database stalled and every worker thread stuck, /healthz still answers 200 at once."""
        coach = slow_web.test_client()
        await sign_up(coach)
        stalling.stall()
        stuck = [asyncio.create_task(slow_web.test_client().get("/book/peak")) for _ in range(4)]
        await asyncio.sleep(0.05)
        started = time.monotonic()
        response = await asyncio.wait_for(coach.get("/healthz"), 1)
        assert response.status_code == 200
        assert (await response.get_json())["status"] == "ok"
        assert time.monotonic() - started < 0.5
        assert stalling.waiting >= 2, "the worker threads were not all stuck"
        stalling.resume()
        await asyncio.gather(*stuck)


class TestReadiness:
    """/readyz: whether the database answers."""

    async def test_ready_on_the_fakes(self, web: Quart) -> None:
        """With no database to check (the fakes), the app is ready."""
        response = await web.test_client().get("/readyz")
        assert response.status_code == 200
        assert (await response.get_json())["status"] == "ready"

    async def test_a_failing_check_is_503_with_retry_after(self, core: CoachOS) -> None:
        """When the database check fails, /readyz answers 503 problem+json with Retry-After."""

        def refuse() -> None:
            raise Unavailable(reason="probe: connection")

        failing = CoachOS(core.deps, probe=refuse)
        try:
            async with create_app(web_settings(), coachos=failing).test_app() as served:
                response = await served.test_client().get("/readyz", headers={"Accept": "application/json"})
        finally:
            failing.close()
        assert response.status_code == 503
        assert response.mimetype == "application/problem+json"
        assert int(response.headers["Retry-After"]) > 0

    async def test_a_hung_check_is_503_within_its_timeout(self, core: CoachOS) -> None:
        """A database check that never returns makes /readyz answer 503 after about two seconds, not hang."""
        released = threading.Event()
        hung = CoachOS(core.deps, probe=lambda: released.wait(10) and None)
        try:
            async with create_app(web_settings(), coachos=hung).test_app() as served:
                started = time.monotonic()
                response = await asyncio.wait_for(served.test_client().get("/readyz"), 5)
                assert time.monotonic() - started < 3
        finally:
            released.set()
            hung.close()
        assert response.status_code == 503
        assert "Retry-After" in response.headers


class TestBusyAnswers:
    """A use case that cannot finish in time is a 503 with Retry-After, never a hang or a 500."""

    async def test_api_answers_503_problem_json(
        self, slow_web: Quart, slow_core: CoachOS, stalling: StallingStore
    ) -> None:
        """An API call whose database stopped answering gets 503 problem+json, code unavailable, and Retry-After."""
        account = await open_account(slow_web.test_client(), slow_core)
        stalling.stall()
        started = time.monotonic()
        response = await asyncio.wait_for(slow_web.test_client().get("/api/v1/me", headers=account.bearer), 3)
        assert time.monotonic() - started < 2
        assert response.status_code == 503
        assert response.mimetype == "application/problem+json"
        body = await response.get_json()
        assert body["code"] == "unavailable"
        assert int(response.headers["Retry-After"]) > 0

    async def test_pages_answer_a_friendly_503(self, slow_web: Quart, stalling: StallingStore) -> None:
        """A page whose data cannot be read in time says the app is busy and to try again, with status 503."""
        coach = slow_web.test_client()
        await sign_up(coach)
        stalling.stall()
        response = await asyncio.wait_for(coach.get("/today"), 3)
        page = await response.get_data(as_text=True)
        assert response.status_code == 503
        assert "Retry-After" in response.headers
        assert "Busy right now" in page
        assert "try again" in page

    @pytest.mark.parametrize("form", ["login", "public booking"])
    async def test_forms_answer_503_not_a_refusal(self, slow_web: Quart, stalling: StallingStore, form: str) -> None:
        """A form whose use case cannot finish in time is the busy page with 503, not a 400 beside the form."""
        coach = slow_web.test_client()
        await sign_up(coach)
        visitor = slow_web.test_client()
        if form == "login":
            path, fields = "/login", {"email": "alex@peak.test", "password": "correct horse battery"}
        else:
            slots = await visitor.get("/book/peak")
            service = (await slots.get_data(as_text=True)).split('href="/book/peak/', 1)[1].split('"', 1)[0]
            path = f"/book/peak/{service}/book?start=2026-03-04T15:00:00Z"
            fields = {"name": "Casey Morgan", "email": "casey@example.com"}
        token = await csrf(visitor, path)
        stalling.stall()
        response = await asyncio.wait_for(visitor.post(path, form={"csrf_token": token, **fields}), 3)
        stalling.resume()
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        assert "Busy right now" in await response.get_data(as_text=True)


class TestMethodNotAllowed:
    """405 answers name the methods that are allowed."""

    @pytest.mark.parametrize("accept", ["application/json", "text/html"])
    async def test_405_carries_allow(self, web: Quart, accept: str) -> None:
        """A DELETE on a GET-only route is 405 with an Allow header listing GET (and HEAD, OPTIONS)."""
        response = await web.test_client().delete("/healthz", headers={"Accept": accept})
        assert response.status_code == 405
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert "GET" in allowed
        assert "DELETE" not in allowed

    async def test_api_405_carries_allow(self, web: Quart) -> None:
        """An API collection that takes GET and POST says so when sent a PUT."""
        response = await web.test_client().put("/api/v1/clients", json={})
        assert response.status_code == 405
        assert response.mimetype == "application/problem+json"
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert {"GET", "POST"} <= allowed
