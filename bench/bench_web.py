"""The web app under load on PostgreSQL: public slots (30 days) and public booking.

The app runs as `coachos serve` (hypercorn) in its own process; the load comes from a second
process (`bench.loadgen`) over loopback. (The statement count per slots request is pinned by
tests/integration/web/test_query_count.py and reported by bench_find_slots.)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

from bench._pg import temp_postgres
from coachos import BookingPolicy, CreateService, Money, Settings, SetWeeklyHours, SignUp, bootstrap
from coachos.domain.ids import Actor

ROOT = Path(__file__).resolve().parents[1]
SLUG = "bench-gym"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(url: str) -> dict[str, Any]:
    """A business open every day 06:00-22:00 with a 30-minute session that needs no credit."""
    with bootstrap(Settings(database_url=url)) as app:
        org, coach = app.execute(
            SignUp(
                business_name="Bench Gym",
                slug=SLUG,
                timezone="America/New_York",
                currency="USD",
                name="Bench",
                email="bench@example.com",
                password="bench-password-1",  # noqa: S106  # a throwaway benchmark account
                policy=BookingPolicy(
                    min_notice=timedelta(hours=1), horizon=timedelta(days=120), slot_interval=timedelta(minutes=30)
                ),
            )
        )
        me = Actor("coach", coach.id)
        service = app.execute(
            CreateService(
                org_id=org.id,
                name="Quick session",
                duration=timedelta(minutes=30),
                price=Money(2000, "USD"),
                uses_credit=False,
                actor=me,
            )
        )
        app.execute(
            SetWeeklyHours(org_id=org.id, coach_id=coach.id, hours=[(d, wall(6), wall(22)) for d in range(7)], actor=me)
        )
    return {"org": org, "coach": coach, "service": service}


class Server:
    """`coachos serve` in a subprocess."""

    def __init__(self, url: str, extra_env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.folder = tempfile.mkdtemp()
        env = dict(
            os.environ,
            COACHOS_DATABASE_URL=url,
            COACHOS_SECRET_KEY="bench-secret",  # noqa: S106  # a throwaway benchmark server
            COACHOS_EMAIL_URL="memory://",
            COACHOS_LOG_LEVEL="WARNING",
            COACHOS_COOKIE_SECURE="false",
            COACHOS_DB_POOL_SIZE="20",
            **(extra_env or {}),
        )
        self.process = subprocess.Popen(  # noqa: S603  # our own CLI
            [sys.executable, "-m", "coachos.entrypoints.cli", "serve", "--port", str(self.port)],
            cwd=self.folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the web app did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _load(spec: dict[str, Any]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    done = subprocess.run(  # noqa: S603  # our own module
        [sys.executable, "-m", "bench.loadgen", handle.name], cwd=ROOT, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _anon_csrf(port: int, path: str) -> tuple[str, str]:
    """An anonymous cookie and the CSRF token bound to it, as a visitor's first page view gets them."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
        page = response.read().decode()
    token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    return cookie, token


def _free_slots(port: int, service_path: str, start: datetime, windows: int) -> list[str]:
    """Free slot starts over `windows` consecutive 31-day windows, via the public JSON endpoint."""
    found: list[str] = []
    tz_first = start.date()
    for n in range(windows):
        first = tz_first + timedelta(days=31 * n)
        url = f"http://127.0.0.1:{port}{service_path}/slots.json?days=31&from={first.isoformat()}"
        with urllib.request.urlopen(url, timeout=30) as response:
            found += [item["start"] for item in json.load(response)["items"]]
    return found


def run(seconds: float = 8.0, connections: int = 16) -> list[dict[str, Any]]:
    """Load the public slots (30 days) and booking endpoints; count statements per slots request."""
    rows: list[dict[str, Any]] = []
    with temp_postgres(pool_size=24) as engine:
        url = engine.url.render_as_string(hide_password=False)
        seeded = _seed(url)
        service_path = f"/book/{SLUG}/{seeded['service'].id}"
        server = Server(url)
        try:
            slots = _load(
                {
                    "host": "127.0.0.1",
                    "port": server.port,
                    "connections": connections,
                    "seconds": seconds,
                    "requests": [{"method": "GET", "path": f"{service_path}/slots.json?days=30"}],
                }
            )
            rows.append({"name": "web_public_slots_30_days", **slots})
            cookie, token = _anon_csrf(server.port, service_path)
            starts = _free_slots(server.port, service_path, datetime.now(UTC), windows=3)
            requests = [
                {
                    "method": "POST",
                    "path": f"{service_path}/book?" + urlencode({"start": start}),
                    "headers": {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
                    "body": urlencode(
                        {
                            "csrf_token": token,
                            "name": f"Guest {n}",
                            "email": f"guest{n}@example.com",
                            "idempotency_key": uuid.uuid4().hex,
                        }
                    ),
                }
                for n, start in enumerate(starts)
            ]
            booked = _load(
                {
                    "host": "127.0.0.1",
                    "port": server.port,
                    "connections": connections,
                    "seconds": seconds,
                    "requests": requests,
                    "cycle": False,
                }
            )
            with engine.connect() as conn:
                stored = conn.execute(sa.text("SELECT count(*) FROM bookings")).scalar_one()
            rows.append(
                {"name": "web_public_booking", "bookings_stored": stored, "free_slots_offered": len(starts), **booked}
            )
            assert stored == booked["statuses"].get("302", 0), f"{stored} stored vs {booked['statuses']}"
        finally:
            server.stop()
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
