"""Phone numbers: the numbers the business receives texts on, each connected to one business only."""

from __future__ import annotations

from typing import Any

from quart import redirect, render_template, request, url_for

from coachos.domain.errors import Conflict, ValidationError
from coachos.domain.ids import OrgId
from coachos.domain.numbers import PhoneNumber
from coachos.domain.rows import Rows
from coachos.domain.timezones import label
from coachos.domain.usecases import AddPhoneNumber, ListPhoneNumbers, RemovePhoneNumber
from coachos.entrypoints.web.context import core, settings
from coachos.entrypoints.web.security import login_required
from coachos.entrypoints.web.unreadable import report
from coachos.entrypoints.web.views.inbound import ROUTE
from coachos.entrypoints.web.views.setup._blueprint import bp
from coachos.entrypoints.web.views.setup._forms import _actor, _text, _uuid

SAVED = {"added": "Number added: texts to it now reach you.", "removed": "Number removed: texts to it are ignored."}


async def _page(org_id: OrgId, *, status: int = 200, **extra: Any) -> Any:
    app = core()
    org = await app.read_async(lambda uow: uow.orgs.get(org_id))
    numbers: Rows[PhoneNumber] = await app.execute_async(ListPhoneNumbers(org_id=org_id))
    page = await render_template(
        "setup/numbers.html",
        org=org,
        numbers=[(n, label(n.created_at, org.tz)) for n in numbers],
        unreadable=report(numbers),
        webhook_url=settings().public_url + ROUTE,
        form=extra.pop("form", {}),
        **extra,
    )
    return page, status


@bp.route("/setup/numbers", methods=["GET", "POST"])
@login_required
async def numbers() -> Any:
    """The business's texting numbers: add one (E.164) or remove one; shows the webhook URL to give Twilio."""
    org_id, actor, _ = _actor()
    if request.method == "GET":
        return await _page(org_id, saved=SAVED.get(request.args.get("saved", "")))
    form = await request.form
    action = form.get("action", "")
    try:
        if action == "add":
            await core().execute_async(
                AddPhoneNumber(org_id=org_id, actor=actor, number=_text(form, "number"), label=_text(form, "label"))
            )
        elif action == "remove":
            number_id = _uuid(form.get("number_id", ""), "phone number")
            await core().execute_async(RemovePhoneNumber(org_id=org_id, number_id=number_id, actor=actor))
        else:
            raise ValidationError("Unknown action; reload the page and try again.", field="action")
    except (ValidationError, Conflict) as exc:
        return await _page(org_id, status=400 if isinstance(exc, ValidationError) else 409, error=exc, form=form)
    return redirect(url_for("setup.numbers", saved="added" if action == "add" else "removed"))
