"""Setup → Packages: the package offers clients can buy themselves (add, edit, withdraw, put back on sale).

A refused form shows the page again (400) with the reason and what was typed; nothing is written.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from quart import redirect, request, url_for

from coachos.domain.errors import ValidationError
from coachos.domain.ids import PackageOfferId
from coachos.domain.money import Money
from coachos.domain.usecases import CreatePackageOffer, UpdatePackageOffer
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required
from coachos.entrypoints.web.views.setup._blueprint import bp
from coachos.entrypoints.web.views.setup._forms import Form, _actor, _text, _whole
from coachos.entrypoints.web.views.setup.catalog import packages_page


def _validity(form: Form) -> int | None:
    """Days a bought package lasts, or None when the box is empty (no limit)."""
    if not _text(form, "validity_days"):
        return None
    return _whole(form, "validity_days", "Valid for (days)", minimum=1, maximum=3660)


@bp.route("/setup/packages/offers", methods=["POST"])
@login_required
async def add_offer() -> Any:
    """Add a package clients can buy from the portal: name, sessions, price and how long it lasts."""
    org_id, actor, _ = _actor()
    form = await request.form
    app = core()
    try:
        org = await app.read_async(lambda uow: uow.orgs.get(org_id))
        await app.execute_async(
            CreatePackageOffer(
                org_id=org_id,
                name=_text(form, "name"),
                sessions=_whole(form, "sessions", "Sessions", minimum=1, maximum=1000),
                price=Money.parse(_text(form, "price"), org.currency),
                validity_days=_validity(form),
                actor=actor,
            )
        )
    except ValidationError as exc:
        return await packages_page(org_id, offer_error=exc, offer_form=form, form={}), 400
    return redirect(url_for("setup.packages", saved="offer", _anchor="offers"), 303)


@bp.route("/setup/packages/offers/<uuid:offer_id>", methods=["POST"])
@login_required
async def edit_offer(offer_id: UUID) -> Any:
    """Change an offer, or (with only `active`) withdraw it from sale or put it back."""
    org_id, actor, _ = _actor()
    form = await request.form
    app = core()
    active = {"on": True, "off": False}.get(_text(form, "active"))
    try:
        if "name" in form:
            org = await app.read_async(lambda uow: uow.orgs.get(org_id))
            command = UpdatePackageOffer(
                org_id=org_id,
                offer_id=PackageOfferId(offer_id),
                actor=actor,
                name=_text(form, "name"),
                sessions=_whole(form, "sessions", "Sessions", minimum=1, maximum=1000),
                price=Money.parse(_text(form, "price"), org.currency),
                validity_days=_validity(form),
                active=active,
            )
        elif active is None:
            raise ValidationError("Say whether the offer is on sale.", field="active")
        else:
            command = UpdatePackageOffer(org_id=org_id, offer_id=PackageOfferId(offer_id), actor=actor, active=active)
        await app.execute_async(command)
    except ValidationError as exc:
        return await packages_page(org_id, offer_error=exc, offer_form=form, form={}), 400
    return redirect(url_for("setup.packages", saved="offer", _anchor="offers"), 303)
