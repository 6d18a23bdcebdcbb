"""Email senders: the embedded default that writes .eml files, a recording fake, and choosing one by URL."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import attrs

from coachos.adapters.smtp_email import DEFAULT_SENDER, SmtpEmail, build_message


@attrs.frozen
class SentEmail:
    """A message a fake sender was asked to send."""

    to: str
    subject: str
    text: str
    html: str | None = None
    message_id: str | None = None


@attrs.define
class MemoryEmail:
    """Keeps messages in a list instead of sending them (tests, and the embedded demo's outbox page)."""

    sent: list[SentEmail] = attrs.Factory(list)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, alias="_lock")

    def send(self, to: str, subject: str, text: str, html: str | None = None, *, message_id: str | None = None) -> None:
        """Record the message."""
        with self._lock:
            self.sent.append(SentEmail(to, subject, text, html, message_id))


@attrs.frozen
class FileEmail:
    """Writes each message as an .eml file in a folder: the embedded default, so nothing leaves the machine."""

    folder: Path

    def send(self, to: str, subject: str, text: str, html: str | None = None, *, message_id: str | None = None) -> None:
        """Write the message to a new file."""
        message = build_message(DEFAULT_SENDER, to, subject, text, html, message_id)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}.eml").write_bytes(bytes(message))


def email_from_url(url: str) -> FileEmail | SmtpEmail | MemoryEmail:
    """The sender for `url`: file:///folder, smtp://user:password@host:port (STARTTLS, required to log in),
    smtps://user:password@host:port (TLS from the start), or memory://."""
    parsed = urlsplit(url)
    if parsed.scheme == "memory":
        return MemoryEmail()
    if parsed.scheme == "file":
        return FileEmail(Path(parsed.netloc + parsed.path or "mail"))
    if parsed.scheme in ("smtp", "smtps"):
        implicit = parsed.scheme == "smtps"
        username = unquote(parsed.username) if parsed.username else None
        return SmtpEmail(
            host=parsed.hostname or "localhost",
            port=parsed.port or (465 if implicit else 587),
            username=username,
            password=unquote(parsed.password) if parsed.password else None,
            implicit_tls=implicit,
            # A relay without a login (on localhost, say) may lack STARTTLS; a password never goes in the clear.
            require_tls=username is not None,
        )
    raise ValueError(
        f"COACHOS_EMAIL_URL must start with file://, smtp://, smtps:// or memory://, not '{parsed.scheme}://'."
    )
