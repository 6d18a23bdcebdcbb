"""The signed-in client's memberships: plans to join (paid through Stripe Checkout) and their own, with renewal."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import attrs
from quart import redirect, render_template, url_for

from coachos.domain.errors import Conflict, PaymentRefused, PaymentUnavailable
from coachos.domain.memberships import Membership, MembershipPlan
from coachos.domain.timezones import label
from coachos.domain.usecases import ClientMemberships, ListMembershipPlans, StartMembershipCheckout
from coachos.entrypoints.web.context import core, settings
from coachos.entrypoints.web.unreadable import report
from coachos.entrypoints.web.views.portal._shared import bp, portal_client


@attrs.frozen
class MineLine:
    """One of the client's memberships as they see it: plan, status and next renewal on the business's clock."""

    membership: Membership
    plan: MembershipPlan
    renews: str | None


@bp.route("/memberships")
async def memberships(slug: str) -> Any:
    """Plans the client can join (when the business takes cards) and their memberships with status and renewal."""
    org, client = await portal_client(slug)
    return await _page(slug, org.id, client.id)


async def _page(slug: str, org_id: Any, client_id: Any, *, error: Exception | None = None, status: int = 200) -> Any:
    app = core()
    org = await app.read_async(lambda uow: uow.orgs.get(org_id))
    plans = await app.execute_async(ListMembershipPlans(org_id=org_id, active_only=True))
    mine = await app.execute_async(ClientMemberships(org_id=org_id, client_id=client_id))
    lines = [
        MineLine(
            m.membership,
            m.plan,
            label(m.membership.current_period_end, org.tz) if m.membership.current_period_end else None,
        )
        for m in mine
        if m.membership.is_live
    ]
    joined = {line.plan.id for line in lines}
    page = await render_template(
        "portal/memberships.html",
        business=org,
        mine=lines,
        plans=[p for p in plans if p.id not in joined],
        cards_on=app.deps.payments is not None,
        error=error,
        unreadable=report(plans, mine),
    )
    return page, status


@bp.route("/memberships/<uuid:plan_id>/join", methods=["POST"])
async def join(slug: str, plan_id: UUID) -> Any:
    """Start joining a plan: the client is sent to Stripe Checkout, and back here when done or cancelled."""
    org, client = await portal_client(slug)
    back = f"{settings().public_url}{url_for('portal.memberships', slug=slug)}"
    try:
        started = await core().execute_async(
            StartMembershipCheckout(
                org_id=org.id,
                client_id=client.id,
                plan_id=plan_id,
                success_url=f"{back}?joined=1",
                cancel_url=back,
            )
        )
    except Conflict as exc:
        return await _page(slug, org.id, client.id, error=exc, status=409)
    except PaymentRefused as exc:
        return await _page(slug, org.id, client.id, error=exc, status=402)
    except PaymentUnavailable as exc:
        return await _page(slug, org.id, client.id, error=exc, status=503)
    return redirect(started.url, 303)
