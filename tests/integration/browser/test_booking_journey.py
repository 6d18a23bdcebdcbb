"""A client in London books a New York coach from the public page; the coach sees it on the calendar and client page.

The coach's browser runs in America/New_York and the client's in Europe/London, so every time on a page
is checked against the zone it claims to be in. The server runs on the real clock, so the expected
texts are computed from the instants the pages carry in their `datetime` attributes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import attrs
import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect

from tests.integration.browser.conftest import PHONE, Browse, LiveServer, save_pages, sign_up

pytestmark = pytest.mark.browser

SLUG = "peak-coaching"
BUSINESS = "Peak Coaching"
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
#: How many weeks ahead the booking helper looks for a free time before giving up.
WEEKS_TO_SEARCH = 3
#: The length of the service the sign-up form creates.
SESSION = timedelta(minutes=60)


def instant(text: str) -> datetime:
    """An ISO 8601 instant from a `datetime` attribute, as aware UTC."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def long_label(at: datetime, tz: ZoneInfo) -> str:
    """The public pages' full label, e.g. 'Wed 25 Nov 2026, 09:00 EST'."""
    local = at.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}"


@attrs.frozen
class Booked:
    """What a client booked through the public page, and what the confirmation said."""

    start: datetime
    client_name: str
    confirmation: str


def open_free_week(page: Page) -> None:
    """From the public services page, open the first service's week that still has a free time."""
    page.goto(f"/book/{SLUG}")
    page.get_by_role("link", name="Personal training").click()
    page.wait_for_url(re.compile(r"[?&]tz="))  # public.js adds the visitor's zone once
    for _ in range(WEEKS_TO_SEARCH):
        if page.locator("ul.slots a").count():
            return
        page.get_by_role("link", name="Next week →").click()
        page.wait_for_load_state()
    pytest.fail(f"no free time in the next {WEEKS_TO_SEARCH} weeks on /book/{SLUG}")


def book_first_free_time(page: Page, client_name: str) -> Booked:
    """Book the first free time on the public page as `client_name`; ends on the confirmation."""
    open_free_week(page)
    slot = page.locator("ul.slots a").first
    start = instant(slot.locator("time").get_attribute("datetime") or "")
    slot.click()
    page.get_by_label("Your name").fill(client_name)
    page.get_by_label("Email", exact=True).fill(f"{client_name.split()[0].lower()}@client.test")
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("status")).to_contain_text("You're booked in")
    return Booked(start=start, client_name=client_name, confirmation=page.locator("main").inner_text())


@pytest.fixture(scope="module")
def coach_state(browser: Browser, live_server: LiveServer) -> Any:
    """The signed-in coach's cookies (the business is signed up once for this module)."""
    context = browser.new_context(base_url=live_server.url, timezone_id="America/New_York")
    page = context.new_page()
    try:
        sign_up(page, slug=SLUG, email="alex@peak.test", business=BUSINESS)
        state = context.storage_state()
    except Exception:
        save_pages("coach_state", live_server, page)
        raise
    finally:
        context.close()
    return state


@pytest.fixture(scope="module")
def booked(browser: Browser, live_server: LiveServer, coach_state: Any) -> Booked:
    """A booking made from London through the public page, for the coach-side pages to show."""
    context = browser.new_context(base_url=live_server.url, timezone_id="Europe/London")
    page = context.new_page()
    try:
        done = book_first_free_time(page, "Jordan Lee")
    except Exception:
        save_pages("booked", live_server, page)
        raise
    finally:
        context.close()
    return done


def coach_page(browse: Browse, coach_state: Any, **options: Any) -> Page:
    """A page signed in as the coach, on a New York clock."""
    return browse.page(timezone_id="America/New_York", storage_state=coach_state, **options)


def client_id_from_calendar(page: Page, booked: Booked) -> str:
    """The booked client's id, read from their link on the week calendar."""
    day = booked.start.astimezone(NEW_YORK).date()
    page.goto(f"/calendar?view=week&date={day.isoformat()}")
    link = page.locator(".cal-event a[data-field=client_name]", has_text=booked.client_name).first
    href = link.get_attribute("href") or ""
    found = re.fullmatch(r"/clients/([0-9a-f-]{36})", href)
    assert found, f"no client link on the calendar: {href!r}"
    return found.group(1)


