"""Setup: the coach's weekly hours and days off, services, packages, business settings and API tokens.

Every page reads the organisation from the signed-in principal. A refused form is shown again with
the domain's message and what was typed, and nothing is written; ids of other organisations are 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import attrs
from quart import Blueprint, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from coachos.domain.accounts import ApiToken
from coachos.domain.availability import DateOverride
from coachos.domain.catalog import SessionPackage
from coachos.domain.clients import Client
from coachos.domain.errors import NotFound, ValidationError
from coachos.domain.ids import Actor, ClientId, OrgId, ServiceId
from coachos.domain.money import Money
from coachos.domain.orgs import Coach, Organization
from coachos.domain.policy import BookingPolicy
from coachos.domain.quiet_hours import QuietHours
from coachos.domain.timezones import first_instant_at_or_after
from coachos.domain.usecases import (
    AddDateOverride,
    CreateApiToken,
    CreateService,
    ListApiTokens,
    RemoveDateOverride,
    RevokeApiToken,
    SellPackage,
    SetWeeklyHours,
    UpdateOrganizationSettings,
    UpdateService,
)
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required, require_principal
from coachos.entrypoints.web.views.account import COMMON_ZONES
from coachos.ports.storage import UnitOfWork

bp = Blueprint("setup", __name__)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: How far ahead the availability page lists date overrides.
OVERRIDES_AHEAD = timedelta(days=366)
#: The largest number any settings field accepts (catches typos, keeps timedeltas small).
MAX_NUMBER = 100_000
#: Messages shown after a successful change (keys come from our own redirects only).
SAVED = {
    "hours": "Weekly hours saved.",
    "override": "Date change added.",
    "removed": "Date change removed.",
    "service": "Service saved.",
    "created": "Service added.",
    "package": "Package sold.",
    "settings": "Settings saved.",
    "revoked": "Token revoked; it no longer works.",
}

Form = Mapping[str, str]


# --- reading typed input ------------------------------------------------------------------


def _text(form: Form, name: str) -> str:
    return (form.get(name) or "").strip()


def _time(text: str, label: str, field: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"{label}: '{text}' is not a time; write it like 09:00.", field=field) from None


def _whole(form: Form, name: str, label: str, *, minimum: int = 0, maximum: int = MAX_NUMBER) -> int:
    text = _text(form, name)
    if not text.isdigit() or not minimum <= int(text) <= maximum:
        raise ValidationError(f"{label} must be a whole number from {minimum} to {maximum}.", field=name)
    return int(text)


def _date(text: str, label: str, field: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"{label}: '{text}' is not a date; pick one like 2026-03-31.", field=field) from None


def _uuid(text: str, what: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise NotFound(f"No such {what} in this business.") from None


def _amount(money: Money) -> str:
    """The amount as typed in a form, e.g. '85.50' (no currency)."""
    return str(money).rsplit(" ", 1)[0]


def _day_label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def zone_label(org: Organization, now: datetime) -> str:
    """The organisation's zone with its current abbreviation, e.g. 'America/New_York (EST)'."""
    return f"{org.timezone} ({now.astimezone(org.tz).tzname()})"


def _actor() -> tuple[OrgId, Actor, Any]:
    who = require_principal()
    return who.org_id, Actor("coach", who.coach_id), who.coach_id


def _saved() -> str | None:
    return SAVED.get(request.args.get("saved", ""))


# --- index ---------------------------------------------------------------------------------


@bp.route("/setup")
@login_required
async def index() -> Any:
    """The setup sections: hours, services, packages, settings."""
    org_id, _, _ = _actor()
    app = core()
    org = await app.read_async(lambda uow: uow.orgs.get(org_id))
    return await render_template("setup/index.html", org=org, zone=zone_label(org, app.clock.now()))


