"""Security adapters: argon2id password hashing, secure random tokens, and email senders."""

from __future__ import annotations

import secrets
import smtplib
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

import argon2
import attrs


class Argon2Hasher:
    """argon2id with the library's recommended parameters (RFC 9106 low-memory profile)."""

    def __init__(self, *, time_cost: int | None = None, memory_cost: int | None = None) -> None:
        default = argon2.PasswordHasher()
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost or default.time_cost,
            memory_cost=memory_cost or default.memory_cost,
            parallelism=default.parallelism,
            hash_len=default.hash_len,
            salt_len=default.salt_len,
        )
        self._decoy: str | None = None

    def hash(self, password: str) -> str:
        """An argon2id hash of `password`."""
        return self._hasher.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        """Whether `password` matches `stored`."""
        try:
            return self._hasher.verify(stored, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def verify_absent(self, password: str) -> bool:
        """Check `password` against a decoy hash with today's parameters, so an unknown email takes as long."""
        if self._decoy is None:
            self._decoy = self._hasher.hash("coachos-decoy-password")
        self.verify(self._decoy, password)
        return False

    def needs_rehash(self, stored: str) -> bool:
        """Whether `stored` was made with other parameters than today's."""
        return self._hasher.check_needs_rehash(stored)


def fast_test_hasher() -> Argon2Hasher:
    """Real argon2id with tiny costs, for tests that sign in many times (never for production)."""
    return Argon2Hasher(time_cost=1, memory_cost=64)


class SecretsTokens:
    """Tokens from the operating system's secure random source."""

    def new_token(self) -> str:
        """43 URL-safe characters (256 bits)."""
        return secrets.token_urlsafe(32)


@attrs.frozen
class SentEmail:
    """A message a fake sender was asked to send."""

    to: str
    subject: str
    text: str


@attrs.define
class MemoryEmail:
    """Keeps messages in a list instead of sending them (tests, and the embedded demo's outbox page)."""

    sent: list[SentEmail] = attrs.Factory(list)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, alias="_lock")

    def send(self, to: str, subject: str, text: str) -> None:
        """Record the message."""
        with self._lock:
            self.sent.append(SentEmail(to, subject, text))


@attrs.frozen
class FileEmail:
    """Writes each message as an .eml file in a folder: the embedded default, so nothing leaves the machine."""

    folder: Path

    def send(self, to: str, subject: str, text: str) -> None:
        """Write the message to a new file."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "Coach OS <no-reply@coachos.local>", to, subject
        message.set_content(text)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}.eml").write_bytes(bytes(message))


def email_from_url(url: str) -> FileEmail | SmtpEmail | MemoryEmail:
    """The sender for `url`: file:///folder, smtp://user:password@host:port, or memory://."""
    parsed = urlsplit(url)
    if parsed.scheme == "memory":
        return MemoryEmail()
    if parsed.scheme == "file":
        return FileEmail(Path(parsed.netloc + parsed.path or "mail"))
    if parsed.scheme == "smtp":
        return SmtpEmail(
            host=parsed.hostname or "localhost",
            port=parsed.port or 587,
            username=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
        )
    raise ValueError(f"COACHOS_EMAIL_URL must start with file://, smtp:// or memory://, not '{parsed.scheme}://'.")


@attrs.frozen
class SmtpEmail:
    """Sends through an SMTP server with STARTTLS when the server offers it."""

    host: str
    port: int = 587
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    sender: str = "Coach OS <no-reply@coachos.local>"

    def send(self, to: str, subject: str, text: str) -> None:
        """Deliver the message."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(text)
        with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
            if smtp.has_extn("starttls"):
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)
