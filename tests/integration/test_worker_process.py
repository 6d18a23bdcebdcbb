"""The worker as a real process: huey consumers on SQLite and Redis, and dev.py running web and worker together.

Redis is found at COACHOS_TEST_REDIS_URL (default: the local server, database 13, which these tests flush).
When it is missing the Redis test skips on a developer's machine but FAILS under CI=true.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from coachos import Settings
from coachos.adapters.huey_tasks import HueyTaskQueue, make_huey
from coachos.adapters.security import MemoryEmail
from tests.integration.live import free_port

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("COACHOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
WORKER = [sys.executable, "-m", "coachos.entrypoints.cli", "worker"]


def _require_redis() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        message = f"Redis is not reachable at {REDIS_URL}: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: Redis tests must run, not skip)")
        pytest.skip(message)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACHOS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env.update(COACHOS_EMAIL_URL=f"file://{tmp_path / 'mail'}", COACHOS_SECRET_KEY="test-secret", **extra)
    return env


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _enqueue_from_here(env: dict[str, str]) -> None:
    """Queue an email from this process, as the web app would, on the queue the settings name."""
    huey = make_huey(Settings.from_env(env))
    assert huey is not None
    HueyTaskQueue.on(huey, MemoryEmail()).enqueue_email("alex@peak.test", "Queued", "Sent by the worker.")


def _sent(tmp_path: Path) -> list[str]:
    folder = tmp_path / "mail"
    return [p.read_text() for p in folder.glob("*.eml")] if folder.exists() else []


@pytest.fixture
def worker_process() -> Iterator[Callable[[dict[str, str]], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(WORKER, env=env, cwd=ROOT)  # noqa: S603  # our own argv
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _consumes_and_stops(
    tmp_path: Path, env: dict[str, str], start: Callable[[dict[str, str]], subprocess.Popen[bytes]]
) -> None:
    process = start(env)
    _enqueue_from_here(env)
    _wait_for(lambda: len(_sent(tmp_path)) == 1, "the worker to send the queued email")
    (message,) = _sent(tmp_path)
    assert "Subject: Queued" in message
    assert "alex@peak.test" in message
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0


class TestWorkerProcess:
    def test_sqlite_queue(self, tmp_path: Path, worker_process: Callable[..., subprocess.Popen[bytes]]) -> None:
        """A `coachos worker` on a SQLite queue file sends an email another process queued, and stops on SIGINT."""
        env = _env(tmp_path, COACHOS_DATABASE_URL="memory://", COACHOS_QUEUE_PATH=str(tmp_path / "queue.db"))
        _consumes_and_stops(tmp_path, env, worker_process)

    def test_redis_queue(self, tmp_path: Path, worker_process: Callable[..., subprocess.Popen[bytes]]) -> None:
        """A `coachos worker` on Redis sends an email another process queued, and stops on SIGINT."""
        _require_redis()
        redis.Redis.from_url(REDIS_URL).flushdb()
        env = _env(tmp_path, COACHOS_DATABASE_URL="memory://", COACHOS_REDIS_URL=REDIS_URL)
        _consumes_and_stops(tmp_path, env, worker_process)


def _run_together(commands: list[list[str]], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """dev.py's `run_together` in its own process, as `python3 dev.py start` runs it."""
    code = "import json, sys, dev; sys.exit(dev.run_together(json.loads(sys.argv[1])))"
    return subprocess.Popen([sys.executable, "-c", code, json.dumps(commands)], cwd=ROOT, env=env)  # noqa: S603


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
            return True
    except OSError:
        return False


class TestDevStart:
    def test_web_and_worker_run_together_and_stop_together(self, tmp_path: Path) -> None:
        """dev.py runs the web app and the worker; the worker sends queued email; one SIGINT stops both with 0."""
        env = _env(tmp_path, COACHOS_DATABASE_URL=f"sqlite:///{tmp_path / 'coachos.db'}")
        subprocess.run([*WORKER[:-1], "db", "upgrade"], env=env, cwd=ROOT, check=True)  # noqa: S603
        port = free_port()
        serve = [*WORKER[:-1], "serve", "--port", str(port)]
        together = _run_together([serve, WORKER], env)
        try:
            _wait_for(lambda: _answers(port), "the web app to answer")
            _enqueue_from_here(env)
            _wait_for(lambda: len(_sent(tmp_path)) == 1, "the worker to send the queued email")
            together.send_signal(signal.SIGINT)
            assert together.wait(timeout=30) == 0
            assert not _answers(port)
        finally:
            if together.poll() is None:
                together.kill()

    def test_one_child_ending_stops_the_other(self, tmp_path: Path) -> None:
        """When one child ends by itself, dev.py stops the other and exits with that child's non-zero code."""
        env = _env(tmp_path, COACHOS_DATABASE_URL="memory://", COACHOS_QUEUE_PATH=str(tmp_path / "queue.db"))
        together = _run_together(
            [WORKER, [sys.executable, "-c", "import time; time.sleep(3); raise SystemExit(3)"]], env
        )
        try:
            assert together.wait(timeout=60) == 3
        finally:
            if together.poll() is None:
                together.kill()
