"""Logging: personal data and secrets are removed before anything is written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from coachos.logs import REDACTED, SENSITIVE_KEYS, configure_logging, redact, reset_logging, scrub
from coachos.settings import Settings

CLIENT_ID = UUID("550e8400-e29b-41d4-a716-446655440000")
NAME = "Jordan Lee"
PHONE = "+12125550101"
EMAIL = "jordan.lee@example.com"

e164_numbers = st.from_regex(r"\A\+[1-9][0-9]{6,14}\Z")
#: Addresses whose local part starts or ends with an apostrophe are left out: the pattern stops at quotes so
#: that 'quoted@example.com' in text is found, and no real address looks like that.
email_addresses = st.emails().filter(lambda m: not m.startswith("'") and "'@" not in m)


def run(event_dict: dict[str, Any]) -> dict[str, Any]:
    """`event_dict` after the redaction processor."""
    return dict(redact(None, "info", dict(event_dict)))


@pytest.fixture
def configured() -> Iterator[None]:
    """Leave structlog as it was found once the test has configured it."""
    yield
    reset_logging()
    structlog.contextvars.clear_contextvars()


def json_lines(err: str) -> list[dict[str, Any]]:
    """Each line written to stderr, parsed as JSON."""
    return [json.loads(line) for line in err.splitlines() if line.strip()]


class TestScrub:
    """Masking personal data and secrets inside free text."""

    @pytest.mark.parametrize(
        "text",
        [
            f"sent reminder to {EMAIL}",
            "reply from <Jordan.Lee+pt@Mail.Example.co.uk>",
            f"email={EMAIL},status=ok",
        ],
    )
    def test_masks_email_addresses(self, text: str) -> None:
        """Email addresses are replaced by the redaction marker."""
        result = scrub(text)
        assert REDACTED in result
        assert "example" not in result.lower()

    @pytest.mark.parametrize(
        ("text", "number"),
        [
            ("call +1 (212) 555-0101 now", "555-0101"),
            (f"texted {PHONE}", "2125550101"),
            ("uk mobile 07700 900123.", "900123"),
            ("abroad 0044 7700 900123", "900123"),
            ("dial 212.555.0101", "555.0101"),
            ("short 555-0101", "555-0101"),
            ("tel:+12125550101", "2125550101"),
            ("+44 (0) 7700 900 123 after hours", "7700"),
        ],
    )
    def test_masks_phone_numbers(self, text: str, number: str) -> None:
        """Phone numbers in common formats are replaced by the redaction marker."""
        result = scrub(text)
        assert REDACTED in result
        assert number not in result

    @pytest.mark.parametrize(
        "url",
        [
            "postgresql+psycopg://coach:s3cr3t@localhost/coachos",
            "postgresql://coach:s3cr3t@db.example.com:5432/coachos",
            "redis://default:s3cr3t@cache:6379/0",
        ],
    )
    def test_masks_url_passwords(self, url: str) -> None:
        """The password in a connection URL never survives."""
        assert "s3cr3t" not in scrub(f"could not connect to {url}")

    def test_masks_an_address_with_an_apostrophe(self) -> None:
        """An apostrophe inside the local part does not let the address through."""
        assert "brien@example.com" not in scrub("sent to o'brien@example.com")

    def test_keeps_user_and_host_of_a_url(self) -> None:
        """Only the password of a URL is masked when the rest is not personal."""
        assert scrub("postgresql+psycopg://coach:s3cr3t@localhost/coachos") == (
            "postgresql+psycopg://coach:***@localhost/coachos"
        )

    @pytest.mark.parametrize(
        "text",
        [
            "booking_confirmed",
            "booked 3 sessions for 8000 cents",
            str(CLIENT_ID),
            "00000000-0000-0000-0000-000000000000",
            "12345678-1234-5678-1234-567812345678",
            "550e8400e29b41d4a716446655440000",
            "2026-03-02T12:00:00.123456Z",
            "2026-03-02T12:00:00+00:00",
            "on 2026-03-02 at 09:30",
            "took 1.25 seconds",
            "sqlite:///coachos.db",
            "version 1.2.3",
        ],
    )
    def test_leaves_ids_times_and_ordinary_text_alone(self, text: str) -> None:
        """Ids, timestamps, dates, small numbers and plain words are not touched."""
        assert scrub(text) == text

    @given(st.uuids())
    def test_never_touches_a_uuid(self, id_: UUID) -> None:
        """Any UUID, in text or bare, comes back unchanged."""
        assert scrub(str(id_)) == str(id_)
        assert scrub(f"client_id={id_} booked") == f"client_id={id_} booked"

    @given(st.datetimes(timezones=st.just(UTC)))
    def test_never_touches_an_iso_timestamp(self, instant: datetime) -> None:
        """Any ISO 8601 UTC timestamp comes back unchanged."""
        text = instant.isoformat()
        assert scrub(text) == text
        z_form = instant.replace(tzinfo=None).isoformat() + "Z"
        assert scrub(z_form) == z_form

    @given(e164_numbers, st.sampled_from(["{}", "call {} today", "to={}", "({})", "sms {}."]))
    def test_masks_any_e164_number(self, number: str, template: str) -> None:
        """Any E.164 number inside text is masked."""
        assert number[1:] not in scrub(template.format(number))

    @given(email_addresses)
    def test_masks_any_email_address(self, email: str) -> None:
        """Any email address inside text is masked."""
        assert email not in scrub(f"sent to {email} just now")


class TestRedact:
    """The structlog processor that cleans every event."""

    @pytest.mark.parametrize("key", sorted(SENSITIVE_KEYS))
    def test_blanks_every_sensitive_field(self, key: str) -> None:
        """Fields whose names mean personal data or secrets are blanked whatever they hold."""
        assert run({"event": "x", key: "anything at all"})[key] == REDACTED

    def test_blanks_sensitive_fields_of_any_type(self) -> None:
        """A phone given as a number and a name given as a list are blanked too."""
        result = run({"event": "x", "phone": 12125550101, "name": ["Jordan", "Lee"], "token": None})
        assert result == {"event": "x", "phone": REDACTED, "name": REDACTED, "token": REDACTED}

    def test_matches_field_names_in_any_case(self) -> None:
        """Email, PHONE and Password are recognised regardless of case."""
        result = run({"event": "x", "Email": EMAIL, "PHONE": PHONE, "Password": "hunter2"})
        assert result["Email"] == result["PHONE"] == result["Password"] == REDACTED

    def test_keeps_the_event_name(self) -> None:
        """The event itself is never blanked."""
        assert run({"event": "client_created"})["event"] == "client_created"

    def test_scrubs_the_event_text(self) -> None:
        """Personal data written into the event text is masked."""
        result = run({"event": f"sms to {PHONE} failed"})
        assert PHONE not in result["event"]
        assert result["event"].startswith("sms to ")

    def test_scrubs_other_string_fields(self) -> None:
        """Strings in non-sensitive fields have emails, phones and passwords masked."""
        result = run({"event": "x", "detail": f"{EMAIL} / {PHONE}", "url": "postgresql://u:pw@localhost/db"})
        assert EMAIL not in result["detail"]
        assert PHONE not in result["detail"]
        assert result["url"] == "postgresql://u:***@localhost/db"

    def test_leaves_ids_and_ordinary_values_alone(self) -> None:
        """Ids, counts, flags, statuses and timestamps pass through unchanged."""
        event = {
            "event": "booking_confirmed",
            "client_id": CLIENT_ID,
            "booking_id": str(CLIENT_ID),
            "seats": 3,
            "paid": True,
            "status": "confirmed",
            "timestamp": "2026-03-02T12:00:00.123456Z",
            "level": "info",
        }
        assert run(event) == event

    def test_looks_inside_nested_values(self) -> None:
        """Sensitive keys and personal strings inside dicts, lists and tuples are cleaned too."""
        result = run(
            {
                "event": "x",
                "client": {"email": EMAIL, "id": str(CLIENT_ID), "contact": {"Phone": PHONE}},
                "recipients": [EMAIL, 42],
                "pair": (PHONE, "ok"),
            }
        )
        assert result["client"] == {"email": REDACTED, "id": str(CLIENT_ID), "contact": {"Phone": REDACTED}}
        assert result["recipients"] == [REDACTED, 42]
        assert result["pair"] == (REDACTED, "ok")

    def test_returns_the_event_dict(self) -> None:
        """The processor hands back the same mapping it was given, for the next processor."""
        event: dict[str, Any] = {"event": "x", "email": EMAIL}
        assert redact(None, "info", event) is event
        assert event["email"] == REDACTED


class TestConfigureLogging:
    """Logging set up from settings writes cleaned lines to stderr."""

    @pytest.mark.usefixtures("configured")
    def test_json_lines_carry_no_personal_data(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A JSON line about a client keeps the event and id but none of their name, phone or email."""
        configure_logging(Settings(log_format="json"))
        structlog.get_logger().info(
            "client_created",
            client_id=str(CLIENT_ID),
            name=NAME,
            phone=PHONE,
            email=EMAIL,
            detail=f"welcome text sent to {PHONE} and {EMAIL}",
        )
        err = capsys.readouterr().err
        for personal in (NAME, PHONE, PHONE[2:], EMAIL):
            assert personal not in err
        [line] = json_lines(err)
        assert line["event"] == "client_created"
        assert line["client_id"] == str(CLIENT_ID)
        assert line["level"] == "info"
        assert line["name"] == REDACTED
        datetime.fromisoformat(line["timestamp"])  # the timestamp survives redaction intact

    @pytest.mark.usefixtures("configured")
    def test_bound_context_is_cleaned(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Values bound into context variables are redacted like the event's own fields."""
        configure_logging(Settings(log_format="json"))
        structlog.contextvars.bind_contextvars(request_id="req-1", email=EMAIL)
        structlog.get_logger().info("request_finished")
        [line] = json_lines(capsys.readouterr().err)
        assert line["request_id"] == "req-1"
        assert line["email"] == REDACTED

    @pytest.mark.usefixtures("configured")
    def test_exception_text_is_cleaned(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An exception whose message holds an email is written without the email."""
        configure_logging(Settings(log_format="json"))
        try:
            raise ValueError(f"'{EMAIL}' is not an email address")
        except ValueError:
            structlog.get_logger().exception("import_failed")
        err = capsys.readouterr().err
        [line] = json_lines(err)
        assert EMAIL not in err
        assert "ValueError" in line["exception"]

    @pytest.mark.usefixtures("configured")
    def test_console_lines_are_cleaned_too(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The readable console format is redacted as well."""
        configure_logging(Settings(log_format="console"))
        structlog.get_logger().info("client_created", name=NAME, phone=PHONE)
        err = capsys.readouterr().err
        assert "client_created" in err
        assert NAME not in err
        assert PHONE not in err

    @pytest.mark.usefixtures("configured")
    def test_respects_the_log_level(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Below the configured level nothing is written; at it, the line appears."""
        configure_logging(Settings(log_format="json", log_level="WARNING"))
        log = structlog.get_logger()
        log.info("too_quiet")
        log.warning("loud_enough")
        assert [line["event"] for line in json_lines(capsys.readouterr().err)] == ["loud_enough"]


class TestStandardLibraryLogs:
    """The domain logs through `logging`; those records are redacted and rendered like structlog's."""

    @pytest.mark.usefixtures("configured")
    def test_a_domain_log_line_is_json_without_personal_data(self, capsys: pytest.CaptureFixture[str]) -> None:
        import logging

        configure_logging(Settings(log_format="json", log_level="INFO"))
        logging.getLogger("coachos.sending").info("message failed: to=%s email=%s", PHONE, EMAIL)
        logging.getLogger("coachos.sending").debug("below the level: %s", "nothing")
        [line] = json_lines(capsys.readouterr().err)
        assert (line["logger"], line["level"]) == ("coachos.sending", "info")
        assert PHONE not in line["event"]
        assert EMAIL not in line["event"]
        assert line["event"].startswith("message failed: to=")

    def test_reset_removes_the_handler(self) -> None:
        import logging

        configure_logging(Settings(log_format="json"))
        configure_logging(Settings(log_format="json"))
        assert [h.get_name() for h in logging.getLogger().handlers].count("coachos-structured") == 1
        reset_logging()
        assert "coachos-structured" not in [h.get_name() for h in logging.getLogger().handlers]