# --- availability --------------------------------------------------------------------------


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
    for rule in uow.availability.weekly(org_id, coach_id):
        week[rule.weekday].append((f"{rule.start:%H:%M}", f"{rule.end:%H:%M}"))
    today = now.astimezone(org.tz).date()
    overrides = uow.availability.overrides(org_id, coach_id, today, today + OVERRIDES_AHEAD)
    return AvailabilityView(org, coach, week, [_override_row(o, org) for o in overrides], today, zone_label(org, now))


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
        return await render_template("setup/availability.html", v=view, org=view.org, saved=_saved(), form={})
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


async def _services_page(org_id: OrgId, **extra: Any) -> str:
    org, services = await core().read_async(lambda uow: (uow.orgs.get(org_id), uow.services.list(org_id)))
    return await render_template("setup/services.html", org=org, services=services, amount=_amount, **extra)


def _service_fields(form: Form, currency: str) -> dict[str, Any]:
    """What the service form says, as UpdateService / CreateService arguments."""
    return {
        "name": _text(form, "name"),
        "duration": timedelta(minutes=_whole(form, "minutes", "Minutes", minimum=1, maximum=720)),
        "price": Money.parse(_text(form, "price"), currency),
        "capacity": _whole(form, "capacity", "Places", minimum=1, maximum=500),
        "uses_credit": form.get("uses_credit") == "on",
    }


@bp.route("/setup/services", methods=["GET", "POST"])
@login_required
async def services() -> Any:
    """The services clients can book; add one."""
    org_id, actor, _ = _actor()
    if request.method == "GET":
        return await _services_page(org_id, saved=_saved(), form={})
    form = await request.form
    app = core()
    try:
        org = await app.read_async(lambda uow: uow.orgs.get(org_id))
        await app.execute_async(CreateService(org_id=org_id, actor=actor, **_service_fields(form, org.currency)))
    except ValidationError as exc:
        return await _services_page(org_id, error=exc, error_for="new", form=form), 400
    return redirect(url_for("setup.services", saved="created"))


@bp.route("/setup/services/<uuid:service_id>", methods=["POST"])
@login_required
async def service(service_id: UUID) -> Any:
    """Edit, deactivate or reactivate one service (another organisation's id is 404)."""
    org_id, actor, _ = _actor()
    form = await request.form
    action = form.get("action", "save")
    app = core()
    sid = ServiceId(service_id)
    try:
        if action in ("deactivate", "activate"):
            cmd = UpdateService(org_id=org_id, service_id=sid, actor=actor, active=action == "activate")
        else:
            org = await app.read_async(lambda uow: uow.orgs.get(org_id))
            cmd = UpdateService(org_id=org_id, service_id=sid, actor=actor, **_service_fields(form, org.currency))
        await app.execute_async(cmd)
    except ValidationError as exc:
        await app.read_async(lambda uow: uow.services.get(org_id, sid))  # another org's id stays a 404
        return await _services_page(org_id, error=exc, error_for=str(service_id), form=form), 400
    return redirect(url_for("setup.services", saved="service"))


# --- packages ------------------------------------------------------------------------------


@attrs.frozen
class PackageRow:
    """A sold package as listed."""

    package: SessionPackage
    client: Client
    expires: str


def expiry_label(expires_at: datetime | None, org: Organization) -> str:
    """When a package expires, on the org's clock: 'end of Tue 31 Mar 2026 (EDT)' when it ends at midnight."""
    if expires_at is None:
        return "Never"
    local = expires_at.astimezone(org.tz)
    if local.time() == time(0):
        last = local - timedelta(microseconds=1)
        return f"End of {_day_label(last.date())} ({last.tzname()})"
    return f"{_day_label(local.date())}, {local:%H:%M} {local.tzname()}"


def end_of_local_day(day: date, org: Organization) -> datetime:
    """The instant `day` ends in the org's zone (the next local midnight, or the jump past it)."""
    return first_instant_at_or_after(datetime.combine(day + timedelta(days=1), time(0)), org.tz)


