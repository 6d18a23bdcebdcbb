"""Forms through the real app on the fakes: Setup → Forms, the client's signed-link page, the Forms panel, privacy."""

from __future__ import annotations

import io
import re
from typing import Any
from uuid import UUID

from quart import Quart
from quart.typing import TestClientProtocol as Client
from werkzeug.datastructures import FileStorage

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.adapters.links import form_serializer, manage_serializer
from coachos.domain.forms import Form, FormVersion, Question, QuestionKind
from coachos.domain.usecases import CreateForm, CreateHealthScreening, PublishForm, UpdateForm
from tests.web.support import csrf, sign_up
from tests.web.test_client_routes import Business, add, open_business, text
from tests.web.test_log_privacy import logs  # noqa: F401  # the fixture, for the privacy test
from tests.web.test_public_routes import bookings, open_form, submit

SECRET = "test-secret-key"
PDF = b"%PDF-1.4\n% a doctor's letter\n"


def link(clock: FixedClock, biz: Business, client_id: UUID, form_id: UUID, *, slug: str | None = None) -> str:
    """The path of a client's signed form link, as the web app's secret signs it."""
    token = form_serializer(SECRET, clock).dumps([str(biz.org.id), str(client_id), str(form_id)])
    return f"/c/{slug or biz.org.slug}/forms/{token}"


def published_screening(core: CoachOS, biz: Business) -> tuple[Form, FormVersion]:
    form = core.execute(CreateHealthScreening(org_id=biz.org.id, actor=biz.me))
    return form, core.execute(PublishForm(org_id=biz.org.id, form_id=form.id, actor=biz.me))


def answers(version: FormVersion, **yes: str) -> dict[str, str]:
    return {f"a_{q.key}": "no" for q in version.questions} | {f"a_{k}": v for k, v in yes.items()}


async def fill(client: Client, path: str, version: FormVersion, values: dict[str, str]) -> Any:
    token = await csrf(client, path)
    return await client.post(path, form={"csrf_token": token, "version_id": str(version.id)} | values)


def submissions(core: CoachOS, biz: Business, client_id: UUID) -> list[Any]:
    return list(core.read(lambda uow: uow.forms.submissions(biz.org.id, client_id)))  # type: ignore[arg-type]


