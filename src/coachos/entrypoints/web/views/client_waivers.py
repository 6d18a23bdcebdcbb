"""The client page's waiver actions: send the signing link, download a signed copy as a PDF.

They live on the clients blueprint (the panel itself loads with the others, see clients.py); a
refused send shows the page again with the waivers panel open and the reason, and queues nothing.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from quart import redirect, request, url_for

from coachos.adapters.waiver_pdf import signed_waiver_pdf
from coachos.domain.errors import NotFound, ValidationError
from coachos.domain.ids import Actor, ClientId, WaiverId
from coachos.domain.messages import MessageChannel
from coachos.domain.usecases import SendWaiverLink, SignedCopy
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required, require_principal
from coachos.entrypoints.web.views.clients import bp, show_refused
from coachos.entrypoints.web.views.waiver_signing import pdf_response


def _channel(value: str | None) -> MessageChannel:
    try:
        return MessageChannel(value or "")
    except ValueError:
        raise ValidationError("Send the link by email or by text.", field="channel") from None


@bp.route("/clients/<uuid:client_id>/waivers/<uuid:waiver_id>/send", methods=["POST"])
@login_required
async def send_waiver_link(client_id: UUID, waiver_id: UUID) -> Any:
    """Queue an email or text to the client with their signed link to sign the waiver (valid 7 days)."""
    who = require_principal()
    form = dict(await request.form)
    try:
        await core().execute_async(
            SendWaiverLink(
                org_id=who.org_id,
                client_id=ClientId(client_id),
                waiver_id=WaiverId(waiver_id),
                channel=_channel(form.get("channel")),
                actor=Actor("coach", who.coach_id),
            )
        )
    except ValidationError as exc:
        return await show_refused(client_id, "waivers", form, exc)
    return redirect(url_for("clients.detail", client_id=client_id, saved="waivers", _anchor="panel-waivers"), 303)


@bp.route("/clients/<uuid:client_id>/waivers/signatures/<uuid:signature_id>.pdf")
@login_required
async def signed_waiver(client_id: UUID, signature_id: UUID) -> Any:
    """The signed copy with its audit page, as a PDF."""
    who = require_principal()
    copy = await core().execute_async(SignedCopy(org_id=who.org_id, signature_id=signature_id))
    _, client, waiver, version, signature = copy
    if client.id != client_id:
        raise NotFound("There is no such signature for this client.")
    return pdf_response(signed_waiver_pdf(*copy), f"{waiver.title} v{version.number} {signature.signed_at:%Y-%m-%d}")
