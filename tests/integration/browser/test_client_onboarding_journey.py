"""A new client's whole first visit on a phone: sign in by link, onboarding (waiver, screening), book with a credit.

The business has a waiver, a published health screening and an onboarding flow that holds Personal training
until both are done. Links the app would send (sign-in, the waiver, the form) are read from the messages
table, where the use cases queue them (the worker, which would send them, is not running). Where the portal's
To-do list links to a step the client follows that link instead, as a client would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import attrs
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from coachos import CoachOS, CreateClient, Money, SellPackage, Settings, bootstrap
from coachos.adapters.sql.tables import bookings, messages
from coachos.domain.ids import Actor
from coachos.domain.usecases import (
    AddOnboardingStep,
    CreateHealthScreening,
    CreateOnboardingFlow,
    CreateWaiver,
    PublishForm,
    UpdateOnboardingFlow,
)
from tests.integration.browser.conftest import PHONE, Browse, LiveServer, sign_up

pytestmark = pytest.mark.browser

WAIVER = "Training waiver"
SCREENING = "Health screening"


@pytest.fixture
def core(live_server: LiveServer) -> Iterator[CoachOS]:
    """Coach OS on the live server's own database file, for setting up records and reading queued messages."""
    database = live_server.mail.parent / "coachos.db"
    with bootstrap(Settings(database_url=f"sqlite:///{database}", public_url=live_server.url)) as built:
        yield built


@attrs.frozen
class Business:
    slug: str
    name: str
    org_id: UUID
    client_id: UUID
    email: str
    client_name: str
    coach: Actor


def _query(server: LiveServer, statement: sa.Select[tuple[object, ...]]) -> list[tuple[object, ...]]:
    engine = sa.create_engine(f"sqlite:///{server.mail.parent / 'coachos.db'}")
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(statement)]
    finally:
        engine.dispose()


def newest_link(server: LiveServer, to: str, path: str) -> str:
    """The URL matching `/c/…/<path>/…` in the newest message queued to `to` that holds one."""
    rows = _query(
        server, sa.select(messages.c.body).where(messages.c.to_address == to).order_by(messages.c.created_at.desc())
    )
    for (body,) in rows:
        found = re.search(r"https?://\S+?(/c/[^\s/]+/" + path + r"/[^\s]+)", str(body))
        if found:
            return found.group(1)
    raise AssertionError(f"no {path} link queued for the client")


def client_bookings(server: LiveServer, biz: Business) -> list[tuple[object, ...]]:
    """(id, status, package id) of every booking of the client."""
    return _query(
        server,
        sa.select(bookings.c.id, bookings.c.status, bookings.c.package_id).where(
            bookings.c.org_id == biz.org_id, bookings.c.client_id == biz.client_id
        ),
    )


def set_up(coach: Page, core: CoachOS, *, slug: str, business: str, client_name: str, email: str) -> Business:
    """A business whose Personal training waits for a flow of two steps (sign the waiver, fill the screening)."""
    sign_up(coach, slug=slug, email=f"owner@{slug}.test", business=business, name="Avery Coachperson")
    org = core.read(lambda uow: uow.orgs.by_slug(slug))
    (owner,) = core.read(lambda uow: uow.coaches.list(org.id))
    (service,) = core.read(lambda uow: uow.services.list(org.id))
    me = Actor("coach", owner.id)
    person = core.execute(CreateClient(org_id=org.id, name=client_name, email=email, actor=me))
    core.execute(
        SellPackage(org_id=org.id, client_id=person.id, name="Ten pack", sessions=10, price=Money(0, "USD"), actor=me)
    )
    waiver, _ = core.execute(
        CreateWaiver(
            org_id=org.id,
            title=WAIVER,
            body="# Risks\n\nExercise carries **some risk**.\n\n- I train at my own pace",
            actor=me,
        )
    )
    form = core.execute(CreateHealthScreening(org_id=org.id, actor=me))
    core.execute(PublishForm(org_id=org.id, form_id=form.id, actor=me))
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
    return Business(slug, business, org.id, person.id, email, client_name, me)


def sign_in_by_link(phone: Page, server: LiveServer, biz: Business) -> None:
    """Ask for a link on the portal, open it (nothing happens yet), confirm with the button."""
    phone.goto(f"/c/{biz.slug}/sign-in")
    expect(phone.get_by_role("heading", name=f"Sign in to {biz.name}")).to_be_visible()
    phone.get_by_label("Email or phone number").fill(biz.email)
    phone.get_by_role("button", name="Send me a sign-in link").click()
    expect(phone.get_by_role("heading", name="Check your messages")).to_be_visible()
    phone.goto(newest_link(server, biz.email, "sign-in"))
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", name=f"Hello, {biz.client_name}")).to_be_visible()
    expect(phone.locator("header .brand")).to_have_text(biz.name)


