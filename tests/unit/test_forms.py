"""Forms: the builder's checks, answers per kind, versions, one submission per link, screening and clearance.

Runs on the fakes here and on SQLite and PostgreSQL in tests/integration/test_forms_on_databases.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID

import attrs
import pytest

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.domain.errors import NotFound, ValidationError
from coachos.domain.events import FormSubmitted
from coachos.domain.forms import (
    MAX_DOCUMENT,
    MAX_LONG,
    MAX_SHORT,
    ClearanceRequired,
    Form,
    FormVersion,
    Question,
    QuestionKind,
    ScreeningState,
    check_answer,
    check_answers,
    check_document,
)
from coachos.domain.messages import MessageChannel, Purpose
from coachos.domain.screening_template import health_screening
from coachos.domain.usecases import (
    BookAsGuest,
    BookSession,
    CreateForm,
    CreateHealthScreening,
    ListForms,
    OpenForm,
    PublishForm,
    ReadAnswers,
    ReadClearanceDocument,
    RecordClearance,
    SendFormLink,
    SubmitForm,
    UpdateForm,
)
from coachos.domain.usecases.forms import client_forms, client_screening, form_completed, submit_key
from tests.helpers import World

Q = QuestionKind


def q(kind: QuestionKind, *, key: str = "a", required: bool = True, options: tuple[str, ...] = ()) -> Question:
    return Question(key, "The question", kind, required=required, options=options)


def version_of(*questions: Question) -> FormVersion:
    return FormVersion(
        id=UUID(int=1),
        org_id=UUID(int=2),  # type: ignore[arg-type]
        form_id=UUID(int=3),
        number=1,
        name="Intake",
        screening=False,
        questions=questions,
        published_at=datetime(2026, 3, 2, tzinfo=UTC),
    )


def intake(app: CoachOS, world: World) -> Form:
    questions = (
        Question("goal", "Your main goal", Q.SHORT_TEXT),
        Question("level", "How active are you?", Q.CHOICE, options=("Not yet", "Sometimes", "Often")),
        Question("notes", "Anything else?", Q.LONG_TEXT, required=False),
    )
    return app.execute(CreateForm(org_id=world.org.id, name="Intake", questions=questions, actor=world.me))


def screening(app: CoachOS, world: World) -> tuple[Form, FormVersion]:
    form = app.execute(CreateHealthScreening(org_id=world.org.id, actor=world.me))
    return form, app.execute(PublishForm(org_id=world.org.id, form_id=form.id, actor=world.me))


def answer(
    app: CoachOS, world: World, version: FormVersion, answers: dict[str, Any], *, key: str = "k1", client: Any = None
) -> Any:
    return app.execute(
        SubmitForm(
            org_id=world.org.id,
            client_id=client or world.client.id,
            form_id=version.form_id,
            version_id=version.id,
            answers=answers,
            key=key,
        )
    )


def submitted_events(uow: Any, world: World) -> list[FormSubmitted]:
    """The business's FormSubmitted events (the outbox serves every business of a shared database)."""
    return [e for e in uow.outbox.pending(limit=100_000) if isinstance(e, FormSubmitted) and e.org_id == world.org.id]


def all_no(version: FormVersion, **yes: str) -> dict[str, str]:
    return {q.key: "no" for q in version.questions} | yes


def book(app: CoachOS, world: World, clock: FixedClock, *, days: int = 1) -> Any:
    day = (clock.now().astimezone(world.org.tz) + timedelta(days=days)).date()
    start = datetime.combine(day, time(10), tzinfo=world.org.tz).astimezone(UTC)
    return app.execute(
        BookSession(
            org_id=world.org.id,
            coach_id=world.coach.id,
            service_id=world.pt.id,
            client_id=world.client.id,
            start=start,
            actor=world.me,
        )
    )


