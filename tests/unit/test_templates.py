"""Message templates: times in the business's zone with its abbreviation, placeholders checked, HTML escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from coachos.domain.errors import ValidationError
from coachos.domain.messages import MessageChannel
from coachos.domain.templates import (
    DEFAULTS,
    KINDS,
    MAX_BODY,
    MAX_RENDERED_SUBJECT,
    MAX_RENDERED_TEXT,
    TemplateKind,
    Wording,
    check_template,
    render,
    sample_values,
    when_text,
)

NEW_YORK = ZoneInfo("America/New_York")
SMS, EMAIL = MessageChannel.SMS, MessageChannel.EMAIL


class TestWhenText:
    def test_a_time_is_shown_on_the_business_clock_with_its_abbreviation(self) -> None:
        """14:00 UTC on 3 March 2026 reads as 9:00 AM EST in New York."""
        assert when_text(datetime(2026, 3, 3, 14, 0, tzinfo=UTC), NEW_YORK) == "Tue 3 Mar, 9:00 AM EST"

    def test_after_the_spring_change_the_same_wall_time_is_edt(self) -> None:
        """After clocks go forward on 8 March, 9:00 local is 13:00 UTC and reads EDT."""
        assert when_text(datetime(2026, 3, 9, 13, 0, tzinfo=UTC), NEW_YORK) == "Mon 9 Mar, 9:00 AM EDT"

    def test_the_repeated_autumn_hour_is_told_apart_by_its_abbreviation(self) -> None:
        """1:30 AM happens twice on 1 November 2026; the two read EDT and EST."""
        first = when_text(datetime(2026, 11, 1, 5, 30, tzinfo=UTC), NEW_YORK)
        second = when_text(datetime(2026, 11, 1, 6, 30, tzinfo=UTC), NEW_YORK)
        assert (first, second) == ("Sun 1 Nov, 1:30 AM EDT", "Sun 1 Nov, 1:30 AM EST")

    def test_noon_and_midnight_are_twelve(self) -> None:
        """Midnight is 12:00 AM and noon is 12:00 PM."""
        assert when_text(datetime(2026, 3, 3, 5, 0, tzinfo=UTC), NEW_YORK).endswith("12:00 AM EST")
        assert when_text(datetime(2026, 3, 3, 17, 0, tzinfo=UTC), NEW_YORK).endswith("12:00 PM EST")

    def test_a_clients_own_zone_is_labelled_with_its_name(self) -> None:
        """A time on the client's clock names the zone, so nobody mistakes it for the business's."""
        london = when_text(datetime(2026, 3, 3, 14, 0, tzinfo=UTC), ZoneInfo("Europe/London"), label_zone=True)
        assert london == "Tue 3 Mar, 2:00 PM GMT (Europe/London)"

    def test_a_naive_time_is_refused(self) -> None:
        """A time without a zone names no instant and is refused."""
        with pytest.raises(ValidationError):
            when_text(datetime(2026, 3, 3, 14, 0), NEW_YORK)  # noqa: DTZ001  # the naive time is the point


class TestCheckTemplate:
    def test_an_unknown_placeholder_is_refused_naming_the_allowed_ones(self) -> None:
        """A typo such as {clinet_name} is refused, and the message lists the placeholders that exist."""
        with pytest.raises(ValidationError, match=r"\{clinet_name\} is not a placeholder.*\{client_first_name\}") as e:
            check_template(TemplateKind.BOOKING_CONFIRMED, SMS, None, "Hi {clinet_name}")
        assert e.value.field == "body"

    def test_a_placeholder_of_another_kind_is_refused(self) -> None:
        """{reply} belongs to the client-reply notice, not to a confirmation."""
        with pytest.raises(ValidationError, match=r"\{reply\}"):
            check_template(TemplateKind.BOOKING_CONFIRMED, SMS, None, "You said {reply}")

    def test_an_unknown_placeholder_in_a_subject_is_refused(self) -> None:
        """The subject is checked like the body."""
        with pytest.raises(ValidationError) as e:
            check_template(TemplateKind.BOOKING_CONFIRMED, EMAIL, "Hi {nope}", "Body")
        assert e.value.field == "subject"

    @pytest.mark.parametrize("body", ["Hi {client_first_name", "Hi }", "Hi {}", "Hi {Client Name!}"])
    def test_a_stray_or_malformed_brace_is_refused(self, body: str) -> None:
        """A brace that opens no placeholder is refused rather than sent as it is."""
        with pytest.raises(ValidationError):
            check_template(TemplateKind.BOOKING_CONFIRMED, SMS, None, body)

    @pytest.mark.parametrize("body", ["Hi\x00there", "Hi\x1bthere", "Hi\x7fthere"])
    def test_control_characters_are_refused(self, body: str) -> None:
        """NUL and other control characters are refused; line breaks are fine."""
        with pytest.raises(ValidationError, match="control character"):
            check_template(TemplateKind.BOOKING_CONFIRMED, SMS, None, body)
        check_template(TemplateKind.BOOKING_CONFIRMED, SMS, None, "Hi\nthere\r\n")

    def test_a_body_past_the_channels_limit_is_refused(self) -> None:
        """An SMS template is limited to ten GSM-7 parts, an email to 10,000 characters."""
        check_template(TemplateKind.BOOKING_CONFIRMED, SMS, None, "x" * MAX_BODY[SMS])
        with pytest.raises(ValidationError, match="limited"):
            check_template(TemplateKind.BOOKING_CONFIRMED, SMS, None, "x" * (MAX_BODY[SMS] + 1))
        with pytest.raises(ValidationError, match="limited"):
            check_template(TemplateKind.BOOKING_CONFIRMED, EMAIL, "S", "x" * (MAX_BODY[EMAIL] + 1))

    def test_an_empty_body_an_email_without_subject_and_an_sms_with_one_are_refused(self) -> None:
        """Every message says something; an email has a subject and a text has none."""
        with pytest.raises(ValidationError, match="empty"):
            check_template(TemplateKind.BOOKING_CONFIRMED, SMS, None, "  \n")
        with pytest.raises(ValidationError, match="subject"):
            check_template(TemplateKind.BOOKING_CONFIRMED, EMAIL, " ", "Body")
        with pytest.raises(ValidationError, match="no subject"):
            check_template(TemplateKind.BOOKING_CONFIRMED, SMS, "Subject", "Body")

    @pytest.mark.parametrize(("kind", "channel"), list(DEFAULTS))
    def test_every_default_passes_the_checks_and_fills_every_placeholder(
        self, kind: TemplateKind, channel: MessageChannel
    ) -> None:
        """Each default wording is valid for its kind and leaves no brace behind when rendered."""
        wording = DEFAULTS[(kind, channel)]
        check_template(kind, channel, wording.subject, wording.body)
        values = sample_values("Peak Coaching", NEW_YORK, datetime(2026, 3, 2, 12, tzinfo=UTC))
        rendered = render(wording, channel, values)
        assert "{" not in rendered.text
        assert "}" not in rendered.text
        if channel is SMS:
            assert rendered.segments.encoding == "GSM-7", "a default text should not cost UCS-2 parts"

    def test_every_kind_has_both_channels(self) -> None:
        """Each kind of message has a default for SMS and for email."""
        assert set(DEFAULTS) == {(k, c) for k in KINDS for c in (SMS, EMAIL)}


class TestRender:
    def test_double_braces_are_literal_braces(self) -> None:
        """{{ and }} render as single braces, and what is between them is not a placeholder."""
        rendered = render(Wording(None, "{{business}} is {business}"), SMS, {"business": "Peak"})
        assert rendered.text == "{business} is Peak"

    def test_values_are_inserted_once_and_not_read_as_templates(self) -> None:
        """A value holding braces is text: it is not expanded again."""
        rendered = render(Wording(None, "Hi {client_first_name}"), SMS, {"client_first_name": "{business}"})
        assert rendered.text == "Hi {business}"

    def test_the_html_part_escapes_values_and_wording_alike(self) -> None:
        """A client's name with markup reaches the HTML part escaped; the text part carries it as typed."""
        wording = Wording("Hi {client_name}", "Hi {client_name} <3\n\nSee you & bye")
        rendered = render(wording, EMAIL, {"client_name": '<script>alert("x")</script>'})
        assert rendered.html is not None
        assert "<script>" not in rendered.html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in rendered.html
        assert "&lt;3" in rendered.html
        assert "See you &amp; bye" in rendered.html
        assert rendered.text == 'Hi <script>alert("x")</script> <3\n\nSee you & bye'

    def test_paragraphs_and_line_breaks_become_html(self) -> None:
        """A blank line starts a paragraph; a single line break is a <br>."""
        rendered = render(Wording("S", "One\ntwo\n\nThree"), EMAIL, {})
        assert rendered.html == "<p>One<br>\ntwo</p>\n<p>Three</p>\n"

    def test_our_links_are_anchors_and_other_values_never_are(self) -> None:
        """The manage link becomes a link; a URL inside a client's name stays text."""
        link = "https://coach.example/manage/abc?x=1&y=2"
        rendered = render(
            Wording("S", "{client_name}: {manage_link}"),
            EMAIL,
            {"client_name": "https://evil.example", "manage_link": link},
        )
        assert rendered.html is not None
        assert '<a href="https://coach.example/manage/abc?x=1&amp;y=2">' in rendered.html
        assert rendered.html.count("<a ") == 1

    def test_a_subject_is_one_line_whatever_a_value_holds(self) -> None:
        """A line break in a value cannot add a header to the email."""
        rendered = render(Wording("Hi {client_name}", "b"), EMAIL, {"client_name": "Jo\r\nBcc: x@example.com"})
        assert rendered.subject == "Hi Jo Bcc: x@example.com"

    def test_a_rendering_longer_than_a_message_holds_is_cut_never_refused(self) -> None:
        """A wording repeating a long value still renders within the stored message's limits."""
        body = "{client_name}" * 700
        rendered = render(Wording("{client_name}" * 10, body), EMAIL, {"client_name": '"' * 200})
        assert len(rendered.text) == MAX_RENDERED_TEXT
        assert rendered.subject is not None
        assert len(rendered.subject) == MAX_RENDERED_SUBJECT
        assert rendered.html is None

    def test_an_sms_has_no_subject_and_no_html(self) -> None:
        """A text is its plain body only."""
        rendered = render(Wording(None, "Hi {client_first_name}"), SMS, {"client_first_name": "Jo"})
        assert (rendered.subject, rendered.text, rendered.html) == (None, "Hi Jo", None)

    def test_a_curly_apostrophe_makes_a_text_ucs2(self) -> None:
        """One non-GSM character changes the encoding, which the preview's segment count shows."""
        assert render(Wording(None, "You\u2019re booked"), SMS, {}).segments.encoding == "UCS-2"
        assert render(Wording(None, "You're booked"), SMS, {}).segments.encoding == "GSM-7"

    def test_sample_values_fall_tomorrow_at_nine_on_the_business_clock(self) -> None:
        """The preview's sample booking reads 9:00 AM in the business's zone, with its abbreviation."""
        values = sample_values("Peak", NEW_YORK, datetime(2026, 3, 2, 12, tzinfo=UTC))
        assert values["when"] == "Tue 3 Mar, 9:00 AM EST"
        assert re.fullmatch(r"https://example\.com/manage/\w+", values["manage_link"])
