"""The automation form in a real browser: it shows the fields the chosen trigger and action use."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.integration.browser.conftest import Browse, sign_up

pytestmark = pytest.mark.browser


class TestAutomationForm:
    def test_a_birthday_todo_is_made_with_only_its_fields_shown(self, browse: Browse) -> None:
        """Choosing birthday and a to-do hides the schedule, number, tag and message fields; the automation is added."""
        page = browse.page(timezone_id="America/New_York")
        sign_up(page, slug="automates", email="auto@peak.test")
        page.goto("/setup/automations")
        form = page.locator("form[data-automation-form]")
        expect(form.locator("input[name=schedule]")).to_be_visible()
        expect(form.locator("input[name=tag]")).to_be_visible()

        form.locator("input[name=name]").fill("Birthdays")
        form.locator("select[name=trigger]").select_option("birthday")
        form.locator("select[name=act]").select_option("create_todo")
        expect(form.locator("input[name=schedule]")).to_be_hidden()
        expect(form.locator("input[name=threshold]")).to_be_hidden()
        expect(form.locator("input[name=tag]")).to_be_hidden()
        expect(form.locator("textarea[name=body]")).to_be_hidden()
        form.locator("input[name=title]").fill("Wish {client_first_name} a happy birthday")
        form.get_by_role("button", name="Add automation").click()

        page.wait_for_url(re.compile(r"/setup/automations\?saved=created"))
        expect(page.locator("#automations")).to_contain_text("On a client's birthday (09:00)")
        expect(page.locator("#automations")).to_contain_text("Add a to-do: Wish {client_first_name} a happy birthday")
        assert browse.problems == []
