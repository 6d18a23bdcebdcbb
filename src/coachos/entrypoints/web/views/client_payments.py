"""The client page's Payments panel action: record that a pending package was paid in cash or by bank transfer.

It posts to the clients blueprint (the panel itself is loaded with the others, see clients.py); a refusal
(a package paid already, an unknown method) shows the page again with the panel open and the reason.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from quart import redirect, request, url_for

from coachos.domain.errors import InvalidTransition, NotFound, ValidationError
from coachos.domain.ids import Actor, ClientId, PackageId
from coachos.domain.usecases import RecordPackagePayment
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required, require_principal
from coachos.entrypoints.web.views.clients import bp, show_refused


@bp.route("/clients/<uuid:client_id>/packages/<uuid:package_id>/payment", methods=["POST"])
@login_required
async def record_payment(client_id: UUID, package_id: UUID) -> Any:
    """Record the payment of the client's pending package (cash or bank transfer): its credits become usable."""
    who = require_principal()
    form = dict(await request.form)
    app = core()
    try:
        package = await app.read_async(lambda uow: uow.packages.get(who.org_id, PackageId(package_id)))
        if package.client_id != client_id:
            raise NotFound("No such package in this business.")
        await app.execute_async(
            RecordPackagePayment(
                org_id=who.org_id,
                package_id=PackageId(package_id),
                method=form.get("method", ""),
                actor=Actor("coach", who.coach_id),
            )
        )
    except InvalidTransition as exc:
        return await show_refused(client_id, "payments", form, ValidationError(exc.message, field="method"))
    except ValidationError as exc:
        return await show_refused(client_id, "payments", form, exc)
    url = url_for("clients.detail", client_id=ClientId(client_id), saved="payments", _anchor="panel-payments")
    return redirect(url, 303)