def open_step(phone: Page, coach: Page, server: LiveServer, biz: Business, *, title: str, kind: str) -> None:
    """Reach a step's page from the portal's To-do list, or else by the link the coach sends from the client page."""
    phone.goto(f"/c/{biz.slug}/")
    todo = phone.locator("main a[href*='/" + kind + "/']").filter(has_text=title)
    if todo.count():
        todo.first.click()
        return
    coach.goto(f"/clients/{biz.client_id}")
    if kind == "waivers":
        coach.locator("#panel-waivers").get_by_role("button", name="Send signing link").click()
        expect(coach.get_by_role("status")).to_contain_text("Signing link queued")
    else:
        panel = coach.locator("#panel-forms")
        panel.get_by_text("Send a form link").click()
        panel.get_by_label("Form").select_option(label=title)
        panel.get_by_label("By").select_option("email")
        panel.get_by_role("button", name="Send link").click()
        expect(coach.get_by_role("status")).to_be_visible()
    phone.goto(newest_link(server, biz.email, kind))


def photograph(page: Page, folder: Path | None, name: str) -> None:
    """Write docs/screenshots/client-journey-<name>.png for the README (only when asked for a folder)."""
    if folder is None:
        return
    page.wait_for_load_state("networkidle")
    target = folder / f"client-journey-{name}.png"
    page.screenshot(path=str(target), full_page=True, animations="disabled", caret="hide")
    assert target.stat().st_size > 10_000


def sign_waiver(phone: Page, biz: Business, shots: Path | None = None) -> None:
    """Type the name, draw on the pad with the pointer, agree and sign."""
    expect(phone.locator("header")).to_contain_text(biz.name)
    expect(phone.locator("#waiver-text")).to_contain_text("Exercise carries some risk.")
    phone.get_by_label("Your full name, as your signature").fill(biz.client_name)
    canvas = phone.get_by_label("Signature pad", exact=True)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    phone.mouse.move(box["x"] + 15, box["y"] + 30)
    phone.mouse.down()
    for step in range(1, 10):
        phone.mouse.move(box["x"] + 15 + step * 25, box["y"] + 30 + (step % 3) * 15)
    phone.mouse.up()
    assert phone.locator("input[name=drawing]").input_value().startswith("M ")
    birth = phone.get_by_label("Your date of birth")
    if birth.count():
        birth.fill("1991-06-14")
    phone.get_by_role("checkbox").check()
    photograph(phone, shots, "waiver")
    phone.get_by_role("button", name="Sign").click()
    expect(phone.get_by_role("status")).to_contain_text("your signature is recorded")


def fill_screening(phone: Page, *, yes: int = 0, shots: Path | None = None) -> None:
    """Answer every question "No" (or "Yes" to the first `yes` of them) and send."""
    expect(phone.get_by_role("heading", name=SCREENING)).to_be_visible()
    questions = phone.locator("fieldset.question")
    assert questions.count() == 8
    for i in range(questions.count()):
        questions.nth(i).get_by_label("Yes" if i < yes else "No", exact=True).check()
    photograph(phone, shots, "screening")
    phone.get_by_role("button", name="Send my answers").click()
    expect(phone.get_by_role("status")).to_contain_text("your answers were received")


def book_first_slot(phone: Page, biz: Business) -> None:
    """From the portal: Book a session → Personal training → the first free time → Book this time."""
    phone.goto(f"/c/{biz.slug}/")
    phone.get_by_role("link", name="Book a session").click()
    expect(phone.locator(".whoami")).to_contain_text(f"Booking as {biz.client_name}")
    phone.get_by_role("link", name="Personal training").click()
    phone.wait_for_url(re.compile(r"[?&]tz="))
    for _ in range(3):
        if phone.locator("ul.slots a").count():
            break
        phone.get_by_role("link", name="Next week →").click()
        phone.wait_for_load_state()
    phone.locator("ul.slots a").first.click()
    phone.get_by_role("button", name="Book this time").click()


