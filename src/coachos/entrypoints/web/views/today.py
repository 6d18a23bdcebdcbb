"""Today: the coach's sessions of the day, who is coming, credits left, and what needs attention."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import attrs
from quart import Blueprint, render_template, request

from coachos.domain.bookings import Booking, BookingStatus
from coachos.domain.catalog import Service
from coachos.domain.clients import Client
from coachos.domain.orgs import Coach, Organization
from coachos.domain.timezones import day_start
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required, require_principal
from coachos.ports.storage import UnitOfWork

bp = Blueprint("today", __name__)

LOW_CREDITS = 1


@attrs.frozen
class Row:
    """One session on today's list."""

    booking: Booking
    client: Client
    service: Service
    credits_left: int | None


@attrs.frozen
class TodayView:
    """Everything the Today page shows."""

    org: Organization
    coach: Coach
    day_start: datetime
    rows: list[Row]
    to_confirm: list[Row]
    low_credits: list[tuple[Client, int]]


def day_bounds(org: Organization, now: datetime) -> tuple[datetime, datetime]:
    """Midnight to midnight of `now`'s local date in the org's zone, as UTC (23 or 25 hours on DST days)."""
    day = now.astimezone(org.tz).date()
    return day_start(day, org.tz), day_start(day + timedelta(days=1), org.tz)


def _today(uow: UnitOfWork, org_id: Any, coach_id: Any, now: datetime) -> TodayView:
    org = uow.orgs.get(org_id)
    coach = uow.coaches.get(org_id, coach_id)
    start, end = day_bounds(org, now)
    services = {s.id: s for s in uow.services.list(org_id)}
    clients: dict[Any, Client] = {}
    credits: dict[Any, int] = {}

    def row(b: Booking) -> Row:
        if b.client_id not in clients:
            clients[b.client_id] = uow.clients.get(org_id, b.client_id)
            credits[b.client_id] = sum(
                p.remaining for p in uow.packages.for_client(org_id, b.client_id) if p.usable(now)
            )
        return Row(b, clients[b.client_id], services[b.service_id], credits[b.client_id])

    todays = [row(b) for b in uow.bookings.between(org_id, start, end) if b.status is not BookingStatus.CANCELLED]
    upcoming = uow.bookings.between(org_id, now, now + timedelta(days=14))
    to_confirm = [row(b) for b in upcoming if b.status is BookingStatus.REQUESTED]
    low = sorted({(r.client.id, r.client.name, r.credits_left) for r in todays if (r.credits_left or 0) <= LOW_CREDITS})
    return TodayView(
        org=org,
        coach=coach,
        day_start=start,
        rows=todays,
        to_confirm=to_confirm,
        low_credits=[(clients[c], n or 0) for c, _, n in low],
    )


@bp.route("/today")
@login_required
async def today() -> Any:
    """The day at a glance."""
    who = require_principal()
    app = core()
    now = app.clock.now()
    view = await app.read_async(lambda uow: _today(uow, who.org_id, who.coach_id, now))
    return await render_template("today.html", v=view, org=view.org, now=now, welcome=request.args.get("welcome"))
