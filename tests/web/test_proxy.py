"""Behind a reverse proxy: the client's address comes from X-Forwarded-For only when the proxy is trusted."""

from __future__ import annotations

from typing import Any

import pytest
from quart import request

from coachos.entrypoints.web import app as web_app
from tests.web.support import web_settings


async def _remote_addr(proxy_hops: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """The address a view sees for a request from 10.0.0.1 forwarded for 203.0.113.9, through asgi_app."""
    built = web_app.create_app(web_settings(proxy_hops=proxy_hops))

    @built.route("/whoami")
    async def whoami() -> str:
        return request.remote_addr or ""

    monkeypatch.setattr(web_app, "create_app", lambda _settings: built)
    served = web_app.asgi_app(web_settings(proxy_hops=proxy_hops))
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/whoami",
        "raw_path": b"/whoami",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"coachos.test"), (b"x-forwarded-for", b"203.0.113.9")],
        "client": ("10.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
    }
    sent: list[dict[str, Any]] = []

    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        # The request once, then what a server says after the response: the client went away.
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await served(scope, receive, send)
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()


class TestProxyHops:
    async def test_without_trusted_proxies_the_socket_address_counts(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """By default X-Forwarded-For is ignored, so a client cannot pick the address it is throttled under."""
        assert await _remote_addr(0, monkeypatch) == "10.0.0.1"

    async def test_behind_one_trusted_proxy_the_forwarded_address_counts(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With COACHOS_PROXY_HOPS=1 the address the proxy forwarded is the client's."""
        assert await _remote_addr(1, monkeypatch) == "203.0.113.9"