class TestClientOnboardingOnAPhone:
    def test_sign_in_onboard_book_with_a_credit_and_the_coach_sees_it(
        self, browse: Browse, live_server: LiveServer, core: CoachOS, screenshots_dir: Path
    ) -> None:
        """Link sign-in, waiver drawn and typed, screening all "no", a booking with a credit that nothing holds."""
        coach = browse.page()
        biz = set_up(
            coach, core, slug="onboard-trail", business="Trailhead Fitness", client_name="Jordan Newcomer",
            email="jordan.newcomer@example.test",
        )  # fmt: skip
        phone = browse.page(viewport=PHONE, is_mobile=True, has_touch=True)
        sign_in_by_link(phone, live_server, biz)
        expect(phone.locator("#credits + ul")).to_contain_text("10 of 10 left")
        photograph(phone, screenshots_dir, "portal")

        open_step(phone, coach, live_server, biz, title=WAIVER, kind="waivers")
        sign_waiver(phone, biz, screenshots_dir)
        open_step(phone, coach, live_server, biz, title=SCREENING, kind="forms")
        fill_screening(phone, shots=screenshots_dir)

        book_first_slot(phone, biz)
        expect(phone.get_by_role("status")).to_contain_text(re.compile("you're booked in", re.IGNORECASE))
        expect(phone.locator("main")).to_contain_text("One session credit from your package was used.")
        photograph(phone, screenshots_dir, "booked")
        # A signed-in client's booking is confirmed at once (they proved who they are) once onboarding
        # no longer holds it: the flow is complete, so nothing waits for the coach.
        ((_booking, status, package_id),) = client_bookings(live_server, biz)
        assert status == "confirmed"
        assert package_id is not None, "the booking did not use the client's credit"
        coach.goto("/today")
        expect(coach.locator("main")).not_to_contain_text(f"Confirm {biz.client_name}")
        expect(coach.locator("#onboarding-holds")).to_have_count(0)
        phone.goto(f"/c/{biz.slug}/")
        expect(phone.locator("#credits + ul")).to_contain_text("9 of 10 left")
        expect(phone.locator("#upcoming + ul")).to_contain_text("Personal training")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "the portal scrolls sideways"

        coach.goto(f"/clients/{biz.client_id}")
        waivers = coach.locator("#panel-waivers")
        expect(waivers.locator(".badge")).to_have_text("signed")
        row = waivers.locator("table.signatures tbody tr")
        expect(row).to_have_count(1)
        expect(row.locator("td").nth(0)).to_have_text("1")
        expect(row.locator("td").nth(1)).to_have_text(re.compile(r"\d{1,2} \w{3} \d{4}, \d{2}:\d{2}"))
        expect(row).to_contain_text(biz.client_name)
        expect(row).to_contain_text("typed name and drawn signature")
        expect(row.get_by_role("img")).to_be_visible()
        expect(coach.locator(".panel[aria-busy]")).to_have_count(0)
        messages_panel = coach.locator("#panel-messages")
        expect(messages_panel).to_contain_text("sign-in link and code: hidden")
        expect(messages_panel).not_to_contain_text("/sign-in/")
        photograph(coach, screenshots_dir, "coach")

        forms = coach.locator("#panel-forms")
        expect(forms).to_contain_text("Access log (0)")
        forms.get_by_role("link", name="Open answers").click()
        expect(coach.get_by_role("heading", name=re.compile(SCREENING))).to_be_visible()
        expect(coach.locator("dl.answers dd strong")).to_have_text(["no"] * 8)
        coach.goto(f"/clients/{biz.client_id}")
        expect(coach.locator("#panel-forms")).to_contain_text("Access log (1)")
        assert not browse.problems, browse.problems

    def test_a_yes_on_the_screening_holds_booking_until_the_coach_records_clearance(
        self, browse: Browse, live_server: LiveServer, core: CoachOS
    ) -> None:
        """The client is told why they cannot book; once the coach records clearance the same booking goes through."""
        coach = browse.page()
        biz = set_up(
            coach, core, slug="onboard-hold", business="Summit Strength", client_name="Riley Yesanswer",
            email="riley.yes@example.test",
        )  # fmt: skip
        phone = browse.page(viewport=PHONE, is_mobile=True, has_touch=True)
        sign_in_by_link(phone, live_server, biz)
        open_step(phone, coach, live_server, biz, title=WAIVER, kind="waivers")
        sign_waiver(phone, biz)
        open_step(phone, coach, live_server, biz, title=SCREENING, kind="forms")
        fill_screening(phone, yes=1)

        book_first_slot(phone, biz)
        expect(phone.get_by_role("alert")).to_contain_text("coach needs to record clearance")
        assert client_bookings(live_server, biz) == []

        coach.goto(f"/clients/{biz.client_id}")
        forms = coach.locator("#panel-forms")
        expect(forms).to_contain_text("Health screening: ")
        forms.get_by_text("Record clearance", exact=True).first.click()
        forms.get_by_label("What it rests on").fill("GP letter of 2 May: cleared for moderate training")
        forms.get_by_role("button", name="Record clearance").click()
        expect(coach.locator("#panel-forms")).to_contain_text("GP letter of 2 May")

        book_first_slot(phone, biz)
        expect(phone.get_by_role("status")).to_contain_text(re.compile("you're booked in", re.IGNORECASE))
        ((_booking, status, package_id),) = client_bookings(live_server, biz)
        assert status == "confirmed"
        assert package_id is not None
        assert not browse.problems, browse.problems
