"""Logs never contain the names, phones or emails people type, whatever pages they use."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import structlog
from quart import Quart

from coachos import Settings
from coachos.logs import configure_logging
from tests.web.support import PASSWORD, csrf, sign_up

NAME, EMAIL, BUSINESS = "Zephyrine Quillfeather", "zephyrine.q@example.org", "Quillfeather Strength"
CLIENT_NAME, CLIENT_PHONE, CLIENT_EMAIL = "Barnabus Thistlewood", "+447700900461", "barnabus.t@example.net"
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
    PASSWORD,
]


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Production logging (JSON lines, redaction on) into a buffer for the test, then the default again."""
    buffer = io.StringIO()
    configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=buffer)
    yield buffer
    structlog.reset_defaults()


class TestLogPrivacy:
    async def test_sign_up_log_in_and_pages_leak_nothing(self, web: Quart, logs: io.StringIO) -> None:
        """Sign-up, log-ins good and bad, a reset and browsing log request lines without personal data."""
        coach = web.test_client()
        await sign_up(coach, email=EMAIL, name=NAME, business=BUSINESS, slug="quill")
        stranger = web.test_client()
        token = await csrf(stranger)
        await stranger.post("/login", form={"csrf_token": token, "email": EMAIL, "password": "wrong password!!"})
        await stranger.post("/login", form={"csrf_token": token, "email": EMAIL, "password": PASSWORD})
        token = await csrf(stranger, "/forgot")
        await stranger.post("/forgot", form={"csrf_token": token, "email": EMAIL})
        await stranger.post("/signup", form={"csrf_token": "forged", "name": CLIENT_NAME, "email": CLIENT_EMAIL})
        for path in ("/today", "/clients", "/calendar", "/setup", "/book/quill", f"/clients?q={CLIENT_NAME}"):
            await coach.get(path)
        written = logs.getvalue()
        assert written.count('"event": "request"') >= 12, "the request log lines were not captured"
        for secret in SECRETS:
            assert secret not in written, f"personal data in logs: {secret!r}"
