"""Coaches' secret iCal feeds and the settings page that shows and rotates their address."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import icalendar
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS
from tests.web.support import csrf, sign_up
from tests.web.test_public_routes import open_form, submit, text

_FEED = re.compile(r'value="http://coachos\.test(/ical/[A-Za-z0-9_-]+\.ics)"')


async def feed_path(coach: Client, *, rotate: bool = False) -> str:
    """The feed address the settings page shows the signed-in coach (after a rotation if asked)."""
    if rotate:
        response = await coach.post(
            "/settings/calendar-feed", form={"csrf_token": await csrf(coach, "/settings/calendar-feed")}
        )
    else:
        response = await coach.get("/settings/calendar-feed")
    assert response.status_code == 200
    found = _FEED.search(await text(response))
    assert found, "no feed address on the page"
    return found.group(1)


class TestCalendarFeedPage:
    async def test_needs_a_signed_in_coach(self, client: Client) -> None:
        """Visitors who are not signed in are sent to log in."""
        response = await client.get("/settings/calendar-feed")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")

    async def test_shows_the_address_once_then_offers_a_new_one(self, client: Client, web: Quart) -> None:
        """The first visit shows the address; later visits cannot, and rotating shows a new one and kills the old."""
        await sign_up(client)
        first = await feed_path(client)
        later = await text(await client.get("/settings/calendar-feed"))
        assert first not in later
        assert "cannot be shown again" in later
        rotated = await feed_path(client, rotate=True)
        assert rotated != first
        assert (await web.test_client().get(first)).status_code == 404
        assert (await web.test_client().get(rotated)).status_code == 200


class TestFeed:
    async def test_the_feed_parses_and_lists_the_booking_without_contact_details(
        self, client: Client, web: Quart, core: CoachOS
    ) -> None:
        """The feed is valid iCalendar with the booking (UID, UTC times, service, first name) and no contact details."""
        await sign_up(client)
        org = core.read(lambda uow: uow.orgs.by_slug("peak"))
        (service,) = core.read(lambda uow: uow.services.list(org.id))
        guest = web.test_client()
        await submit(guest, org, service, await open_form(guest, org, service))
        (booking,) = core.read(lambda uow: uow.bookings.for_client(org.id, uow.clients.list(org.id)[0].id))
        response = await web.test_client().get(await feed_path(client))
        assert response.status_code == 200
        assert response.mimetype == "text/calendar"
        body = await response.get_data()
        (event,) = icalendar.Calendar.from_ical(body).walk("VEVENT")
        assert str(event["UID"]) == str(booking.id)
        assert event.decoded("DTSTART") == datetime(2026, 3, 3, 14, tzinfo=UTC)
        assert event.decoded("DTEND") == datetime(2026, 3, 3, 15, tzinfo=UTC)
        assert b"DTSTART:20260303T140000Z" in body
        assert str(event["SUMMARY"]) == "Personal training with Casey"
        for secret in (b"casey@example.com", b"6465550199", b"Morgan"):
            assert secret not in body

    async def test_a_wrong_token_is_404(self, client: Client) -> None:
        """An address with an unknown secret is not found."""
        assert (await client.get("/ical/not-a-real-feed-secret.ics")).status_code == 404
