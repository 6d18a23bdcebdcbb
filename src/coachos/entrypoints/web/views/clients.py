"""Clients: the searchable list with its add form, and each client's page made of independently loading panels.

Every panel is its own GET endpoint returning an HTML fragment, so a failure in one panel's data
is an error response for that panel only (static/app.js shows it with a Retry button) while the
others load. Forms post to ordinary endpoints and redirect back; a refused form re-shows the
page with the panel's form and the reason, and writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import attrs
from quart import Blueprint, abort, redirect, render_template, request, url_for

from coachos.domain.bookings import Booking, BookingStatus, CreditEvent
from coachos.domain.catalog import PaymentMethod, SessionPackage
from coachos.domain.clients import Client, ClientStatus
from coachos.domain.errors import CorruptRecord, ValidationError
from coachos.domain.ids import Actor, ClientId, OrgId
from coachos.domain.messages import MessageChannel
from coachos.domain.money import Money
from coachos.domain.orgs import Coach, Organization
from coachos.domain.rows import Rows, unreadable_in
from coachos.domain.timezones import check_date, day_start
from coachos.domain.usecases import CreateClient, SellPackage, UpdateClient
from coachos.domain.usecases.package_sales import payment_method
from coachos.domain.usecases.waivers import client_waivers_in
from coachos.entrypoints.web.consent_view import consent_view
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.forms_view import forms_panel
from coachos.entrypoints.web.memberships_view import memberships_panel
from coachos.entrypoints.web.onboarding_view import onboarding_panel
from coachos.entrypoints.web.security import login_required, require_principal
from coachos.entrypoints.web.unreadable import report
from coachos.entrypoints.web.views.inbox import messages_panel, queue_reply
from coachos.ports.storage import UnitOfWork

bp = Blueprint("clients", __name__)

#: How far ahead the list looks for each client's next session.
NEXT_SESSION_HORIZON = timedelta(days=366)
#: The most clients the list shows at once (narrow the search to find others).
LIST_LIMIT = 100
_PHONE_LIKE = re.compile(r"^[\d\s().+\-]{3,}$")
_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")


@attrs.frozen
class Panel:
    """One independently loading section of the client page."""

    name: str
    title: str


PANELS: tuple[Panel, ...] = (
    Panel("profile", "Profile"),
    Panel("consent", "Consent"),
    Panel("upcoming", "Upcoming sessions"),
    Panel("past", "Past sessions"),
    Panel("packages", "Packages & credits"),
    Panel("notes", "Notes"),
    Panel("payments", "Payments"),
    Panel("memberships", "Memberships"),
    Panel("messages", "Messages"),
    Panel("waivers", "Waivers"),
    Panel("forms", "Forms"),
    Panel("onboarding", "Onboarding"),
)


@attrs.frozen
class ClientRow:
    """One line of the client list."""

    client: Client
    credits_left: int
    next_session: Booking | None
    #: Whether a package of the client could not be read, so more credits may be left than shown.
    credits_uncertain: bool = False


@attrs.frozen
class HistoryLine:
    """One use or return of a credit: when, what, who and why."""

    event: CreditEvent
    who: str
    session: Booking | None


@attrs.frozen
class PackageView:
    """A package with its credit history, oldest first."""

    package: SessionPackage
    history: list[HistoryLine]


# ---- reading ----------------------------------------------------------------------------------------------------


def credits_left(packages: Iterable[SessionPackage], now: datetime) -> int:
    """Credits that could be used at `now`, over the usable ones of `packages`."""
    return sum(p.remaining for p in packages if p.usable(now))


def _list(
    uow: UnitOfWork, org_id: OrgId, now: datetime, search: str, status: ClientStatus | None, tag: str | None
) -> tuple[Organization, list[ClientRow], tuple[CorruptRecord, ...]]:
    org = uow.orgs.get(org_id)
    found = uow.clients.list(org_id, search=search, limit=LIST_LIMIT, status=status, tag=tag)
    ahead = uow.bookings.between(org_id, now, now + NEXT_SESSION_HORIZON)
    upcoming: dict[ClientId, Booking] = {}
    for b in ahead:
        if b.status.is_open:
            upcoming.setdefault(b.client_id, b)
    rows: list[ClientRow] = []
    reads: list[Rows[Any]] = [found, ahead]
    for c in found:
        packages = uow.packages.for_client(org_id, c.id)
        reads.append(packages)
        rows.append(ClientRow(c, credits_left(packages, now), upcoming.get(c.id), bool(packages.unreadable)))
    return org, rows, unreadable_in(*reads)


def _sessions(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, now: datetime, *, past: bool) -> dict[str, Any]:
    client = uow.clients.get(org_id, client_id)
    services, coaches = uow.services.list(org_id), uow.coaches.list(org_id)
    mine = uow.bookings.for_client(org_id, client_id)
    if past:
        chosen = [b for b in reversed(mine) if b.start < now]
    else:
        chosen = [b for b in mine if b.start >= now and b.status is not BookingStatus.CANCELLED]
    return {
        "client": client,
        "bookings": chosen,
        "services": {s.id: s for s in services},
        "coaches": {c.id: c for c in coaches},
        UNREADABLE: unreadable_in(services, coaches, mine),
    }


def _upcoming(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, now: datetime) -> dict[str, Any]:
    return _sessions(uow, org_id, client_id, now, past=False)


def _past(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, now: datetime) -> dict[str, Any]:
    return _sessions(uow, org_id, client_id, now, past=True)


def _client_only(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, now: datetime) -> dict[str, Any]:
    return {"client": uow.clients.get(org_id, client_id)}


def _consent(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, now: datetime) -> dict[str, Any]:
    client = uow.clients.get(org_id, client_id)
    log, bookings = uow.clients.consent_log(org_id, client_id), uow.bookings.for_client(org_id, client_id)
    return {"client": client, "consent": consent_view(client, log, bookings), UNREADABLE: unreadable_in(log, bookings)}


def _actor_names(coaches: Iterable[Coach], client: Client) -> Callable[[Actor], str]:
    names: dict[UUID | None, str] = {c.id: c.name for c in coaches}

    def name(actor: Actor) -> str:
        if actor.kind == "coach":
            return names.get(actor.id, "a former coach")
        if actor.kind == "client":
            return client.name if actor.id == client.id else "the client"
        return "Coach OS (automatic)"

    return name


def _packages(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, now: datetime) -> dict[str, Any]:
    client = uow.clients.get(org_id, client_id)
    coaches = uow.coaches.list(org_id)
    name = _actor_names(coaches, client)
    bookings, owned = uow.bookings.for_client(org_id, client_id), uow.packages.for_client(org_id, client_id)
    sessions = {b.id: b for b in bookings}
    packages: list[PackageView] = []
    reads: list[Rows[Any]] = [coaches, bookings, owned]
    for p in owned:
        events = uow.packages.credit_events(org_id, p.id)
        reads.append(events)
        packages.append(PackageView(p, [HistoryLine(e, name(e.actor), sessions.get(e.booking_id)) for e in events]))
    left = credits_left(owned, now)
    return {"client": client, "packages": packages, "credits_left": left, UNREADABLE: unreadable_in(*reads)}


def _payments(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, now: datetime) -> dict[str, Any]:
    client = uow.clients.get(org_id, client_id)
    owned = uow.packages.for_client(org_id, client_id)
    bought = sorted(owned, key=lambda p: p.purchased_at, reverse=True)
    org = uow.orgs.get(org_id)
    sums = uow.refunds.totals_of(org_id, [f"sale:package:{p.id}" for p in bought])
    return {
        "client": client,
        "purchases": bought,
        "refunded": {
            p.id: Money(sums[k].booked, p.price.currency) for p in bought if (k := f"sale:package:{p.id}") in sums
        },
        "states": PAYMENT_STATES,
        "methods": PAYMENT_METHODS,
        "zone": now.astimezone(org.tz).tzname(),
        "portal_url": core().deps.links.portal_sign_in(org.slug),
        UNREADABLE: owned.unreadable,
    }


#: How a package's payment state and method read on the Payments panel.
PAYMENT_STATES = {"pending": "Awaiting payment", "paid": "Paid", "failed": "Payment failed", "refunded": "Refunded"}
PAYMENT_METHODS = {
    "card": "by card",
    "cash": "in cash",
    "bank": "by bank transfer",
    "complimentary": "free",
    "unrecorded": "(not recorded)",
}


def _waivers(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, now: datetime) -> dict[str, Any]:
    client = uow.clients.get(org_id, client_id)
    return {"client": client, "waivers": client_waivers_in(uow, org_id, client_id), "channels": list(MessageChannel)}


#: The context key under which a loader names the stored rows it had to leave out.
UNREADABLE = "unreadable_rows"

#: How each panel reads its data; every loader raises NotFound for another organisation's client.
LOADERS: Mapping[str, Callable[[UnitOfWork, OrgId, ClientId, datetime], dict[str, Any]]] = {
    "profile": _client_only,
    "consent": _consent,
    "upcoming": _upcoming,
    "past": _past,
    "packages": _packages,
    "notes": _client_only,
    "payments": _payments,
    "memberships": memberships_panel,
    "messages": messages_panel,
    "waivers": _waivers,
    "forms": forms_panel,
    "onboarding": onboarding_panel,
}


# ---- parsing forms ------------------------------------------------------------------------------------------------


def _actor() -> Actor:
    return Actor("coach", require_principal().coach_id)


def parse_status(value: str | None) -> ClientStatus | None:
    """The status chosen in a form or filter, None when none was chosen."""
    if not value:
        return None
    try:
        return ClientStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in ClientStatus)
        raise ValidationError(f"'{value}' is not a status; use one of: {allowed}.", field="status") from None


def parse_tags(value: str) -> frozenset[str]:
    """Comma-separated tags as typed (the client record trims and lower-cases them)."""
    return frozenset(t for t in value.split(",") if t.strip())


def search_text(value: str) -> str:
    """What to search for: phone-like input loses its spaces and dashes, as stored numbers have none."""
    value = value.strip()
    return _PHONE_PUNCTUATION.sub("", value) if _PHONE_LIKE.match(value) else value


def _sessions_count(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValidationError("Sessions is a whole number, e.g. 10.", field="sessions") from None


def _expiry(value: str, org: Organization) -> datetime | None:
    """The end of the chosen local date in the org's zone (packages last the whole day)."""
    if not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError("Choose the expiry date as year-month-day.", field="expires_on") from None
    # The package ends with that day, so the day after must be a date Coach OS handles too.
    check_date(day, field="expires_on")
    check_date(day + timedelta(days=1), field="expires_on")
    return day_start(day + timedelta(days=1), org.tz)


