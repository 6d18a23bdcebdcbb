"""A stand-in for Twilio's Messages API on loopback, for the real twilio SDK to talk to.

It creates messages (counting how many it was given per body, so a test can prove nothing was sent
twice), lists them back (newest first, filtered by To and From) as Twilio does, answers scripted
errors (429, 5xx, 21610) in turn, waits `latency` seconds per request when asked (the benchmark), and
calls `on_create` after accepting a message and before answering, which a test uses to kill the
worker at exactly the moment between the provider's acceptance and the worker's status write.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

SID = "AC" + "0" * 32
TOKEN = "stub-auth-token"
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"


class Hangup(Exception):
    """Raised by `on_create` to close the connection without answering (the caller is gone anyway)."""


@attrs.define
class FakeTwilio:
    """Twilio's Messages resource, in memory."""

    url: str = ""
    latency: float = 0.0
    #: Every message created, in order, as Twilio would describe it.
    messages: list[dict[str, Any]] = attrs.Factory(list)
    #: How many messages were created per body.
    created: Counter[str] = attrs.Factory(Counter)
    #: Form fields of every create request, in order (including those answered with an error).
    requests: list[dict[str, str]] = attrs.Factory(list)
    #: Lists asked for, as their query parameters.
    lists: list[dict[str, str]] = attrs.Factory(list)
    #: Called with each created message before the answer is written.
    on_create: Callable[[dict[str, Any]], None] | None = None
    _errors: list[tuple[int, dict[str, Any], dict[str, str]]] = attrs.field(factory=list, alias="_errors")
    _lock: threading.Lock = attrs.field(factory=threading.Lock, alias="_lock")

    def fail_next(self, status: int, code: int | None = None, headers: dict[str, str] | None = None) -> None:
        """Answer the next create request with this error instead of creating a message."""
        body: dict[str, Any] = {"status": status, "message": "stub error", "more_info": ""}
        if code is not None:
            body["code"] = code
        self._errors.append((status, body, headers or {}))

    def create(self, form: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str], dict[str, Any] | None]:
        with self._lock:
            self.requests.append(form)
            if self._errors:
                status, body, headers = self._errors.pop(0)
                return status, body, headers, None
            now = format_datetime(datetime.now(UTC), usegmt=True)
            message = {
                "sid": f"SM{len(self.messages) + 1:032x}",
                "account_sid": SID,
                "to": form.get("To", ""),
                "from": form.get("From", ""),
                "body": form.get("Body", ""),
                "status": "queued",
                "date_created": now,
                "date_updated": now,
                "date_sent": None,
                "num_segments": "1",
                "direction": "outbound-api",
                "uri": f"{MESSAGES[:-5]}/SM{len(self.messages) + 1:032x}.json",
            }
            self.messages.append(message)
            self.created[message["body"]] += 1
            return 201, message, {}, message

    def listed(self, query: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.lists.append(query)
            found = [
                m
                for m in reversed(self.messages)
                if m["to"] == query.get("To", m["to"]) and m["from"] == query.get("From", m["from"])
            ]
        size = int(query.get("PageSize", "50"))
        return {
            "messages": found[:size],
            "first_page_uri": MESSAGES,
            "next_page_uri": None,
            "previous_page_uri": None,
            "page": 0,
            "page_size": size,
            "uri": MESSAGES,
        }


@contextmanager
def fake_twilio(latency: float = 0.0) -> Iterator[FakeTwilio]:
    """A FakeTwilio served on 127.0.0.1 from threads."""
    state = FakeTwilio(latency=latency)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode(), keep_blank_values=True).items()}
            if state.latency:
                time.sleep(state.latency)
            status, body, headers, created = state.create(form)
            if created is not None and state.on_create is not None:
                try:
                    state.on_create(created)
                except Hangup:
                    self.close_connection = True
                    return
            with suppress(BrokenPipeError, ConnectionResetError):
                self._answer(status, body, headers)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path != MESSAGES:
                self._answer(404, {"status": 404, "message": "not found"}, {})
                return
            self._answer(200, state.listed(query), {})

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
