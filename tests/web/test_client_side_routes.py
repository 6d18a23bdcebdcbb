"""The client's side as one product on the web: the portal's To do links to the waiver and form pages with
x/N per flow, the booking page tells a signed-in client what is left, the data download holds signatures and
answers, and a coach approves deletion of a client who signed and answered."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.email import MemoryEmail
from coachos.adapters.links import SignedLinks
from coachos.adapters.memory import MemoryStore
from coachos.adapters.security import fast_test_hasher
from coachos.domain.accounts import Login
from coachos.domain.clients import Client as Person
from coachos.domain.usecases import CreateClient
from tests.helpers import World, make_world
from tests.unit.test_client_side import INTAKE_ANSWERS, onboarding
from tests.unit.test_forms import answer
from tests.unit.test_waivers import sign
from tests.web.support import PASSWORD, csrf, web_settings
from tests.web.test_portal_routes import EMAIL, signed_in_browser


@pytest.fixture
def world(core: CoachOS) -> World:
    return make_world(core, slug="peak")


@pytest.fixture
def person(core: CoachOS, world: World) -> Person:
    """A client of Peak with an email on file (to sign in with)."""
    return core.execute(CreateClient(org_id=world.org.id, name="Riley Quinn", email=EMAIL, actor=world.me))


@pytest.fixture
def core(clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on fakes whose links are signed as the web app reads them (one secret, as in production)."""
    settings = web_settings()
    with bootstrap(
        Settings(database_url="memory://"),
        uow=MemoryStore().unit_of_work,
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
        links=SignedLinks(settings.public_url, lambda: str(settings.secret_key), clock),
    ) as built:
        yield built


def todo_links(page: str) -> list[str]:
    """The To do section's link paths, in order."""
    section = page.split('id="todo"', 1)[1].split('id="upcoming"', 1)[0]
    return [part.split('"', 1)[0] for part in section.split('href="')[1:]]


async def coach_browser(web: Quart, core: CoachOS, world: World) -> Client:
    with core.unit_of_work() as uow:
        uow.accounts.add_login(
            Login(
                coach_id=world.coach.id,
                org_id=world.org.id,
                email="alex@peak.test",
                password_hash=fast_test_hasher().hash(PASSWORD),
            )
        )
        uow.commit()
    coach = web.test_client()
    token = await csrf(coach)
    await coach.post("/login", form={"csrf_token": token, "email": "alex@peak.test", "password": PASSWORD})
    return coach


class TestPortalTodo:
    async def test_home_lists_the_flow_with_progress_and_links_that_open(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock
    ) -> None:
        waiver, version, _ = onboarding(core, world)
        browser = await signed_in_browser(web, core, world, person, clock)
        page = await (await browser.get("/c/peak/")).get_data(as_text=True)
        assert "New clients: 0/2 steps done" in page
        assert "Sign “Liability waiver”" in page
        assert "Fill in “Intake”" in page
        waiver_link, form_link = (urlsplit(link) for link in todo_links(page))
        assert waiver_link.path.startswith("/c/peak/waivers/")
        assert form_link.path.startswith("/c/peak/forms/")
        for link in (waiver_link, form_link):
            assert (await browser.get(link.path)).status_code == 200
        sign(core, world, waiver, version, person)
        signed = await (await browser.get(waiver_link.path)).get_data(as_text=True)
        assert 'href="/c/peak/#todo"' in signed  # back to the portal from the signed waiver
        page = await (await browser.get("/c/peak/")).get_data(as_text=True)
        assert "New clients: 1/2 steps done" in page
        assert "✓ Sign “Liability waiver”" in page
        assert len(todo_links(page)) == 1

    async def test_nothing_to_do_without_flows(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock
    ) -> None:
        browser = await signed_in_browser(web, core, world, person, clock)
        assert "Nothing to do right now." in await (await browser.get("/c/peak/")).get_data(as_text=True)


