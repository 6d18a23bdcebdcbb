"""The client page's membership action: the coach cancels a membership (at Stripe, then here).

It lives on the clients blueprint (the panel loads with the others, see clients.py); a refused
cancel shows the page again with the memberships panel open and the reason.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from quart import redirect, url_for

from coachos.domain.errors import Conflict, NotFound, PaymentRefused, PaymentUnavailable, ValidationError
from coachos.domain.ids import Actor, ClientId
from coachos.domain.usecases import CancelMembership
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.errors import status_of
from coachos.entrypoints.web.security import login_required, require_principal
from coachos.entrypoints.web.views.clients import bp, show_refused


@bp.route("/clients/<uuid:client_id>/memberships/<uuid:membership_id>/cancel", methods=["POST"])
@login_required
async def cancel_membership(client_id: UUID, membership_id: UUID) -> Any:
    """Cancel the client's membership now: Stripe bills no more; credits already granted stay usable."""
    who = require_principal()
    found = await core().read_async(lambda uow: uow.memberships.get(who.org_id, membership_id))
    if found.client_id != ClientId(client_id):
        raise NotFound("No such membership in this business.")
    try:
        await core().execute_async(
            CancelMembership(org_id=who.org_id, membership_id=membership_id, actor=Actor("coach", who.coach_id))
        )
    except (Conflict, PaymentRefused, PaymentUnavailable) as exc:
        # The page again with the reason, under the status that says whose problem it is: Stripe
        # unreachable is a 503 to retry (not a 4xx blaming the coach), refused a 422, a clash a 409.
        page, _ = await show_refused(client_id, "memberships", {}, ValidationError(str(exc)))
        retry = getattr(exc, "retry_after", None)
        return page, status_of(exc), {"Retry-After": str(retry)} if retry else {}
    return redirect(url_for("clients.detail", client_id=client_id, _anchor="panel-memberships"), 303)
