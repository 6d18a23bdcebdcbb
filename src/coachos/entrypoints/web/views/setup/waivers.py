"""Setup → Waivers: write a waiver, publish new versions (material or not), and see every version."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from quart import redirect, render_template, request, url_for

from coachos.domain.errors import Conflict, NotFound, ValidationError
from coachos.domain.ids import OrgId, WaiverId
from coachos.domain.timezones import label
from coachos.domain.usecases import CreateWaiver, ListWaivers, PublishWaiverVersion
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required
from coachos.entrypoints.web.views.setup._blueprint import bp
from coachos.entrypoints.web.views.setup._forms import _actor

SAVED = {
    "created": "Waiver published as version 1: you can now send it to clients from their page.",
    "published": "New version published.",
}


def _material(value: str | None) -> bool:
    if value not in ("yes", "no"):
        raise ValidationError(
            "Say whether this change is material: if yes, clients must sign again before their next booking.",
            field="material",
        )
    return value == "yes"


async def _list_page(org_id: OrgId, *, status: int = 200, **extra: Any) -> Any:
    app = core()
    org = await app.read_async(lambda uow: uow.orgs.get(org_id))
    rows = await app.execute_async(ListWaivers(org_id=org_id))
    page = await render_template(
        "setup/waivers.html",
        org=org,
        rows=rows,
        when=lambda at: label(at, org.tz),
        form=extra.pop("form", {}),
        **extra,
    )
    return page, status


async def _detail_page(org_id: OrgId, waiver_id: UUID, *, status: int = 200, **extra: Any) -> Any:
    app = core()
    org = await app.read_async(lambda uow: uow.orgs.get(org_id))
    rows = await app.execute_async(ListWaivers(org_id=org_id))
    row = next((r for r in rows if r.waiver.id == waiver_id), None)
    if row is None:
        raise NotFound("There is no such waiver.")
    page = await render_template(
        "setup/waiver.html",
        org=org,
        row=row,
        when=lambda at: label(at, org.tz),
        form=extra.pop("form", {}),
        **extra,
    )
    return page, status


@bp.route("/setup/waivers", methods=["GET", "POST"])
@login_required
async def waivers() -> Any:
    """The business's waivers; the form writes a new one and publishes its version 1."""
    org_id, actor, _ = _actor()
    if request.method == "GET":
        return await _list_page(org_id, saved=SAVED.get(request.args.get("saved", "")))
    form = await request.form
    try:
        waiver, _ = await core().execute_async(
            CreateWaiver(org_id=org_id, title=form.get("title", ""), body=form.get("body", ""), actor=actor)
        )
    except ValidationError as exc:
        return await _list_page(org_id, status=400, error=exc, form=form)
    return redirect(url_for("setup.waiver", waiver_id=waiver.id, saved="created"), 303)


@bp.route("/setup/waivers/<uuid:waiver_id>", methods=["GET", "POST"])
@login_required
async def waiver(waiver_id: UUID) -> Any:
    """One waiver: its versions, and the form to publish the next (marked material or not)."""
    org_id, actor, _ = _actor()
    if request.method == "GET":
        return await _detail_page(org_id, waiver_id, saved=SAVED.get(request.args.get("saved", "")))
    form = await request.form
    try:
        await core().execute_async(
            PublishWaiverVersion(
                org_id=org_id,
                waiver_id=WaiverId(waiver_id),
                body=form.get("body", ""),
                material=_material(form.get("material")),
                actor=actor,
            )
        )
    except (ValidationError, Conflict) as exc:
        status = 400 if isinstance(exc, ValidationError) else 409
        return await _detail_page(org_id, waiver_id, status=status, error=exc, form=form)
    return redirect(url_for("setup.waiver", waiver_id=waiver_id, saved="published"), 303)