class TestBuilder:
    def test_choice_questions_need_options(self) -> None:
        """A choice without at least two options is refused, naming the options field."""
        with pytest.raises(ValidationError, match="2 to 20 options") as caught:
            q(Q.CHOICE, options=("Only",))
        assert caught.value.field == "options"

    def test_only_choice_questions_have_options(self) -> None:
        """Options on a yes/no question are refused."""
        with pytest.raises(ValidationError, match="Only choice"):
            q(Q.YES_NO, options=("a", "b"))

    def test_repeated_options_and_unknown_kinds_are_refused(self) -> None:
        """An option listed twice and a kind that does not exist are each refused."""
        with pytest.raises(ValidationError, match="twice"):
            q(Q.CHOICE, options=("a", "a"))
        with pytest.raises(ValidationError, match="not a kind"):
            Question("a", "Q", "essay")

    def test_a_question_needs_wording_without_control_characters(self) -> None:
        """A blank wording or one with NUL is refused."""
        with pytest.raises(ValidationError, match="wording"):
            Question("a", "  ", Q.SHORT_TEXT)
        with pytest.raises(ValidationError, match="control character"):
            Question("a", "Bad\x00", Q.SHORT_TEXT)

    def test_two_questions_with_one_key_are_refused(self, app: CoachOS, world: World) -> None:
        """A form whose questions share a key is refused and nothing is stored."""
        twins = (q(Q.SHORT_TEXT), q(Q.NUMBER))
        with pytest.raises(ValidationError, match="same key"):
            app.execute(CreateForm(org_id=world.org.id, name="Twins", questions=twins, actor=world.me))
        assert app.execute(ListForms(org_id=world.org.id)) == ()

    def test_publishing_needs_a_question_and_a_change(self, app: CoachOS, world: World) -> None:
        """An empty form cannot be published, nor the same draft twice."""
        empty = app.execute(CreateForm(org_id=world.org.id, name="Empty", actor=world.me))
        with pytest.raises(ValidationError, match="at least one question"):
            app.execute(PublishForm(org_id=world.org.id, form_id=empty.id, actor=world.me))
        form = intake(app, world)
        app.execute(PublishForm(org_id=world.org.id, form_id=form.id, actor=world.me))
        with pytest.raises(ValidationError, match="already has exactly this"):
            app.execute(PublishForm(org_id=world.org.id, form_id=form.id, actor=world.me))

    def test_the_template_is_our_own_yes_no_screening(self, app: CoachOS, world: World) -> None:
        """The health-screening template makes a screening of eight required yes/no questions."""
        form, version = screening(app, world)
        assert form.screening
        assert version.screening
        assert version.number == 1
        assert len(version.questions) == 8
        assert all(x.kind is Q.YES_NO and x.required for x in version.questions)
        assert not any("PAR-Q" in x.label for x in health_screening())