class TestSetupForms:
    async def test_the_template_makes_an_editable_screening(self, client: Client, core: CoachOS) -> None:
        """ "Add the health screening" opens the builder with the template's eight yes/no questions."""
        biz = await open_business(client, core)
        token = await csrf(client, "/setup/forms")
        response = await client.post("/setup/forms", form={"csrf_token": token, "action": "template"})
        assert response.status_code == 303
        status, page = await text(client, response.headers["Location"])
        assert status == 200
        assert page.count('<fieldset class="question"') == 9  # eight questions and the empty row
        (form,) = core.read(lambda uow: uow.forms.list(biz.org.id))
        assert form.screening
        assert "Health screening" in (await text(client, "/setup/forms"))[1]

    async def test_building_and_publishing(self, client: Client, core: CoachOS) -> None:
        """The builder's rows become the draft in their positions, and "publish" stores version 1."""
        biz = await open_business(client, core)
        form = core.execute(CreateForm(org_id=biz.org.id, name="Intake", actor=biz.me))
        path = f"/setup/forms/{form.id}"
        token = await csrf(client, path)
        rows = {
            "rows": "2",
            "q0_label": "How active are you?",
            "q0_kind": "choice",
            "q0_required": "1",
            "q0_options": "Not yet\r\nSometimes\r\nOften",
            "q0_pos": "2",
            "q1_label": "Your main goal",
            "q1_kind": "short_text",
            "q1_pos": "1",
        }
        sent = {"csrf_token": token, "name": "Intake", "action": "publish"} | rows
        response = await client.post(path, form=sent)
        assert response.status_code == 303
        (version,) = core.read(lambda uow: uow.forms.versions(biz.org.id, form.id))
        assert [(q.key, q.kind, q.required, q.options) for q in version.questions] == [
            ("your_main_goal", QuestionKind.SHORT_TEXT, False, ()),
            ("how_active_are_you", QuestionKind.CHOICE, True, ("Not yet", "Sometimes", "Often")),
        ]
        assert "Version 1" in (await text(client, path))[1]

    async def test_a_bad_question_is_refused_and_nothing_changes(self, client: Client, core: CoachOS) -> None:
        """A choice with one option is a 400 naming the problem; the draft and versions stay as they were."""
        biz = await open_business(client, core)
        form = core.execute(CreateForm(org_id=biz.org.id, name="Intake", actor=biz.me))
        path = f"/setup/forms/{form.id}"
        token = await csrf(client, path)
        bad = {"rows": "1", "q0_label": "Pick", "q0_kind": "choice", "q0_options": "Only one"}
        response = await client.post(path, form={"csrf_token": token, "name": "Renamed", "action": "publish"} | bad)
        assert response.status_code == 400
        page = await response.get_data(as_text=True)
        assert "needs 2 to 20 options" in page
        assert 'value="Pick"' in page
        assert core.read(lambda uow: uow.forms.get(biz.org.id, form.id)) == form
        assert core.read(lambda uow: uow.forms.versions(biz.org.id, form.id)) == []

    async def test_without_csrf_nothing_is_stored(self, client: Client, core: CoachOS) -> None:
        """A post without the CSRF token is refused and adds no form."""
        biz = await open_business(client, core)
        response = await client.post("/setup/forms", form={"action": "template"})
        assert 400 <= response.status_code < 500
        assert core.read(lambda uow: uow.forms.list(biz.org.id)) == []

    async def test_another_businesss_form_is_not_found(self, web: Quart, core: CoachOS) -> None:
        """A coach opening or saving another business's form gets 404, and the form is untouched."""
        theirs = web.test_client()
        other = await open_business(theirs, core, slug="other")
        form, _ = published_screening(core, other)
        mine = web.test_client()
        await open_business(mine, core)
        assert (await mine.get(f"/setup/forms/{form.id}")).status_code == 404
        token = await csrf(mine, "/setup/forms")
        response = await mine.post(
            f"/setup/forms/{form.id}", form={"csrf_token": token, "name": "Hijacked", "rows": "0", "action": "save"}
        )
        assert response.status_code == 404
        assert core.read(lambda uow: uow.forms.get(other.org.id, form.id)).name == form.name


