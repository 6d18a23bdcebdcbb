"""Forms in memory: versions and submissions are only ever added, as the database's triggers enforce."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from coachos.adapters.memory._repos import _Repo, _scoped
from coachos.domain.errors import Conflict, NotFound
from coachos.domain.forms import AnswersViewed, Clearance, Document, Form, FormVersion, Submission
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.rows import Rows


class MemoryForms(_Repo):
    """Forms in memory."""

    def add(self, form: Form) -> None:
        """Store a new form."""
        self._t.forms[form.id] = form

    def get(self, org_id: OrgId, form_id: UUID) -> Form:
        """The form, or NotFound."""
        return _scoped(self._t.forms, org_id, form_id, "form")

    def list(self, org_id: OrgId) -> Rows[Form]:
        """Every form, by name."""
        return Rows(sorted((f for f in self._t.forms.values() if f.org_id == org_id), key=lambda f: f.name.lower()))

    def update(self, form: Form) -> None:
        """Replace the form's draft, or NotFound."""
        _scoped(self._t.forms, form.org_id, form.id, "form")
        self._t.forms[form.id] = form

    def publish(self, version: FormVersion) -> None:
        """Store a new version; Conflict on a taken number."""
        _scoped(self._t.forms, version.org_id, version.form_id, "form")
        if any(v.form_id == version.form_id and v.number == version.number for v in self._t.form_versions.values()):
            raise Conflict("This form was published by someone else at the same time; reload and try again.")
        self._t.form_versions[version.id] = version

    def version(self, org_id: OrgId, version_id: UUID) -> FormVersion:
        """A published version, or NotFound."""
        return _scoped(self._t.form_versions, org_id, version_id, "form version")

    def versions(self, org_id: OrgId, form_id: UUID) -> Sequence[FormVersion]:
        """The form's versions, newest first."""
        mine = [v for v in self._t.form_versions.values() if v.org_id == org_id and v.form_id == form_id]
        return sorted(mine, key=lambda v: v.number, reverse=True)

    def submit(self, submission: Submission) -> Submission:
        """Store the answers once per (org, key)."""
        for earlier in self._t.form_submissions.values():
            if earlier.org_id == submission.org_id and earlier.key == submission.key:
                return earlier
        version = self.version(submission.org_id, submission.version_id)
        if (version.form_id, version.number) != (submission.form_id, submission.version_number):
            raise NotFound("No such form version in this business.")
        self._t.form_submissions[submission.id] = submission
        return submission

    def submission(self, org_id: OrgId, submission_id: UUID) -> Submission:
        """A submission, or NotFound."""
        return _scoped(self._t.form_submissions, org_id, submission_id, "form submission")

    def submissions(self, org_id: OrgId, client_id: ClientId) -> Sequence[Submission]:
        """The client's submissions, newest first."""
        mine = [s for s in self._t.form_submissions.values() if s.org_id == org_id and s.client_id == client_id]
        return sorted(mine, key=lambda s: (s.submitted_at, s.version_number), reverse=True)

    def latest_screening(self, org_id: OrgId, client_id: ClientId) -> Submission | None:
        """The client's newest screening submission."""
        return next((s for s in self.submissions(org_id, client_id) if s.screening), None)

    def completed_current(self, org_id: OrgId, client_id: ClientId, form_id: UUID) -> bool:
        """Whether the client submitted the form's newest version."""
        newest = next(iter(self.versions(org_id, form_id)), None)
        return newest is not None and any(s.version_id == newest.id for s in self.submissions(org_id, client_id))

    def add_clearance(self, clearance: Clearance, document: Document | None = None) -> None:
        """Keep a clearance and its document."""
        self._t.form_clearances.append(clearance)
        if document is not None:
            self._t.form_documents[clearance.id] = document

    def clearance_document(self, org_id: OrgId, clearance_id: UUID) -> Document:
        """The clearance's document, or NotFound."""
        mine = any(c.id == clearance_id and c.org_id == org_id for c in self._t.form_clearances)
        document = self._t.form_documents.get(clearance_id)
        if not mine or document is None:
            raise NotFound("No such clearance document in this business.")
        return document

    def clearances(self, org_id: OrgId, client_id: ClientId) -> Sequence[Clearance]:
        """The client's clearances, newest first."""
        mine = [c for c in self._t.form_clearances if c.org_id == org_id and c.client_id == client_id]
        return sorted(mine, key=lambda c: c.recorded_at, reverse=True)

    def log_view(self, viewed: AnswersViewed) -> None:
        """Record a coach opening answers."""
        self._t.form_views.append(viewed)

    def views(self, org_id: OrgId, client_id: ClientId, limit: int = 100) -> Sequence[AnswersViewed]:
        """Who opened the client's answers, newest first."""
        mine = [v for v in self._t.form_views if v.org_id == org_id and v.client_id == client_id]
        return sorted(mine, key=lambda v: v.at, reverse=True)[:limit]