class TestVersions:
    def test_editing_makes_a_new_version_and_keeps_the_old(self, app: CoachOS, world: World) -> None:
        """Version 1 keeps its questions after the draft changes and version 2 is published."""
        form = intake(app, world)
        v1 = app.execute(PublishForm(org_id=world.org.id, form_id=form.id, actor=world.me))
        extra = (*form.questions, Question("age", "Your age", Q.NUMBER))
        app.execute(
            UpdateForm(
                org_id=world.org.id, form_id=form.id, name="Intake", screening=False, questions=extra, actor=world.me
            )
        )
        v2 = app.execute(PublishForm(org_id=world.org.id, form_id=form.id, actor=world.me))
        assert (v1.number, v2.number) == (1, 2)
        stored = app.read(lambda uow: uow.forms.version(world.org.id, v1.id))
        assert stored.questions == form.questions
        [summary] = app.execute(ListForms(org_id=world.org.id))
        assert [v.number for v in summary.versions] == [2, 1]
        assert not summary.unpublished_changes

    def test_answers_are_stored_against_their_version(self, app: CoachOS, world: World) -> None:
        """A submission names the version it answered, and answers to an older version are refused."""
        form = intake(app, world)
        v1 = app.execute(PublishForm(org_id=world.org.id, form_id=form.id, actor=world.me))
        sub = answer(app, world, v1, {"goal": "Run 5k", "level": "Sometimes"})
        assert (sub.version_id, sub.version_number) == (v1.id, 1)
        app.execute(UpdateForm(org_id=world.org.id, form_id=form.id, name="Intake 2", screening=False,
                               questions=form.questions, actor=world.me))  # fmt: skip
        app.execute(PublishForm(org_id=world.org.id, form_id=form.id, actor=world.me))
        with pytest.raises(ValidationError, match="reload"):
            answer(app, world, v1, {"goal": "Run 5k", "level": "Sometimes"}, key="k2")

    def test_completed_current_follows_the_newest_version(self, app: CoachOS, world: World) -> None:
        """The query onboarding uses is false before answering, true after, and false again after a new version."""
        form = intake(app, world)

        def done() -> bool:
            return app.read(lambda uow: form_completed(uow, world.org.id, world.client.id, form.id))

        assert not done()
        v1 = app.execute(PublishForm(org_id=world.org.id, form_id=form.id, actor=world.me))
        assert not done()
        answer(app, world, v1, {"goal": "Run", "level": "Often"})
        assert done()
        assert app.read(lambda uow: uow.forms.completed_current(world.org.id, world.client.id, form.id))
        app.execute(UpdateForm(org_id=world.org.id, form_id=form.id, name="Intake v2", screening=False,
                               questions=form.questions, actor=world.me))  # fmt: skip
        app.execute(PublishForm(org_id=world.org.id, form_id=form.id, actor=world.me))
        assert not done()

    def test_a_screening_older_than_a_year_is_not_done_given_the_time(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """With `now`, a screening answered over 12 months ago no longer counts as done; without it, it does."""
        form, version = screening(app, world)
        answer(app, world, version, all_no(version))
        clock.advance(timedelta(days=366))
        args = (world.org.id, world.client.id, form.id)
        assert app.read(lambda uow: form_completed(uow, *args))
        assert not app.read(lambda uow: form_completed(uow, *args, now=clock.now()))
        answer(app, world, version, all_no(version), key="k2")
        assert app.read(lambda uow: form_completed(uow, *args, now=clock.now()))


class TestAnswers:
    @pytest.mark.parametrize(
        ("kind", "raw", "stored"),
        [
            (Q.SHORT_TEXT, "  Run a 5k ", "Run a 5k"),
            (Q.LONG_TEXT, "Line one\r\nLine two", "Line one\r\nLine two"),
            (Q.YES_NO, "yes", "yes"),
            (Q.DATE, "1990-04-01", "1990-04-01"),
            (Q.NUMBER, "72.50", "72.5"),
            (Q.NUMBER, "-3", "-3"),
            (Q.NUMBER, "0.000", "0"),
        ],
    )
    def test_each_kind_stores_its_answer(self, kind: QuestionKind, raw: str, stored: str) -> None:
        """A valid answer is stored in its one written form."""
        assert check_answer(q(kind), raw) == stored

    @pytest.mark.parametrize(
        ("kind", "raw", "message"),
        [
            (Q.SHORT_TEXT, "x" * (MAX_SHORT + 1), "limited to"),
            (Q.LONG_TEXT, "x" * (MAX_LONG + 1), "limited to"),
            (Q.SHORT_TEXT, "nul\x00here", "control character"),
            (Q.LONG_TEXT, "nul\x00here", "control character"),
            (Q.YES_NO, "maybe", "yes or no"),
            (Q.DATE, "1850-01-01", "between 1900 and 2100"),
            (Q.DATE, "2026-02-30", "choose a date"),
            (Q.NUMBER, "1e9", "up to"),
            (Q.NUMBER, "NaN", "up to"),
            (Q.NUMBER, "Infinity", "up to"),
            (Q.NUMBER, "1.23456", "decimals"),
            (Q.NUMBER, "twelve", "type a number"),
        ],
    )
    def test_bad_answers_are_refused_naming_the_question(self, kind: QuestionKind, raw: str, message: str) -> None:
        """Each out-of-bounds answer is a ValidationError naming the question's key."""
        with pytest.raises(ValidationError, match=message) as caught:
            check_answer(q(kind), raw)
        assert caught.value.field == "a"

    def test_choices_come_from_the_options(self) -> None:
        """One choice must be an option; several are kept in the options' order, each once."""
        one, many = q(Q.CHOICE, options=("A", "B")), q(Q.MULTI_CHOICE, options=("A", "B", "C"))
        assert check_answer(one, "B") == "B"
        with pytest.raises(ValidationError, match="pick one"):
            check_answer(one, "Z")
        assert check_answer(many, ["C", "A", "C"]) == ("A", "C")
        with pytest.raises(ValidationError, match="pick from"):
            check_answer(many, ["A", "Z"])

    def test_required_and_optional_questions(self) -> None:
        """A required question left blank is refused; a blank optional one is left out; other keys are ignored."""
        version = version_of(q(Q.SHORT_TEXT, key="a"), q(Q.NUMBER, key="b", required=False))
        assert check_answers(version, {"a": "x", "b": " ", "csrf_token": "t"}) == {"a": "x"}
        with pytest.raises(ValidationError, match="Please answer") as caught:
            check_answers(version, {"a": "", "b": "3"})
        assert caught.value.field == "a"

    def test_a_refused_submission_stores_nothing(self, app: CoachOS, world: World) -> None:
        """A submission with one bad answer stores no answers and emits no event."""
        _, version = screening(app, world)
        with pytest.raises(ValidationError):
            answer(app, world, version, all_no(version, heart="perhaps"))
        assert app.read(lambda uow: uow.forms.submissions(world.org.id, world.client.id)) == []


class TestSubmitting:
    def test_the_same_link_submitted_twice_is_one_submission(self, app: CoachOS, world: World) -> None:
        """A double submit with one key returns the first submission; one row and one event exist."""
        _, version = screening(app, world)
        first = answer(app, world, version, all_no(version), key=submit_key("token"))
        again = answer(app, world, version, all_no(version, heart="yes"), key=submit_key("token"))
        assert again.id == first.id
        assert not again.flagged
        assert len(app.read(lambda uow: uow.forms.submissions(world.org.id, world.client.id))) == 1
        with app.unit_of_work() as uow:
            submitted = [
                e
                for e in uow.outbox.pending(limit=100_000)
                if isinstance(e, FormSubmitted) and e.org_id == world.org.id
            ]
        assert len(submitted) == 1

    def test_the_event_carries_ids_only(self, app: CoachOS, world: World) -> None:
        """The FormSubmitted event names the client, form and submission, and holds no answers."""
        _, version = screening(app, world)
        sub = answer(app, world, version, all_no(version, heart="yes"))
        with app.unit_of_work() as uow:
            [event] = [
                e
                for e in uow.outbox.pending(limit=100_000)
                if isinstance(e, FormSubmitted) and e.org_id == world.org.id
            ]
        assert (event.client_id, event.form_id, event.submission_id) == (world.client.id, version.form_id, sub.id)
        fields = {f.name for f in attrs.fields(FormSubmitted)}
        assert fields == {"org_id", "occurred_at", "actor", "client_id", "form_id", "submission_id"}

    def test_opening_a_link_shows_whether_it_was_used(self, app: CoachOS, world: World) -> None:
        """The page of a link shows the newest version, and the submission once the link was used."""
        form, version = screening(app, world)
        cmd = OpenForm(org_id=world.org.id, client_id=world.client.id, form_id=form.id, key="k1")
        assert app.execute(cmd).done is None
        answer(app, world, version, all_no(version))
        shown = app.execute(cmd)
        assert shown.version.id == version.id
        assert shown.done is not None

    def test_an_unpublished_form_cannot_be_opened_or_answered(self, app: CoachOS, world: World) -> None:
        """A link to a form with no published version is NotFound."""
        form = intake(app, world)
        with pytest.raises(NotFound):
            app.execute(OpenForm(org_id=world.org.id, client_id=world.client.id, form_id=form.id, key="k"))


class TestScreening:
    def test_a_yes_holds_booking_until_clearance(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A "yes" blocks booking with a clear reason; after clearance the booking goes through."""
        _, version = screening(app, world)
        answer(app, world, version, all_no(version, chest_pain="yes"))
        assert app.read(lambda uow: client_screening(uow, world.org.id, world.client.id, clock.now())) is (
            ScreeningState.CLEARANCE_REQUIRED
        )
        with pytest.raises(ClearanceRequired, match="needs to record clearance"):
            book(app, world, clock)
        app.execute(
            RecordClearance(org_id=world.org.id, client_id=world.client.id, note="GP letter seen", actor=world.me)
        )
        assert book(app, world, clock).client_id == world.client.id

    def test_all_no_does_not_hold_booking(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A screening answered "no" throughout lets the client book."""
        _, version = screening(app, world)
        answer(app, world, version, all_no(version))
        assert book(app, world, clock).client_id == world.client.id

    def test_a_new_yes_after_clearance_holds_booking_again(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """Clearance covers the screenings before it, not a later one answering "yes"."""
        _, version = screening(app, world)
        answer(app, world, version, all_no(version, heart="yes"))
        app.execute(RecordClearance(org_id=world.org.id, client_id=world.client.id, note="Cleared", actor=world.me))
        clock.advance(timedelta(days=30))
        answer(app, world, version, all_no(version, medication="yes"), key="k2")
        with pytest.raises(ClearanceRequired):
            book(app, world, clock)

    def test_a_screening_older_than_a_year_asks_for_a_new_one(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """After 12 months the screening expires and booking says to fill in a new one; a new one lets it through."""
        _, version = screening(app, world)
        answer(app, world, version, all_no(version))
        clock.advance(timedelta(days=364))
        book(app, world, clock)
        clock.advance(timedelta(days=2))
        with pytest.raises(ClearanceRequired, match="more than 12 months old"):
            book(app, world, clock, days=2)
        answer(app, world, version, all_no(version), key="k2")
        book(app, world, clock, days=2)

    def test_no_screening_does_not_hold_booking(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A client who never filled a screening is not held here (onboarding flows decide that)."""
        screening(app, world)
        assert book(app, world, clock).client_id == world.client.id

    def test_the_public_page_is_held_without_health_detail(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A public booking matching a held client is refused without saying it is about health."""
        _, version = screening(app, world)
        answer(app, world, version, all_no(version, pregnancy="yes"))
        day = (clock.now().astimezone(world.org.tz) + timedelta(days=1)).date()
        start = datetime.combine(day, time(10), tzinfo=world.org.tz).astimezone(UTC)
        with pytest.raises(ClearanceRequired) as caught:
            app.execute(
                BookAsGuest(
                    org_id=world.org.id,
                    service_id=world.pt.id,
                    start=start,
                    name="Jordan Lee",
                    phone=world.client.phone,
                    email=None,
                    sms_consent=False,
                    consent_wording="x",
                    idempotency_key="f1",
                    visitor="v1",
                )
            )
        assert "health" not in caught.value.message.lower()
        assert "on hold" in caught.value.message

    def test_clearance_needs_a_note(self, app: CoachOS, world: World) -> None:
        """A clearance without a note is refused and nothing is kept."""
        with pytest.raises(ValidationError, match="rests on"):
            app.execute(RecordClearance(org_id=world.org.id, client_id=world.client.id, note="  ", actor=world.me))
        assert app.read(lambda uow: uow.forms.clearances(world.org.id, world.client.id)) == []


PDF = b"%PDF-1.4\n% a letter\n"


class TestClearanceDocument:
    def test_the_type_comes_from_the_bytes_and_the_name_is_made_safe(self) -> None:
        """A PDF is kept as a PDF whatever it is called, with a name safe to offer back."""
        document = check_document('..\\evil"/Dr Patel letter.pdf"', PDF)
        assert (document.content_type, document.name) == ("application/pdf", "Dr Patel letter.pdf")
        assert check_document("scan", b"\x89PNG\r\n\x1a\n...").content_type == "image/png"

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"", "empty"),
            (b"<html><script>", "PDF, PNG or JPEG"),
            (b"%PDF-" + b"x" * MAX_DOCUMENT, "limited to 512 KB"),
        ],
    )
    def test_other_files_are_refused(self, data: bytes, message: str) -> None:
        """An empty file, a file of another type, or one over 512 KB is refused."""
        with pytest.raises(ValidationError, match=message):
            check_document("letter.pdf", data)

    def test_a_document_is_kept_and_its_opening_logged(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """The document comes back as sent, and opening it writes an access-log line naming the clearance."""
        clearance = app.execute(
            RecordClearance(
                org_id=world.org.id,
                client_id=world.client.id,
                note="GP letter",
                actor=world.me,
                document=PDF,
                document_name="letter.pdf",
            )
        )
        assert (clearance.document_name, clearance.document_type) == ("letter.pdf", "application/pdf")
        read = ReadClearanceDocument(
            org_id=world.org.id, client_id=world.client.id, clearance_id=clearance.id, actor=world.me
        )
        assert app.execute(read).data == PDF
        (view,) = app.read(lambda uow: uow.forms.views(world.org.id, world.client.id))
        assert (view.clearance_id, view.submission_id, view.at) == (clearance.id, None, clock.now())
        (listed,) = app.read(lambda uow: uow.forms.clearances(world.org.id, world.client.id))
        assert listed == clearance

    def test_a_refused_document_keeps_no_clearance(self, app: CoachOS, world: World) -> None:
        """A clearance whose file is refused is not kept either."""
        with pytest.raises(ValidationError, match="PDF, PNG or JPEG"):
            app.execute(
                RecordClearance(
                    org_id=world.org.id, client_id=world.client.id, note="GP", actor=world.me, document=b"MZ"
                )
            )
        assert app.read(lambda uow: uow.forms.clearances(world.org.id, world.client.id)) == []

    def test_no_document_or_another_clients_is_not_found(self, app: CoachOS, world: World) -> None:
        """A clearance without a document, or asked for under another client, is NotFound and not logged."""
        bare = app.execute(RecordClearance(org_id=world.org.id, client_id=world.client.id, note="GP", actor=world.me))
        with pytest.raises(NotFound):
            app.execute(
                ReadClearanceDocument(
                    org_id=world.org.id, client_id=world.client.id, clearance_id=bare.id, actor=world.me
                )
            )
        kept = app.execute(
            RecordClearance(org_id=world.org.id, client_id=world.client.id, note="GP", actor=world.me, document=PDF)
        )
        with pytest.raises(NotFound):
            app.execute(
                ReadClearanceDocument(
                    org_id=world.org.id,
                    client_id=UUID(int=7),  # type: ignore[arg-type]
                    clearance_id=kept.id,
                    actor=world.me,
                )
            )
        assert app.read(lambda uow: uow.forms.views(world.org.id, world.client.id)) == []


class TestCoachSide:
    def test_opening_answers_is_logged(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """Reading a submission's answers writes who and when to the access log, shown on the panel."""
        _, version = screening(app, world)
        sub = answer(app, world, version, all_no(version))
        read = app.execute(
            ReadAnswers(org_id=world.org.id, client_id=world.client.id, submission_id=sub.id, actor=world.me)
        )
        assert read.submission.answers["heart"] == "no"
        assert read.version.id == version.id
        panel = app.read(lambda uow: client_forms(uow, world.org.id, world.client.id, clock.now()))
        assert [(v.coach_id, v.submission_id, v.at) for v in panel.views] == [(world.coach.id, sub.id, clock.now())]
        assert panel.state is ScreeningState.CLEAR

    def test_answers_of_another_client_are_not_found(self, app: CoachOS, world: World) -> None:
        """A submission asked for under another client's page is NotFound and nothing is logged."""
        _, version = screening(app, world)
        sub = answer(app, world, version, all_no(version))
        other = UUID(int=99)
        with pytest.raises(NotFound):
            app.execute(ReadAnswers(org_id=world.org.id, client_id=other, submission_id=sub.id, actor=world.me))  # type: ignore[arg-type]
        assert app.read(lambda uow: uow.forms.views(world.org.id, world.client.id)) == []

    def test_sending_the_link_queues_a_transactional_message(self, app: CoachOS, world: World) -> None:
        """The text carries the signed link under the business's address and is not held by quiet hours."""
        form, _ = screening(app, world)
        message = app.execute(
            SendFormLink(org_id=world.org.id, client_id=world.client.id, form_id=form.id, channel="sms", actor=world.me)
        )
        assert message.channel is MessageChannel.SMS
        assert message.purpose is Purpose.TRANSACTIONAL
        assert not message.quiet_hours
        assert message.to == world.client.phone
        assert f"/c/{world.org.slug}/forms/" in message.body

    def test_sending_needs_an_address_and_a_published_form(self, app: CoachOS, world: World) -> None:
        """No email on file, or a form never published, is refused and nothing is queued."""
        form, _ = screening(app, world)
        draft = intake(app, world)
        for form_id, channel, message in ((form.id, "email", "no email"), (draft.id, "sms", "Publish")):
            with pytest.raises(ValidationError, match=message):
                app.execute(
                    SendFormLink(
                        org_id=world.org.id, client_id=world.client.id, form_id=form_id, channel=channel, actor=world.me
                    )
                )
        assert app.read(lambda uow: uow.messages.for_client(world.org.id, world.client.id)) == []
