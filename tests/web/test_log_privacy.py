"""Logs never contain the names, phones or emails people type, whatever pages they use."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from quart import Quart
from sqlalchemy.engine import Engine

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql import migrate
from coachos.adapters.sql.engine import make_engine
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.entrypoints.web import create_app
from coachos.entrypoints.web.views.clients import PANELS
from coachos.logs import configure_logging, reset_logging
from tests.web.support import PASSWORD, csrf, serving, sign_up, web_settings
from tests.web.test_api import open_account
from tests.web.test_public_routes import open_form, submit

NAME, EMAIL, BUSINESS = "Zephyrine Quillfeather", "zephyrine.q@example.org", "Quillfeather Strength"
CLIENT_NAME, CLIENT_PHONE, CLIENT_EMAIL = "Barnabus Thistlewood", "+447700900461", "barnabus.t@example.net"
#: A stranger who types Barnabus's email: their own name and phone are kept on the booking, and are personal data too.
TYPED_NAME, TYPED_PHONE = "Ottoline Brackenbury", "+447700900987"
SECRETS = [
    NAME,
    "Zephyrine",
    "Quillfeather",
    EMAIL,
    CLIENT_NAME,
    "Thistlewood",
    CLIENT_PHONE,
    "7700900461",
    CLIENT_EMAIL,
    TYPED_NAME,
    "Brackenbury",
    TYPED_PHONE,
    "7700900987",
    PASSWORD,
]


CLIENT_NOTES = "Recovering from knee surgery; prefers the Harrowgate studio"


@pytest.fixture
def refusing_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite file that refuses to store a client with notes, as a faulty database would.

    tests/integration/web repeats the test on PostgreSQL, whose refusal (a CHECK constraint)
    quotes the whole failing row in its message.
    """
    engine = make_engine(f"sqlite:///{tmp_path / 'refusing.db'}")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER test_refuses_notes BEFORE INSERT ON clients WHEN NEW.notes <> '' "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )
    yield engine
    engine.dispose()


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Production logging (JSON lines, redaction on) into a buffer for the test, then the default again."""
    buffer = io.StringIO()
    configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=buffer)
    yield buffer
    reset_logging()


class TestLogPrivacy:
    async def test_sign_up_booking_and_client_pages_leak_nothing(
        self, web: Quart, core: CoachOS, logs: io.StringIO
    ) -> None:
        """Sign-up, log-ins, a reset, a public booking and the client's pages log request lines, no personal data."""
        coach = web.test_client()
        await sign_up(coach, email=EMAIL, name=NAME, business=BUSINESS, slug="quill")
        stranger = web.test_client()
        token = await csrf(stranger)
        await stranger.post("/login", form={"csrf_token": token, "email": EMAIL, "password": "wrong password!!"})
        await stranger.post("/login", form={"csrf_token": token, "email": EMAIL, "password": PASSWORD})
        token = await csrf(stranger, "/forgot")
        await stranger.post("/forgot", form={"csrf_token": token, "email": EMAIL})
        await stranger.post("/signup", form={"csrf_token": "forged", "name": CLIENT_NAME, "email": CLIENT_EMAIL})
        org = core.read(lambda uow: uow.orgs.by_slug("quill"))
        (service,) = core.read(lambda uow: uow.services.list(org.id))
        guest = web.test_client()
        await guest.get(f"/book/quill/{service.id}?tz=Europe/London")
        booked = await submit(
            guest,
            org,
            service,
            await open_form(guest, org, service),
            name=CLIENT_NAME,
            phone=CLIENT_PHONE,
            email=CLIENT_EMAIL,
            sms_consent="yes",
        )
        assert booked.status_code == 302
        confirmation = await guest.get(booked.headers["Location"])
        assert CLIENT_NAME.split()[0] in await confirmation.get_data(as_text=True)
        later = "2026-03-03T16:00:00Z"
        maybe = await submit(
            guest,
            org,
            service,
            await open_form(guest, org, service, later),
            later,
            name=TYPED_NAME,
            phone=TYPED_PHONE,
            email=CLIENT_EMAIL,
            sms_consent="yes",
        )
        assert maybe.status_code == 302
        assert TYPED_NAME in await (await guest.get(maybe.headers["Location"])).get_data(as_text=True)
        (client,) = core.read(lambda uow: uow.clients.list(org.id))
        pages = ["/today", "/clients", "/calendar", "/setup", "/book/quill", f"/clients?q={CLIENT_NAME}"]
        pages += [f"/clients/{client.id}", *(f"/clients/{client.id}/panels/{p.name}" for p in PANELS)]
        for path in pages:
            assert (await coach.get(path)).status_code == 200, path
        token = await csrf(coach, f"/clients/{client.id}")
        await coach.post(f"/clients/{client.id}", form={"csrf_token": token, "name": CLIENT_NAME, "phone": "12"})
        written = logs.getvalue()
        assert written.count('"event": "request"') >= 25, "the request log lines were not captured"
        for secret in SECRETS:
            assert secret not in written, f"personal data in logs: {secret!r}"


class TestCrashLogPrivacy:
    async def test_a_crash_logs_its_error_id_and_route_but_not_the_path(self, core: CoachOS, logs: io.StringIO) -> None:
        """An unexpected error on a path holding a secret logs the error id and route pattern, never the secret."""
        secret = "s3cr3t-reset-token-value"
        app = create_app(web_settings(), coachos=core)

        @app.route("/boom/<token>")
        async def boom(token: str) -> str:
            raise RuntimeError("kaboom")

        async with app.test_app() as served:
            response = await served.test_client().get(f"/boom/{secret}", headers={"Accept": "application/json"})
        body = await response.get_json()
        assert response.status_code == 500
        written = logs.getvalue()
        assert body["error_id"] in written
        assert "/boom/<token>" in written
        assert secret not in written


class TestDatabaseErrorLogPrivacy:
    async def test_a_write_the_database_rejects_logs_no_name_or_notes(
        self, refusing_engine: Engine, clock: FixedClock, mail: MemoryEmail, logs: io.StringIO
    ) -> None:
        """A client the database refuses to store is a 500 whose log has the error id but not the name or notes sent."""
        with bootstrap(
            Settings(database_url="memory://"),
            uow=lambda: SqlUnitOfWork(refusing_engine),
            clock=clock,
            ids=RandomIds(),
            hasher=fast_test_hasher(),
            email=mail,
        ) as core:
            async with serving(core) as web:
                account = await open_account(web.test_client(), core, email=EMAIL, slug="quill")
                response = await web.test_client().post(
                    "/api/v1/clients",
                    json={"name": CLIENT_NAME, "notes": CLIENT_NOTES, "email": CLIENT_EMAIL, "phone": CLIENT_PHONE},
                    headers={**account.bearer, "Accept": "application/json"},
                )
        body = await response.get_json()
        assert response.status_code == 500, body
        written = logs.getvalue()
        assert body["error_id"] in written
        assert "unhandled error" in written
        for secret in [*SECRETS, CLIENT_NOTES, "knee surgery", "Harrowgate"]:
            assert secret not in written, f"personal data in logs: {secret!r}"
