"""The client's page to fill in a form, reached by a signed link: `/c/<org-slug>/forms/<token>`.

The token (see `adapters.links.form_serializer`) names the business, the client and the form; who
holds the link is taken to be the client (as for the manage link). One link takes one submission:
a double submit, a retried POST or a second tab all store one, and the page then says it was
received. Answers are health data: nothing about them is logged, and the page is never cached.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from itsdangerous import BadData
from quart import current_app, redirect, render_template, request, url_for

from coachos.adapters.links import form_serializer
from coachos.domain.errors import NotFound, ValidationError
from coachos.domain.forms import QuestionKind
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.usecases import OpenForm, SubmitForm
from coachos.domain.usecases.forms import FormToFill, submit_key
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.formatting import local_time
from coachos.entrypoints.web.views.public._blueprint import bp

#: How long a form link works after it was sent.
FORM_LINK_AGE = timedelta(days=30)
#: The prefix of answer fields in the page's form (keeps them apart from the CSRF field).
FIELD = "a_"
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_INVALID = "This form link is not valid or has expired; please ask your coach for a new one."


def read_form_token(token: str) -> tuple[OrgId, ClientId, UUID]:
    """The business, client and form a link names; NotFound if it is forged, of another kind, or too old."""
    serializer = form_serializer(current_app.config["COACHOS_SECRET"], core().clock)
    try:
        org_id, client_id, form_id = serializer.loads(token, max_age=int(FORM_LINK_AGE.total_seconds()))
        return OrgId(UUID(org_id)), ClientId(UUID(client_id)), UUID(form_id)
    except (BadData, ValueError, TypeError):
        raise NotFound(_INVALID) from None


async def _open(slug: str, token: str) -> tuple[OrgId, ClientId, UUID, FormToFill, Any]:
    org_id, client_id, form_id = read_form_token(token)
    app = core()
    org = await app.read_async(lambda uow: uow.orgs.get(org_id))
    if org.slug != slug:
        raise NotFound(_INVALID)
    shown = await app.execute_async(
        OpenForm(org_id=org_id, client_id=client_id, form_id=form_id, key=submit_key(token))
    )
    return org_id, client_id, form_id, shown, org


async def _page(slug: str, token: str, shown: FormToFill, org: Any, *, status: int = 200, **extra: Any) -> Any:
    page = await render_template(
        "public/fill_form.html",
        org=None,
        business=org,
        shown=shown,
        token=token,
        slug=slug,
        field=FIELD,
        received=local_time(shown.done.submitted_at, org.tz, "%-d %b %Y, %H:%M") if shown.done else None,
        typed=extra.pop("typed", {}),
        **extra,
    )
    return page, status, _NO_STORE


@bp.route("/c/<slug>/forms/<token>", methods=["GET"])
async def fill_form(slug: str, token: str) -> Any:
    """The form for the client to fill in, or a note that this link's answers were received."""
    _, _, _, shown, org = await _open(slug, token)
    return await _page(slug, token, shown, org)


@bp.route("/c/<slug>/forms/<token>", methods=["POST"])
async def submit_form(slug: str, token: str) -> Any:
    """Store the answers once for this link; a refused answer shows the form again as typed, nothing stored."""
    org_id, client_id, form_id, shown, org = await _open(slug, token)
    if shown.done is not None:
        return redirect(url_for("public.fill_form", slug=slug, token=token), 303)
    form = await request.form
    answers: dict[str, object] = {}
    for q in shown.version.questions:
        name = FIELD + q.key
        answers[q.key] = form.getlist(name) if q.kind is QuestionKind.MULTI_CHOICE else form.get(name, "")
    version_id = form.get("version_id", "")
    try:
        await core().execute_async(
            SubmitForm(
                org_id=org_id,
                client_id=client_id,
                form_id=form_id,
                version_id=_uuid(version_id),
                answers=answers,
                key=submit_key(token),
            )
        )
    except ValidationError as exc:
        return await _page(slug, token, shown, org, status=400, error=exc, typed=answers)
    return redirect(url_for("public.fill_form", slug=slug, token=token), 303)


def _uuid(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise ValidationError("This form was not sent whole; please reload the page.", field="version_id") from None
