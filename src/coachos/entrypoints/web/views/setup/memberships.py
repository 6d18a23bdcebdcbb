"""Setup → Memberships: the recurring plans clients can join from the portal (paid by card through Stripe)."""

from __future__ import annotations

from typing import Any

from quart import redirect, render_template, request, url_for

from coachos.domain.errors import Conflict, NotFound, ValidationError
from coachos.domain.ids import OrgId
from coachos.domain.money import Money
from coachos.domain.usecases import CreateMembershipPlan, ListMembershipPlans, SetMembershipPlanActive
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required
from coachos.entrypoints.web.unreadable import report
from coachos.entrypoints.web.views.setup._blueprint import bp
from coachos.entrypoints.web.views.setup._forms import _actor, _text, _uuid, _whole

SAVED = {
    "created": "Membership plan added: clients can join it from their portal.",
    "retired": "Plan no longer offered; current members keep it.",
    "offered": "Plan offered again.",
}


async def _page(org_id: OrgId, *, status: int = 200, **extra: Any) -> Any:
    app = core()
    org = await app.read_async(lambda uow: uow.orgs.get(org_id))
    plans = await app.execute_async(ListMembershipPlans(org_id=org_id))
    page = await render_template(
        "setup/memberships.html",
        org=org,
        plans=plans,
        cards_on=app.deps.payments is not None,
        unreadable=report(plans),
        form=extra.pop("form", {}),
        **extra,
    )
    return page, status


@bp.route("/setup/memberships", methods=["GET", "POST"])
@login_required
async def memberships() -> Any:
    """The business's membership plans: add one (price per week or month, sessions or an unlimited cap), retire one."""
    org_id, actor, _ = _actor()
    if request.method == "GET":
        return await _page(org_id, saved=SAVED.get(request.args.get("saved", "")))
    form = await request.form
    action = form.get("action", "")
    try:
        if action == "create":
            org = await core().read_async(lambda uow: uow.orgs.get(org_id))
            await core().execute_async(
                CreateMembershipPlan(
                    org_id=org_id,
                    actor=actor,
                    name=_text(form, "name"),
                    price=Money.parse(_text(form, "price"), org.currency),
                    interval=_text(form, "interval") or "month",
                    sessions=_whole(form, "sessions", "Sessions per period", minimum=1, maximum=1000),
                    unlimited=form.get("unlimited") == "on",
                )
            )
            done = "created"
        elif action in ("retire", "offer"):
            plan_id = _uuid(form.get("plan_id", ""), "membership plan")
            await core().execute_async(
                SetMembershipPlanActive(org_id=org_id, actor=actor, plan_id=plan_id, active=action == "offer")
            )
            done = "offered" if action == "offer" else "retired"
        else:
            raise ValidationError("Unknown action; reload the page and try again.", field="action")
    except NotFound:
        raise
    except (ValidationError, Conflict) as exc:
        return await _page(org_id, status=400 if isinstance(exc, ValidationError) else 409, error=exc, form=form)
    return redirect(url_for("setup.memberships", saved=done), 303)
