"""The Twilio adapter, driving the real Twilio SDK against a stub of Twilio's API on loopback."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import attrs
import pytest
from twilio.request_validator import RequestValidator

from coachos.adapters.sms import sms_from_settings
from coachos.adapters.twilio_sms import TwilioSms, twilio_signature_valid
from coachos.domain.errors import PermanentSendError, RecipientOptedOut, TransientSendError
from coachos.domain.messaging import SentSms
from coachos.settings import Settings

SID = "AC" + "0" * 32
TOKEN = "stub-auth-token"


@attrs.frozen
class Seen:
    """One request the stub received."""

    method: str
    path: str
    authorization: str
    form: dict[str, list[str]]


@attrs.define
class StubTwilio:
    """Answers each request with the next queued reply (status, JSON body, headers, delay) and records it."""

    url: str = ""
    seen: list[Seen] = attrs.Factory(list)
    replies: list[tuple[int, dict[str, object], dict[str, str], float]] = attrs.Factory(list)

    def reply(
        self, status: int, body: dict[str, object], headers: dict[str, str] | None = None, delay: float = 0
    ) -> None:
        self.replies.append((status, body, headers or {}, delay))


@pytest.fixture
def stub() -> Iterator[StubTwilio]:
    """A Twilio API stub on 127.0.0.1, served from a thread."""
    state = StubTwilio()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
            state.seen.append(Seen("POST", self.path, self.headers.get("Authorization", ""), form))
            status, body, headers, delay = state.replies.pop(0) if state.replies else (500, {}, {}, 0.0)
            time.sleep(delay)
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting, as the timeout test intends

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def created(sid: str = "SM123", status: str = "queued") -> dict[str, object]:
    return {"sid": sid, "status": status, "account_sid": SID, "body": "", "to": "", "from": ""}


def twilio_error(code: int, status: int, message: str) -> dict[str, object]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def sender(stub: StubTwilio, timeout: float = 5.0) -> TwilioSms:
    return TwilioSms(SID, TOKEN, api_url=stub.url, timeout=timeout)


def send(sms: TwilioSms, status_callback: str | None = "https://coach.example/hooks/sms-status") -> SentSms:
    return sms.send(
        from_number="+15005550006", to="+15551230000", body="See you at 9 €", status_callback=status_callback
    )


class TestTwilioSmsSend:
    """Sending through the SDK: the request Twilio receives and the receipt it gives back."""

    def test_posts_the_message_with_basic_auth_and_returns_the_receipt(self, stub: StubTwilio) -> None:
        """A send posts To, From, Body and StatusCallback to the account's Messages resource with basic auth."""
        stub.reply(201, created("SMabc", "queued"))
        receipt = send(sender(stub))
        assert receipt == SentSms(provider_id="SMabc", status="queued")
        [seen] = stub.seen
        assert seen.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
        assert seen.authorization == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        assert seen.form == {
            "To": ["+15551230000"],
            "From": ["+15005550006"],
            "Body": ["See you at 9 €"],
            "StatusCallback": ["https://coach.example/hooks/sms-status"],
        }

    def test_leaves_out_the_status_callback_when_there_is_none(self, stub: StubTwilio) -> None:
        """Without a status callback the request carries no StatusCallback field."""
        stub.reply(201, created())
        send(sender(stub), status_callback=None)
        assert "StatusCallback" not in stub.seen[0].form

    def test_is_built_from_settings(self, stub: StubTwilio) -> None:
        """COACHOS_SMS_URL=twilio:// builds a Twilio sender from the account, token and API URL settings."""
        stub.reply(201, created("SMsettings"))
        settings = Settings.from_env(
            {
                "COACHOS_SMS_URL": "twilio://",
                "COACHOS_TWILIO_ACCOUNT_SID": SID,
                "COACHOS_TWILIO_AUTH_TOKEN": TOKEN,
                "COACHOS_TWILIO_API_URL": stub.url + "/",
            }
        )
        sms = sms_from_settings(settings)
        assert isinstance(sms, TwilioSms)
        assert send(sms).provider_id == "SMsettings"

    def test_refuses_twilio_without_credentials(self) -> None:
        """twilio:// without an account SID and token is refused with a message naming both settings."""
        with pytest.raises(ValueError, match="COACHOS_TWILIO_ACCOUNT_SID and COACHOS_TWILIO_AUTH_TOKEN"):
            sms_from_settings(Settings(sms_url="twilio://", twilio_account_sid=SID))

    def test_repr_hides_the_auth_token(self) -> None:
        """The auth token never shows in the sender's repr."""
        assert TOKEN not in repr(TwilioSms(SID, TOKEN))


