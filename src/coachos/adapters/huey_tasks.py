"""The task queue on huey: SQLite beside the embedded database, Redis in production.

The web process and the worker each build the same `Huey` from the same settings and register the
same task names on it, so what one enqueues the other finds; nothing connects at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
from huey import Huey, RedisHuey, SqliteHuey

from coachos.ports.messaging import EmailSender
from coachos.settings import Settings

#: The queue's name: its key prefix in Redis and its table rows in SQLite.
QUEUE_NAME = "coachos"
QUEUE_FILE = "coachos-queue.db"
#: A mail server that is down for a while gets this many more tries, `EMAIL_RETRY_DELAY` seconds apart.
EMAIL_RETRIES = 5
EMAIL_RETRY_DELAY = 60


def queue_path(settings: Settings) -> Path | None:
    """The SQLite queue file for `settings`: `queue_path`, else beside a SQLite database file, else None.

    A server database (PostgreSQL) gets no file by default: its processes may sit on several machines,
    where a local file would split the queue; they name Redis (or a queue file) instead.
    """
    if settings.queue_path:
        return Path(settings.queue_path)
    url = settings.database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).parent / QUEUE_FILE
    return None


def make_huey(settings: Settings) -> Huey | None:
    """The huey for `settings`: Redis when `redis_url` is set, else a SQLite file, else None (tasks run at once)."""
    if settings.redis_url:
        return RedisHuey(QUEUE_NAME, url=settings.redis_url)
    path = queue_path(settings)
    if path is None:
        return None
    return SqliteHuey(QUEUE_NAME, filename=str(path))


@attrs.frozen
class HueyTaskQueue:
    """Enqueues work on huey; the worker process runs it with its own adapters."""

    huey: Huey
    _send_email: Any  # huey's TaskWrapper (huey has no type hints)

    @classmethod
    def on(cls, huey: Huey, email: EmailSender) -> HueyTaskQueue:
        """Register Coach OS's tasks on `huey`, run (in the worker) with the sender `email`."""

        # The task carries the message because the worker must send exactly what the request made;
        # the queue's storage therefore holds reset links until sent (Redis/SQLite next to the database).
        def send_email(to: str, subject: str, text: str) -> None:
            email.send(to, subject, text)

        task = huey.task(retries=EMAIL_RETRIES, retry_delay=EMAIL_RETRY_DELAY, name="send_email")(send_email)
        return cls(huey, task)

    def enqueue_email(self, to: str, subject: str, text: str) -> None:
        """Queue the email for the worker."""
        self._send_email(to, subject, text)
