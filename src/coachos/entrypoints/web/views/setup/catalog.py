"""Services and session packages."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import attrs
from quart import redirect, render_template, request, url_for

from coachos.domain.catalog import PackageOffer, PaymentMethod, SessionPackage
from coachos.domain.clients import Client
from coachos.domain.errors import CorruptRecord, ValidationError
from coachos.domain.ids import ClientId, OrgId, ServiceId
from coachos.domain.money import Money
from coachos.domain.orgs import Organization
from coachos.domain.rows import unreadable_in
from coachos.domain.timezones import day_start
from coachos.domain.usecases import (
    CreateService,
    SellPackage,
    UpdateService,
)
from coachos.domain.usecases.package_sales import payment_method
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required
from coachos.entrypoints.web.unreadable import report
from coachos.entrypoints.web.views.setup._blueprint import bp
from coachos.entrypoints.web.views.setup._forms import (
    Form,
    _actor,
    _amount,
    _date,
    _day_label,
    _saved,
    _text,
    _uuid,
    _whole,
    zone_label,
)
from coachos.ports.storage import UnitOfWork


async def _services_page(org_id: OrgId, **extra: Any) -> str:
    org, services = await core().read_async(lambda uow: (uow.orgs.get(org_id), uow.services.list(org_id)))
    marker = report(services)
    return await render_template(
        "setup/services.html", org=org, services=services, amount=_amount, unreadable=marker, **extra
    )


def _service_fields(form: Form, currency: str) -> dict[str, Any]:
    """What the service form says, as UpdateService / CreateService arguments."""
    return {
        "name": _text(form, "name"),
        "duration": timedelta(minutes=_whole(form, "minutes", "Minutes", minimum=1, maximum=720)),
        "price": Money.parse(_text(form, "price"), currency),
        "capacity": _whole(form, "capacity", "Places", minimum=1, maximum=500),
        "uses_credit": form.get("uses_credit") == "on",
        "pay_at_booking": form.get("pay_at_booking") == "on",
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
    return day_start(day + timedelta(days=1), org.tz)


@attrs.frozen
class PackagesPage:
    """What Setup → Packages shows: the offers clients can buy, and packages sold recently."""

    org: Organization
    rows: list[PackageRow]
    clients: list[Client]
    offers: list[PackageOffer]
    unreadable: tuple[CorruptRecord, ...]


def _packages(uow: UnitOfWork, org_id: OrgId) -> PackagesPage:
    org = uow.orgs.get(org_id)
    clients, recent = uow.clients.list(org_id, limit=1000), uow.packages.recent(org_id, limit=50)
    offers = uow.packages.offers(org_id)
    by_id = {c.id: c for c in clients}
    rows, broken = [], []
    for p in recent:
        try:
            client = by_id.get(p.client_id) or uow.clients.get(org_id, p.client_id)
        except CorruptRecord as exc:
            broken.append(exc)  # the package is left out with its unreadable client
            continue
        rows.append(PackageRow(p, client, expiry_label(p.expires_at, org)))
    return PackagesPage(org, rows, list(clients), list(offers), unreadable_in(clients, recent, offers, broken))


async def packages_page(org_id: OrgId, **extra: Any) -> str:
    """Setup → Packages, with `extra` (a form as typed, its error, which form it was) for the template."""
    app = core()
    page = await app.read_async(lambda uow: _packages(uow, org_id))
    zone = zone_label(page.org, app.clock.now())
    extra.setdefault("offer_form", {})
    return await render_template(
        "setup/packages.html",
        org=page.org,
        rows=page.rows,
        clients=page.clients,
        offers=page.offers,
        amount=_amount,
        cards_on=app.deps.payments is not None,
        zone=zone,
        unreadable=report(page.unreadable),
        **extra,
    )


@bp.route("/setup/packages", methods=["GET", "POST"])
@login_required
async def packages() -> Any:
    """Packages sold recently, and a form to sell one to a client."""
    org_id, actor, _ = _actor()
    if request.method == "GET":
        return await packages_page(org_id, saved=_saved(), form={})
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
                paid_by=payment_method(form.get("paid_by") or PaymentMethod.UNRECORDED.value),
            )
        )
    except ValidationError as exc:
        return await packages_page(org_id, error=exc, form=form), 400
    return redirect(url_for("setup.packages", saved="package"))


# --- settings and API tokens ---------------------------------------------------------------