class TestPublicBooking:
    """A client in another zone books from /book/<slug>."""

    def test_times_show_in_the_clients_zone_beside_the_business_zone(self, browse: Browse, coach_state: Any) -> None:
        """Each slot reads '<London time> your time (Europe/London) · <New York time> <abbr> at <business>'."""
        page = browse.page(timezone_id="Europe/London")
        open_free_week(page)
        slot = page.locator("ul.slots a").first
        start = instant(slot.locator("time").get_attribute("datetime") or "")
        london, new_york = start.astimezone(LONDON), start.astimezone(NEW_YORK)
        expect(slot).to_have_text(
            f"{london:%H:%M} your time (Europe/London) · {new_york:%H:%M} {new_york.tzname()} at {BUSINESS}"
        )
        assert browse.problems == []

    def test_the_confirmation_states_the_time_in_the_business_zone(self, browse: Browse, coach_state: Any) -> None:
        """After booking, the confirmation gives the time on the business's clock with its abbreviation."""
        page = browse.page(timezone_id="Europe/London")
        done = book_first_free_time(page, "Sam Patel")
        when = page.locator("main time").first
        expect(when).to_have_text(long_label(done.start, NEW_YORK))
        assert "(America/New_York time)" in done.confirmation
        assert f"{long_label(done.start, LONDON)} your time (Europe/London)" in done.confirmation
        assert browse.problems == []


class TestCoachCalendar:
    """The coach's week view of a booking made from London."""

    def test_the_booking_shows_on_its_day_at_the_business_local_time(
        self, browse: Browse, coach_state: Any, booked: Booked
    ) -> None:
        """The event sits under its New York date with its New York start and end and the zone's abbreviation."""
        page = coach_page(browse, coach_state)
        local = booked.start.astimezone(NEW_YORK)
        page.goto(f"/calendar?view=week&date={local.date().isoformat()}")
        event = page.locator(f"li.cal-day[data-date='{local.date().isoformat()}'] li.cal-event").filter(
            has_text=booked.client_name
        )
        expect(event).to_have_count(1)
        end = (booked.start + SESSION).astimezone(NEW_YORK)
        expect(event.locator("[data-field=time_label]")).to_have_text(
            f"{local:%H:%M}\u2013{end:%H:%M} {local.tzname()}"
        )
        assert browse.problems == []

    def test_the_poller_asks_for_exactly_the_visible_range(
        self, browse: Browse, coach_state: Any, booked: Booked
    ) -> None:
        """The refresh requests /calendar/events with the start and end the page wrote into the calendar."""
        page = coach_page(browse, coach_state)
        asked: list[Request] = []
        page.on("request", lambda r: asked.append(r) if urlsplit(r.url).path == "/calendar/events" else None)
        page.clock.install()
        local = booked.start.astimezone(NEW_YORK)
        page.goto(f"/calendar?view=week&date={local.date().isoformat()}")
        calendar = page.locator("[data-calendar]")
        range_start, range_end = calendar.get_attribute("data-range-start"), calendar.get_attribute("data-range-end")

        with page.expect_response(lambda r: urlsplit(r.url).path == "/calendar/events") as polled:
            page.clock.run_for(31_000)

        assert polled.value.ok
        assert len(asked) == 1
        query = parse_qs(urlsplit(asked[0].url).query)
        assert query == {"start": [range_start], "end": [range_end]}
        assert instant(range_start or "") <= booked.start < instant(range_end or "")
        redrawn = page.locator("li.cal-event").filter(has_text=booked.client_name)
        expect(redrawn).to_have_count(1)
        expect(redrawn.locator("time")).to_have_attribute("datetime", booked.start.strftime("%Y-%m-%dT%H:%M:%SZ"))
        assert browse.problems == []


