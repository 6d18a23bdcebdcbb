"""What the senders offer the worker for sending at most once: finding an SMS sent before, and email Message-IDs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from coachos.adapters.email import FileEmail
from coachos.adapters.sms import FileSms, MemorySms
from coachos.adapters.smtp_email import DEFAULT_SENDER, build_message

SINCE = datetime(2026, 1, 1, tzinfo=UTC)


class TestFindSent:
    def test_the_file_sender_finds_the_text_it_wrote(self, tmp_path: Path) -> None:
        """A text written to a file is found again by its numbers, body and status callback; another is not."""
        sms = FileSms(tmp_path / "sms")
        assert sms.find_sent(from_number="+1500", to="+1212", body="Hi", since=SINCE, status_callback="u?m=1") is None
        receipt = sms.send(from_number="+1500", to="+1212", body="Hi", status_callback="u?m=1")
        found = sms.find_sent(from_number="+1500", to="+1212", body="Hi", since=SINCE, status_callback="u?m=1")
        assert found is not None
        assert found.provider_id == receipt.provider_id
        assert sms.find_sent(from_number="+1500", to="+1212", body="Hi", since=SINCE, status_callback="u?m=2") is None

    def test_the_memory_sender_finds_only_texts_it_accepted(self) -> None:
        """A text the fake accepted is found; one it was made to refuse is not."""
        sms = MemorySms()
        receipt = sms.send(from_number="+1500", to="+1212", body="Hi", status_callback=None)
        found = sms.find_sent(from_number="+1500", to="+1212", body="Hi", since=SINCE, status_callback=None)
        assert found is not None
        assert found.provider_id == receipt.provider_id
        assert sms.find_sent(from_number="+1500", to="+1212", body="Bye", since=SINCE, status_callback=None) is None


class TestMessageId:
    def test_our_message_id_becomes_the_message_id_header(self) -> None:
        """The stored message's id is the email's Message-ID, on the sender's domain."""
        message = build_message(DEFAULT_SENDER, "a@b.test", "Hi", "Body", None, "1234-abcd")
        assert message["Message-ID"] == "<1234-abcd@coachos.local>"

    def test_without_an_id_the_header_is_left_to_the_mail_system(self) -> None:
        """An email sent without a message id has no Message-ID of ours."""
        assert build_message(DEFAULT_SENDER, "a@b.test", "Hi", "Body", None)["Message-ID"] is None

    def test_the_file_sender_writes_it(self, tmp_path: Path) -> None:
        """The embedded email sender's .eml file carries the Message-ID."""
        FileEmail(tmp_path).send("a@b.test", "Hi", "Body", message_id="m-1")
        [written] = tmp_path.glob("*.eml")
        assert "Message-ID: <m-1@coachos.local>" in written.read_text()
