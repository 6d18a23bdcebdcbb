"""Setup → Messages in a real browser: the live SMS count as a coach types, the server's preview, saving."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.integration.browser.conftest import Browse, sign_up

pytestmark = pytest.mark.browser


class TestMessageTemplates:
    def test_the_count_follows_typing_and_the_preview_shows_the_businesss_time(self, browse: Browse) -> None:
        """An emoji turns the live count to UCS-2; Preview renders 9:00 AM on the business's clock; Save keeps it."""
        page = browse.page(timezone_id="America/New_York")
        sign_up(page, slug="wording", email="wording@peak.test")
        page.goto("/setup/messages")
        page.locator("#kind-booking_confirmed").get_by_role("link", name="Edit").first.click()
        page.wait_for_url(re.compile(r"/setup/messages/booking_confirmed/sms$"))
        expect(page.locator("#segments")).to_contain_text("GSM-7")
        expect(page.locator("#live-count")).to_contain_text("GSM-7")

        box = page.get_by_label("Message")
        box.fill("See you {when} \U0001f4aa")
        expect(page.locator("#live-count")).to_contain_text("UCS-2")

        page.get_by_role("button", name="Preview").click()
        expect(page.locator("#preview")).to_contain_text(re.compile(r"9:00 AM E[SD]T"))
        expect(page.locator("#segments")).to_contain_text("UCS-2")

        page.get_by_role("button", name="Save").click()
        page.wait_for_url(re.compile(r"saved=saved"))
        expect(page.get_by_role("status")).to_contain_text("Your wording is saved.")
        page.goto("/setup/messages")
        expect(page.locator("#kind-booking_confirmed")).to_contain_text("your wording")
        assert browse.problems == []
