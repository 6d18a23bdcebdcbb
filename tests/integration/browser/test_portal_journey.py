"""A client signs in to their coach's portal on a phone with the emailed link, and books with a session credit.

The link is read from the messages table, where the sign-in use case queues it (the worker would send it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from coachos import CoachOS, CreateClient, Money, SellPackage, Settings, bootstrap
from coachos.domain.ids import Actor
from tests.integration.browser.conftest import PHONE, Browse, LiveServer, sign_up

pytestmark = pytest.mark.browser

SLUG = "portal-studio"
BUSINESS = "Harbour Strength"
CLIENT_EMAIL = "morgan.client@example.test"


@pytest.fixture
def core(live_server: LiveServer) -> Iterator[CoachOS]:
    """Coach OS on the live server's own database file, for setting up records and reading the queued message."""
    database = live_server.mail.parent / "coachos.db"
    with bootstrap(Settings(database_url=f"sqlite:///{database}", public_url=live_server.url)) as built:
        yield built


def newest_sign_in_link(live_server: LiveServer) -> str:
    """The link in the newest sign-in message queued for the client."""
    engine = sa.create_engine(f"sqlite:///{live_server.mail.parent / 'coachos.db'}")
    try:
        with engine.connect() as conn:
            body = conn.execute(
                sa.text(
                    "SELECT body FROM messages WHERE template = 'portal_sign_in' AND to_address = :to "
                    "ORDER BY created_at DESC LIMIT 1"
                ),
                {"to": CLIENT_EMAIL},
            ).scalar_one()
    finally:
        engine.dispose()
    found = re.search(r"(https?://\S+/c/" + SLUG + r"/sign-in/\S+)", body)
    assert found, "no sign-in link in the queued message"
    return found.group(1)


class TestPortalOnAPhone:
    def test_client_signs_in_by_link_and_books_with_a_credit(
        self, browse: Browse, live_server: LiveServer, core: CoachOS
    ) -> None:
        """Ask for a link, open it (nothing happens), press Sign in, see the portal, book, and see a credit used."""
        coach = browse.page()
        sign_up(coach, slug=SLUG, email="owner@harbour.test", business=BUSINESS)
        org = core.read(lambda uow: uow.orgs.by_slug(SLUG))
        (owner,) = core.read(lambda uow: uow.coaches.list(org.id))
        me = Actor("coach", owner.id)
        person = core.execute(CreateClient(org_id=org.id, name="Morgan Client", email=CLIENT_EMAIL, actor=me))
        core.execute(
            SellPackage(
                org_id=org.id, client_id=person.id, name="Ten pack", sessions=10, price=Money(0, "USD"), actor=me
            )
        )

        phone: Page = browse.page(viewport=PHONE, is_mobile=True, has_touch=True)
        phone.goto(f"/c/{SLUG}/sign-in")
        expect(phone.get_by_role("heading", name=f"Sign in to {BUSINESS}")).to_be_visible()
        phone.get_by_label("Email or phone number").fill(CLIENT_EMAIL)
        phone.get_by_role("button", name="Send me a sign-in link").click()
        expect(phone.get_by_role("heading", name="Check your messages")).to_be_visible()

        link = newest_sign_in_link(live_server)
        phone.goto(link)
        expect(phone.get_by_role("button", name="Sign in")).to_be_visible()
        phone.get_by_role("button", name="Sign in").click()
        expect(phone.get_by_role("heading", name="Hello, Morgan Client")).to_be_visible()
        expect(phone.locator("header .brand")).to_have_text(BUSINESS)
        expect(phone.locator("#credits + ul")).to_contain_text("10 of 10 left")

        phone.get_by_role("link", name="Book a session").click()
        expect(phone.locator(".whoami")).to_contain_text("Booking as Morgan Client")
        phone.get_by_role("link", name="Personal training").click()
        phone.wait_for_url(re.compile(r"[?&]tz="))
        for _ in range(3):
            if phone.locator("ul.slots a").count():
                break
            phone.get_by_role("link", name="Next week →").click()
            phone.wait_for_load_state()
        phone.locator("ul.slots a").first.click()
        expect(phone.locator(".whoami")).to_contain_text("Booking as Morgan Client")
        phone.get_by_role("button", name="Book this time").click()
        expect(phone.get_by_role("status")).to_contain_text(
            "Confirmed — you're booked in"
        )  # a credit confirms it at once

        phone.goto(f"/c/{SLUG}/")
        expect(phone.locator("#credits + ul")).to_contain_text("9 of 10 left")
        expect(phone.locator("#upcoming + ul")).to_contain_text("Personal training")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "the portal scrolls sideways"
        assert not browse.problems, browse.problems
