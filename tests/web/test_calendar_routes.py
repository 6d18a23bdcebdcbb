"""The calendar pages, their JSON poller endpoint and the book, move and cancel forms, through the real app."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import (
    Actor,
    Booking,
    BookingStatus,
    BookSession,
    CoachOS,
    CreateClient,
    Money,
    SellPackage,
)
from coachos.adapters.clock import FixedClock
from coachos.domain.calendar import visible_range
from coachos.domain.catalog import Service
from coachos.domain.orgs import Coach, Organization
from tests.helpers import MONDAY_NOON_UTC
from tests.web.support import csrf, sign_up

NEW_YORK = ZoneInfo("America/New_York")
_DAY = re.compile(r'data-date="(\d{4}-\d\d-\d\d)"')
_BOOKING = re.compile(r'data-booking-id="([0-9a-f-]+)"')
_RANGE = re.compile(r'data-range-start="([^"]+)" data-range-end="([^"]+)"')


@attrs.frozen
class Shop:
    """A signed-up business with a client who has plenty of credits."""

    org: Organization
    coach: Coach
    service: Service
    person: Any

    @property
    def me(self) -> Actor:
        """The coach as actor."""
        return Actor("coach", self.coach.id)


async def open_shop(client: Client, core: CoachOS, slug: str = "peak") -> Shop:
    """Sign up through the form (09:00-17:00 every day, a 60-minute service) and add a client with 40 credits."""
    await sign_up(client, email=f"alex@{slug}.test", slug=slug)
    org = core.read(lambda uow: uow.orgs.by_slug(slug))
    coach = core.read(lambda uow: uow.coaches.list(org.id))[0]
    service = core.read(lambda uow: uow.services.list(org.id))[0]
    me = Actor("coach", coach.id)
    person = core.execute(CreateClient(org_id=org.id, name="Jordan Lee", actor=me))
    core.execute(
        SellPackage(org_id=org.id, client_id=person.id, name="Pack", sessions=40, price=Money(0, "USD"), actor=me)
    )
    return Shop(org=org, coach=coach, service=service, person=person)


def book(core: CoachOS, shop: Shop, local: datetime) -> Booking:
    """A confirmed booking at the New York wall-clock time `local`."""
    return core.execute(
        BookSession(
            org_id=shop.org.id,
            coach_id=shop.coach.id,
            service_id=shop.service.id,
            client_id=shop.person.id,
            start=local.replace(tzinfo=NEW_YORK).astimezone(UTC),
            actor=shop.me,
            confirm=True,
        )
    )


def ny(year: int, month: int, day: int, hour: int) -> datetime:
    """A wall-clock time in New York (zone added by `book`)."""
    return datetime(year, month, day, hour)  # noqa: DTZ001  # a local reading; `book` names the zone


def z(instant: datetime) -> str:
    """The ISO UTC form the calendar uses."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.frozen
class Shown:
    """What a calendar page showed."""

    days: list[date]
    bookings: set[str]
    range: tuple[str, str]
    html: str


async def shown(client: Client, path: str) -> Shown:
    """Fetch a calendar page and pick out its days, bookings and range."""
    response = await client.get(path)
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    found = _RANGE.search(html)
    assert found
    return Shown(
        days=[date.fromisoformat(d) for d in _DAY.findall(html)],
        bookings=set(_BOOKING.findall(html)),
        range=(found.group(1), found.group(2)),
        html=html,
    )


def booking_status(core: CoachOS, shop: Shop, booking: Booking) -> BookingStatus:
    return core.read(lambda uow: uow.bookings.get(shop.org.id, booking.id)).status