class TestTwilioSmsErrors:
    """Twilio's failures become the domain's send errors, which say whether to try again."""

    def test_too_many_requests_is_transient_with_the_wait_twilio_asked_for(self, stub: StubTwilio) -> None:
        """A 429 with Retry-After becomes TransientSendError carrying that wait."""
        stub.reply(429, twilio_error(20429, 429, "Too Many Requests"), {"Retry-After": "7"})
        with pytest.raises(TransientSendError) as caught:
            send(sender(stub))
        assert caught.value.retry_after == 7

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_server_errors_are_transient(self, stub: StubTwilio, status: int) -> None:
        """A 5xx from Twilio becomes TransientSendError without a wait of its own."""
        stub.reply(status, twilio_error(20500, status, "Internal Server Error"))
        with pytest.raises(TransientSendError) as caught:
            send(sender(stub))
        assert caught.value.retry_after is None

    def test_a_slow_answer_is_a_transient_timeout(self, stub: StubTwilio) -> None:
        """Twilio answering later than the client's timeout becomes TransientSendError, promptly."""
        stub.reply(201, created(), delay=2.0)
        started = time.monotonic()
        with pytest.raises(TransientSendError):
            send(sender(stub, timeout=0.3))
        assert time.monotonic() - started < 1.5

    def test_nothing_listening_is_transient(self) -> None:
        """A refused connection becomes TransientSendError."""
        with pytest.raises(TransientSendError):
            send(TwilioSms(SID, TOKEN, api_url="http://127.0.0.1:9", timeout=1))

    def test_opted_out_recipient_is_its_own_error(self, stub: StubTwilio) -> None:
        """Twilio error 21610 (the recipient replied STOP) becomes RecipientOptedOut."""
        stub.reply(400, twilio_error(21610, 400, "Attempt to send to unsubscribed recipient"))
        with pytest.raises(RecipientOptedOut) as caught:
            send(sender(stub))
        assert caught.value.provider_code == "21610"
        assert "STOP" in caught.value.message

    def test_invalid_number_is_permanent(self, stub: StubTwilio) -> None:
        """Twilio error 21211 becomes PermanentSendError with the code and a reason that names no number."""
        stub.reply(400, twilio_error(21211, 400, "The 'To' number +15551230000 is not a valid phone number."))
        with pytest.raises(PermanentSendError) as caught:
            send(sender(stub))
        assert not isinstance(caught.value, RecipientOptedOut)
        assert caught.value.provider_code == "21211"
        assert caught.value.reason == "the phone number is not valid"
        assert "+1555" not in caught.value.message

    def test_wrong_credentials_are_permanent(self, stub: StubTwilio) -> None:
        """A 401 (error 20003) becomes PermanentSendError: retrying the same credentials cannot help."""
        stub.reply(401, twilio_error(20003, 401, "Authenticate"))
        with pytest.raises(PermanentSendError) as caught:
            send(sender(stub))
        assert caught.value.provider_code == "20003"


URL = "https://coach.example/hooks/sms?org=1"
PARAMS = {"From": "+15551230000", "Body": "STOP", "MessageSid": "SM1"}


def signed(params: dict[str, str], token: str = TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(URL, params))


class TestTwilioSignature:
    """Checking the X-Twilio-Signature of an inbound webhook."""

    def test_accepts_twilios_signature(self) -> None:
        """A signature made with the auth token over the URL and parameters is valid."""
        assert twilio_signature_valid(TOKEN, URL, PARAMS, signed(PARAMS))

    @pytest.mark.parametrize("field", sorted(PARAMS))
    def test_refuses_any_altered_parameter(self, field: str) -> None:
        """Changing any one parameter after signing makes the signature invalid."""
        altered = {**PARAMS, field: PARAMS[field] + "x"}
        assert not twilio_signature_valid(TOKEN, URL, altered, signed(PARAMS))

    def test_refuses_an_added_parameter(self) -> None:
        """A parameter added after signing makes the signature invalid."""
        assert not twilio_signature_valid(TOKEN, URL, {**PARAMS, "To": "+1"}, signed(PARAMS))

    def test_refuses_another_url(self) -> None:
        """The same parameters posted to another URL are invalid."""
        assert not twilio_signature_valid(TOKEN, URL + "2", PARAMS, signed(PARAMS))

    def test_refuses_a_signature_made_with_another_token(self) -> None:
        """A signature made with another auth token is invalid."""
        assert not twilio_signature_valid(TOKEN, URL, PARAMS, signed(PARAMS, token="other-token"))

    @pytest.mark.parametrize("signature", [None, ""])
    def test_refuses_a_missing_signature(self, signature: str | None) -> None:
        """A request without a signature is invalid."""
        assert not twilio_signature_valid(TOKEN, URL, PARAMS, signature)
