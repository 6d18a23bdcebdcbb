"""Setup → Messages: the wording of every message Coach OS sends, per channel, with a preview.

The preview is rendered by the server with sample values in the business's zone, so it shows
exactly what a client would get, SMS parts included; the page's script only adds a live count of
the text as it is typed. Nothing is stored by a preview; a refused save stores nothing either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart import redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound as HttpNotFound

from coachos.domain.errors import ValidationError
from coachos.domain.ids import OrgId
from coachos.domain.messages import MessageChannel
from coachos.domain.templates import KINDS, PLACEHOLDERS, TemplateKind
from coachos.domain.usecases import (
    ListMessageTemplates,
    PreviewMessageTemplate,
    ResetMessageTemplate,
    SaveMessageTemplate,
    TemplateRow,
)
from coachos.domain.usecases.templates import Preview
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required
from coachos.entrypoints.web.views.setup._blueprint import bp
from coachos.entrypoints.web.views.setup._forms import _actor, zone_label

#: Messages shown after a change (keys come from our own redirects only).
_DONE = {"saved": "Your wording is saved.", "reset": "Back to Coach OS's wording."}


def _kind_and_channel(kind: str, channel: str) -> tuple[TemplateKind, MessageChannel]:
    """The kind and channel in the address; an unknown one is a page that does not exist (404)."""
    try:
        return TemplateKind(kind), MessageChannel(channel)
    except ValueError:
        raise HttpNotFound("There is no such message.") from None


@bp.route("/setup/messages")
@login_required
async def messages_page() -> Any:
    """Every kind of message, who gets it and when, and whether it uses the business's own wording."""
    org_id, _, _ = _actor()
    app = core()
    org = await app.read_async(lambda uow: uow.orgs.get(org_id))
    rows: tuple[TemplateRow, ...] = await app.execute_async(ListMessageTemplates(org_id=org_id))
    by_kind: dict[TemplateKind, dict[str, TemplateRow]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, {})[row.channel.value] = row
    return await render_template(
        "setup/messages.html",
        org=org,
        zone=zone_label(org, app.clock.now()),
        kinds=[(kind, KINDS[kind], by_kind[kind]) for kind in KINDS],
        saved=_DONE.get(request.args.get("saved", "")),
    )


async def _edit_page(
    org_id: OrgId,
    kind: TemplateKind,
    channel: MessageChannel,
    form: Mapping[str, str] | None = None,
    *,
    error: ValidationError | None = None,
    saved: str | None = None,
) -> str:
    app = core()
    org = await app.read_async(lambda uow: uow.orgs.get(org_id))
    rows: tuple[TemplateRow, ...] = await app.execute_async(ListMessageTemplates(org_id=org_id))
    row = next(r for r in rows if (r.kind, r.channel) == (kind, channel))
    subject = form.get("subject", "") if form is not None else (row.wording.subject or "")
    body = form.get("body", "") if form is not None else row.wording.body
    preview: Preview | None = None
    if error is None:
        try:
            preview = await app.execute_async(
                PreviewMessageTemplate(
                    org_id=org_id,
                    kind=kind.value,
                    channel=channel.value,
                    subject=subject if channel is MessageChannel.EMAIL else None,
                    body=body,
                )
            )
        except ValidationError as exc:
            error = exc
    return await render_template(
        "setup/message_edit.html",
        org=org,
        zone=zone_label(org, app.clock.now()),
        row=row,
        info=KINDS[kind],
        placeholders=[(name, PLACEHOLDERS[name]) for name in KINDS[kind].placeholders],
        subject=subject,
        body=body,
        preview=preview,
        error=error,
        saved=saved,
    )


@bp.route("/setup/messages/<kind>/<channel>", methods=["GET", "POST"])
@login_required
async def message_template_page(kind: str, channel: str) -> Any:
    """Edit one message's wording: preview it with sample values, save it, or go back to the default."""
    parsed_kind, parsed_channel = _kind_and_channel(kind, channel)
    org_id, actor, _ = _actor()
    if request.method == "GET":
        return await _edit_page(org_id, parsed_kind, parsed_channel, saved=_DONE.get(request.args.get("saved", "")))
    form = await request.form
    action = form.get("action", "save")
    here = url_for("setup.message_template_page", kind=kind, channel=channel)
    if action == "reset":
        await core().execute_async(ResetMessageTemplate(org_id=org_id, kind=kind, channel=channel, actor=actor))
        return redirect(f"{here}?saved=reset")
    if action == "preview":
        page = await _edit_page(org_id, parsed_kind, parsed_channel, form)
        return page, 200
    if action != "save":
        raise ValidationError("Choose Preview, Save or Reset.", field="action")
    subject = form.get("subject") if parsed_channel is MessageChannel.EMAIL else None
    try:
        await core().execute_async(
            SaveMessageTemplate(
                org_id=org_id, kind=kind, channel=channel, subject=subject, body=form.get("body", ""), actor=actor
            )
        )
    except ValidationError as exc:
        return await _edit_page(org_id, parsed_kind, parsed_channel, form, error=exc), 400
    return redirect(f"{here}?saved=saved")