def _packages(uow: UnitOfWork, org_id: OrgId) -> tuple[Organization, list[PackageRow], list[Client]]:
    org = uow.orgs.get(org_id)
    clients = list(uow.clients.list(org_id, limit=1000))
    by_id = {c.id: c for c in clients}
    rows = []
    for p in uow.packages.recent(org_id, limit=50):
        client = by_id.get(p.client_id) or uow.clients.get(org_id, p.client_id)
        rows.append(PackageRow(p, client, expiry_label(p.expires_at, org)))
    return org, rows, clients


async def _packages_page(org_id: OrgId, **extra: Any) -> str:
    app = core()
    org, rows, clients = await app.read_async(lambda uow: _packages(uow, org_id))
    zone = zone_label(org, app.clock.now())
    return await render_template("setup/packages.html", org=org, rows=rows, clients=clients, zone=zone, **extra)


@bp.route("/setup/packages", methods=["GET", "POST"])
@login_required
async def packages() -> Any:
    """Packages sold recently, and a form to sell one to a client."""
    org_id, actor, _ = _actor()
    if request.method == "GET":
        return await _packages_page(org_id, saved=_saved(), form={})
    form = await request.form
    app = core()
    try:
        org = await app.read_async(lambda uow: uow.orgs.get(org_id))
        client_text = _text(form, "client_id")
        if not client_text:
            raise ValidationError("Choose the client the package is for.", field="client_id")
        expires_text = _text(form, "expires_on")
        expires = end_of_local_day(_date(expires_text, "Expires", "expires_on"), org) if expires_text else None
        await app.execute_async(
            SellPackage(
                org_id=org_id,
                client_id=ClientId(_uuid(client_text, "client")),
                name=_text(form, "name"),
                sessions=_whole(form, "sessions", "Sessions", minimum=1, maximum=1000),
                price=Money.parse(_text(form, "price"), org.currency),
                expires_at=expires,
                actor=actor,
            )
        )
    except ValidationError as exc:
        return await _packages_page(org_id, error=exc, form=form), 400
    return redirect(url_for("setup.packages", saved="package"))


# --- settings and API tokens ---------------------------------------------------------------