class TestCalendarPage:
    async def test_dst_week_shows_its_days_and_only_its_bookings(
        self, client: Client, core: CoachOS, clock: FixedClock
    ) -> None:
        """The week of 8 March 2026 shows Monday to Sunday, the bookings inside it with EST and EDT, none outside."""
        shop = await open_shop(client, core)
        clock.set(datetime(2026, 2, 20, tzinfo=UTC))
        before = book(core, shop, ny(2026, 3, 1, 16))
        first = book(core, shop, ny(2026, 3, 2, 9))
        last = book(core, shop, ny(2026, 3, 8, 16))
        after = book(core, shop, ny(2026, 3, 9, 9))
        page = await shown(client, "/calendar?view=week&date=2026-03-05")
        expected = visible_range("week", date(2026, 3, 5), NEW_YORK)
        assert page.days == list(expected.days)
        assert page.range == (z(expected.start), z(expected.end))
        assert page.bookings == {str(first.id), str(last.id)}
        assert str(before.id) not in page.html
        assert str(after.id) not in page.html
        assert "09:00\u201310:00 EST" in page.html
        assert "16:00\u201317:00 EDT" in page.html
        assert "Jordan Lee" in page.html
        assert "Personal training" in page.html

    async def test_month_starting_mid_week_shows_whole_weeks(
        self, client: Client, core: CoachOS, clock: FixedClock
    ) -> None:
        """April 2026 (starting on a Wednesday) shows 30 March to 3 May and only the bookings in those days."""
        shop = await open_shop(client, core)
        clock.set(datetime(2026, 3, 20, tzinfo=UTC))
        before = book(core, shop, ny(2026, 3, 29, 16))
        first = book(core, shop, ny(2026, 3, 30, 9))
        last = book(core, shop, ny(2026, 5, 3, 16))
        after = book(core, shop, ny(2026, 5, 4, 9))
        clock.set(MONDAY_NOON_UTC)  # back within the session's life
        page = await shown(client, "/calendar?view=month&date=2026-04-15")
        expected = visible_range("month", date(2026, 4, 15), NEW_YORK)
        assert page.days[0] == date(2026, 3, 30)
        assert page.days[-1] == date(2026, 5, 3)
        assert page.days == list(expected.days)
        assert page.range == (z(expected.start), z(expected.end))
        assert page.bookings == {str(first.id), str(last.id)}
        assert {str(before.id), str(after.id)}.isdisjoint(_BOOKING.findall(page.html))

    async def test_day_view_on_a_short_day(self, client: Client, core: CoachOS, clock: FixedClock) -> None:
        """The day view of 8 March 2026 covers its 23 hours and only that day's bookings."""
        shop = await open_shop(client, core)
        clock.set(datetime(2026, 2, 20, tzinfo=UTC))
        book(core, shop, ny(2026, 3, 7, 16))
        inside = book(core, shop, ny(2026, 3, 8, 9))
        book(core, shop, ny(2026, 3, 9, 9))
        page = await shown(client, "/calendar?view=day&date=2026-03-08")
        expected = visible_range("day", date(2026, 3, 8), NEW_YORK)
        assert page.days == [date(2026, 3, 8)]
        assert page.range == (z(expected.start), z(expected.end))
        assert expected.end - expected.start == timedelta(hours=23)
        assert page.bookings == {str(inside.id)}
        assert "09:00\u201310:00 EDT" in page.html

    async def test_default_is_this_week_in_the_org_zone(self, client: Client, core: CoachOS) -> None:
        """Without parameters the page shows the week containing today in the organisation's zone."""
        await open_shop(client, core)
        page = await shown(client, "/calendar")
        assert page.days == list(visible_range("week", date(2026, 3, 2), NEW_YORK).days)
        assert 'rel="next"' in page.html
        assert "/calendar?view=week&amp;date=2026-03-09" in page.html

    async def test_bad_view_or_date_is_a_400(self, client: Client, core: CoachOS) -> None:
        """An unknown view or a malformed date is refused with the reason."""
        await open_shop(client, core)
        response = await client.get("/calendar?view=year")
        assert response.status_code == 400
        assert "not a calendar view" in await response.get_data(as_text=True)
        assert (await client.get("/calendar?date=2026-13-01")).status_code == 400

    async def test_page_needs_a_session(self, client: Client) -> None:
        """A signed-out visitor is sent to log in."""
        response = await client.get("/calendar")
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


