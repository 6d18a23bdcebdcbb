"""Waivers in a real browser: the coach writes one and sends the link; the client draws and signs on a phone."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from coachos.adapters.sql.engine import make_engine
from coachos.adapters.sql.tables import messages
from tests.integration.browser.conftest import PHONE, Browse, sign_up

pytestmark = pytest.mark.browser

CLIENT_EMAIL = "robin@client.test"


def queued_link(browse: Browse) -> str:
    """The signing link in the message queued to the client (the worker is not running; the store holds it)."""
    engine = make_engine(f"sqlite:///{browse.server.mail.parent / 'coachos.db'}")
    try:
        with engine.connect() as conn:
            body = (
                conn.execute(
                    sa.select(messages.c.body)
                    .where(messages.c.to_address == CLIENT_EMAIL)
                    .order_by(messages.c.created_at)
                )
                .scalars()
                .all()[-1]
            )
    finally:
        engine.dispose()
    found = re.search(r"https?://\S+(/c/[^\s/]+/waivers/\S+)", body)
    assert found, body
    return found.group(1)


class TestWaiverSigning:
    def test_write_send_draw_sign_and_see_it_signed(self, browse: Browse) -> None:
        """The coach publishes a waiver and sends it; on a phone the client draws and types; the coach sees it."""
        coach = browse.page()
        sign_up(coach, slug="signing", email="alex@signing.test", business="Harbour Fitness")
        coach.goto("/setup/waivers")
        coach.get_by_label("Title").fill("Liability waiver")
        coach.get_by_label("Text").fill("# Risks\n\nTraining has **risks**.\n\n- I am fit to train")
        coach.get_by_role("button", name="Publish version 1").click()
        expect(coach.get_by_role("status")).to_contain_text("version 1")

        coach.goto("/clients")
        coach.get_by_label("Name", exact=True).fill("Robin Client")
        coach.get_by_label("Email").fill(CLIENT_EMAIL)
        coach.get_by_role("button", name="Add client").click()
        panel = coach.locator("#panel-waivers")
        expect(panel).to_contain_text("not signed")
        panel.get_by_role("button", name="Send signing link").click()
        expect(coach.get_by_role("status")).to_contain_text("Signing link queued")

        phone = browse.page(viewport=PHONE, is_mobile=True, has_touch=True)
        phone.goto(queued_link(browse))
        expect(phone.locator("header")).to_contain_text("Harbour Fitness")
        expect(phone.locator("#waiver-text")).to_contain_text("Training has risks.")
        phone.get_by_label("Your full name, as your signature").fill("Robin Client")
        canvas = phone.get_by_label("Signature pad", exact=True)
        box = canvas.bounding_box()
        assert box is not None
        phone.mouse.move(box["x"] + 20, box["y"] + 40)
        phone.mouse.down()
        for step in range(1, 8):
            phone.mouse.move(box["x"] + 20 + step * 30, box["y"] + 40 + (step % 2) * 30)
        phone.mouse.up()
        assert phone.locator("input[name=drawing]").input_value().startswith("M ")
        phone.get_by_label("Your date of birth").fill("1990-02-28")
        phone.get_by_role("checkbox").check()
        phone.get_by_role("button", name="Sign").click()
        expect(phone.get_by_role("status")).to_contain_text("your signature is recorded")
        expect(phone.get_by_role("link", name="Download your signed copy (PDF)")).to_be_visible()

        coach.reload()
        expect(panel).to_contain_text("typed name and drawn signature")
        expect(panel).not_to_contain_text("not signed")
        pdf_link = panel.get_by_role("link", name="PDF")
        pdf = coach.request.get(pdf_link.get_attribute("href") or "")
        assert pdf.ok
        assert pdf.headers["content-type"] == "application/pdf"
        assert browse.problems == []
