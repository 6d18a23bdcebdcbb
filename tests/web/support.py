"""Helpers for route tests: build the app on given adapters, sign up, find CSRF tokens."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS, Settings
from coachos.entrypoints.web import create_app

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf-token" content="([0-9a-f]+)"')


def web_settings(**overrides: Any) -> Settings:
    """Settings for route tests: a fixed secret, cookies allowed over the test client's http."""
    values: dict[str, Any] = {
        "database_url": "memory://",
        "secret_key": "test-secret-key",
        "cookie_secure": False,
        "public_url": "http://coachos.test",
    } | overrides
    return Settings(**values)


@asynccontextmanager
async def serving(core: CoachOS, **overrides: Any) -> AsyncIterator[Quart]:
    """The web app serving `core`, with its start-up and shut-down hooks run."""
    app = create_app(web_settings(**overrides), coachos=core)
    async with app.test_app() as test_app:
        yield test_app.app  # type: ignore[attr-defined]


async def csrf(client: Client, path: str = "/login") -> str:
    """The CSRF token a page hands this client."""
    response = await client.get(path)
    found = _CSRF.search(await response.get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


async def sign_up(
    client: Client,
    *,
    email: str = "alex@peak.test",
    slug: str = "peak",
    timezone: str = "America/New_York",
    name: str = "Alex Rivera",
    business: str = "Peak Coaching",
) -> Any:
    """Open an account through the sign-up form; the client is signed in afterwards."""
    token = await csrf(client, "/signup")
    return await client.post(
        "/signup",
        form={
            "csrf_token": token,
            "name": name,
            "email": email,
            "password": PASSWORD,
            "business_name": business,
            "slug": slug,
            "timezone": timezone,
            "currency": "USD",
            "service_name": "Personal training",
            "service_minutes": "60",
            "service_price": "85.50",
            "days": "0,1,2,3,4,5,6",
            "day_start": "09:00",
            "day_end": "17:00",
        },
    )
