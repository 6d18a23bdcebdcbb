"""A coach's first steps in a real browser: sign up, land on Today, set when they work."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.integration.browser.conftest import Browse, sign_up

pytestmark = pytest.mark.browser


class TestSignUp:
    """Opening an account through the sign-up page."""

    def test_zone_is_preselected_from_the_browser_and_the_coach_lands_on_today(self, browse: Browse) -> None:
        """The zone select suggests the browser's own zone and, kept as is, becomes the business's zone."""
        page = browse.page(timezone_id="America/New_York")
        page.goto("/signup")
        expect(page.locator("select#timezone")).to_have_value("America/New_York")

        sign_up(page, slug="first-steps", email="first@peak.test")

        expect(page.get_by_role("heading", name=re.compile(r"^Today"))).to_be_visible()
        expect(page.get_by_role("link", name="/book/first-steps")).to_be_visible()
        expect(page.locator("header .zone")).to_have_text("America/New_York")
        session = next(c for c in page.context.cookies() if c["name"] == "coachos_session")
        assert (session["secure"], session["httpOnly"], session["sameSite"]) == (True, True, "Lax")
        assert browse.problems == []

    def test_the_browser_checks_the_web_address_before_sending(self, browse: Browse) -> None:
        """The slug pattern compiles in Chromium: a good address passes, one with spaces or capitals does not."""
        page = browse.page(timezone_id="America/New_York")
        page.goto("/signup")
        slug = page.get_by_label("Web address")
        slug.fill("peak-coaching-2")
        assert slug.evaluate("el => el.validity.valid") is True
        slug.fill("Peak Coaching")
        assert slug.evaluate("el => el.validity.patternMismatch") is True
        assert browse.problems == []

    def test_the_new_coach_sets_weekly_hours(self, browse: Browse) -> None:
        """Hours saved on /setup/availability come back on the page, on the business's New York clock."""
        page = browse.page(timezone_id="America/New_York")
        sign_up(page, slug="sets-hours", email="hours@peak.test")
        page.get_by_role("link", name="Setup").click()
        page.get_by_role("link", name="Hours").click()
        page.wait_for_url(re.compile(r"/setup/availability"))
        expect(page.locator("#week")).to_contain_text("America/New_York")
        monday, saturday = page.locator("fieldset[data-day='0']"), page.locator("fieldset[data-day='5']")
        expect(monday.get_by_label("From").first).to_have_value("09:00")
        expect(saturday.get_by_label("From").first).to_have_value("")

        saturday.get_by_label("From").first.fill("08:00")
        saturday.get_by_label("To").first.fill("12:00")
        page.get_by_role("button", name="Save weekly hours").click()

        page.wait_for_url(re.compile(r"/setup/availability\?saved="))
        expect(page.get_by_role("status")).to_be_visible()
        expect(saturday.get_by_label("From").first).to_have_value("08:00")
        expect(saturday.get_by_label("To").first).to_have_value("12:00")
        expect(monday.get_by_label("To").first).to_have_value("17:00")
        assert browse.problems == []

    def test_a_period_added_with_the_button_is_saved_too(self, browse: Browse) -> None:
        """'Add a period' gives a day a second row, and both periods are kept."""
        page = browse.page(timezone_id="America/New_York")
        sign_up(page, slug="split-day", email="split@peak.test")
        page.goto("/setup/availability")
        tuesday = page.locator("fieldset[data-day='1']")
        tuesday.get_by_label("From").first.fill("07:00")
        tuesday.get_by_label("To").first.fill("11:00")
        tuesday.get_by_role("button", name="Add a period").click()
        tuesday.get_by_label("From").last.fill("15:00")
        tuesday.get_by_label("To").last.fill("19:00")
        page.get_by_role("button", name="Save weekly hours").click()

        page.wait_for_url(re.compile(r"saved="))
        starts = tuesday.get_by_label("From")
        expect(starts.nth(0)).to_have_value("07:00")
        expect(starts.nth(1)).to_have_value("15:00")
        assert browse.problems == []

    def test_a_zone_missing_from_the_list_is_added_and_chosen(self, browse: Browse) -> None:
        """A browser in a zone the list does not offer still gets its own zone suggested."""
        page = browse.page(timezone_id="America/Phoenix")
        page.goto("/signup")
        expect(page.locator("select#timezone")).to_have_value("America/Phoenix")
        assert browse.problems == []