class TestFillPage:
    async def test_the_client_fills_in_once(self, web: Quart, client: Client, core: CoachOS, clock: FixedClock) -> None:
        """The page is the business's, not cached; a double submit stores one submission and then says received."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        _, version = published_screening(core, biz)
        path = link(clock, biz, jordan.id, version.form_id)
        visitor = web.test_client()
        response = await visitor.get(path)
        page = await response.get_data(as_text=True)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert "Peak Coaching" in page
        assert "Coach OS" not in page
        first = await fill(visitor, path, version, answers(version, heart="yes"))
        again = await fill(visitor, path, version, answers(version))
        assert (first.status_code, again.status_code) == (303, 303)
        (stored,) = submissions(core, biz, jordan.id)
        assert stored.flagged
        assert "your answers were received" in (await text(visitor, path))[1]

    async def test_a_bad_answer_is_refused_and_nothing_stored(
        self, web: Quart, client: Client, core: CoachOS, clock: FixedClock
    ) -> None:
        """A missing answer and a bad date each give 400 with the reason, the typed answers kept, nothing stored."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        questions = (Question("born", "Date of birth", QuestionKind.DATE), Question("goal", "Goal", "short_text"))
        form = core.execute(CreateForm(org_id=biz.org.id, name="Intake", questions=questions, actor=biz.me))
        version = core.execute(PublishForm(org_id=biz.org.id, form_id=form.id, actor=biz.me))
        path = link(clock, biz, jordan.id, form.id)
        visitor = web.test_client()
        response = await fill(visitor, path, version, {"a_born": "1850-01-01", "a_goal": "Run a 5k"})
        page = await response.get_data(as_text=True)
        assert response.status_code == 400
        assert "between 1900 and 2100" in page
        assert 'value="Run a 5k"' in page
        response = await fill(visitor, path, version, {"a_born": "1990-01-01", "a_goal": ""})
        assert response.status_code == 400
        assert "Please answer" in await response.get_data(as_text=True)
        assert submissions(core, biz, jordan.id) == []

    async def test_forged_foreign_and_other_kinds_of_links_are_not_found(
        self, web: Quart, client: Client, core: CoachOS, clock: FixedClock
    ) -> None:
        """A tampered token, another business's slug, or a manage token in its place all give the same 404."""
        biz = await open_business(client, core)
        other = await open_business(web.test_client(), core, slug="other")
        jordan = add(core, biz, "Jordan Lee")
        _, version = published_screening(core, biz)
        good = link(clock, biz, jordan.id, version.form_id)
        manage = manage_serializer(SECRET, clock).dumps([str(biz.org.id), str(jordan.id), str(version.form_id)])
        for path in (good + "x", link(clock, biz, jordan.id, version.form_id, slug=other.org.slug),
                     f"/c/{biz.org.slug}/forms/{manage}"):  # fmt: skip
            response = await web.test_client().get(path)
            assert response.status_code == 404, path
            assert "not valid or has expired" in await response.get_data(as_text=True)

    async def test_a_post_without_csrf_stores_nothing(
        self, web: Quart, client: Client, core: CoachOS, clock: FixedClock
    ) -> None:
        """Answers posted without the page's CSRF token are refused."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        _, version = published_screening(core, biz)
        path = link(clock, biz, jordan.id, version.form_id)
        response = await web.test_client().post(path, form={"version_id": str(version.id)} | answers(version))
        assert 400 <= response.status_code < 500
        assert submissions(core, biz, jordan.id) == []


class TestFormsPanel:
    async def test_panel_clearance_and_access_log(
        self, web: Quart, client: Client, core: CoachOS, clock: FixedClock
    ) -> None:
        """A "yes" shows clearance required; opening answers is logged and listed; clearance changes the state."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        _, version = published_screening(core, biz)
        path = link(clock, biz, jordan.id, version.form_id)
        await fill(web.test_client(), path, version, answers(version, dizziness="yes"))
        status, panel = await text(client, f"/clients/{jordan.id}/panels/forms")
        assert status == 200
        assert "Clearance required" in panel
        assert "Nobody has opened" in panel
        (sub,) = submissions(core, biz, jordan.id)
        response = await client.get(f"/clients/{jordan.id}/forms/{sub.id}")
        page = await response.get_data(as_text=True)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert "<strong>yes</strong>" in page
        (view,) = core.read(lambda uow: uow.forms.views(biz.org.id, jordan.id))
        assert (view.coach_id, view.submission_id, view.at) == (biz.coach.id, sub.id, clock.now())
        panel = (await text(client, f"/clients/{jordan.id}/panels/forms"))[1]
        assert "Access log (1)" in panel
        assert "Alex Rivera" in panel
        token = await csrf(client, f"/clients/{jordan.id}")
        response = await client.post(
            f"/clients/{jordan.id}/forms/clearance", form={"csrf_token": token, "note": "GP letter seen"}
        )
        assert response.status_code == 303
        assert "Cleared" in (await text(client, f"/clients/{jordan.id}/panels/forms"))[1]

    async def test_a_letter_is_uploaded_and_downloaded_with_the_view_logged(
        self, client: Client, core: CoachOS
    ) -> None:
        """A clearance with a PDF keeps it; the panel links it; downloading it is an attachment and is logged."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        token = await csrf(client, f"/clients/{jordan.id}")
        letter = FileStorage(io.BytesIO(PDF), filename="GP letter.pdf", content_type="application/pdf")
        response = await client.post(
            f"/clients/{jordan.id}/forms/clearance",
            form={"csrf_token": token, "note": "GP"},
            files={"document": letter},
        )
        assert response.status_code == 303
        (clearance,) = core.read(lambda uow: uow.forms.clearances(biz.org.id, jordan.id))
        panel = (await text(client, f"/clients/{jordan.id}/panels/forms"))[1]
        url = f"/clients/{jordan.id}/forms/clearances/{clearance.id}/document"
        assert url in panel
        download = await client.get(url)
        assert download.status_code == 200
        assert await download.get_data() == PDF
        assert download.headers["Content-Disposition"] == 'attachment; filename="GP letter.pdf"'
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        (view,) = core.read(lambda uow: uow.forms.views(biz.org.id, jordan.id))
        assert view.clearance_id == clearance.id
        assert "the clearance document" in (await text(client, f"/clients/{jordan.id}/panels/forms"))[1]

    async def test_a_file_of_another_type_is_refused(self, client: Client, core: CoachOS) -> None:
        """An HTML file posing as a PDF is a 400 with the reason; no clearance is kept."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        token = await csrf(client, f"/clients/{jordan.id}")
        fake = FileStorage(io.BytesIO(b"<script>alert(1)</script>"), filename="x.pdf", content_type="application/pdf")
        response = await client.post(
            f"/clients/{jordan.id}/forms/clearance", form={"csrf_token": token, "note": "GP"}, files={"document": fake}
        )
        assert response.status_code == 400
        assert "Attach a PDF, PNG or JPEG file." in await response.get_data(as_text=True)
        assert core.read(lambda uow: uow.forms.clearances(biz.org.id, jordan.id)) == []

    async def test_a_blank_clearance_is_refused(self, client: Client, core: CoachOS) -> None:
        """A clearance without a note is a 400 with the panel open and the reason; none is kept."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        token = await csrf(client, f"/clients/{jordan.id}")
        response = await client.post(f"/clients/{jordan.id}/forms/clearance", form={"csrf_token": token, "note": " "})
        assert response.status_code == 400
        assert "what the clearance rests on" in await response.get_data(as_text=True)
        assert core.read(lambda uow: uow.forms.clearances(biz.org.id, jordan.id)) == []

    async def test_another_businesss_answers_are_not_found_and_not_logged(
        self, web: Quart, client: Client, core: CoachOS, clock: FixedClock
    ) -> None:
        """A coach asking for another business's client's answers gets 404, and no view is logged."""
        theirs = web.test_client()
        other = await open_business(theirs, core, slug="other")
        sam = add(core, other, "Sam Patel")
        _, version = published_screening(core, other)
        await fill(web.test_client(), link(clock, other, sam.id, version.form_id), version, answers(version))
        (sub,) = submissions(core, other, sam.id)
        await open_business(client, core)
        assert (await client.get(f"/clients/{sam.id}/forms/{sub.id}")).status_code == 404
        assert (await client.get(f"/clients/{sam.id}/panels/forms")).status_code == 404
        assert core.read(lambda uow: uow.forms.views(other.org.id, sam.id)) == []

    async def test_sending_a_link_queues_a_message(self, client: Client, core: CoachOS) -> None:
        """ "Send link" queues a text with the client's link; with no email on file an email is refused."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee", phone="+12125550101")
        form, _ = published_screening(core, biz)
        token = await csrf(client, f"/clients/{jordan.id}")
        sent = {"csrf_token": token, "form_id": str(form.id)}
        refused = await client.post(f"/clients/{jordan.id}/forms/send", form=sent | {"channel": "email"})
        assert refused.status_code == 400
        assert "no email address on file" in await refused.get_data(as_text=True)
        assert core.read(lambda uow: uow.messages.for_client(biz.org.id, jordan.id)) == []
        response = await client.post(f"/clients/{jordan.id}/forms/send", form=sent | {"channel": "sms"})
        assert response.status_code == 303
        (message,) = core.read(lambda uow: uow.messages.for_client(biz.org.id, jordan.id))
        assert re.search(r"/c/peak/forms/[\w.-]+", message.body)
        bogus = await client.post(f"/clients/{jordan.id}/forms/send", form=sent | {"form_id": "nope"})
        assert bogus.status_code == 400


