"""Today: the coach's sessions of the day, who is coming, credits left, and what needs attention."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import attrs
from quart import Blueprint, redirect, render_template, request, url_for

from coachos.domain.bookings import Booking, BookingStatus
from coachos.domain.catalog import Service
from coachos.domain.clients import Client
from coachos.domain.errors import CorruptRecord
from coachos.domain.ids import Actor
from coachos.domain.orgs import Coach, Organization
from coachos.domain.rows import Rows, unreadable_in
from coachos.domain.timezones import day_start
from coachos.domain.todos import Todo
from coachos.domain.usecases import CompleteTodo, HeldBookings
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required, require_principal
from coachos.entrypoints.web.unreadable import report
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
    #: Whether a package of the client could not be read, so more credits may be left than shown.
    credits_uncertain: bool = False


@attrs.frozen
class TodayView:
    """Everything the Today page shows."""

    org: Organization
    coach: Coach
    day_start: datetime
    rows: list[Row]
    to_confirm: list[Row]
    low_credits: list[tuple[Client, int]]
    #: Incoming messages no coach has read yet.
    unread_messages: int = 0
    #: Stored rows that could not be read; sessions that need one of them are left out too.
    unreadable: tuple[CorruptRecord, ...] = ()
    #: The coach's open to-dos (from automations), oldest first.
    todos: list[Todo] = attrs.Factory(list)


def day_bounds(org: Organization, now: datetime) -> tuple[datetime, datetime]:
    """Midnight to midnight of `now`'s local date in the org's zone, as UTC (23 or 25 hours on DST days)."""
    day = now.astimezone(org.tz).date()
    return day_start(day, org.tz), day_start(day + timedelta(days=1), org.tz)


def _today(uow: UnitOfWork, org_id: Any, coach_id: Any, now: datetime) -> TodayView:
    org = uow.orgs.get(org_id)
    coach = uow.coaches.get(org_id, coach_id)
    start, end = day_bounds(org, now)
    listed = uow.services.list(org_id)
    services = {s.id: s for s in listed}
    clients: dict[Any, Client | None] = {}
    credits: dict[Any, int] = {}
    uncertain: set[Any] = set()
    reads: list[Rows[Any]] = [listed]
    broken: list[CorruptRecord] = []

    def row(b: Booking) -> Row | None:
        if b.client_id not in clients:
            try:
                clients[b.client_id] = uow.clients.get(org_id, b.client_id)
            except CorruptRecord as exc:
                broken.append(exc)
                clients[b.client_id] = None
            packages = uow.packages.for_client(org_id, b.client_id)
            reads.append(packages)
            credits[b.client_id] = sum(p.remaining for p in packages if p.usable(now))
            if packages.unreadable:
                uncertain.add(b.client_id)
        client, service = clients[b.client_id], services.get(b.service_id)
        # Without its client or service a session cannot be shown; the unreadable row is reported instead.
        if client is None or service is None:
            return None
        return Row(b, client, service, credits[b.client_id], b.client_id in uncertain)

    day = uow.bookings.between(org_id, start, end)
    upcoming = uow.bookings.between(org_id, now, now + timedelta(days=14))
    open_todos = uow.todos.open(org_id)
    reads += [day, upcoming, open_todos]
    todays = [r for b in day if b.status is not BookingStatus.CANCELLED and (r := row(b))]
    to_confirm = [r for b in upcoming if b.status is BookingStatus.REQUESTED and (r := row(b))]
    low = sorted({(r.client.id, r.client.name, r.credits_left) for r in todays if (r.credits_left or 0) <= LOW_CREDITS})
    return TodayView(
        org=org,
        coach=coach,
        day_start=start,
        rows=todays,
        to_confirm=to_confirm,
        low_credits=[(who, n or 0) for c, _, n in low if (who := clients[c])],
        unread_messages=uow.messages.unread_count(org_id),
        unreadable=unreadable_in(*reads, broken),
        todos=list(open_todos),
    )


@bp.route("/today")
@login_required
async def today() -> Any:
    """The day at a glance."""
    who = require_principal()
    app = core()
    now = app.clock.now()
    view = await app.read_async(lambda uow: _today(uow, who.org_id, who.coach_id, now))
    # Clients whose onboarding holds an upcoming session (the same two weeks as "Confirm ..." above).
    held = await app.execute_async(HeldBookings(org_id=who.org_id, start=now, end=now + timedelta(days=14)))
    return await render_template(
        "today.html",
        v=view,
        held=held,
        org=view.org,
        now=now,
        welcome=request.args.get("welcome"),
        unreadable=report(view.unreadable),
    )


@bp.route("/todos/<uuid:todo_id>/done", methods=["POST"])
@login_required
async def todo_done(todo_id: UUID) -> Any:
    """Tick a to-do off and go back to Today."""
    who = require_principal()
    await core().execute_async(CompleteTodo(org_id=who.org_id, todo_id=todo_id, actor=Actor("coach", who.coach_id)))
    return redirect(url_for("today.today", _anchor="todos"), 303)