class TestClientList:
    """The client list /clients."""

    def test_a_search_finds_the_booked_client_with_their_next_session(
        self, browse: Browse, coach_state: Any, booked: Booked
    ) -> None:
        """Searching by the email given on the public page finds one client whose next session is the booking."""
        page = coach_page(browse, coach_state)
        page.goto("/clients")
        page.get_by_role("searchbox", name="Search").fill("jordan@client.test")
        page.get_by_role("button", name="Find").click()
        page.wait_for_url(re.compile(r"[?&]q="))
        rows = page.locator("table.client-list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.get_by_role("link", name=booked.client_name)).to_be_visible()
        local = booked.start.astimezone(NEW_YORK)
        expect(rows.locator("td[data-label='Next session'] time")).to_have_text(
            f"{local:%a} {local.day} {local:%b, %H:%M} {local.tzname()}"
        )
        assert browse.problems == []

    def test_a_client_added_by_the_coach_opens_on_their_own_page(self, browse: Browse, coach_state: Any) -> None:
        """The add-client form leads to the new client's page, where every panel loads."""
        page = coach_page(browse, coach_state)
        page.goto("/clients")
        form = page.locator("#add-client")
        form.get_by_label("Name").fill("Riley Chen")
        form.get_by_label("Email").fill("riley@client.test")
        form.get_by_role("button", name="Add client").click()
        page.wait_for_url(re.compile(r"/clients/[0-9a-f-]{36}$"))
        expect(page.get_by_role("heading", level=1)).to_contain_text("Riley Chen")
        expect(page.locator(".panel[data-state=ready]")).to_have_count(page.locator(".panel").count())
        expect(page.locator(".panel[data-state=error]")).to_have_count(0)
        assert browse.problems == []


class TestClientPage:
    """The client detail page /clients/<id>."""

    def test_the_booking_shows_among_upcoming_sessions(self, browse: Browse, coach_state: Any, booked: Booked) -> None:
        """The upcoming-sessions panel lists the booking at its New York time."""
        page = coach_page(browse, coach_state)
        client_id = client_id_from_calendar(page, booked)
        page.goto(f"/clients/{client_id}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(booked.client_name)
        upcoming = page.locator("#panel-upcoming .panel")
        expect(upcoming).to_have_attribute("data-state", "ready")
        local = booked.start.astimezone(NEW_YORK)
        session = upcoming.locator("li").first
        expect(session.locator("time")).to_have_text(f"{local:%a} {local.day} {local:%b, %H:%M} {local.tzname()}")
        assert instant(session.locator("time").get_attribute("datetime") or "") == booked.start
        assert browse.problems == []

    def test_a_failing_panel_offers_retry_while_the_others_load(
        self, browse: Browse, coach_state: Any, booked: Booked
    ) -> None:
        """A panel whose request fails shows the reason and a Retry button; Retry loads it once the server answers."""
        page = coach_page(browse, coach_state)
        client_id = client_id_from_calendar(page, booked)
        pattern = "**/clients/*/panels/packages*"

        def fail(route: Route) -> None:
            route.fulfill(status=500, content_type="application/problem+json", body='{"detail":"boom"}')

        page.route(pattern, fail)
        page.goto(f"/clients/{client_id}")
        packages = page.locator("#panel-packages .panel")
        expect(packages).to_have_attribute("data-state", "error")
        expect(packages.get_by_role("alert")).to_contain_text("boom")
        for name in ("profile", "upcoming", "notes"):
            expect(page.locator(f"#panel-{name} .panel")).to_have_attribute("data-state", "ready")

        page.unroute(pattern, fail)
        packages.get_by_role("button", name="Retry").click()
        expect(packages).to_have_attribute("data-state", "ready")
        expect(packages).to_contain_text("credits left")
        assert browse.problems == []


class TestScreenshots:
    """Pictures of the week calendar and the client page for the README (docs/screenshots/)."""

    def test_calendar_and_client_pages_are_photographed(
        self, browse: Browse, coach_state: Any, booked: Booked, screenshots_dir: Path
    ) -> None:
        """Desktop and phone screenshots of the week holding the booking and of the client's page are written."""
        desktop = coach_page(browse, coach_state)
        client_id = client_id_from_calendar(desktop, booked)
        phone = coach_page(browse, coach_state, viewport=PHONE, is_mobile=True, device_scale_factor=1)
        day = booked.start.astimezone(NEW_YORK).date().isoformat()
        shots = {
            "calendar": f"/calendar?view=week&date={day}",
            "client": f"/clients/{client_id}",
        }
        for name, path in shots.items():
            for page, suffix in ((desktop, ""), (phone, "-phone")):
                page.goto(path)
                page.wait_for_load_state("networkidle")
                expect(page.locator(".panel[aria-busy]")).to_have_count(0)
                target = screenshots_dir / f"{name}{suffix}.png"
                page.screenshot(path=str(target), full_page=True, animations="disabled", caret="hide")
                assert target.stat().st_size > 10_000
        assert browse.problems == []
