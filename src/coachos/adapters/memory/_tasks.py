"""A task queue that runs each task at once, in the caller: tests and the in-memory setup."""

from __future__ import annotations

import attrs

from coachos.ports.messaging import EmailSender


@attrs.frozen
class ImmediateTasks:
    """Runs queued work synchronously, so what a test enqueued has happened when the call returns."""

    email: EmailSender

    def enqueue_email(self, to: str, subject: str, text: str) -> None:
        """Send the email now."""
        self.email.send(to, subject, text)
