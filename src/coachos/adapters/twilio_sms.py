"""Sending SMS through Twilio's REST API with the official SDK, and checking Twilio's webhook signatures.

Twilio's errors become the domain's send errors here, so nothing Twilio-shaped crosses into the domain.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs
import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from coachos.domain.errors import PermanentSendError, RecipientOptedOut, TransientSendError
from coachos.domain.messaging import SentSms
from coachos.settings import Settings

DEFAULT_API_URL = "https://api.twilio.com"
#: Twilio's code for a recipient who replied STOP.
OPTED_OUT = 21610
#: Latest messages between two numbers read when checking whether an earlier attempt went out.
FIND_SENT_LIMIT = 20
#: Seconds to connect and to wait for each read; a hung API costs this, not a worker forever.
DEFAULT_TIMEOUT = 10.0


class _RememberingHttpClient(TwilioHttpClient):  # type: ignore[misc]  # the SDK is untyped (Any)
    """The SDK's HTTP client, remembering each thread's last Retry-After (the SDK's errors drop headers)."""

    def __init__(self, *, timeout: float) -> None:
        # max_retries=0: a retry is the caller's decision (it has backoff and knows what was sent).
        super().__init__(timeout=timeout, max_retries=0)
        self.seen = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> Response:
        self.seen.retry_after = None
        response = super().request(*args, **kwargs)
        self.seen.retry_after = _seconds(response.headers.get("Retry-After") if response.headers else None)
        return response


def _seconds(raw: object) -> float | None:
    try:
        value = float(str(raw))
    except ValueError:
        return None
    return value if 0 <= value <= 86400 else None


@attrs.define
class TwilioSms:
    """Sends SMS with Twilio's Messages API."""

    account_sid: str
    auth_token: str = attrs.field(repr=False)
    #: Where the SDK sends its requests; tests point it at a stub server on loopback.
    api_url: str = DEFAULT_API_URL
    timeout: float = DEFAULT_TIMEOUT
    _http: _RememberingHttpClient = attrs.field(init=False, repr=False)
    _client: Client = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._http = _RememberingHttpClient(timeout=self.timeout)
        self._client = Client(self.account_sid, self.auth_token, http_client=self._http, environment={})
        # The SDK has no setting for its base URL; its Api domain keeps it in this attribute.
        self._client.api.base_url = self.api_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioSms:
        """The sender for COACHOS_TWILIO_ACCOUNT_SID / _AUTH_TOKEN / _API_URL; both credentials are required."""
        if not settings.twilio_account_sid or not settings.twilio_auth_token:
            raise ValueError(
                "COACHOS_SMS_URL=twilio:// needs COACHOS_TWILIO_ACCOUNT_SID and COACHOS_TWILIO_AUTH_TOKEN to be set."
            )
        return cls(settings.twilio_account_sid, settings.twilio_auth_token, api_url=settings.twilio_api_url)

    def send(self, *, from_number: str, to: str, body: str, status_callback: str | None) -> SentSms:
        """Create the message at Twilio; raise TransientSendError, RecipientOptedOut or PermanentSendError."""
        options: dict[str, str] = {"from_": from_number, "to": to, "body": body}
        if status_callback is not None:
            options["status_callback"] = status_callback
        try:
            message = self._client.messages.create(**options)
        except (requests.Timeout, requests.ConnectionError):
            raise TransientSendError("Twilio could not be reached in time; the SMS will be tried again.") from None
        except TwilioException as e:
            raise self._translate(e) from None
        return SentSms(provider_id=str(message.sid), status=str(message.status))

    def find_sent(
        self, *, from_number: str, to: str, body: str, since: datetime, status_callback: str | None
    ) -> SentSms | None:
        """Twilio's message from `from_number` to `to` with this body created at or after `since`, if any.

        Twilio's list can filter on DateSent only, which a message still queued at Twilio lacks, so
        this reads the latest messages between the two numbers (newest first) and compares the
        creation time and body here. Errors reaching Twilio raise TransientSendError: not knowing is
        not "not sent".
        """
        try:
            found = self._client.messages.list(to=to, from_=from_number, limit=FIND_SENT_LIMIT)
        except (requests.Timeout, requests.ConnectionError):
            raise TransientSendError("Twilio could not be reached to check an earlier attempt.") from None
        except TwilioException as e:
            error = self._translate(e)
            if isinstance(error, TransientSendError):
                raise error from None
            raise TransientSendError("Twilio refused to list messages; the check will be tried again.") from None
        for message in found:
            created = message.date_created
            if created is not None and created < since:
                continue
            if str(message.body) == body:
                return SentSms(provider_id=str(message.sid), status=str(message.status))
        return None

    def _translate(self, error: TwilioException) -> Exception:
        status = getattr(error, "status", None)
        code = getattr(error, "code", None)
        if status == 429 or (isinstance(status, int) and status >= 500):
            return TransientSendError(
                "Twilio is busy or unavailable; the SMS will be tried again.",
                retry_after=getattr(self._http.seen, "retry_after", None),
            )
        if code == OPTED_OUT:
            return RecipientOptedOut()
        if code is not None:
            # Twilio's message names the problem without the number or body (e.g. "not a valid phone number").
            return PermanentSendError(str(code), _reason(code))
        return PermanentSendError(str(status or "unknown"), "Twilio refused the message")


_REASONS = {
    21211: "the phone number is not valid",
    21408: "SMS to this country is not enabled on the Twilio account",
    21606: "the sending number cannot send SMS",
    21612: "Twilio cannot route a message from this sender to this number",
    21614: "the number cannot receive SMS (it is not a mobile number)",
    20003: "the Twilio credentials were refused",
}


def _reason(code: object) -> str:
    return _REASONS.get(code, f"Twilio refused the message (error {code})") if isinstance(code, int) else str(code)


def twilio_signature_valid(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    """Whether `signature` (the X-Twilio-Signature header) is Twilio's signature of `url` and form `params`."""
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))
