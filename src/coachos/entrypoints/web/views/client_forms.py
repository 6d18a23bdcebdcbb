"""The client page's Forms panel actions: open answers (recorded in the access log), record clearance, send a link.

They belong to the clients blueprint (the panel itself loads with the others, see clients.py); a
refused form shows the page again with the Forms panel, the reason, and nothing written.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from quart import Response, redirect, render_template, request, url_for

from coachos.domain.errors import NotFound, ValidationError
from coachos.domain.ids import Actor, ClientId
from coachos.domain.usecases import ReadAnswers, ReadClearanceDocument, RecordClearance, SendFormLink
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required, require_principal
from coachos.entrypoints.web.views.clients import bp, show_refused


def _saved(client_id: UUID, what: str) -> Any:
    return redirect(url_for("clients.detail", client_id=client_id, saved=what, _anchor="panel-forms"), 303)


def _form_id(value: str | None) -> UUID:
    try:
        return UUID(value or "")
    except ValueError:
        raise ValidationError("Choose one of your published forms.", field="form_id") from None


@bp.route("/clients/<uuid:client_id>/forms/<uuid:submission_id>")
@login_required
async def answers(client_id: UUID, submission_id: UUID) -> Any:
    """A submission's answers, with the questions of the version answered; the view is logged first."""
    who = require_principal()
    app = core()
    read = await app.execute_async(
        ReadAnswers(
            org_id=who.org_id,
            client_id=ClientId(client_id),
            submission_id=submission_id,
            actor=Actor("coach", who.coach_id),
        )
    )
    org, client = await app.read_async(
        lambda uow: (uow.orgs.get(who.org_id), uow.clients.get(who.org_id, ClientId(client_id)))
    )
    page = await render_template("client_form_answers.html", org=org, client=client, read=read)
    # Health answers: never kept by the browser or a proxy.
    return page, 200, {"Cache-Control": "no-store"}


@bp.route("/clients/<uuid:client_id>/forms/clearance", methods=["POST"])
@login_required
async def record_clearance(client_id: UUID) -> Any:
    """Record that the client may book despite a "yes" on the screening, with what it rests on."""
    who = require_principal()
    form = dict(await request.form)
    upload = (await request.files).get("document")
    # A form sent without a file chosen carries an empty part with no name.
    data = upload.read() if upload is not None and upload.filename else None
    try:
        await core().execute_async(
            RecordClearance(
                org_id=who.org_id,
                client_id=ClientId(client_id),
                note=form.get("note", ""),
                actor=Actor("coach", who.coach_id),
                document=data,
                document_name=(upload.filename or "") if upload is not None else "",
            )
        )
    except ValidationError as exc:
        return await show_refused(client_id, "forms", form, exc)
    return _saved(client_id, "forms")


@bp.route("/clients/<uuid:client_id>/forms/clearances/<uuid:clearance_id>/document")
@login_required
async def clearance_document(client_id: UUID, clearance_id: UUID) -> Any:
    """The document kept with a clearance, as a download; the view is logged first."""
    who = require_principal()
    document = await core().execute_async(
        ReadClearanceDocument(
            org_id=who.org_id,
            client_id=ClientId(client_id),
            clearance_id=clearance_id,
            actor=Actor("coach", who.coach_id),
        )
    )
    return Response(
        document.data,
        mimetype=document.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{document.name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.route("/clients/<uuid:client_id>/forms/send", methods=["POST"])
@login_required
async def send_form_link(client_id: UUID) -> Any:
    """Queue a text or email with the client's signed link to fill in a form."""
    who = require_principal()
    form = dict(await request.form)
    try:
        await core().execute_async(
            SendFormLink(
                org_id=who.org_id,
                client_id=ClientId(client_id),
                form_id=_form_id(form.get("form_id")),
                channel=form.get("channel", ""),
                actor=Actor("coach", who.coach_id),
            )
        )
    except NotFound:
        return await show_refused(
            client_id, "forms", form, ValidationError("Choose one of your published forms.", field="form_id")
        )
    except ValidationError as exc:
        return await show_refused(client_id, "forms", form, exc)
    return _saved(client_id, "form_link")
