"""A worker killed mid-send: a real `coachos worker` process on a SQLite database, with its queue on SQLite or
Redis, is SIGKILLed after Twilio (a fake, on loopback) accepted a text and before the worker wrote the outcome.
The next worker finds the text at Twilio and records it; Twilio receives every text exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.security import fast_test_hasher
from coachos.adapters.sms import MemorySms
from coachos.domain.clients import Channel
from coachos.domain.messages import Message, MessageStatus
from coachos.entrypoints.worker import make_worker
from tests.helpers import make_world
from tests.integration.fake_twilio import SID, TOKEN, FakeTwilio, Hangup, fake_twilio
from tests.integration.test_worker_process import REDIS_URL, WORKER, _env, _require_redis, _wait_for
from tests.unit.test_sending import FROM, consent, queue

ROOT = Path(__file__).resolve().parents[2]
#: Its own Redis database, so other tests flushing theirs leave this one's queue alone.
CRASH_REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/11"


@pytest.fixture(params=["sqlite-queue", "redis-queue"])
def queue_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Where the worker's huey queue lives."""
    if request.param == "sqlite-queue":
        return {"COACHOS_QUEUE_PATH": str(tmp_path / "queue.db")}
    _require_redis()
    redis.Redis.from_url(CRASH_REDIS_URL).flushdb()
    return {"COACHOS_REDIS_URL": CRASH_REDIS_URL}


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with fake_twilio() as fake:
        yield fake


@pytest.fixture
def workers() -> Iterator[Callable[[dict[str, str]], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([*WORKER, "--threads", "2"], env=env, cwd=ROOT)  # noqa: S603  # our own argv
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def statuses(app: CoachOS, queued: list[Message]) -> list[MessageStatus]:
    with app.deps.uow() as uow:
        return [uow.messages.get(m.org_id, m.id).status for m in queued]


def test_a_worker_killed_between_twilios_answer_and_the_status_write_sends_nothing_twice(
    tmp_path: Path,
    queue_env: dict[str, str],
    twilio: FakeTwilio,
    workers: Callable[[dict[str, str]], subprocess.Popen[bytes]],
) -> None:
    """Killed with SIGKILL right after Twilio accepted the first of three texts, the worker leaves them `sending`;
    the next worker records the first from Twilio's list and sends the other two: each reaches Twilio once."""
    env = _env(
        tmp_path,
        COACHOS_DATABASE_URL=f"sqlite:///{tmp_path / 'coachos.db'}",
        COACHOS_SMS_URL="twilio://",
        COACHOS_TWILIO_ACCOUNT_SID=SID,
        COACHOS_TWILIO_AUTH_TOKEN=TOKEN,
        COACHOS_TWILIO_API_URL=twilio.url,
        COACHOS_SMS_FROM=FROM,
        COACHOS_SMS_RATE_PER_SECOND="100",
        COACHOS_SMS_BURST="10",
        COACHOS_SEND_LEASE_SECONDS="2",
        **queue_env,
    )
    settings = Settings.from_env(env)
    with bootstrap(settings, upgrade_schema=True, hasher=fast_test_hasher(), sms=MemorySms()) as app:
        world = make_world(app)
        consent(app, world, Channel.SMS)
        # Not held by quiet hours: the test runs at whatever time of day it is in New York.
        queued = [queue(app, world, quiet_hours=False, body=f"Your booking {n} is confirmed.") for n in range(3)]

        first = workers(env)
        killed = threading.Event()

        def kill_the_worker(_: dict[str, Any]) -> None:
            if not killed.is_set():
                os.kill(first.pid, signal.SIGKILL)
                killed.set()
                raise Hangup

        twilio.on_create = kill_the_worker
        ticks = make_worker(settings)
        try:
            ticks.tick_task()
            assert first.wait(timeout=60) == -signal.SIGKILL
            assert sum(twilio.created.values()) == 1
            assert statuses(app, queued) == [MessageStatus.SENDING] * 3

            twilio.on_create = None
            second = workers(env)
            last_tick = [0.0]

            def all_sent() -> bool:
                if time.monotonic() - last_tick[0] > 1:
                    last_tick[0] = time.monotonic()
                    ticks.tick_task()
                return statuses(app, queued) == [MessageStatus.SENT] * 3

            _wait_for(all_sent, "the next worker to finish the three texts", timeout=60)
            second.send_signal(signal.SIGINT)
            assert second.wait(timeout=30) == 0
        finally:
            ticks.app.close()

        assert twilio.created == {m.body: 1 for m in queued}
        sids = {m["body"]: m["sid"] for m in twilio.messages}
        with app.deps.uow() as uow:
            assert {m.body: uow.messages.get(m.org_id, m.id).provider_id for m in queued} == sids