# ---- pages ------------------------------------------------------------------------------------------------------


async def _list_page(form: Mapping[str, str] | None = None, error: Exception | None = None) -> Any:
    who = require_principal()
    now = core().clock.now()
    q = request.args.get("q", "")
    status = parse_status(request.args.get("status"))
    tag = request.args.get("tag", "").strip().lower() or None
    org, rows, unreadable = await core().read_async(
        lambda uow: _list(uow, who.org_id, now, search_text(q), status, tag)
    )
    context = {"org": org, "rows": rows, "q": q, "status": status, "tag": tag or "", "limit": LIST_LIMIT}
    context["unreadable"] = report(unreadable)
    page = await render_template("clients.html", **context, statuses=list(ClientStatus), form=form or {}, error=error)
    return page, 400 if error else 200


@bp.route("/clients")
@login_required
async def index() -> Any:
    """The client list: search by name, email or phone; filter by status and tag."""
    return await _list_page()


@bp.route("/clients", methods=["POST"])
@login_required
async def create() -> Any:
    """Add a client from the list page's form; a refused form is shown again with the reason."""
    who = require_principal()
    form = dict(await request.form)
    try:
        client = await core().execute_async(
            CreateClient(
                org_id=who.org_id,
                name=form.get("name", ""),
                phone=form.get("phone") or None,
                email=form.get("email") or None,
                status=parse_status(form.get("status")) or ClientStatus.LEAD,
                tags=parse_tags(form.get("tags", "")),
                actor=_actor(),
            )
        )
    except ValidationError as exc:
        return await _list_page(form, exc)
    return redirect(url_for("clients.detail", client_id=client.id), 303)


