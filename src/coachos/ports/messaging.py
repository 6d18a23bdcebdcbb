"""Messaging ports: sending email and SMS.

Senders raise the domain's send errors (coachos.domain.errors): `TransientSendError` when the same
message may be tried again later, `PermanentSendError` (and its `RecipientOptedOut`) when it must not.
"""

from __future__ import annotations

from typing import Protocol

from coachos.domain.messaging import SentSms


class EmailSender(Protocol):
    """Sends an email."""

    def send(self, to: str, subject: str, text: str, html: str | None = None) -> None:
        """Deliver a message to `to`: plain text, with an HTML alternative when `html` is given."""
        ...


class SmsSender(Protocol):
    """Sends an SMS through a provider."""

    def send(self, *, from_number: str, to: str, body: str, status_callback: str | None) -> SentSms:
        """Hand `body` to the provider for `to` (E.164 numbers); delivery updates go to `status_callback`."""
        ...
