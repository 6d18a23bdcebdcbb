"""A coach reads and answers a client's text in the inbox; the client page then shows the reply's delivery status.

The client's text is written straight into the live server's SQLite file, as the inbound SMS handler
would store it, and the reply is later marked delivered there too, standing in for Twilio's status
callback. The server runs on the real clock, so whether the reply waits for the end of quiet hours is
read from the stored message rather than assumed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import attrs
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from coachos import Actor, CoachOS, CreateClient, Settings, bootstrap
from coachos.adapters.clock import RandomIds, SystemClock
from coachos.adapters.sql.engine import make_engine
from coachos.adapters.sql.tables import messages
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.messages import Direction, Message, MessageChannel, MessageStatus, Purpose
from coachos.domain.messaging import count_segments
from coachos.domain.usecases import RecordConsent
from tests.integration.browser.conftest import PHONE, Browse, LiveServer, save_pages, sign_up

pytestmark = pytest.mark.browser

SLUG = "inbox-coach"
NEW_YORK = ZoneInfo("America/New_York")
TEXT = "Hi! Can we move Thursday to 6pm?"
REPLY = "Sure, 6pm works — see you then 💪"


@attrs.frozen
class Shop:
    """The live server's business as the test sees it: its store, the coach's cookies and a texting client."""

    core: CoachOS
    engine: sa.Engine
    coach_state: Any
    org_id: OrgId
    client_id: UUID


def org_time(at: datetime) -> str:
    """How the pages write an instant: 'Sat 28 Nov, 06:19 EST' on the business's New York clock."""
    local = at.astimezone(NEW_YORK)
    return f"{local:%a} {local.day} {local:%b, %H:%M} {local.tzname()}"


@pytest.fixture(scope="module")
def shop(browser: Browser, live_server: LiveServer) -> Iterator[Shop]:
    """A coach signed up in the browser, and a client with SMS consent added through the live server's store."""
    context = browser.new_context(base_url=live_server.url, timezone_id="America/New_York")
    page = context.new_page()
    try:
        sign_up(page, slug=SLUG, email="alex@inbox.test")
        state = context.storage_state()
    except Exception:
        save_pages("inbox_shop", live_server, page)
        raise
    finally:
        context.close()
    engine = make_engine(f"sqlite:///{live_server.mail.parent / 'coachos.db'}")
    with bootstrap(
        Settings(database_url="memory://"), uow=lambda: SqlUnitOfWork(engine), clock=SystemClock(), ids=RandomIds()
    ) as core:
        org = core.read(lambda uow: uow.orgs.by_slug(SLUG))
        (coach,) = core.read(lambda uow: uow.coaches.list(org.id))
        me = Actor("coach", coach.id)
        jordan = core.execute(CreateClient(org_id=org.id, name="Jordan Lee", phone="+12125550101", actor=me))
        core.execute(RecordConsent(org_id=org.id, client_id=jordan.id, channel="sms", method="booking_form", actor=me))
        yield Shop(core, engine, state, org.id, jordan.id)
    engine.dispose()


def receive_text(shop: Shop, body: str) -> Message:
    """Store a text from the client as the inbound handler does (direction in, status received)."""
    # One store transaction at a time: on SQLite each holds the write lock (BEGIN IMMEDIATE) until it ends.
    client = shop.core.read(lambda uow: uow.clients.get(shop.org_id, ClientId(shop.client_id)))
    now = datetime.now(UTC)
    message = Message(
        id=uuid4(),
        org_id=client.org_id,
        direction=Direction.IN,
        channel=MessageChannel.SMS,
        purpose=Purpose.TRANSACTIONAL,
        status=MessageStatus.RECEIVED,
        to="+12125550100",
        sender=client.phone,
        body=body,
        created_at=now,
        not_before=now,
        provider_id=f"SM{uuid4().hex}",
        client_id=client.id,
    )
    with shop.core.deps.uow() as uow:
        stored = uow.messages.add(message)
        uow.commit()
    return stored


def mark_delivered(shop: Shop, message_id: UUID) -> None:
    """What Twilio's 'delivered' status callback leaves on the row: the status, its time and the provider's id."""
    with shop.engine.begin() as conn:
        done = conn.execute(
            messages.update()
            .where(messages.c.id == message_id)
            .values(status=MessageStatus.DELIVERED.value, status_at=datetime.now(UTC), provider_id=f"SM{uuid4().hex}")
        )
        assert done.rowcount == 1


def coach_page(browse: Browse, shop: Shop, **options: Any) -> Page:
    return browse.page(timezone_id="America/New_York", storage_state=shop.coach_state, **options)


