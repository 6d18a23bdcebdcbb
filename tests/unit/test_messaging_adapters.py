"""The embedded and fake senders for email and SMS, choosing them from settings, and wiring them in bootstrap."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from coachos import Settings, bootstrap
from coachos.adapters.email import FileEmail, MemoryEmail, SentEmail, email_from_url
from coachos.adapters.sms import FileSms, MemorySms, SmsRequest, sms_from_settings
from coachos.domain.errors import PermanentSendError, RecipientOptedOut, SendError, TransientSendError
from coachos.domain.messaging import SentSms

CALLBACK = "https://coach.example/hooks/sms-status"


def send(sms: MemorySms | FileSms, body: str = "See you at 9") -> SentSms:
    return sms.send(from_number="+15005550006", to="+15551230000", body=body, status_callback=CALLBACK)


class TestMemorySms:
    """The recording SMS fake."""

    def test_records_what_it_was_asked_and_returns_a_receipt(self) -> None:
        """Each send is recorded with every field and gets a distinct queued receipt."""
        sms = MemorySms()
        first, second = send(sms, "one"), send(sms, "two")
        assert [r.body for r in sms.sent] == ["one", "two"]
        assert sms.sent[0] == SmsRequest("+15005550006", "+15551230000", "one", CALLBACK)
        assert first.status == "queued"
        assert first.provider_id != second.provider_id

    @pytest.mark.parametrize(
        "error",
        [
            TransientSendError(retry_after=30),
            PermanentSendError("21211", "the phone number is not valid"),
            RecipientOptedOut(),
        ],
        ids=["transient", "permanent", "opted-out"],
    )
    def test_raises_each_error_it_is_told_to_once(self, error: SendError) -> None:
        """A queued error is raised by the next send only; the attempt is recorded but not counted as sent."""
        sms = MemorySms()
        sms.fail_next(error)
        with pytest.raises(type(error)) as caught:
            send(sms)
        assert caught.value is error
        assert len(sms.requests) == 1
        assert sms.sent == []
        send(sms)
        assert len(sms.sent) == 1

    def test_raises_queued_errors_in_order(self) -> None:
        """Several queued errors are raised one per send, in the order given."""
        sms = MemorySms()
        sms.fail_next(TransientSendError(), RecipientOptedOut())
        with pytest.raises(TransientSendError):
            send(sms)
        with pytest.raises(RecipientOptedOut):
            send(sms)
        assert send(sms).status == "queued"


class TestFileSms:
    """The embedded default SMS sender."""

    def test_writes_each_sms_to_a_text_file(self, tmp_path: Path) -> None:
        """Each send writes one .txt file with the numbers, the callback and the body."""
        sms = FileSms(tmp_path / "sms")
        receipt = send(sms, "See you at 9 \U0001f4aa")
        [written] = (tmp_path / "sms").glob("*.txt")
        assert receipt.provider_id in written.name
        assert written.read_text(encoding="utf-8") == (
            f"From: +15005550006\nTo: +15551230000\nStatus-Callback: {CALLBACK}\n\nSee you at 9 \U0001f4aa\n"
        )


class TestSmsFromSettings:
    """Choosing the SMS sender from COACHOS_SMS_URL."""

    def test_defaults_to_text_files_in_sms(self) -> None:
        """Unset, SMS are written as files in ./sms."""
        assert sms_from_settings(Settings.from_env({})) == FileSms(Path("sms"))

    def test_file_url_names_the_folder(self) -> None:
        """file://folder writes into that folder."""
        assert sms_from_settings(Settings(sms_url="file://out/texts")) == FileSms(Path("out/texts"))

    def test_memory_url_records(self) -> None:
        """memory:// gives the recording fake."""
        assert isinstance(sms_from_settings(Settings(sms_url="memory://")), MemorySms)

    def test_refuses_an_unknown_scheme(self) -> None:
        """Any other scheme is refused with a message listing the choices."""
        with pytest.raises(ValueError, match="COACHOS_SMS_URL must start with file://, twilio:// or memory://"):
            sms_from_settings(Settings(sms_url="nexmo://"))

    def test_reads_the_twilio_settings(self) -> None:
        """The COACHOS_TWILIO_* variables are read, the API URL without its trailing slash, the token hidden."""
        settings = Settings.from_env(
            {
                "COACHOS_SMS_URL": "twilio://",
                "COACHOS_TWILIO_ACCOUNT_SID": " AC1 ",
                "COACHOS_TWILIO_AUTH_TOKEN": "tok",
                "COACHOS_TWILIO_API_URL": "http://127.0.0.1:9/",
            }
        )
        assert (settings.sms_url, settings.twilio_account_sid, settings.twilio_auth_token) == (
            "twilio://",
            "AC1",
            "tok",
        )
        assert settings.twilio_api_url == "http://127.0.0.1:9"
        assert "tok" not in repr(settings)
        assert Settings.from_env({}).twilio_api_url == "https://api.twilio.com"


class TestEmailSenders:
    """The embedded and fake email senders with an HTML part."""

    def test_memory_email_records_the_html_part(self) -> None:
        """The fake records the HTML alternative, and None when a caller sends text only."""
        mail = MemoryEmail()
        mail.send("robin@example.com", "Hi", "text", "<p>text</p>")
        mail.send("robin@example.com", "Hi", "text")
        assert mail.sent == [
            SentEmail("robin@example.com", "Hi", "text", "<p>text</p>"),
            SentEmail("robin@example.com", "Hi", "text", None),
        ]

    def test_file_email_writes_both_parts(self, tmp_path: Path) -> None:
        """With HTML the .eml file is multipart/alternative with a text and an HTML part."""
        FileEmail(tmp_path).send("robin@example.com", "Hi", "text", "<p>text</p>")
        [written] = tmp_path.glob("*.eml")
        message = message_from_bytes(written.read_bytes(), policy=policy.default)
        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]

    def test_old_import_path_still_works(self) -> None:
        """The senders stay importable from coachos.adapters.security."""
        from coachos.adapters import security

        assert security.MemoryEmail is MemoryEmail
        assert security.email_from_url is email_from_url

    def test_refuses_an_unknown_scheme(self) -> None:
        """An unknown email scheme is refused with a message listing the choices, smtps:// among them."""
        with pytest.raises(ValueError, match="smtps://"):
            email_from_url("pigeon://")


class TestBootstrapSms:
    """The SMS sender in the composition root."""

    def test_uses_the_sms_sender_it_is_given(self) -> None:
        """An `sms=` override is the sender every use case gets."""
        sms = MemorySms()
        with bootstrap(Settings(database_url="memory://"), sms=sms) as app:
            assert app.deps.sms is sms

    def test_builds_the_sender_from_settings(self) -> None:
        """Without an override, COACHOS_SMS_URL chooses the sender."""
        with bootstrap(Settings(database_url="memory://", sms_url="memory://")) as app:
            assert isinstance(app.deps.sms, MemorySms)
