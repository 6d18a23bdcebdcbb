"""SMS senders: the embedded default that writes .txt files, a recording fake, and choosing one from settings."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs

from coachos.domain.errors import SendError
from coachos.domain.messaging import SentSms
from coachos.settings import Settings

if TYPE_CHECKING:
    from coachos.adapters.twilio_sms import TwilioSms


@attrs.frozen
class SmsRequest:
    """An SMS a fake sender was asked to send."""

    from_number: str
    to: str
    body: str
    status_callback: str | None


@attrs.define
class MemorySms:
    """Records every SMS it is asked to send; `fail_next` makes the next sends raise the given errors instead."""

    #: Every call, in order, including those that were made to fail.
    requests: list[SmsRequest] = attrs.Factory(list)
    #: The calls that returned a receipt.
    sent: list[SmsRequest] = attrs.Factory(list)
    _failures: list[SendError] = attrs.field(factory=list, alias="_failures")
    _lock: threading.Lock = attrs.field(factory=threading.Lock, alias="_lock")

    def fail_next(self, *errors: SendError) -> None:
        """Make the next calls raise `errors`, one per call, in order."""
        with self._lock:
            self._failures.extend(errors)

    def send(self, *, from_number: str, to: str, body: str, status_callback: str | None) -> SentSms:
        """Record the SMS, then raise the next queued error or return a receipt."""
        request = SmsRequest(from_number, to, body, status_callback)
        with self._lock:
            self.requests.append(request)
            if self._failures:
                raise self._failures.pop(0)
            self.sent.append(request)
            return SentSms(provider_id=f"SM-memory-{len(self.sent)}", status="queued")

    def find_sent(
        self, *, from_number: str, to: str, body: str, since: datetime, status_callback: str | None
    ) -> SentSms | None:
        """The receipt of an SMS sent earlier with the same numbers, body and status callback, if any."""
        request = SmsRequest(from_number, to, body, status_callback)
        with self._lock:
            for number, sent in enumerate(self.sent, start=1):
                if sent == request:
                    return SentSms(provider_id=f"SM-memory-{number}", status="queued")
        return None


@attrs.frozen
class FileSms:
    """Writes each SMS as a .txt file in a folder: the embedded default, so nothing leaves the machine."""

    folder: Path

    def send(self, *, from_number: str, to: str, body: str, status_callback: str | None) -> SentSms:
        """Write the SMS to a new file."""
        provider_id = f"SM-file-{secrets.token_hex(8)}"
        lines = [f"From: {from_number}", f"To: {to}"]
        if status_callback is not None:
            lines.append(f"Status-Callback: {status_callback}")
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{provider_id}.txt"
        (self.folder / name).write_text("\n".join([*lines, "", body]) + "\n", encoding="utf-8")
        return SentSms(provider_id=provider_id, status="sent")

    def find_sent(
        self, *, from_number: str, to: str, body: str, since: datetime, status_callback: str | None
    ) -> SentSms | None:
        """The file of an SMS written earlier with the same numbers, body and status callback, if any."""
        lines = [f"From: {from_number}", f"To: {to}"]
        if status_callback is not None:
            lines.append(f"Status-Callback: {status_callback}")
        wanted = "\n".join([*lines, "", body]) + "\n"
        for path in sorted(self.folder.glob("*-SM-file-*.txt")) if self.folder.is_dir() else []:
            if path.read_text(encoding="utf-8") == wanted:
                return SentSms(provider_id=path.stem.partition("-")[2], status="sent")
        return None


def sms_from_settings(settings: Settings) -> FileSms | MemorySms | TwilioSms:
    """The sender for COACHOS_SMS_URL: file://folder, memory://, or twilio:// (with the COACHOS_TWILIO_* settings)."""
    parsed = urlsplit(settings.sms_url)
    if parsed.scheme == "memory":
        return MemorySms()
    if parsed.scheme == "file":
        return FileSms(Path(parsed.netloc + parsed.path or "sms"))
    if parsed.scheme == "twilio":
        # Imported here: the SDK is slow to import and only deployments sending real SMS need it.
        from coachos.adapters.twilio_sms import TwilioSms

        return TwilioSms.from_settings(settings)
    raise ValueError(f"COACHOS_SMS_URL must start with file://, twilio:// or memory://, not '{parsed.scheme}://'.")
