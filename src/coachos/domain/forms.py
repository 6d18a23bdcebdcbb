"""Forms: intake questionnaires and health screenings, versioned like waivers, answered per version.

A coach edits a form's draft (its name, whether it is a screening, its questions) and publishes it
as version n+1; a published version never changes, and every submission names the version it
answered, so the answers are always read against the questions the client saw.

A form marked as a *screening* decides whether the client may book: any "yes" on the newest
screening means `clearance required` until a coach records clearance after it, and a screening
older than `SCREENING_VALID_FOR` asks for a new one (see `screening_state`).

Answers are special-category (health) data: only ids ever leave the domain in events and logs.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TypeAlias
from uuid import UUID

import attrs

from coachos.domain.checks import check_text
from coachos.domain.errors import PolicyViolation, ValidationError
from coachos.domain.ids import ClientId, CoachId, OrgId
from coachos.domain.timezones import require_utc

#: A stored answer: text (or a yes/no, a date, a number, written as text), or the choices ticked.
Answer: TypeAlias = str | tuple[str, ...]

#: How long a screening counts: about 12 months, after which booking asks for a new one.
SCREENING_VALID_FOR = timedelta(days=365)
MAX_NAME = 120
MAX_LABEL = 300
MAX_HELP = 500
MAX_QUESTIONS = 60
MAX_OPTIONS = 20
MAX_OPTION = 100
MAX_SHORT = 200
MAX_LONG = 5_000
MAX_NOTE = 2_000
#: Dates answered must be of this span of years (a birth date, a surgery, a due date).
FIRST_YEAR, LAST_YEAR = 1900, 2100
#: Numbers answered are at most this large, with at most this many decimals (weights, heights, counts).
MAX_NUMBER = Decimal(1_000_000)
MAX_DECIMALS = 3
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class QuestionKind(enum.StrEnum):
    """What kind of answer a question takes."""

    SHORT_TEXT = "short_text"
    LONG_TEXT = "long_text"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    YES_NO = "yes_no"
    DATE = "date"
    NUMBER = "number"

    @property
    def words(self) -> str:
        """How the kind is named in the builder."""
        return _KIND_TITLES[self]

    @property
    def has_options(self) -> bool:
        """Whether the coach lists the options to choose from."""
        return self in (QuestionKind.CHOICE, QuestionKind.MULTI_CHOICE)


_KIND_TITLES = {
    QuestionKind.SHORT_TEXT: "Short text",
    QuestionKind.LONG_TEXT: "Long text",
    QuestionKind.CHOICE: "Choice (pick one)",
    QuestionKind.MULTI_CHOICE: "Choice (pick any)",
    QuestionKind.YES_NO: "Yes / no",
    QuestionKind.DATE: "Date",
    QuestionKind.NUMBER: "Number",
}


def _kind(value: object) -> QuestionKind:
    try:
        return QuestionKind(value if isinstance(value, str) else "")
    except ValueError:
        allowed = ", ".join(k.value for k in QuestionKind)
        raise ValidationError(f"'{value}' is not a kind of question; use one of: {allowed}.", field="kind") from None


@attrs.frozen
class Question:
    """One question of a form; `key` names its answer and stays the same across versions."""

    key: str
    label: str
    kind: QuestionKind = attrs.field(converter=_kind)
    required: bool = True
    options: tuple[str, ...] = ()
    help: str = ""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.key, str) or not _KEY.match(self.key):
            raise ValidationError("A question's key is a lower-case word (letters, digits, _).", field="key")
        label = check_text(self.label, field="question", max_len=MAX_LABEL)
        if not label.strip():
            raise ValidationError("Every question needs its wording.", field="question")
        check_text(self.help, field="help", max_len=MAX_HELP)
        if not isinstance(self.required, bool):
            raise ValidationError("Required is yes or no.", field="required")
        if self.kind.has_options:
            if not 2 <= len(self.options) <= MAX_OPTIONS:
                raise ValidationError(
                    f"“{label[:60]}” needs 2 to {MAX_OPTIONS} options, one per line.", field="options"
                )
            for option in self.options:
                check_text(option, field="option", max_len=MAX_OPTION)
                if not option.strip() or option != option.strip():
                    raise ValidationError("Options cannot be blank or start or end with spaces.", field="options")
            if len(set(self.options)) != len(self.options):
                raise ValidationError(f"“{label[:60]}” lists an option twice.", field="options")
        elif self.options:
            raise ValidationError("Only choice questions have options.", field="options")


def check_questions(questions: Sequence[Question]) -> tuple[Question, ...]:
    """`questions` if there are at most MAX_QUESTIONS with distinct keys."""
    if len(questions) > MAX_QUESTIONS:
        raise ValidationError(f"A form has at most {MAX_QUESTIONS} questions.", field="questions")
    keys = [q.key for q in questions]
    if len(set(keys)) != len(keys):
        raise ValidationError("Two questions have the same key; each needs its own.", field="questions")
    return tuple(questions)


def check_name(name: object) -> str:
    """A form's name: 1 to MAX_NAME characters on one line."""
    text = check_text(name, field="name", max_len=MAX_NAME).strip()
    if not text:
        raise ValidationError("Give the form a name, e.g. “Intake questionnaire”.", field="name")
    return text


