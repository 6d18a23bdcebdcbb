"""Weekly hours and date overrides (days off, extra hours)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import attrs
from quart import redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from coachos.domain.availability import DateOverride
from coachos.domain.errors import CorruptRecord, ValidationError
from coachos.domain.ids import Actor, OrgId
from coachos.domain.orgs import Coach, Organization
from coachos.domain.rows import unreadable_in
from coachos.domain.usecases import (
    AddDateOverride,
    RemoveDateOverride,
    SetWeeklyHours,
)
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required
from coachos.entrypoints.web.unreadable import report
from coachos.entrypoints.web.views.setup._blueprint import bp
from coachos.entrypoints.web.views.setup._forms import (
    OVERRIDES_AHEAD,
    WEEKDAYS,
    Form,
    _actor,
    _date,
    _day_label,
    _saved,
    _text,
    _time,
    _uuid,
    zone_label,
)
from coachos.ports.storage import UnitOfWork


@attrs.frozen
class OverrideRow:
    """One date change as the coach reads it."""

    override: DateOverride
    day: str
    what: str


@attrs.frozen
class AvailabilityView:
    """The coach's week, upcoming date changes and the org, for the availability page."""

    org: Organization
    coach: Coach
    week: list[list[tuple[str, str]]]
    overrides: list[OverrideRow]
    today: date
    zone: str
    #: Stored hours or date changes that could not be read, left out of the above.
    unreadable: tuple[CorruptRecord, ...] = ()


def _override_row(o: DateOverride, org: Organization) -> OverrideRow:
    if o.start is None or o.end is None:
        what = "Whole day off"
    else:
        abbr = datetime.combine(o.on, o.start, tzinfo=org.tz).tzname()
        kind = "Extra hours" if o.available else "Time off"
        what = f"{kind} {o.start:%H:%M} to {o.end:%H:%M} {abbr}"
    return OverrideRow(o, _day_label(o.on), what)


def _availability(uow: UnitOfWork, org_id: OrgId, coach_id: Any, now: datetime) -> AvailabilityView:
    org = uow.orgs.get(org_id)
    coach = uow.coaches.get(org_id, coach_id)
    week: list[list[tuple[str, str]]] = [[] for _ in WEEKDAYS]
    rules = uow.availability.weekly(org_id, coach_id)
    for rule in rules:
        week[rule.weekday].append((f"{rule.start:%H:%M}", f"{rule.end:%H:%M}"))
    today = now.astimezone(org.tz).date()
    overrides = uow.availability.overrides(org_id, coach_id, today, today + OVERRIDES_AHEAD)
    rows = [_override_row(o, org) for o in overrides]
    return AvailabilityView(org, coach, week, rows, today, zone_label(org, now), unreadable_in(rules, overrides))


def _submitted_week(form: MultiDict[str, str]) -> list[list[tuple[str, str]]]:
    """The periods typed for each weekday, blank rows dropped."""
    week: list[list[tuple[str, str]]] = []
    for day in range(len(WEEKDAYS)):
        pairs = zip(form.getlist(f"start_{day}"), form.getlist(f"end_{day}"), strict=False)
        week.append([(s.strip(), e.strip()) for s, e in pairs if s.strip() or e.strip()])
    return week


def _weekly_hours(week: list[list[tuple[str, str]]]) -> list[tuple[int, time, time]]:
    hours = []
    for day, periods in enumerate(week):
        for start, end in periods:
            if not start or not end:
                raise ValidationError(f"{WEEKDAYS[day]}: give both a start and an end time.", field=f"start_{day}")
            hours.append((day, _time(start, WEEKDAYS[day], f"start_{day}"), _time(end, WEEKDAYS[day], f"end_{day}")))
    return hours


def _override_command(form: Form, org_id: OrgId, coach_id: Any, actor: Actor, today: date) -> AddDateOverride:
    on = _date(_text(form, "on"), "Date", "on")
    if on < today:
        raise ValidationError("Choose today or a later date.", field="on")
    kind = _text(form, "kind")
    if kind not in ("extra", "off_day", "off_part"):
        raise ValidationError("Choose extra hours, a whole day off or part of a day off.", field="kind")
    start = end = None
    if kind != "off_day":
        start = _time(_text(form, "start"), "From", "start")
        end = _time(_text(form, "end"), "To", "end")
    return AddDateOverride(
        org_id=org_id, coach_id=coach_id, on=on, available=kind == "extra", start=start, end=end, actor=actor
    )


@bp.route("/setup/availability", methods=["GET", "POST"])
@login_required
async def availability() -> Any:
    """Weekly hours and date changes (extra hours, days off) of the signed-in coach."""
    org_id, actor, coach_id = _actor()
    app = core()
    now = app.clock.now()
    view = await app.read_async(lambda uow: _availability(uow, org_id, coach_id, now))
    if request.method == "GET":
        return await render_template(
            "setup/availability.html", v=view, org=view.org, saved=_saved(), form={}, unreadable=report(view.unreadable)
        )
    form = await request.form
    action = form.get("action", "")
    try:
        if action == "hours":
            week = _submitted_week(form)
            view = attrs.evolve(view, week=week)
            hours = _weekly_hours(week)
            await app.execute_async(SetWeeklyHours(org_id=org_id, coach_id=coach_id, hours=hours, actor=actor))
            saved = "hours"
        elif action == "add_override":
            await app.execute_async(_override_command(form, org_id, coach_id, actor, view.today))
            saved = "override"
        elif action == "remove_override":
            override_id = _uuid(form.get("override_id", ""), "date change")
            await app.execute_async(
                RemoveDateOverride(org_id=org_id, coach_id=coach_id, override_id=override_id, actor=actor)
            )
            saved = "removed"
        else:
            raise ValidationError("Unknown action; reload the page and try again.", field="action")
    except ValidationError as exc:
        page = await render_template(
            "setup/availability.html", v=view, org=view.org, error=exc, error_for=action, form=form
        )
        return page, 400
    return redirect(url_for("setup.availability", saved=saved))


# --- services ------------------------------------------------------------------------------
