"""Forms in SQL: drafts, published versions and submissions (both immutable, by trigger), clearances, access log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from coachos.adapters.sql.repos import _Repo
from coachos.adapters.sql.tables import form_answer_views, form_clearances, form_submissions, form_versions, forms
from coachos.domain.errors import NotFound
from coachos.domain.forms import Answer, AnswersViewed, Clearance, Document, Form, FormVersion, Question, Submission
from coachos.domain.ids import ClientId, CoachId, OrgId
from coachos.domain.rows import Rows


def _questions_json(questions: Sequence[Question]) -> list[dict[str, Any]]:
    return [
        {"key": q.key, "label": q.label, "kind": q.kind.value, "required": q.required, "options": list(q.options)}
        | ({"help": q.help} if q.help else {})
        for q in questions
    ]


def _questions(data: Any) -> tuple[Question, ...]:
    if not isinstance(data, list):
        raise TypeError("questions")
    return tuple(
        Question(
            key=q["key"],
            label=q["label"],
            kind=q["kind"],
            required=q["required"],
            options=tuple(q.get("options", ())),
            help=q.get("help", ""),
        )
        for q in data
    )


def _answers(data: Any) -> dict[str, Answer]:
    if not isinstance(data, dict):
        raise TypeError("answers")
    return {str(k): tuple(v) if isinstance(v, list) else str(v) for k, v in data.items()}


def _form(row: Any) -> Form:
    return Form(
        id=row.id,
        org_id=OrgId(row.org_id),
        name=row.name,
        screening=row.screening,
        questions=_questions(row.questions),
        created_at=row.created_at,
        updated_at=row.updated_at,
        published=row.published,
    )


def _version(row: Any) -> FormVersion:
    return FormVersion(
        id=row.id,
        org_id=OrgId(row.org_id),
        form_id=row.form_id,
        number=row.number,
        name=row.name,
        screening=row.screening,
        questions=_questions(row.questions),
        published_at=row.published_at,
        published_by=None if row.published_by is None else CoachId(row.published_by),
    )


def _submission(row: Any) -> Submission:
    return Submission(
        id=row.id,
        org_id=OrgId(row.org_id),
        client_id=ClientId(row.client_id),
        form_id=row.form_id,
        version_id=row.version_id,
        version_number=row.version_number,
        screening=row.screening,
        answers=_answers(row.answers),
        flagged=row.flagged,
        submitted_at=row.submitted_at,
        key=row.key,
    )


def _clearance(row: Any) -> Clearance:
    return Clearance(
        id=row.id,
        org_id=OrgId(row.org_id),
        client_id=ClientId(row.client_id),
        coach_id=CoachId(row.coach_id),
        note=row.note,
        recorded_at=row.recorded_at,
        document_name=row.document_name,
        document_type=row.document_type,
    )


def _view(row: Any) -> AnswersViewed:
    return AnswersViewed(
        id=row.id,
        org_id=OrgId(row.org_id),
        client_id=ClientId(row.client_id),
        coach_id=CoachId(row.coach_id),
        submission_id=row.submission_id,
        at=row.at,
        clearance_id=row.clearance_id,
    )


#: The clearance columns lists read (never the document's bytes).
_CLEARANCE_COLUMNS = [c for c in form_clearances.c if c.name != "document"]
_NEWEST_FIRST = (form_submissions.c.submitted_at.desc(), form_submissions.c.version_number.desc())


class SqlForms(_Repo):
    """Forms in SQL."""

    def add(self, form: Form) -> None:
        """Store a new form."""
        self._c.execute(forms.insert().values(**self._form_values(form)))

    @staticmethod
    def _form_values(form: Form) -> dict[str, Any]:
        return {
            "id": form.id,
            "org_id": form.org_id,
            "name": form.name,
            "screening": form.screening,
            "questions": _questions_json(form.questions),
            "created_at": form.created_at,
            "updated_at": form.updated_at,
            "published": form.published,
        }

    def get(self, org_id: OrgId, form_id: UUID) -> Form:
        """The form, or NotFound."""
        return self._get(forms, sa.select(forms).where(forms.c.org_id == org_id, forms.c.id == form_id), _form, "form")

    def list(self, org_id: OrgId) -> Rows[Form]:
        """Every form, by name."""
        q = sa.select(forms).where(forms.c.org_id == org_id).order_by(sa.func.lower(forms.c.name), forms.c.id)
        return self._all(forms, q, _form)

    def update(self, form: Form) -> None:
        """Replace the draft, or NotFound."""
        values = self._form_values(form)
        del values["id"], values["org_id"], values["created_at"]
        done = self._c.execute(
            forms.update().where(forms.c.org_id == form.org_id, forms.c.id == form.id).values(**values)
        )
        if not done.rowcount:
            raise NotFound("No such form in this business.")

    def publish(self, version: FormVersion) -> None:
        """Store a new version; Conflict when its number is taken (someone published at the same time)."""
        self._insert(
            form_versions,
            {
                "id": version.id,
                "org_id": version.org_id,
                "form_id": version.form_id,
                "number": version.number,
                "name": version.name,
                "screening": version.screening,
                "questions": _questions_json(version.questions),
                "published_at": version.published_at,
                "published_by": version.published_by,
            },
            unique="number",
            message="This form was published by someone else at the same time; reload and try again.",
        )

    def version(self, org_id: OrgId, version_id: UUID) -> FormVersion:
        """A published version, or NotFound."""
        q = sa.select(form_versions).where(form_versions.c.org_id == org_id, form_versions.c.id == version_id)
        return self._get(form_versions, q, _version, "form version")

    def versions(self, org_id: OrgId, form_id: UUID) -> Sequence[FormVersion]:
        """The form's versions, newest first."""
        q = (
            sa.select(form_versions)
            .where(form_versions.c.org_id == org_id, form_versions.c.form_id == form_id)
            .order_by(form_versions.c.number.desc())
        )
        return self._all(form_versions, q, _version)

    def submit(self, submission: Submission) -> Submission:
        """Store the answers unless the key was used; the stored submission."""
        insert = postgresql.insert if self._c.dialect.name == "postgresql" else sqlite.insert
        stmt = (
            insert(form_submissions)
            .values(
                id=submission.id,
                org_id=submission.org_id,
                client_id=submission.client_id,
                form_id=submission.form_id,
                version_id=submission.version_id,
                version_number=submission.version_number,
                screening=submission.screening,
                answers={k: list(v) if isinstance(v, tuple) else v for k, v in submission.answers.items()},
                flagged=submission.flagged,
                submitted_at=submission.submitted_at,
                key=submission.key,
            )
            .on_conflict_do_nothing(index_elements=["org_id", "key"])
        )
        if self._c.execute(stmt.returning(form_submissions.c.id)).first() is not None:
            return submission
        q = sa.select(form_submissions).where(
            form_submissions.c.org_id == submission.org_id, form_submissions.c.key == submission.key
        )
        return self._get(form_submissions, q, _submission, "form submission")

    def submission(self, org_id: OrgId, submission_id: UUID) -> Submission:
        """A submission, or NotFound."""
        q = sa.select(form_submissions).where(
            form_submissions.c.org_id == org_id, form_submissions.c.id == submission_id
        )
        return self._get(form_submissions, q, _submission, "form submission")

    def submissions(self, org_id: OrgId, client_id: ClientId) -> Sequence[Submission]:
        """The client's submissions, newest first."""
        q = (
            sa.select(form_submissions)
            .where(form_submissions.c.org_id == org_id, form_submissions.c.client_id == client_id)
            .order_by(*_NEWEST_FIRST)
        )
        return self._all(form_submissions, q, _submission)

    def latest_screening(self, org_id: OrgId, client_id: ClientId) -> Submission | None:
        """The client's newest screening submission."""
        q = (
            sa.select(form_submissions)
            .where(
                form_submissions.c.org_id == org_id,
                form_submissions.c.client_id == client_id,
                form_submissions.c.screening.is_(True),
            )
            .order_by(*_NEWEST_FIRST)
            .limit(1)
        )
        return self._maybe(form_submissions, q, _submission)

    def completed_current(self, org_id: OrgId, client_id: ClientId, form_id: UUID) -> bool:
        """Whether the client submitted the form's newest version (one statement)."""
        newest = (
            sa.select(form_versions.c.id)
            .where(form_versions.c.org_id == org_id, form_versions.c.form_id == form_id)
            .order_by(form_versions.c.number.desc())
            .limit(1)
            .scalar_subquery()
        )
        q = sa.select(
            sa.exists().where(
                form_submissions.c.org_id == org_id,
                form_submissions.c.client_id == client_id,
                form_submissions.c.version_id == newest,
            )
        )
        return bool(self._c.execute(q).scalar())

    def add_clearance(self, clearance: Clearance, document: Document | None = None) -> None:
        """Keep a clearance and its document."""
        self._c.execute(
            form_clearances.insert().values(
                id=clearance.id,
                org_id=clearance.org_id,
                client_id=clearance.client_id,
                coach_id=clearance.coach_id,
                note=clearance.note,
                recorded_at=clearance.recorded_at,
                document_name=None if document is None else document.name,
                document_type=None if document is None else document.content_type,
                document=None if document is None else document.data,
            )
        )

    def clearance_document(self, org_id: OrgId, clearance_id: UUID) -> Document:
        """The clearance's document, or NotFound."""
        t = form_clearances
        row = self._c.execute(
            sa.select(t.c.document_name, t.c.document_type, t.c.document).where(
                t.c.org_id == org_id, t.c.id == clearance_id, t.c.document.is_not(None)
            )
        ).one_or_none()
        if row is None:
            raise NotFound("No such clearance document in this business.")
        return Document(row.document_name or "document", row.document_type, bytes(row.document))

    def clearances(self, org_id: OrgId, client_id: ClientId) -> Sequence[Clearance]:
        """The client's clearances, newest first."""
        q = (
            sa.select(*_CLEARANCE_COLUMNS)
            .where(form_clearances.c.org_id == org_id, form_clearances.c.client_id == client_id)
            .order_by(form_clearances.c.recorded_at.desc())
        )
        return self._all(form_clearances, q, _clearance)

    def log_view(self, viewed: AnswersViewed) -> None:
        """Record a coach opening answers."""
        self._c.execute(
            form_answer_views.insert().values(
                id=viewed.id,
                org_id=viewed.org_id,
                client_id=viewed.client_id,
                coach_id=viewed.coach_id,
                submission_id=viewed.submission_id,
                clearance_id=viewed.clearance_id,
                at=viewed.at,
            )
        )

    def views(self, org_id: OrgId, client_id: ClientId, limit: int = 100) -> Sequence[AnswersViewed]:
        """Who opened the client's answers, newest first."""
        q = (
            sa.select(form_answer_views)
            .where(form_answer_views.c.org_id == org_id, form_answer_views.c.client_id == client_id)
            .order_by(form_answer_views.c.at.desc())
            .limit(limit)
        )
        return self._all(form_answer_views, q, _view)
