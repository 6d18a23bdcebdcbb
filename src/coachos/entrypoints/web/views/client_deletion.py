"""The coach approves a client's request (made in the portal) to delete their account."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from quart import redirect, url_for

from coachos.domain.ids import Actor, ClientId
from coachos.domain.usecases import ApproveAccountDeletion
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required, require_principal
from coachos.entrypoints.web.views.clients import bp


@bp.route("/clients/<uuid:client_id>/approve-deletion", methods=["POST"])
@login_required
async def approve_deletion(client_id: UUID) -> Any:
    """Anonymise the client who asked to be deleted; bookings and payments stay, without their name."""
    who = require_principal()
    await core().execute_async(
        ApproveAccountDeletion(org_id=who.org_id, client_id=ClientId(client_id), actor=Actor("coach", who.coach_id))
    )
    return redirect(url_for("clients.detail", client_id=client_id, saved="deleted"), 303)