@attrs.frozen
class Form:
    """A form's current draft, which the coach edits, and the number of its newest published version."""

    id: UUID
    org_id: OrgId
    name: str
    screening: bool
    questions: tuple[Question, ...]
    created_at: datetime
    updated_at: datetime
    #: 0 until the first version is published.
    published: int = 0

    def __attrs_post_init__(self) -> None:
        check_name(self.name)
        check_questions(self.questions)
        require_utc(self.created_at, field="created_at")
        require_utc(self.updated_at, field="updated_at")


@attrs.frozen
class FormVersion:
    """A published version: its name, kind and questions exactly as clients answer them. Never changes."""

    id: UUID
    org_id: OrgId
    form_id: UUID
    number: int
    name: str
    screening: bool
    questions: tuple[Question, ...]
    published_at: datetime
    published_by: CoachId | None = None

    def question(self, key: str) -> Question | None:
        """The question answered under `key`, if this version has it."""
        return next((q for q in self.questions if q.key == key), None)


def next_version(form: Form, version_id: UUID, now: datetime, by: CoachId | None) -> FormVersion:
    """The draft of `form` published as its next version; a form needs at least one question."""
    if not form.questions:
        raise ValidationError("Add at least one question before publishing.", field="questions")
    return FormVersion(
        id=version_id,
        org_id=form.org_id,
        form_id=form.id,
        number=form.published + 1,
        name=form.name,
        screening=form.screening,
        questions=form.questions,
        published_at=require_utc(now, field="now"),
        published_by=by,
    )


# ---- answers ----------------------------------------------------------------------------------------------------


def _blank(raw: object) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    return isinstance(raw, (list, tuple)) and not any(isinstance(v, str) and v.strip() for v in raw)


def _one(raw: object, q: Question) -> str:
    if isinstance(raw, (list, tuple)):
        if len(raw) != 1:
            raise ValidationError(f"“{q.label}” takes one answer.", field=q.key)
        raw = raw[0]
    if not isinstance(raw, str):
        raise ValidationError(f"“{q.label}” takes text.", field=q.key)
    # PostgreSQL refuses NUL outright; the other control characters are refused by check_text.
    return check_text(raw, field=q.key, max_len=None, multiline=q.kind is QuestionKind.LONG_TEXT).strip()


def _number(text: str, q: Question) -> str:
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise ValidationError(f"“{q.label}”: type a number, e.g. 72.5.", field=q.key) from None
    if not value.is_finite() or abs(value) > MAX_NUMBER:
        raise ValidationError(f"“{q.label}”: type a number up to {MAX_NUMBER:,}.", field=q.key)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMALS:
        raise ValidationError(f"“{q.label}”: at most {MAX_DECIMALS} decimals.", field=q.key)
    return format(value.normalize(), "f") if value != 0 else "0"


