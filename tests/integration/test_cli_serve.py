"""`coachos serve` never migrates: it serves a current schema and refuses anything behind with a clear message."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

from coachos.adapters.sql import migrate
from coachos.adapters.sql.engine import make_engine
from tests.integration.conftest import fresh_sqlite
from tests.integration.live import free_port

COACHOS = [sys.executable, "-m", "coachos.entrypoints.cli"]


def _env(url: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("COACHOS_")}
    return kept | {
        "COACHOS_DATABASE_URL": url,
        "COACHOS_SECRET_KEY": "cli-test-secret",
        "COACHOS_EMAIL_URL": "memory://",
    }


def _coachos(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    # A serve that does start would run until killed: the timeout turns that into a failure, not a hang.
    return subprocess.run(  # noqa: S603  # our own command line
        [*COACHOS, *args], cwd=tmp_path, env=_env(url), capture_output=True, text=True, timeout=60, check=False
    )


def _revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return migrate.current_revision(engine)
    finally:
        engine.dispose()


def _status(port: int, path: str) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


class TestServeChecksTheSchema:
    """What `coachos serve` does with the schema it finds."""

    def test_an_empty_database_is_refused_and_left_alone(self, tmp_path: Path) -> None:
        """On a database without tables, serve exits 1 asking for `coachos db upgrade`, and migrates nothing."""
        url = fresh_sqlite(tmp_path)
        done = _coachos(tmp_path, url, "serve", "--port", str(free_port()))
        assert done.returncode == 1, done.stdout + done.stderr
        assert "coachos db upgrade" in done.stderr
        assert "Traceback" not in done.stderr
        assert _revision(url) is None

    def test_a_schema_behind_is_refused_naming_both_revisions(self, tmp_path: Path) -> None:
        """On a schema one migration behind, serve names the revision found and the one it needs."""
        url = fresh_sqlite(tmp_path)
        engine = make_engine(url)
        migrate.upgrade(engine, "0003")
        engine.dispose()
        done = _coachos(tmp_path, url, "serve", "--port", str(free_port()))
        assert done.returncode == 1
        assert "0003" in done.stderr
        assert f"needs {migrate.head_revision()}" in done.stderr
        assert _revision(url) == "0003"

    def test_a_database_that_is_down_is_a_message_not_a_traceback(self, tmp_path: Path) -> None:
        """With nothing listening at the database's address, serve exits 1 with a readable message."""
        done = _coachos(tmp_path, f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none", "serve")
        assert done.returncode == 1
        assert "did not answer" in done.stderr
        assert "Traceback" not in done.stderr

    def test_after_db_upgrade_serve_starts_and_is_ready(self, tmp_path: Path) -> None:
        """`coachos db upgrade` then `coachos serve`: the app answers /healthz and /readyz with 200."""
        url = fresh_sqlite(tmp_path)
        assert _coachos(tmp_path, url, "db", "upgrade").returncode == 0
        port = free_port()
        log = tmp_path / "serve.log"
        with log.open("wb") as sink:
            server = subprocess.Popen(  # noqa: S603  # our own command line
                [*COACHOS, "serve", "--port", str(port)], cwd=tmp_path, env=_env(url), stdout=sink, stderr=sink
            )
        try:
            deadline = time.monotonic() + 30
            while _status(port, "/healthz") != 200:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "coachos serve did not answer /healthz within 30 s"
                time.sleep(0.1)
            assert _status(port, "/readyz") == 200
        finally:
            server.terminate()
            server.wait(timeout=10)