class TestBookingPage:
    async def test_signed_in_client_sees_steps_left_before_the_first_session(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock, client: Client
    ) -> None:
        waiver, version, form_version = onboarding(core, world)
        browser = await signed_in_browser(web, core, world, person, clock)
        sign(core, world, waiver, version, person)
        for path in (f"/book/peak/{world.pt.id}", f"/book/peak/{world.pt.id}/book?start=2026-03-03T15:00:00Z"):
            page = await (await browser.get(path)).get_data(as_text=True)
            assert "Before your first session: <strong>1/2 steps</strong>" in page
            assert 'href="/c/peak/#todo"' in page
            # A guest sees no one's progress; a service no flow holds says nothing.
            assert "Before your first session" not in await (await client.get(path)).get_data(as_text=True)
        other = await (await browser.get(f"/book/peak/{world.group.id}")).get_data(as_text=True)
        assert "Before your first session" not in other
        answer(core, world, form_version, INTAKE_ANSWERS, client=person.id)
        done = await (await browser.get(f"/book/peak/{world.pt.id}")).get_data(as_text=True)
        assert "Before your first session" not in done


class TestDataAndDeletion:
    async def test_download_holds_signatures_and_answers_in_json_and_csv(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock
    ) -> None:
        waiver, version, form_version = onboarding(core, world)
        sign(core, world, waiver, version, person)
        answer(core, world, form_version, INTAKE_ANSWERS, client=person.id)
        browser = await signed_in_browser(web, core, world, person, clock)
        export = json.loads(await (await browser.get("/c/peak/data.json")).get_data(as_text=True))
        (signed,) = export["waiver_signatures"]
        assert (signed["version_number"], signed["text_sha256"], signed["typed_name"]) == (
            1,
            version.sha256,
            "Jordan Lee",
        )
        assert signed["ip"] == "203.0.113.7"
        (submitted,) = export["form_submissions"]
        assert {"question": "Your main goal", "answer": "Run 5k"} in submitted["answers"]
        rows = list(csv.reader(io.StringIO(await (await browser.get("/c/peak/data.csv")).get_data(as_text=True))))
        assert ["waiver_signatures", "0", "text_sha256", version.sha256] in rows
        assert ["form_submissions", "0", "answers[0].answer", "Run 5k"] in rows

    async def test_coach_approves_deletion_of_a_client_who_signed_and_answered(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock
    ) -> None:
        waiver, version, form_version = onboarding(core, world)
        signature = sign(core, world, waiver, version, person)
        submission = answer(core, world, form_version, INTAKE_ANSWERS, client=person.id)
        browser = await signed_in_browser(web, core, world, person, clock)
        page = await (await browser.get("/c/peak/data")).get_data(as_text=True)
        assert "Signed waivers and health-screening and other form answers are kept as records" in page
        token = await csrf(browser, "/c/peak/data")
        assert (await browser.post("/c/peak/delete", form={"csrf_token": token})).status_code == 303
        coach = await coach_browser(web, core, world)
        token = await csrf(coach, f"/clients/{person.id}")
        approved = await coach.post(f"/clients/{person.id}/approve-deletion", form={"csrf_token": token})
        assert approved.status_code == 303
        with core.unit_of_work() as uow:
            assert uow.clients.get(world.org.id, person.id).name == "Deleted client"
            assert [s.id for s in uow.waivers.signatures(world.org.id, person.id)] == [signature.id]
            assert [s.id for s in uow.forms.submissions(world.org.id, person.id)] == [submission.id]

    async def test_another_clients_signature_stays_out_of_the_download(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock
    ) -> None:
        waiver, version, _ = onboarding(core, world)
        other = core.execute(CreateClient(org_id=world.org.id, name="Sky Noor", actor=world.me))
        sign(core, world, waiver, version, other)
        browser = await signed_in_browser(web, core, world, person, clock)
        export = json.loads(await (await browser.get("/c/peak/data.json")).get_data(as_text=True))
        assert export["waiver_signatures"] == []