class TestBookingHold:
    async def test_the_public_page_says_booking_is_on_hold(
        self, web: Quart, client: Client, core: CoachOS, clock: FixedClock
    ) -> None:
        """A held client booking on the public page gets 422 with the reason, no health detail, and no booking."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee", email="jordan@example.com")
        _, version = published_screening(core, biz)
        await fill(
            web.test_client(), link(clock, biz, jordan.id, version.form_id), version, answers(version, heart="yes")
        )
        guest = web.test_client()
        response = await submit(guest, biz.org, biz.service, await open_form(guest, biz.org, biz.service),
                                email="jordan@example.com")  # fmt: skip
        page = await response.get_data(as_text=True)
        assert response.status_code == 422
        assert "Online booking is on hold" in page
        assert "health" not in page.lower()
        assert bookings(core, biz.org) == []


class TestFormLogPrivacy:
    async def test_filling_and_reading_answers_logs_no_personal_or_health_data(
        self,
        web: Quart,
        core: CoachOS,
        clock: FixedClock,
        logs: io.StringIO,  # noqa: F811  # the fixture imported above
    ) -> None:
        """The whole forms flow logs request lines only: no answers, names, emails or phones."""
        coach = web.test_client()
        await sign_up(coach, email="zephyrine.q@example.org", name="Zephyrine Quillfeather", slug="quill")
        biz = Business(*_business(core, "quill"))
        client = add(core, biz, "Barnabus Thistlewood", phone="+447700900461", email="barnabus.t@example.net")
        details = Question("details", "Tell us more", QuestionKind.LONG_TEXT, required=False)
        form = core.execute(CreateHealthScreening(org_id=biz.org.id, actor=biz.me))
        core.execute(
            UpdateForm(
                org_id=biz.org.id,
                form_id=form.id,
                name=form.name,
                screening=True,
                questions=(*form.questions, details),
                actor=biz.me,
            )
        )
        version = core.execute(PublishForm(org_id=biz.org.id, form_id=form.id, actor=biz.me))
        path = link(clock, biz, client.id, form.id)
        visitor = web.test_client()
        await visitor.get(path)
        bad = await fill(visitor, path, version, answers(version, details="Arrhythmiaqz\x01"))
        assert bad.status_code == 400
        ok = await fill(visitor, path, version, answers(version, heart="yes", details="Arrhythmiaqz since 2019"))
        assert ok.status_code == 303
        (sub,) = submissions(core, biz, client.id)
        for page in (f"/clients/{client.id}/panels/forms", f"/clients/{client.id}/forms/{sub.id}"):
            assert (await coach.get(page)).status_code == 200
        token = await csrf(coach, f"/clients/{client.id}")
        await coach.post(f"/clients/{client.id}/forms/clearance", form={"csrf_token": token, "note": "Cardiologyzz ok"})
        await coach.post(
            f"/clients/{client.id}/forms/send", form={"csrf_token": token, "form_id": str(form.id), "channel": "email"}
        )
        written = logs.getvalue()
        assert written.count('"event": "request"') >= 8, "the request log lines were not captured"
        token_part = path.rsplit("/", 1)[1]
        for secret in ("Arrhythmiaqz", "Cardiologyzz", "Barnabus", "Thistlewood", "7700900461", "barnabus.t@",
                       "Zephyrine", "zephyrine.q@", token_part):  # fmt: skip
            assert secret not in written, f"personal data in logs: {secret!r}"


def _business(core: CoachOS, slug: str) -> tuple[Any, Any, Any]:
    org = core.read(lambda uow: uow.orgs.by_slug(slug))
    (coach,) = core.read(lambda uow: uow.coaches.list(org.id))
    (service,) = core.read(lambda uow: uow.services.list(org.id))
    return org, coach, service
