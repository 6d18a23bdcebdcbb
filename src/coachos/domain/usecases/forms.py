"""Use cases for forms: build and publish versions, submit answers, read them (logged), clearance, send the link.

What others call:
- `form_completed(uow, org_id, client_id, form_id)`, or the repository's `uow.forms.completed_current`
  directly: whether the client answered the form's newest published version (onboarding steps);
- `check_screening(uow, org_id, client_id, now)`: raises `ClearanceRequired` (a PolicyViolation) with the
  reason when the client's screening holds booking back; `book_session` and `book_as_guest` call it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

import attrs

from coachos.domain.errors import NotFound, ValidationError
from coachos.domain.events import ClearanceRecorded, FormSubmitted
from coachos.domain.forms import (
    SCREENING_VALID_FOR,
    AnswersViewed,
    Clearance,
    Document,
    Form,
    FormVersion,
    Question,
    ScreeningState,
    Submission,
    any_yes,
    check_answers,
    check_document,
    check_may_book,
    check_name,
    check_questions,
    next_version,
    screening_state,
)
from coachos.domain.ids import Actor, ClientId, CoachId, OrgId
from coachos.domain.messages import Message, MessageChannel
from coachos.domain.screening_template import NAME as SCREENING_NAME
from coachos.domain.screening_template import health_screening
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases._client_links import queue_client_link
from coachos.ports.storage import UnitOfWork


def _coach(actor: Actor) -> CoachId:
    if actor.kind != "coach" or actor.id is None:
        raise ValidationError("Only the business's coaches can do this.", field="actor")
    return CoachId(actor.id)


# ---- queries other parts use ------------------------------------------------------------------------------------


def form_completed(
    uow: UnitOfWork, org_id: OrgId, client_id: ClientId, form_id: UUID, now: datetime | None = None
) -> bool:
    """Whether the client answered the newest published version of the form (onboarding's "fill form Y").

    Given `now`, a screening answered more than 12 months before counts as not done (a new one is due).
    """
    if not uow.forms.completed_current(org_id, client_id, form_id):
        return False
    if now is None:
        return True
    newest = next((s for s in uow.forms.submissions(org_id, client_id) if s.form_id == form_id), None)
    return newest is not None and (not newest.screening or now - newest.submitted_at <= SCREENING_VALID_FOR)


def client_screening(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, now: datetime) -> ScreeningState:
    """Where the client stands with health screening at `now`."""
    return screening_state(uow.forms.latest_screening(org_id, client_id), uow.forms.clearances(org_id, client_id), now)


def check_screening(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, now: datetime, *, guest: bool = False) -> None:
    """Raise ClearanceRequired, saying why (without health detail to a `guest`), when the screening holds booking."""
    check_may_book(client_screening(uow, org_id, client_id, now), guest=guest)


# ---- building -----------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CreateForm(Command[Form]):
    """A new form with a draft; nothing is published until PublishForm."""

    org_id: OrgId
    name: str
    screening: bool = False
    questions: tuple[Question, ...] = ()
    actor: Actor


@attrs.frozen(kw_only=True)
class CreateHealthScreening(Command[Form]):
    """A new screening form from Coach OS's health-screening template, ready to edit or publish."""

    org_id: OrgId
    actor: Actor


@attrs.frozen(kw_only=True)
class UpdateForm(Command[Form]):
    """Replace a form's draft: name, screening or not, questions (published versions stay as they were)."""

    org_id: OrgId
    form_id: UUID
    name: str
    screening: bool
    questions: tuple[Question, ...]
    actor: Actor


@attrs.frozen(kw_only=True)
class PublishForm(Command[FormVersion]):
    """Publish the form's draft as its next version."""

    org_id: OrgId
    form_id: UUID
    actor: Actor


def _new_form(cmd: CreateForm | CreateHealthScreening, deps: Deps, form: Form) -> Form:
    _coach(cmd.actor)
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        uow.forms.add(form)
        uow.commit()
    return form


@handles(CreateForm)
def create_form(cmd: CreateForm, deps: Deps) -> Form:
    """Store the new form's draft."""
    now = deps.clock.now()
    form = Form(
        id=deps.ids.new_id(),
        org_id=cmd.org_id,
        name=check_name(cmd.name),
        screening=cmd.screening,
        questions=check_questions(cmd.questions),
        created_at=now,
        updated_at=now,
    )
    return _new_form(cmd, deps, form)


@handles(CreateHealthScreening)
def create_health_screening(cmd: CreateHealthScreening, deps: Deps) -> Form:
    """Store a screening form holding the template's questions."""
    now = deps.clock.now()
    form = Form(
        id=deps.ids.new_id(),
        org_id=cmd.org_id,
        name=SCREENING_NAME,
        screening=True,
        questions=health_screening(),
        created_at=now,
        updated_at=now,
    )
    return _new_form(cmd, deps, form)


@handles(UpdateForm)
def update_form(cmd: UpdateForm, deps: Deps) -> Form:
    """Replace the draft."""
    _coach(cmd.actor)
    name, questions = check_name(cmd.name), check_questions(cmd.questions)
    with deps.uow() as uow:
        form = attrs.evolve(
            uow.forms.get(cmd.org_id, cmd.form_id),
            name=name,
            screening=cmd.screening,
            questions=questions,
            updated_at=deps.clock.now(),
        )
        uow.forms.update(form)
        uow.commit()
    return form


@handles(PublishForm)
def publish_form(cmd: PublishForm, deps: Deps) -> FormVersion:
    """Store the draft as version n+1; an unchanged draft is refused (its version is already published)."""
    coach = _coach(cmd.actor)
    with deps.uow() as uow:
        form = uow.forms.get(cmd.org_id, cmd.form_id)
        newest = next(iter(uow.forms.versions(cmd.org_id, form.id)), None)
        if newest is not None and (newest.name, newest.screening, newest.questions) == (
            form.name,
            form.screening,
            form.questions,
        ):
            raise ValidationError(f"Version {newest.number} already has exactly this; change something first.")
        version = next_version(form, deps.ids.new_id(), deps.clock.now(), coach)
        uow.forms.publish(version)
        uow.forms.update(attrs.evolve(form, published=version.number))
        uow.commit()
    return version


@attrs.frozen
class FormSummary:
    """A form on the Setup list: its draft and its published versions, newest first."""

    form: Form
    versions: tuple[FormVersion, ...]

    @property
    def unpublished_changes(self) -> bool:
        """Whether the draft differs from the newest version (or nothing is published yet)."""
        if not self.versions:
            return True
        v = self.versions[0]
        return (v.name, v.screening, v.questions) != (self.form.name, self.form.screening, self.form.questions)


@attrs.frozen(kw_only=True)
class ListForms(Command[tuple[FormSummary, ...]]):
    """The business's forms with their versions."""

    org_id: OrgId


@handles(ListForms)
def list_forms(cmd: ListForms, deps: Deps) -> tuple[FormSummary, ...]:
    """Every form, by name."""
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        return tuple(FormSummary(f, tuple(uow.forms.versions(cmd.org_id, f.id))) for f in uow.forms.list(cmd.org_id))


# ---- answering ----------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SubmitForm(Command[Submission]):
    """A client's answers to the form's newest version; the same `key` twice stores one submission."""

    org_id: OrgId
    client_id: ClientId
    form_id: UUID
    #: The version the client was shown; answers to an older one are refused (the page is reloaded).
    version_id: UUID
    answers: Mapping[str, object]
    key: str


def submit_key(token: str) -> str:
    """The key of a submission made through a signed link: one submission per link."""
    return "link:" + hashlib.sha256(token.encode()).hexdigest()


@handles(SubmitForm)
def submit_form(cmd: SubmitForm, deps: Deps) -> Submission:
    """Check every answer against the version and store them once, with an event that carries ids only."""
    if not 1 <= len(cmd.key) <= 100:
        raise ValidationError("A submission key is 1 to 100 characters.", field="key")
    now = deps.clock.now()
    with deps.uow() as uow:
        uow.clients.get(cmd.org_id, cmd.client_id)
        versions = uow.forms.versions(cmd.org_id, cmd.form_id)
        if not versions:
            raise NotFound("This form is not published yet; please ask your coach.")
        version = versions[0]
        if version.id != cmd.version_id:
            raise ValidationError("This form was updated while you were filling it in; please reload the page.")
        answers = check_answers(version, cmd.answers)
        wanted = Submission(
            id=deps.ids.new_id(),
            org_id=cmd.org_id,
            client_id=cmd.client_id,
            form_id=version.form_id,
            version_id=version.id,
            version_number=version.number,
            screening=version.screening,
            answers=answers,
            flagged=any_yes(version, answers),
            submitted_at=now,
            key=cmd.key,
        )
        kept = uow.forms.submit(wanted)
        if kept.id == wanted.id:
            actor = str(Actor("client", cmd.client_id))
            uow.emit(
                FormSubmitted(
                    org_id=cmd.org_id,
                    occurred_at=now,
                    actor=actor,
                    client_id=cmd.client_id,
                    form_id=version.form_id,
                    submission_id=kept.id,
                )
            )
        uow.commit()
    return kept


@attrs.frozen
class FormToFill:
    """What the client's page shows: the business, the newest version, and an earlier submission of this link."""

    org_name: str
    version: FormVersion
    done: Submission | None


@attrs.frozen(kw_only=True)
class OpenForm(Command[FormToFill]):
    """The form a signed link names, for the client to fill in (the link's key says whether it was used)."""

    org_id: OrgId
    client_id: ClientId
    form_id: UUID
    key: str


@handles(OpenForm)
def open_form(cmd: OpenForm, deps: Deps) -> FormToFill:
    """The newest version; NotFound when the client or the form is gone or nothing is published."""
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        uow.clients.get(cmd.org_id, cmd.client_id)
        versions = uow.forms.versions(cmd.org_id, cmd.form_id)
        if not versions:
            raise NotFound("This form is not available; please ask your coach for a new link.")
        done = next((s for s in uow.forms.submissions(cmd.org_id, cmd.client_id) if s.key == cmd.key), None)
    return FormToFill(org.name, versions[0], done)


# ---- the coach's side ---------------------------------------------------------------------------------------------


@attrs.frozen
class Answers:
    """A submission with the version it answered."""

    submission: Submission
    version: FormVersion


@attrs.frozen(kw_only=True)
class ReadAnswers(Command[Answers]):
    """A coach opens a client's answers; the opening is recorded in the access log first."""

    org_id: OrgId
    client_id: ClientId
    submission_id: UUID
    actor: Actor


@handles(ReadAnswers)
def read_answers(cmd: ReadAnswers, deps: Deps) -> Answers:
    """Log the view and return the answers in the same transaction: no view goes unrecorded."""
    coach = _coach(cmd.actor)
    with deps.uow() as uow:
        uow.coaches.get(cmd.org_id, coach)
        submission = uow.forms.submission(cmd.org_id, cmd.submission_id)
        if submission.client_id != cmd.client_id:
            raise NotFound("No such form submission for this client.")
        version = uow.forms.version(cmd.org_id, submission.version_id)
        uow.forms.log_view(
            AnswersViewed(
                id=deps.ids.new_id(),
                org_id=cmd.org_id,
                client_id=cmd.client_id,
                coach_id=coach,
                submission_id=submission.id,
                at=deps.clock.now(),
            )
        )
        uow.commit()
    return Answers(submission, version)


@attrs.frozen(kw_only=True)
class RecordClearance(Command[Clearance]):
    """A coach records that the client may book despite a "yes" on the screening, and on what it rests.

    A document (a doctor's letter: PDF, PNG or JPEG of at most 512 KB) may be kept with it.
    """

    org_id: OrgId
    client_id: ClientId
    note: str
    actor: Actor
    document: bytes | None = None
    document_name: str = ""


@handles(RecordClearance)
def record_clearance(cmd: RecordClearance, deps: Deps) -> Clearance:
    """Keep the clearance (append-only) with an event carrying ids only."""
    coach = _coach(cmd.actor)
    now = deps.clock.now()
    document = None if cmd.document is None else check_document(cmd.document_name, cmd.document)
    clearance = Clearance(
        id=deps.ids.new_id(),
        org_id=cmd.org_id,
        client_id=cmd.client_id,
        coach_id=coach,
        note=cmd.note.replace("\r\n", "\n").strip(),
        recorded_at=now,
        document_name=None if document is None else document.name,
        document_type=None if document is None else document.content_type,
    )
    with deps.uow() as uow:
        uow.coaches.get(cmd.org_id, coach)
        uow.clients.get(cmd.org_id, cmd.client_id)
        uow.forms.add_clearance(clearance, document)
        uow.emit(
            ClearanceRecorded(
                org_id=cmd.org_id,
                occurred_at=now,
                actor=str(cmd.actor),
                client_id=cmd.client_id,
                clearance_id=clearance.id,
            )
        )
        uow.commit()
    return clearance


@attrs.frozen(kw_only=True)
class ReadClearanceDocument(Command[Document]):
    """A coach opens the document kept with a clearance; the opening is recorded in the access log first."""

    org_id: OrgId
    client_id: ClientId
    clearance_id: UUID
    actor: Actor


@handles(ReadClearanceDocument)
def read_clearance_document(cmd: ReadClearanceDocument, deps: Deps) -> Document:
    """Log the view and return the document in the same transaction."""
    coach = _coach(cmd.actor)
    with deps.uow() as uow:
        uow.coaches.get(cmd.org_id, coach)
        if not any(c.id == cmd.clearance_id for c in uow.forms.clearances(cmd.org_id, cmd.client_id)):
            raise NotFound("No such clearance document for this client.")
        document = uow.forms.clearance_document(cmd.org_id, cmd.clearance_id)
        uow.forms.log_view(
            AnswersViewed(
                id=deps.ids.new_id(),
                org_id=cmd.org_id,
                client_id=cmd.client_id,
                coach_id=coach,
                submission_id=None,
                clearance_id=cmd.clearance_id,
                at=deps.clock.now(),
            )
        )
        uow.commit()
    return document


@attrs.frozen
class ClientForms:
    """The client's Forms panel: submissions (without answers), screening state, clearances, access log."""

    submissions: tuple[Submission, ...]
    versions: Mapping[UUID, FormVersion]
    state: ScreeningState
    clearances: tuple[Clearance, ...]
    views: tuple[AnswersViewed, ...]
    forms: tuple[Form, ...]


def client_forms(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, now: datetime) -> ClientForms:
    """Read the panel's data (no answers are shown on it, so reading it is not logged)."""
    subs = tuple(uow.forms.submissions(org_id, client_id))
    versions = {s.version_id: uow.forms.version(org_id, s.version_id) for s in subs}
    published = tuple(f for f in uow.forms.list(org_id) if f.published)
    return ClientForms(
        submissions=subs,
        versions=versions,
        state=client_screening(uow, org_id, client_id, now),
        clearances=tuple(uow.forms.clearances(org_id, client_id)),
        views=tuple(uow.forms.views(org_id, client_id)),
        forms=published,
    )


# ---- sending the link ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SendFormLink(Command[Message]):
    """Queue a text or an email to the client with their signed link to fill in a form."""

    org_id: OrgId
    client_id: ClientId
    form_id: UUID
    channel: str
    actor: Actor


def _channel(value: str) -> MessageChannel:
    try:
        return MessageChannel(value)
    except ValueError:
        raise ValidationError("Send the link by 'sms' or 'email'.", field="channel") from None


@handles(SendFormLink)
def send_form_link(cmd: SendFormLink, deps: Deps) -> Message:
    """Write the message in this transaction (the worker sends it, consent permitting; not held by quiet hours)."""
    _coach(cmd.actor)
    channel = _channel(cmd.channel)
    now = deps.clock.now()
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        client = uow.clients.get(cmd.org_id, cmd.client_id)
        form = uow.forms.get(cmd.org_id, cmd.form_id)
        if not form.published:
            raise ValidationError("Publish the form before sending it.", field="form_id")
        link = deps.links.fill_form(cmd.org_id, cmd.client_id, cmd.form_id, slug=org.slug)
        message = queue_client_link(
            uow,
            deps,
            client,
            channel,
            key=f"form-link:{cmd.form_id}:{cmd.client_id}",
            body=f"Hi {client.name.split()[0]}, {org.name} asks you to fill in “{form.name}”: {link}",
            subject=f"{org.name}: please fill in {form.name}",
            template="form_link",
            now=now,
        )
        uow.commit()
    return message