async def _detail_page(client_id: UUID, inline: str | None = None, **extra: Any) -> Any:
    """The client page; `inline` names a panel rendered into the page (with a refused form) instead of fetched."""
    who = require_principal()
    now = core().clock.now()
    org, context, deletion = await core().read_async(
        lambda uow: (
            uow.orgs.get(who.org_id),
            _load(uow, who.org_id, ClientId(client_id), inline or "profile", now),
            uow.portal.deletion_requested(who.org_id, ClientId(client_id)),
        )
    )
    marker = report(context.pop(UNREADABLE, ()))
    inlined = {}
    if inline is not None:
        inlined[inline] = await render_template(f"panels/{inline}.html", org=org, now=now, **context, **extra)
    page = await render_template(
        "client_detail.html",
        org=org,
        client=context["client"],
        panels=PANELS,
        inline=inlined,
        saved=request.args.get("saved"),
        unreadable=marker,
        deletion_requested=deletion,
    )
    return page, 400 if inline else 200


def _load(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, name: str, now: datetime) -> dict[str, Any]:
    return LOADERS[name](uow, org_id, client_id, now)


@bp.route("/clients/<uuid:client_id>")
@login_required
async def detail(client_id: UUID) -> Any:
    """One client's page: a shell whose panels load on their own."""
    return await _detail_page(client_id)


