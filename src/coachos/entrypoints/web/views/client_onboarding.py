"""The client page's Onboarding form: send a flow to the client (the panel itself loads with the others)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from quart import redirect, request, url_for

from coachos.domain.errors import ValidationError
from coachos.domain.ids import Actor, ClientId
from coachos.domain.usecases import SendOnboarding
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required, require_principal
from coachos.entrypoints.web.views.clients import bp, show_refused
from coachos.entrypoints.web.views.setup._forms import _uuid


@bp.route("/clients/<uuid:client_id>/onboarding/send", methods=["POST"])
@login_required
async def send_onboarding(client_id: UUID) -> Any:
    """Start the client's onboarding in a flow and message them what is left (once per flow)."""
    who = require_principal()
    form = dict(await request.form)
    try:
        await core().execute_async(
            SendOnboarding(
                org_id=who.org_id,
                client_id=ClientId(client_id),
                flow_id=_uuid(form.get("flow_id", ""), "onboarding flow"),
                actor=Actor("coach", who.coach_id),
            )
        )
    except ValidationError as exc:
        return await show_refused(client_id, "onboarding", form, exc)
    return redirect(url_for("clients.detail", client_id=client_id, saved="onboarding", _anchor="panel-onboarding"), 303)
