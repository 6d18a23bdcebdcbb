"""Per-coach iCal feeds at secret addresses, and the page that shows or rotates them."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import icalendar
from quart import Response, render_template, request, url_for

from coachos.domain.bookings import BookingStatus
from coachos.domain.usecases import (
    CalendarFeedUrl,
    ReadCalendarFeed,
    RotateCalendarFeed,
)
from coachos.entrypoints.web.context import core, settings
from coachos.entrypoints.web.security import login_required, require_principal
from coachos.entrypoints.web.views.public._blueprint import bp

# --- calendar feeds ----------------------------------------------------------------------------


@bp.route("/ical/<token>.ics")
async def ical(token: str) -> Any:
    """A coach's bookings as an iCalendar feed (secret address; no contact details in it)."""
    feed = await core().execute_async(ReadCalendarFeed(token=token))
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Coach OS//Calendar feed//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{feed.org.name} · {feed.coach.name}")
    for entry in feed.entries:
        event = icalendar.Event()
        event.add("uid", str(entry.booking.id))
        event.add("dtstamp", feed.generated_at)
        event.add("dtstart", entry.booking.start.astimezone(UTC))
        event.add("dtend", entry.booking.end.astimezone(UTC))
        event.add("summary", entry.summary)
        event.add("status", "TENTATIVE" if entry.booking.status is BookingStatus.REQUESTED else "CONFIRMED")
        cal.add_component(event)
    response = Response(cal.to_ical(), mimetype="text/calendar")
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.route("/settings/calendar-feed", methods=["GET", "POST"])
@login_required
async def calendar_feed() -> Any:
    """The coach's calendar feed address (shown when made) and a button to make a new one."""
    who = require_principal()
    app = core()
    if request.method == "POST":
        feed = await app.execute_async(RotateCalendarFeed(org_id=who.org_id, coach_id=who.coach_id))
    else:
        feed = await app.execute_async(CalendarFeedUrl(org_id=who.org_id, coach_id=who.coach_id))
    org = await app.read_async(lambda uow: uow.orgs.get(who.org_id))
    url = f"{settings().public_url}{url_for('public.ical', token=feed.secret)}" if feed.secret else None
    return await render_template(
        "public/calendar_feed.html",
        org=org,
        feed=feed,
        url=url,
        webcal=url.replace("https://", "webcal://").replace("http://", "webcal://") if url else None,
        rotated=request.method == "POST",
    )
