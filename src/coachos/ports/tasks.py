"""Work handed to the background worker, so a web request never waits on a slow service."""

from __future__ import annotations

from typing import Protocol


class TaskQueue(Protocol):
    """Queues work for the worker process (`coachos worker`)."""

    def enqueue_email(self, to: str, subject: str, text: str) -> None:
        """Send a plain-text email to `to` soon, from the worker, retrying if the mail server fails."""
        ...
