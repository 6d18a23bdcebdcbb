"""Messaging ports: sending email and SMS.

Senders raise the domain's send errors (coachos.domain.errors): `TransientSendError` when the same
message may be tried again later, `PermanentSendError` (and its `RecipientOptedOut`) when it must not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from coachos.domain.messaging import SentSms


class EmailSender(Protocol):
    """Sends an email."""

    def send(self, to: str, subject: str, text: str, html: str | None = None, *, message_id: str | None = None) -> None:
        """Deliver a message to `to`: plain text, with an HTML alternative when `html` is given.

        `message_id` becomes the Message-ID header, so sending the same stored message twice gives
        receivers two copies with one id, which mail systems and clients show once.
        """
        ...


class SmsSender(Protocol):
    """Sends an SMS through a provider."""

    def send(self, *, from_number: str, to: str, body: str, status_callback: str | None) -> SentSms:
        """Hand `body` to the provider for `to` (E.164 numbers); delivery updates go to `status_callback`."""
        ...

    def find_sent(
        self, *, from_number: str, to: str, body: str, since: datetime, status_callback: str | None
    ) -> SentSms | None:
        """The provider's receipt for this SMS if it already accepted one like it (same numbers and body,
        created at or after `since`), else None: asked before sending again a message whose earlier
        attempt may have reached the provider."""
        ...