def _hours(d: timedelta) -> int:
    return int(d // timedelta(hours=1))


def policy_in_words(policy: BookingPolicy, quiet: QuietHours) -> list[str]:
    """What the settings mean for clients, in sentences."""

    def amount(d: timedelta) -> str:
        if d % timedelta(days=1) == timedelta(0) and d >= timedelta(days=1):
            n, unit = d // timedelta(days=1), "day"
        elif d % timedelta(hours=1) == timedelta(0):
            n, unit = d // timedelta(hours=1), "hour"
        else:
            n, unit = d // timedelta(minutes=1), "minute"
        return f"{n} {unit}{'' if n == 1 else 's'}"

    words = [
        f"Clients can book from {amount(policy.min_notice)} to {amount(policy.horizon)} ahead.",
        f"They can cancel and get the credit back until {amount(policy.cancellation_window)} before a session."
        if policy.cancellation_window
        else "They can cancel and get the credit back until the session starts.",
        f"Start times are offered every {amount(policy.slot_interval)}"
        + (f", with {amount(policy.buffer)} kept free after each session." if policy.buffer else "."),
    ]
    if quiet.is_empty:
        words.append("No quiet hours: reminders and messages may go out at any time.")
    else:
        words.append(
            f"No messages go out between {quiet.start:%H:%M} and {quiet.end:%H:%M} on the recipient's own clock; "
            "they wait until the quiet hours end."
        )
    return words


def _settings_form(org: Organization) -> dict[str, str]:
    p, q = org.policy, org.quiet_hours
    return {
        "name": org.name,
        "timezone": org.timezone,
        "min_notice_hours": str(_hours(p.min_notice)),
        "horizon_days": str(p.horizon // timedelta(days=1)),
        "cancellation_hours": str(_hours(p.cancellation_window)),
        "buffer_minutes": str(p.buffer // timedelta(minutes=1)),
        "slot_interval_minutes": str(p.slot_interval // timedelta(minutes=1)),
        "quiet_start": f"{q.start:%H:%M}",
        "quiet_end": f"{q.end:%H:%M}",
    }


def _settings_command(form: Form, org_id: OrgId, actor: Actor) -> UpdateOrganizationSettings:
    zone = _text(form, "timezone_other") or _text(form, "timezone")
    policy = BookingPolicy(
        min_notice=timedelta(hours=_whole(form, "min_notice_hours", "Minimum notice (hours)")),
        horizon=timedelta(days=_whole(form, "horizon_days", "Booking horizon (days)", minimum=1)),
        cancellation_window=timedelta(hours=_whole(form, "cancellation_hours", "Cancellation window (hours)")),
        buffer=timedelta(minutes=_whole(form, "buffer_minutes", "Buffer (minutes)")),
        slot_interval=timedelta(minutes=_whole(form, "slot_interval_minutes", "Slot interval (minutes)", minimum=5)),
    )
    quiet = QuietHours(
        start=_time(_text(form, "quiet_start"), "Quiet hours start", "quiet_start"),
        end=_time(_text(form, "quiet_end"), "Quiet hours end", "quiet_end"),
    )
    return UpdateOrganizationSettings(
        org_id=org_id, actor=actor, name=_text(form, "name"), timezone=zone, policy=policy, quiet_hours=quiet
    )


async def _settings_page(org_id: OrgId, coach_id: Any, form: Mapping[str, str] | None = None, **extra: Any) -> str:
    app = core()
    org = await app.read_async(lambda uow: uow.orgs.get(org_id))
    tokens: list[ApiToken] = await app.execute_async(ListApiTokens(org_id=org_id, coach_id=coach_id))
    return await render_template(
        "setup/settings.html",
        org=org,
        zone=zone_label(org, app.clock.now()),
        zones=COMMON_ZONES,
        words=policy_in_words(org.policy, org.quiet_hours),
        tokens=tokens,
        form=form if form is not None else _settings_form(org),
        **extra,
    )


@bp.route("/setup/settings", methods=["GET", "POST"])
@login_required
async def settings_page() -> Any:
    """Business name, time zone, booking policy, quiet hours; and the coach's API tokens."""
    org_id, actor, coach_id = _actor()
    if request.method == "GET":
        return await _settings_page(org_id, coach_id, saved=_saved())
    form = await request.form
    try:
        await core().execute_async(_settings_command(form, org_id, actor))
    except ValidationError as exc:
        return await _settings_page(org_id, coach_id, form=form, error=exc), 400
    return redirect(url_for("setup.settings_page", saved="settings"))


@bp.route("/setup/tokens", methods=["POST"])
@login_required
async def create_token() -> Any:
    """Make a personal API token and show its secret this once."""
    org_id, _, coach_id = _actor()
    form = await request.form
    try:
        made = await core().execute_async(CreateApiToken(org_id=org_id, coach_id=coach_id, name=_text(form, "name")))
    except ValidationError as exc:
        return await _settings_page(org_id, coach_id, token_error=exc), 400
    page = await _settings_page(org_id, coach_id, new_token=made.token, new_secret=made.secret)
    return page, 201, {"Cache-Control": "no-store"}


@bp.route("/setup/tokens/<uuid:token_id>/revoke", methods=["POST"])
@login_required
async def revoke_token(token_id: UUID) -> Any:
    """Revoke one of the coach's tokens (another organisation's id is 404)."""
    org_id, _, coach_id = _actor()
    await core().execute_async(RevokeApiToken(org_id=org_id, coach_id=coach_id, token_id=token_id))
    return redirect(url_for("setup.settings_page", saved="revoked") + "#tokens")


__all__ = [
    "bp",
    "end_of_local_day",
    "expiry_label",
    "policy_in_words",
    "zone_label",
    "AvailabilityView",
    "OverrideRow",
    "PackageRow",
]