class TestEvents:
    async def test_returns_exactly_the_bookings_starting_in_range(
        self, web: Quart, core: CoachOS, clock: FixedClock
    ) -> None:
        """Bookings starting at the range start are in, at the range end out, and other orgs' never appear."""
        client = web.test_client()
        shop = await open_shop(client, core)
        other = await open_shop(web.test_client(), core, slug="other")
        clock.set(datetime(2026, 2, 20, tzinfo=UTC))
        first = book(core, shop, ny(2026, 3, 2, 9))
        middle = book(core, shop, ny(2026, 3, 4, 9))
        end = book(core, shop, ny(2026, 3, 6, 9))
        book(core, other, ny(2026, 3, 4, 11))
        response = await client.get(f"/calendar/events?start={z(first.start)}&end={z(end.start)}")
        assert response.status_code == 200
        body = await response.get_json()
        assert [e["id"] for e in body["events"]] == [str(first.id), str(middle.id)]
        event = body["events"][0]
        assert event["start"] == "2026-03-02T14:00:00Z"
        assert event["time_label"] == "09:00\u201310:00 EST"
        assert event["local_date"] == "2026-03-02"
        assert (event["client_name"], event["service_name"], event["status"]) == (
            "Jordan Lee",
            "Personal training",
            "confirmed",
        )

    async def test_the_page_range_fetches_what_the_page_shows(
        self, client: Client, core: CoachOS, clock: FixedClock
    ) -> None:
        """Asking for the range written on the page returns the same bookings the page rendered."""
        shop = await open_shop(client, core)
        clock.set(datetime(2026, 2, 20, tzinfo=UTC))
        for when in (ny(2026, 3, 1, 16), ny(2026, 3, 2, 9), ny(2026, 3, 8, 16), ny(2026, 3, 9, 9)):
            book(core, shop, when)
        page = await shown(client, "/calendar?date=2026-03-08")
        response = await client.get(f"/calendar/events?start={page.range[0]}&end={page.range[1]}")
        assert {e["id"] for e in (await response.get_json())["events"]} == page.bookings

    async def test_bad_ranges_are_refused_as_problems(self, client: Client, core: CoachOS) -> None:
        """An empty, reversed, too long, naive or unreadable range is a 400 problem+json."""
        await open_shop(client, core)
        start = datetime(2026, 3, 2, 5, tzinfo=UTC)
        for query in (
            f"start={z(start)}&end={z(start)}",
            f"start={z(start)}&end={z(start - timedelta(hours=1))}",
            f"start={z(start)}&end={z(start + timedelta(days=43, seconds=1))}",
            "start=2026-03-02T05:00:00&end=2026-03-03T05:00:00",
            "start=yesterday&end=2026-03-03T05:00:00Z",
            "end=2026-03-03T05:00:00Z",
        ):
            response = await client.get(f"/calendar/events?{query}")
            assert response.status_code == 400, query
            assert response.mimetype == "application/problem+json"
            assert (await response.get_json())["detail"]
        ok = await client.get(f"/calendar/events?start={z(start)}&end={z(start + timedelta(days=43))}")
        assert ok.status_code == 200

    async def test_needs_a_session(self, client: Client) -> None:
        """Without a session the poller gets a 401 JSON problem, not a login page."""
        response = await client.get(
            "/calendar/events?start=2026-03-02T05:00:00Z&end=2026-03-03T05:00:00Z",
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"


class TestForms:
    async def test_create_books_the_local_time_confirmed(self, client: Client, core: CoachOS) -> None:
        """The form books 10:00 New York time on 4 March as a confirmed session and goes back to that week."""
        shop = await open_shop(client, core)
        token = await csrf(client, "/calendar")
        response = await client.post(
            "/calendar/bookings",
            form={
                "csrf_token": token,
                "client_id": str(shop.person.id),
                "service_id": str(shop.service.id),
                "date": "2026-03-04",
                "time": "10:00",
                "idempotency_key": "form-1",
                "back_view": "week",
                "back_date": "2026-03-02",
            },
        )
        assert response.status_code == 303
        assert response.headers["Location"] == "/calendar?view=week&done=booked&date=2026-03-04"
        (made,) = core.read(lambda uow: uow.bookings.for_client(shop.org.id, shop.person.id))
        assert made.start == datetime(2026, 3, 4, 15, tzinfo=UTC)
        assert made.status is BookingStatus.CONFIRMED
        page = await client.get(response.headers["Location"])
        assert "Booked." in await page.get_data(as_text=True)

    async def test_a_time_the_clocks_skip_is_refused(self, client: Client, core: CoachOS) -> None:
        """02:30 on 8 March 2026 does not exist in New York, so the form is refused saying so and books nothing."""
        shop = await open_shop(client, core)
        token = await csrf(client, "/calendar")
        response = await client.post(
            "/calendar/bookings",
            form={
                "csrf_token": token,
                "client_id": str(shop.person.id),
                "service_id": str(shop.service.id),
                "date": "2026-03-08",
                "time": "02:30",
            },
        )
        assert response.status_code == 400
        assert "does not exist" in await response.get_data(as_text=True)
        assert not core.read(lambda uow: uow.bookings.for_client(shop.org.id, shop.person.id))

    async def test_move_reschedules_to_the_typed_time(self, client: Client, core: CoachOS) -> None:
        """The move form cancels the old booking and books the typed local time, 10:00 to 10:30 included."""
        shop = await open_shop(client, core)
        old = book(core, shop, ny(2026, 3, 4, 10))
        token = await csrf(client, "/calendar")
        response = await client.post(
            f"/calendar/bookings/{old.id}/move",
            form={"csrf_token": token, "date": "2026-03-04", "time": "10:30", "back_view": "day"},
        )
        assert response.status_code == 303
        assert response.headers["Location"] == "/calendar?view=day&done=moved&date=2026-03-04"
        assert booking_status(core, shop, old) is BookingStatus.CANCELLED
        live = [
            b for b in core.read(lambda uow: uow.bookings.for_client(shop.org.id, shop.person.id)) if b.id != old.id
        ]
        assert [(b.start, b.status) for b in live] == [
            (datetime(2026, 3, 4, 15, 30, tzinfo=UTC), BookingStatus.CONFIRMED)
        ]

    async def test_move_to_an_unavailable_time_changes_nothing(self, client: Client, core: CoachOS) -> None:
        """Moving outside the coach's hours shows the reason and leaves the booking where it was."""
        shop = await open_shop(client, core)
        old = book(core, shop, ny(2026, 3, 4, 10))
        token = await csrf(client, "/calendar")
        response = await client.post(
            f"/calendar/bookings/{old.id}/move", form={"csrf_token": token, "date": "2026-03-04", "time": "20:00"}
        )
        assert response.status_code == 409
        assert "not available" in await response.get_data(as_text=True)
        assert booking_status(core, shop, old) is BookingStatus.CONFIRMED

    async def test_cancel_cancels(self, client: Client, core: CoachOS) -> None:
        """The cancel button cancels the booking and goes back to the view it came from."""
        shop = await open_shop(client, core)
        old = book(core, shop, ny(2026, 3, 4, 10))
        token = await csrf(client, "/calendar")
        response = await client.post(
            f"/calendar/bookings/{old.id}/cancel",
            form={"csrf_token": token, "back_view": "month", "back_date": "2026-03-01"},
        )
        assert response.status_code == 303
        assert response.headers["Location"] == "/calendar?view=month&done=cancelled&date=2026-03-01"
        assert booking_status(core, shop, old) is BookingStatus.CANCELLED
        page = await shown(client, "/calendar?view=month&date=2026-03-01")
        assert str(old.id) not in page.bookings

    async def test_another_orgs_booking_is_not_found(self, web: Quart, core: CoachOS) -> None:
        """Moving or cancelling another organisation's booking is a 404 and changes nothing."""
        client = web.test_client()
        await open_shop(client, core)
        other = await open_shop(web.test_client(), core, slug="other")
        theirs = book(core, other, ny(2026, 3, 4, 10))
        token = await csrf(client, "/calendar")
        cancel = await client.post(f"/calendar/bookings/{theirs.id}/cancel", form={"csrf_token": token})
        move = await client.post(
            f"/calendar/bookings/{theirs.id}/move", form={"csrf_token": token, "date": "2026-03-05", "time": "10:00"}
        )
        assert (cancel.status_code, move.status_code) == (404, 404)
        assert (await client.post("/calendar/bookings/not-an-id/cancel", form={"csrf_token": token})).status_code == 404
        assert booking_status(core, other, theirs) is BookingStatus.CONFIRMED

    async def test_forms_need_the_csrf_token(self, client: Client, core: CoachOS) -> None:
        """A cancel without the page's CSRF token is refused and the booking stays."""
        shop = await open_shop(client, core)
        old = book(core, shop, ny(2026, 3, 4, 10))
        response = await client.post(f"/calendar/bookings/{old.id}/cancel", form={"csrf_token": "nope"})
        assert response.status_code == 403
        assert booking_status(core, shop, old) is BookingStatus.CONFIRMED


class TestScript:
    async def test_script_polls_only_the_range_the_server_wrote(self, client: Client) -> None:
        """calendar.js reads the range from the data attributes and never reads the browser's clock or zone."""
        response = await client.get("/static/calendar.js")
        assert response.status_code == 200
        source = (Path(__file__).parents[2] / "src/coachos/entrypoints/web/static/calendar.js").read_text()
        assert "dataset.rangeStart" in source
        assert "dataset.rangeEnd" in source
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("//"))
        for forbidden in ("Date(", "Date.now", "getTimezoneOffset", "Intl."):
            assert forbidden not in code
        assert "30000" in code
