"""Setup → Payments: connecting the business's Stripe account and choosing its Coach OS plan.

"Connect Stripe" and "Subscribe" are POSTs that send the coach to Stripe (onboarding, Checkout) with a
303; Stripe sends them back here. A refusal (payments not configured, Stripe unreachable, a plan that
cannot be bought) shows the page again with the reason and writes nothing.
"""

from __future__ import annotations

from typing import Any

from quart import redirect, render_template, request

from coachos.domain.errors import Conflict, PaymentRefused, PaymentUnavailable, ValidationError
from coachos.domain.ids import OrgId
from coachos.domain.timezones import label
from coachos.domain.usecases import ConnectStripe, EndPlatformPlan, GetPaymentsSetup, PaymentsSetup, SubscribeToPlan
from coachos.entrypoints.web.context import core, settings
from coachos.entrypoints.web.security import login_required
from coachos.entrypoints.web.unreadable import report
from coachos.entrypoints.web.views.setup._blueprint import bp
from coachos.entrypoints.web.views.setup._forms import _actor

PATH = "/setup/payments"
SAVED = {
    "connected": "Welcome back from Stripe. Your account's status below updates as soon as Stripe tells us.",
    "subscribed": "Thank you! Your plan changes as soon as Stripe confirms the payment (usually within a minute).",
    "cancelled": "Nothing was paid; your plan is unchanged.",
    "ending": "Your paid plan ends when the period you paid for ends; then you are on the free plan.",
}
STATES = {
    "not_connected": "Not connected: connect Stripe to take card payments from clients.",
    "details_missing": "Connected, but Stripe still needs some details before you can take card payments.",
    "can_take_charges": "Connected: you can take card payments.",
}


async def _page(org_id: OrgId, *, status: int = 200, **extra: Any) -> Any:
    app = core()
    org = await app.read_async(lambda uow: uow.orgs.get(org_id))
    setup: PaymentsSetup = await app.execute_async(GetPaymentsSetup(org_id=org_id))
    sub = setup.subscription
    page = await render_template(
        "setup/payments.html",
        org=org,
        setup=setup,
        state_text=STATES[setup.state],
        renews=label(sub.current_period_end, org.tz) if sub is not None and sub.current_period_end else None,
        invoices=[(i, label(i.paid_at, org.tz)) for i in setup.invoices],
        unreadable=report(setup.unreadable),
        **extra,
    )
    return page, status


@bp.route(PATH, methods=["GET"])
@login_required
async def payments() -> Any:
    """The business's Stripe connection, its plan and what it paid Coach OS."""
    org_id, _, _ = _actor()
    return await _page(org_id, saved=SAVED.get(request.args.get("saved", "")))


@bp.route(PATH, methods=["POST"])
@login_required
async def payments_post() -> Any:
    """Connect Stripe (action=connect), subscribe (action=subscribe, plan=<key>) or end the paid plan (action=end)."""
    org_id, actor, _ = _actor()
    form = await request.form
    back = settings().public_url + PATH
    try:
        action = form.get("action", "")
        if action == "connect":
            url = await core().execute_async(
                ConnectStripe(
                    org_id=org_id, actor=actor, return_url=back + "?saved=connected", refresh_url=back + "?refresh=1"
                )
            )
        elif action == "subscribe":
            url = await core().execute_async(
                SubscribeToPlan(
                    org_id=org_id,
                    actor=actor,
                    plan_key=form.get("plan", ""),
                    success_url=back + "?saved=subscribed",
                    cancel_url=back + "?saved=cancelled",
                )
            )
        elif action == "end":
            await core().execute_async(EndPlatformPlan(org_id=org_id, actor=actor))
            url = back + "?saved=ending"
        else:
            raise ValidationError("Unknown action; reload the page and try again.", field="action")
    except ValidationError as exc:
        return await _page(org_id, status=400, error=exc)
    except (Conflict, PaymentRefused) as exc:
        return await _page(org_id, status=409, error=exc)
    except PaymentUnavailable as exc:
        return await _page(org_id, status=503, error=exc)
    return redirect(url, 303)