@bp.route("/clients/<uuid:client_id>/panels/<name>")
@login_required
async def panel(client_id: UUID, name: str) -> Any:
    """One panel of the client page, as an HTML fragment (an error status if its data cannot be read)."""
    if name not in LOADERS:
        abort(404)
    who = require_principal()
    now = core().clock.now()
    org, context = await core().read_async(
        lambda uow: (uow.orgs.get(who.org_id), _load(uow, who.org_id, ClientId(client_id), name, now))
    )
    marker = await render_template("_unreadable.html", unreadable=report(context.pop(UNREADABLE, ())))
    return marker + await render_template(f"panels/{name}.html", org=org, now=now, form={}, error=None, **context)


@bp.route("/clients/<uuid:client_id>", methods=["POST"])
@login_required
async def update(client_id: UUID) -> Any:
    """Save the profile or the notes; fields the form does not carry stay as they are."""
    who = require_principal()
    form = dict(await request.form)
    section = "notes" if form.get("panel") == "notes" else "profile"
    text = {k: form[k] for k in ("name", "phone", "email", "timezone", "notes", "birthday") if k in form}
    try:
        await core().execute_async(
            UpdateClient(
                org_id=who.org_id,
                client_id=ClientId(client_id),
                actor=_actor(),
                status=parse_status(form.get("status")),
                tags=parse_tags(form["tags"]) if "tags" in form else None,
                **text,
            )
        )
    except ValidationError as exc:
        return await _detail_page(client_id, section, form=form, error=exc)
    return redirect(url_for("clients.detail", client_id=client_id, saved=section, _anchor=f"panel-{section}"), 303)


async def show_refused(client_id: UUID, panel: str, form: Mapping[str, str], error: ValidationError) -> Any:
    """The client page (400) with `panel`'s form shown again, filled in as sent, with the reason it was refused."""
    return await _detail_page(client_id, panel, form=form, error=error)


@bp.route("/clients/<uuid:client_id>/packages", methods=["POST"])
@login_required
async def sell(client_id: UUID) -> Any:
    """Sell the client a package of sessions at a typed price in the business's currency, saying how it was
    paid (cash, bank transfer, complimentary, or the client pays by card from the portal)."""
    who = require_principal()
    form = dict(await request.form)
    app = core()
    try:
        org = await app.read_async(lambda uow: uow.orgs.get(who.org_id))
        await app.execute_async(
            SellPackage(
                org_id=who.org_id,
                client_id=ClientId(client_id),
                name=form.get("name", ""),
                sessions=_sessions_count(form.get("sessions", "")),
                price=Money.parse(form.get("price", ""), org.currency),
                expires_at=_expiry(form.get("expires_on", ""), org),
                actor=_actor(),
                paid_by=payment_method(form.get("paid_by") or PaymentMethod.UNRECORDED.value),
            )
        )
    except ValidationError as exc:
        return await _detail_page(client_id, "packages", form=form, error=exc)
    return redirect(url_for("clients.detail", client_id=client_id, saved="packages", _anchor="panel-packages"), 303)


@bp.route("/clients/<uuid:client_id>/messages", methods=["POST"])
@login_required
async def reply(client_id: UUID) -> Any:
    """Queue a reply from the Messages panel; a refused reply shows the panel again with the reason and the text."""
    form = dict(await request.form)
    try:
        await queue_reply(client_id, form)
    except ValidationError as exc:
        return await _detail_page(client_id, "messages", form=form, error=exc)
    return redirect(url_for("clients.detail", client_id=client_id, saved="messages", _anchor="panel-messages"), 303)
