"""The client's whole onboarding, logged at DEBUG as production logs: no health answers, names, contacts or secrets.

Sign-in by link (and a wrong code), the waiver link and signing, the screening link and a "yes" with a typed
detail, a refused booking, the coach reading the answers and recording clearance, then a booking with a credit.
Standard-library log records go through the same pipeline (coachos.logs), so they are covered too.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS, CreateClient, Money, SellPackage, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.links import SignedLinks
from coachos.adapters.memory import MemoryStore
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.domain.forms import Question, QuestionKind
from coachos.domain.ids import Actor
from coachos.domain.usecases import (
    AddOnboardingStep,
    CreateHealthScreening,
    CreateOnboardingFlow,
    CreateWaiver,
    PublishForm,
    UpdateForm,
    UpdateOnboardingFlow,
)
from coachos.logs import configure_logging, reset_logging
from tests.web.support import PASSWORD, csrf, sign_up

COACH_NAME, COACH_EMAIL = "Zephyrine Quillfeather", "zephyrine.q@example.org"
CLIENT_NAME, CLIENT_EMAIL, CLIENT_PHONE = "Barnabus Thistlewood", "barnabus.t@example.net", "+447700900461"
DETAIL = "Arrhythmiaqz diagnosed in 2019"
CLEARANCE = "Cardiologyzz letter, cleared"
SLUG = "quill"


@pytest.fixture
def core(clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on fakes whose links (waiver, form) are signed with the web app's test secret."""
    with bootstrap(
        Settings(database_url="memory://"),
        uow=MemoryStore().unit_of_work,
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
        links=SignedLinks("http://coachos.test", lambda: "test-secret-key", clock),
    ) as built:
        yield built


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Production logging (JSON lines, redaction on) at DEBUG into a buffer for the test, then the default again."""
    buffer = io.StringIO()
    configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=buffer)
    yield buffer
    reset_logging()


def bodies(core: CoachOS, org_id: object, client_id: object) -> list[str]:
    """The bodies of every message queued for the client, oldest first."""
    with core.unit_of_work() as uow:
        found = uow.messages.for_client(org_id, client_id)  # type: ignore[arg-type]
    return [m.body for m in sorted(found, key=lambda m: m.created_at)]


def newest(core: CoachOS, org_id: object, client_id: object, kind: str) -> str:
    """The path of the newest `/c/<slug>/<kind>/…` link queued for the client."""
    for body in reversed(bodies(core, org_id, client_id)):
        found = re.search(r"https?://[^/\s]+(/c/" + SLUG + "/" + kind + r"/[^\s]+)", body)
        if found:
            return found.group(1)
    raise AssertionError(f"no {kind} link queued")


async def post(browser: Client, path: str, form: dict[str, str], *, page: str | None = None) -> int:
    token = await csrf(browser, page or path)
    response = await browser.post(path, form={"csrf_token": token} | form)
    return response.status_code


class TestOnboardingLogPrivacy:
    async def test_the_whole_flow_logs_no_health_answers_names_contacts_or_secrets(
        self, web: Quart, core: CoachOS, clock: FixedClock, logs: io.StringIO
    ) -> None:
        """Every step of a new client's onboarding, both sides, leaves only routes and ids in the logs."""
        coach = web.test_client()
        await sign_up(coach, email=COACH_EMAIL, name=COACH_NAME, slug=SLUG, business="Quill Strength")
        org = core.read(lambda uow: uow.orgs.by_slug(SLUG))
        (owner,) = core.read(lambda uow: uow.coaches.list(org.id))
        (service,) = core.read(lambda uow: uow.services.list(org.id))
        me = Actor("coach", owner.id)
        person = core.execute(
            CreateClient(org_id=org.id, name=CLIENT_NAME, email=CLIENT_EMAIL, phone=CLIENT_PHONE, actor=me)
        )
        core.execute(
            SellPackage(
                org_id=org.id, client_id=person.id, name="Ten pack", sessions=10, price=Money(0, "USD"), actor=me
            )
        )
        waiver, _ = core.execute(CreateWaiver(org_id=org.id, title="Training waiver", body="Risks exist.", actor=me))
        form = core.execute(CreateHealthScreening(org_id=org.id, actor=me))
        details = Question("details", "Tell us more", QuestionKind.LONG_TEXT, required=False)
        core.execute(
            UpdateForm(
                org_id=org.id,
                form_id=form.id,
                name=form.name,
                screening=True,
                questions=(*form.questions, details),
                actor=me,
            )
        )
        version = core.execute(PublishForm(org_id=org.id, form_id=form.id, actor=me))
        flow = core.execute(CreateOnboardingFlow(org_id=org.id, name="New clients", actor=me))
        core.execute(
            UpdateOnboardingFlow(
                org_id=org.id,
                flow_id=flow.id,
                name="New clients",
                all_services=False,
                service_ids=frozenset({service.id}),
                actor=me,
            )
        )
        core.execute(AddOnboardingStep(org_id=org.id, flow_id=flow.id, kind="sign_waiver", target=waiver.id, actor=me))
        core.execute(AddOnboardingStep(org_id=org.id, flow_id=flow.id, kind="fill_form", target=form.id, actor=me))

        # Sign-in: ask, a wrong code, open the link (GET and HEAD do nothing), confirm.
        phone = web.test_client()
        assert await post(phone, f"/c/{SLUG}/sign-in", {"contact": CLIENT_EMAIL}) == 200
        sign_in_body = bodies(core, org.id, person.id)[-1]
        link = newest(core, org.id, person.id, "sign-in")
        code = re.search(r" is (\d{6})", sign_in_body)
        assert code
        wrong = f"{(int(code.group(1)) + 1) % 10**6:06d}"
        await post(
            phone, f"/c/{SLUG}/sign-in/code", {"contact": CLIENT_EMAIL, "code": wrong}, page=f"/c/{SLUG}/sign-in"
        )
        await phone.head(link)
        assert await post(phone, link, {}) == 303
        clock.advance(timedelta(seconds=1))
        assert (await phone.get(f"/c/{SLUG}/")).status_code == 200

        # The waiver: the coach sends the link, the client signs it (typed and drawn).
        client_page = f"/clients/{person.id}"
        send = f"{client_page}/waivers/{waiver.id}/send"
        assert await post(coach, send, {"channel": "email"}, page=client_page) in (200, 303)
        waiver_path = newest(core, org.id, person.id, "waivers")
        shown = await phone.get(waiver_path)
        page = await shown.get_data(as_text=True)
        assert shown.status_code == 200, page[:3000]
        hidden = dict(re.findall(r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)"', page))
        signed = {
            k: html.unescape(v) for k, v in hidden.items() if k in ("csrf_token", "version_id", "shown_sha256")
        } | {
            "typed_name": CLIENT_NAME,
            "drawing": "M 10 10 L 200 80 L 300 40",
            "consent": "yes",
            "date_of_birth": "1990-02-28",
        }
        assert (await phone.post(waiver_path, form=signed)).status_code in (200, 303)
        assert core.read(lambda uow: uow.waivers.signed_current(org.id, person.id, waiver.id))

        # The screening: a "yes" and a typed detail; booking is then refused until clearance.
        form_send = f"{client_page}/forms/send"
        assert await post(coach, form_send, {"form_id": str(form.id), "channel": "email"}, page=client_page) in (
            200,
            303,
        )
        form_path = newest(core, org.id, person.id, "forms")
        answers = {f"a_{q.key}": "no" for q in version.questions if q.kind is QuestionKind.YES_NO}
        first = next(q.key for q in version.questions if q.kind is QuestionKind.YES_NO)
        answers |= {f"a_{first}": "yes", "a_details": DETAIL, "version_id": str(version.id)}
        assert await post(phone, form_path, answers) == 303

        slots = await (await phone.get(f"/book/{SLUG}/{service.id}?tz=UTC")).get_data(as_text=True)
        starts = re.findall(r'href="(/book/' + SLUG + r"/[^\"]+/book\?start=[^\"]+)\"", slots)
        assert starts, "no free slot on the booking page"
        book = html.unescape(starts[0])
        assert await post(phone, book, {"idempotency_key": "first"}) == 422

        (submission,) = core.read(lambda uow: uow.forms.submissions(org.id, person.id))  # type: ignore[arg-type]
        for seen in (f"{client_page}/panels/forms", f"{client_page}/forms/{submission.id}", client_page):
            assert (await coach.get(seen)).status_code == 200
        assert await post(coach, f"{client_page}/forms/clearance", {"note": CLEARANCE}, page=client_page) in (200, 303)

        # Booked with a credit; the portal shows it.
        assert await post(phone, book, {"idempotency_key": "second"}) in (302, 303)
        (booking,) = core.read(lambda uow: uow.bookings.for_client(org.id, person.id))
        assert booking.package_id is not None
        assert (await phone.get(f"/c/{SLUG}/")).status_code == 200
        assert (await coach.get("/today")).status_code == 200

        written = logs.getvalue()
        assert written.count('"event": "request"') >= 15, "the request log lines were not captured"
        secrets = [
            DETAIL,
            "Arrhythmiaqz",
            CLEARANCE,
            "Cardiologyzz",
            CLIENT_NAME,
            "Barnabus",
            "Thistlewood",
            CLIENT_EMAIL,
            "barnabus.t@",
            CLIENT_PHONE,
            "7700900461",
            COACH_NAME,
            "Zephyrine",
            "Quillfeather",
            COACH_EMAIL,
            PASSWORD,
            code.group(1),
            wrong,
            *(p.rsplit("/", 1)[1] for p in (link, waiver_path, form_path)),
        ]
        for private in secrets:
            assert private.lower() not in written.lower(), f"personal data or a secret in the logs: {private!r}"
        # The questions' wording would say which answer was given ("yes" to a heart condition) next to an id.
        for question in version.questions:
            assert question.label not in written, f"a screening question in the logs: {question.label!r}"