class TestInbox:
    """The coach's side of a conversation with a client who texts."""

    def test_a_coach_reads_and_answers_a_text_and_sees_it_delivered(self, browse: Browse, shop: Shop) -> None:
        """Unread badge, thread, reply with a live part count, then 'Delivered' on the client's page."""
        received = receive_text(shop, TEXT)
        page = coach_page(browse, shop)
        page.goto("/today")
        nav = page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile(r"^Inbox"))
        expect(nav.locator(".badge")).to_have_text("1")
        expect(page.get_by_role("link", name="1 unread message")).to_be_visible()

        nav.click()
        page.wait_for_url(re.compile(r"/inbox$"))
        row = page.locator(".conversations li", has_text="Jordan Lee")
        expect(row.locator(".badge")).to_have_text("1 unread")
        expect(row).to_contain_text(TEXT)
        expect(row.locator("time")).to_have_text(org_time(received.created_at))
        row.get_by_role("link").click()

        page.wait_for_url(re.compile(rf"/inbox/{shop.client_id}$"))
        incoming = page.locator(".msg-in", has_text=TEXT)
        expect(incoming).to_be_visible()
        expect(incoming.locator(".badge.new")).to_have_text("new")
        expect(nav.locator(".badge")).to_have_count(0)  # opening the thread read it

        box = page.get_by_label("Reply by text to +12125550101")
        box.fill(REPLY)
        expected = count_segments(REPLY)
        expect(page.locator("#reply-segments")).to_have_text(
            f"1 text message: {expected.units}/70 characters (UCS-2)"
        )  # the emoji and the dash make it UCS-2
        page.get_by_role("button", name="Send reply").click()

        page.wait_for_url(re.compile(r"queued="))
        thread = shop.core.read(lambda uow: uow.messages.for_client(shop.org_id, ClientId(shop.client_id)))
        (reply,) = [m for m in thread if m.outgoing]
        assert (reply.body, reply.channel, reply.status) == (REPLY, MessageChannel.SMS, MessageStatus.QUEUED)
        status = page.get_by_role("status")
        if reply.not_before > reply.created_at:  # written during quiet hours in New York
            expect(status).to_contain_text(f"it will send at {org_time(reply.not_before)}, after quiet hours")
        else:
            expect(status).to_contain_text("Reply queued; it goes out in a moment.")
        expect(page.locator(".msg-out", has_text=REPLY).locator(".msg-status")).to_have_text(
            re.compile(r"^(Queued|Scheduled)$")
        )

        mark_delivered(shop, reply.id)
        phone = coach_page(browse, shop, viewport=PHONE, is_mobile=True)
        phone.goto(f"/clients/{shop.client_id}")
        panel = phone.locator("#panel-messages .panel")
        expect(panel).to_have_attribute("data-state", "ready")
        expect(panel.locator(".msg-out", has_text=REPLY).locator(".msg-status")).to_have_text("Delivered")
        expect(panel.locator(".msg-in", has_text=TEXT)).to_be_visible()
        expect(panel.get_by_role("link", name="Open the conversation")).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert browse.problems == []

    def test_the_live_part_count_matches_the_server(self, browse: Browse, shop: Shop) -> None:
        """static/inbox.js counts encoding, units and parts as domain/messaging.py does."""
        page = coach_page(browse, shop)
        page.goto(f"/inbox/{shop.client_id}")
        curly = "\u2019"  # a curly apostrophe: not in GSM-7, so the text becomes UCS-2
        samples = ["", "Hi", "x" * 160, "x" * 161, "€" * 80, curly * 70, curly * 71, "😀" * 35, "😀" * 36]
        samples.append("a" * 152 + "€" + "a" * 8)  # the escaped character moves whole to the second part
        counted = page.evaluate("(xs) => xs.map((s) => window.CoachOSInbox.countSegments(s))", samples)
        for body, found in zip(samples, counted, strict=True):
            expected = count_segments(body)
            assert (found["encoding"], found["units"], found["parts"]) == (
                expected.encoding,
                expected.units,
                expected.parts,
            ), body[:10]
        assert browse.problems == []

    def test_inbox_pages_are_photographed(self, browse: Browse, shop: Shop, screenshots_dir: Path) -> None:
        """Desktop and phone screenshots of the conversation list and a thread are written for the README."""
        receive_text(shop, "Thanks, see you Thursday!")
        desktop = coach_page(browse, shop)
        phone = coach_page(browse, shop, viewport=PHONE, is_mobile=True, device_scale_factor=1)
        for name, path in (("inbox", "/inbox"), ("inbox-thread", f"/inbox/{shop.client_id}")):
            for page, suffix in ((desktop, ""), (phone, "-phone")):
                page.goto(path)
                page.wait_for_load_state("networkidle")
                target = screenshots_dir / f"{name}{suffix}.png"
                page.screenshot(path=str(target), full_page=True, animations="disabled", caret="hide")
                assert target.stat().st_size > 10_000
        assert browse.problems == []