def _date(text: str, q: Question) -> str:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"“{q.label}”: choose a date (year-month-day).", field=q.key) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValidationError(f"“{q.label}”: choose a date between {FIRST_YEAR} and {LAST_YEAR}.", field=q.key)
    return day.isoformat()


def check_answer(q: Question, raw: object) -> Answer:
    """The answer to `q` as stored, from what was typed or ticked; ValidationError naming the question."""
    if q.kind is QuestionKind.MULTI_CHOICE:
        values = raw if isinstance(raw, (list, tuple)) else [raw]
        picked = tuple(dict.fromkeys(_one(v, q) for v in values if isinstance(v, str) and v.strip()))
        if any(not isinstance(v, str) for v in values) or any(v not in q.options for v in picked):
            raise ValidationError(f"“{q.label}”: pick from the options shown.", field=q.key)
        return tuple(o for o in q.options if o in picked)
    text = _one(raw, q)
    match q.kind:
        case QuestionKind.SHORT_TEXT | QuestionKind.LONG_TEXT:
            limit = MAX_SHORT if q.kind is QuestionKind.SHORT_TEXT else MAX_LONG
            if len(text) > limit:
                raise ValidationError(f"“{q.label}” is limited to {limit:,} characters.", field=q.key)
            return text
        case QuestionKind.CHOICE:
            if text not in q.options:
                raise ValidationError(f"“{q.label}”: pick one of the options shown.", field=q.key)
            return text
        case QuestionKind.YES_NO:
            if text not in ("yes", "no"):
                raise ValidationError(f"“{q.label}”: answer yes or no.", field=q.key)
            return text
        case QuestionKind.DATE:
            return _date(text, q)
        case QuestionKind.NUMBER:
            return _number(text, q)
    raise ValidationError(f"“{q.label}” has a kind this version cannot answer.", field=q.key)  # pragma: no cover


def check_answers(version: FormVersion, raw: Mapping[str, object]) -> dict[str, Answer]:
    """The answers to `version` as stored; other keys are ignored, a required question left blank is refused."""
    answers: dict[str, Answer] = {}
    for q in version.questions:
        value = raw.get(q.key)
        if _blank(value):
            if q.required:
                raise ValidationError(f"Please answer “{q.label}”.", field=q.key)
            continue
        answers[q.key] = check_answer(q, value)
    return answers


def any_yes(version: FormVersion, answers: Mapping[str, Answer]) -> bool:
    """Whether a yes/no question was answered yes (on a screening: clearance is needed)."""
    return any(q.kind is QuestionKind.YES_NO and answers.get(q.key) == "yes" for q in version.questions)


@attrs.frozen
class Submission:
    """A client's answers to one published version; stored once and never changed."""

    id: UUID
    org_id: OrgId
    client_id: ClientId
    form_id: UUID
    version_id: UUID
    version_number: int
    screening: bool
    answers: Mapping[str, Answer]
    #: Whether any yes/no question was answered yes.
    flagged: bool
    submitted_at: datetime
    #: Makes a repeated submit of the same link one submission.
    key: str


#: Largest clearance document kept (a scanned letter); the web app's request limit is 1 MiB.
MAX_DOCUMENT = 512 * 1024
#: The kinds of clearance document kept, by their first bytes: what a scan or a letter is saved as.
DOCUMENT_TYPES = {"application/pdf": b"%PDF-", "image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9 ._()-]+")


@attrs.frozen
class Document:
    """A small file kept with a clearance (a doctor's letter): its type is read from its bytes, not trusted."""

    name: str
    content_type: str
    data: bytes = attrs.field(repr=False)


