"""Setup → Forms: the business's questionnaires, a builder for each draft, publishing versions, the screening template.

The builder is a plain HTML form: one row per question (wording, kind, required, options one per
line, position, remove) and one empty row to add a question. Saving replaces the draft; publishing
saves it and makes it version n+1 (published versions never change). A refused save is shown again
as typed, with the reason, and nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from quart import redirect, render_template, request, url_for

from coachos.domain.errors import Conflict, ValidationError
from coachos.domain.forms import MAX_QUESTIONS, Form, Question, QuestionKind
from coachos.domain.ids import OrgId
from coachos.domain.usecases import CreateForm, CreateHealthScreening, ListForms, PublishForm, UpdateForm
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.formatting import local_time
from coachos.entrypoints.web.security import login_required
from coachos.entrypoints.web.views.setup._blueprint import bp
from coachos.entrypoints.web.views.setup._forms import _actor, _text

SAVED = {
    "created": "Form created: add its questions, then publish it.",
    "saved": "Draft saved. Clients still get the published version until you publish.",
    "published": "Published: new links show this version; earlier answers stay with their version.",
}
_NOT_KEY = re.compile(r"[^a-z0-9]+")


def _key_for(label: str, taken: set[str]) -> str:
    """A stable key for a new question, from its wording (e.g. 'your_main_goal'), unique in the form."""
    base = _NOT_KEY.sub("_", label.lower()).strip("_")[:30] or "question"
    if not base[0].isalpha():
        base = "q_" + base
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


def parse_questions(form: Mapping[str, str]) -> tuple[Question, ...]:
    """The questions of the builder's rows, in the order of their positions; blank new rows are skipped."""
    try:
        rows = int(form.get("rows", "0"))
    except ValueError:
        rows = -1
    if not 0 <= rows <= MAX_QUESTIONS + 1:
        raise ValidationError("The form was not sent whole; reload the page and try again.", field="rows")
    taken = {k for i in range(rows) if (k := _text(form, f"q{i}_key"))}
    found: list[tuple[float, int, Question]] = []
    for i in range(rows):
        label, key = _text(form, f"q{i}_label"), _text(form, f"q{i}_key")
        if form.get(f"q{i}_remove") or (not label and not key):
            continue
        if not key:
            key = _key_for(label, taken)
            taken.add(key)
        kind = QuestionKind(form[f"q{i}_kind"]) if form.get(f"q{i}_kind") in set(QuestionKind) else None
        if kind is None:
            raise ValidationError(f"Question {i + 1}: choose what kind of answer it takes.", field="kind")
        lines = [line.strip() for line in form.get(f"q{i}_options", "").splitlines() if line.strip()]
        try:
            position = float(form.get(f"q{i}_pos", "") or i + 1)
        except ValueError:
            raise ValidationError(f"Question {i + 1}: the position is a number, e.g. 3.", field="position") from None
        question = Question(
            key=key,
            label=label,
            kind=kind,
            required=bool(form.get(f"q{i}_required")),
            options=tuple(lines) if kind.has_options else (),
            help=_text(form, f"q{i}_help"),
        )
        found.append((position, i, question))
    return tuple(q for _, _, q in sorted(found, key=lambda t: (t[0], t[1])))


async def _list_page(org_id: OrgId, *, status: int = 200, **extra: Any) -> Any:
    app = core()
    org = await app.read_async(lambda uow: uow.orgs.get(org_id))
    summaries = await app.execute_async(ListForms(org_id=org_id))
    page = await render_template("setup/forms.html", org=org, summaries=summaries, form=extra.pop("form", {}), **extra)
    return page, status


@bp.route("/setup/forms", methods=["GET", "POST"])
@login_required
async def forms() -> Any:
    """The business's forms: add one, or add the health screening from Coach OS's template."""
    org_id, actor, _ = _actor()
    if request.method == "GET":
        return await _list_page(org_id, saved=SAVED.get(request.args.get("saved", "")))
    form = await request.form
    action = form.get("action", "")
    try:
        if action == "template":
            made: Form = await core().execute_async(CreateHealthScreening(org_id=org_id, actor=actor))
        elif action == "new":
            made = await core().execute_async(
                CreateForm(org_id=org_id, name=_text(form, "name"), screening=bool(form.get("screening")), actor=actor)
            )
        else:
            raise ValidationError("Unknown action; reload the page and try again.", field="action")
    except ValidationError as exc:
        return await _list_page(org_id, status=400, error=exc, form=form)
    return redirect(url_for("setup.edit_form", form_id=made.id, saved="created"), 303)


async def _edit_page(org_id: OrgId, form_id: UUID, *, status: int = 200, **extra: Any) -> Any:
    app = core()
    org, draft, versions = await app.read_async(
        lambda uow: (uow.orgs.get(org_id), uow.forms.get(org_id, form_id), uow.forms.versions(org_id, form_id))
    )
    page = await render_template(
        "setup/form_edit.html",
        org=org,
        draft=draft,
        versions=[(v, local_time(v.published_at, org.tz)) for v in versions],
        kinds=list(QuestionKind),
        typed=extra.pop("typed", None),
        **extra,
    )
    return page, status


def _typed_rows(form: Mapping[str, str]) -> list[dict[str, str]]:
    """The builder's rows as sent, to show a refused form again as typed."""
    try:
        rows = min(int(form.get("rows", "0")), MAX_QUESTIONS + 1)
    except ValueError:
        rows = 0
    names = ("key", "label", "kind", "required", "options", "pos", "help", "remove")
    return [{n: form.get(f"q{i}_{n}", "") for n in names} for i in range(max(rows, 0))]


@bp.route("/setup/forms/<uuid:form_id>", methods=["GET", "POST"])
@login_required
async def edit_form(form_id: UUID) -> Any:
    """Build a form's draft; "Publish" saves it and makes it the next version."""
    org_id, actor, _ = _actor()
    if request.method == "GET":
        return await _edit_page(org_id, form_id, saved=SAVED.get(request.args.get("saved", "")))
    form = await request.form
    app = core()
    try:
        questions = parse_questions(form)
        await app.execute_async(
            UpdateForm(
                org_id=org_id,
                form_id=form_id,
                name=_text(form, "name"),
                screening=bool(form.get("screening")),
                questions=questions,
                actor=actor,
            )
        )
        if form.get("action") == "publish":
            await app.execute_async(PublishForm(org_id=org_id, form_id=form_id, actor=actor))
    except (ValidationError, Conflict) as exc:
        typed = {"name": form.get("name", ""), "screening": form.get("screening", ""), "rows": _typed_rows(form)}
        code = 409 if isinstance(exc, Conflict) else 400
        return await _edit_page(org_id, form_id, status=code, error=exc, typed=typed)
    saved = "published" if form.get("action") == "publish" else "saved"
    return redirect(url_for("setup.edit_form", form_id=form_id, saved=saved), 303)