def check_document(name: str, data: bytes) -> Document:
    """A PDF, PNG or JPEG of at most MAX_DOCUMENT bytes, with a name safe to offer back as a download."""
    if not data:
        raise ValidationError("The file is empty; choose the letter again.", field="document")
    if len(data) > MAX_DOCUMENT:
        raise ValidationError(
            f"Files are limited to {MAX_DOCUMENT // 1024} KB; scan at a lower resolution.", field="document"
        )
    kind = next((t for t, magic in DOCUMENT_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise ValidationError("Attach a PDF, PNG or JPEG file.", field="document")
    safe = _UNSAFE_NAME.sub("_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip(" ._")[:100] or "document"
    return Document(safe, kind, data)


@attrs.frozen
class Clearance:
    """A coach's record that the client may train despite a "yes" on a screening (e.g. a doctor's note).

    The document itself is read separately (`FormRepository.clearance_document`); here only its name and type.
    """

    id: UUID
    org_id: OrgId
    client_id: ClientId
    coach_id: CoachId
    note: str
    recorded_at: datetime
    document_name: str | None = None
    document_type: str | None = None

    def __attrs_post_init__(self) -> None:
        note = check_text(self.note, field="note", max_len=MAX_NOTE, multiline=True)
        if not note.strip():
            raise ValidationError("Say what the clearance rests on, e.g. “GP letter of 3 March seen”.", field="note")


@attrs.frozen
class AnswersViewed:
    """A line of the access log: a coach opened a client's answers, or a clearance's document."""

    id: UUID
    org_id: OrgId
    client_id: ClientId
    coach_id: CoachId
    submission_id: UUID | None
    at: datetime
    clearance_id: UUID | None = None


# ---- screening --------------------------------------------------------------------------------------------------


class ScreeningState(enum.StrEnum):
    """Where a client stands with health screening."""

    #: No screening submitted (the coach or an onboarding flow decides whether one is needed first).
    NONE = "none"
    #: The newest screening is all "no" and recent.
    CLEAR = "clear"
    #: The newest screening has a "yes" and no clearance was recorded after it.
    CLEARANCE_REQUIRED = "clearance_required"
    #: The newest screening has a "yes" and a coach recorded clearance after it.
    CLEARED = "cleared"
    #: The newest screening is older than SCREENING_VALID_FOR.
    EXPIRED = "expired"


def screening_state(latest: Submission | None, clearances: Sequence[Clearance], now: datetime) -> ScreeningState:
    """The client's state from their newest screening and the clearances recorded for them."""
    if latest is None:
        return ScreeningState.NONE
    if now - latest.submitted_at > SCREENING_VALID_FOR:
        return ScreeningState.EXPIRED
    if not latest.flagged:
        return ScreeningState.CLEAR
    if any(c.recorded_at >= latest.submitted_at for c in clearances):
        return ScreeningState.CLEARED
    return ScreeningState.CLEARANCE_REQUIRED


class ClearanceRequired(PolicyViolation):
    """Booking waits for the coach's clearance, or for a new screening."""

    code = "clearance_required"


#: Why booking is refused, by state (worded for the client and the coach alike).
BLOCKED: Mapping[ScreeningState, str] = {
    ScreeningState.CLEARANCE_REQUIRED: (
        "Booking is on hold: the health screening answered “yes” to at least one question, so the coach "
        "needs to record clearance (for example a doctor's note) first. Please contact your coach."
    ),
    ScreeningState.EXPIRED: (
        "Booking is on hold: the health screening is more than 12 months old. Please fill in a new one "
        "(your coach can send you the link)."
    ),
}


#: Why booking is refused to someone who only typed a contact (they may not be the client): no health detail.
BLOCKED_FOR_GUEST = (
    "Online booking is on hold for these contact details until your coach has completed a check with you. "
    "Please contact your coach to book."
)


def check_may_book(state: ScreeningState, *, guest: bool = False) -> None:
    """Raise ClearanceRequired with the reason when the screening state holds booking back.

    A `guest` (someone who typed an email or phone on the public page, which proves nothing) is told
    only that booking is on hold: whether a client answered "yes" on a health screening is health data.
    """
    if (reason := BLOCKED.get(state)) is not None:
        raise ClearanceRequired(BLOCKED_FOR_GUEST if guest else reason)
