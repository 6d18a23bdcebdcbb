"""The client portal's pages: signing in by link or code, the portal's own pages, and booking as a signed-in client."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import structlog
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS, CreateClient, Money, SellPackage, Settings
from coachos.adapters.clock import FixedClock
from coachos.adapters.security import fast_test_hasher
from coachos.domain.accounts import Login
from coachos.domain.clients import Client as Person
from coachos.domain.usecases import BookSession
from coachos.domain.usecases.portal import LINK_REFUSED
from coachos.logs import configure_logging
from tests.helpers import World, make_world
from tests.web.support import PASSWORD, csrf

EMAIL = "riley.quinn@example.test"
PREFIX = "http://coachos.test"


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Production logging (JSON lines, redaction on) into a buffer for the test, then the default again."""
    buffer = io.StringIO()
    configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=buffer)
    yield buffer
    structlog.reset_defaults()


@pytest.fixture
def world(core: CoachOS) -> World:
    return make_world(core, slug="peak")


@pytest.fixture
def person(core: CoachOS, world: World) -> Person:
    """A client of Peak with an email on file and a package of credits."""
    found = core.execute(CreateClient(org_id=world.org.id, name="Riley Quinn", email=EMAIL, actor=world.me))
    core.execute(
        SellPackage(
            org_id=world.org.id, client_id=found.id, name="Five pack", sessions=5, price=Money(0, "USD"), actor=world.me
        )
    )
    return found


def sign_in_messages(core: CoachOS, org_id: object, client_id: object) -> list[str]:
    """Bodies of the sign-in messages queued for the client, oldest first."""
    with core.unit_of_work() as uow:
        found = uow.messages.for_client(org_id, client_id)  # type: ignore[arg-type]
    return [m.body for m in sorted(found, key=lambda m: m.created_at) if m.template == "portal_sign_in"]


def link_path(body: str) -> str:
    found = re.search(re.escape(PREFIX) + r"(/c/\S+)", body)
    assert found
    return found.group(1)


def code_of(body: str) -> str:
    found = re.search(r" is (\d{6})", body)
    assert found
    return found.group(1)


async def ask(browser: Client, slug: str, contact: str) -> str:
    token = await csrf(browser, f"/c/{slug}/sign-in")
    response = await browser.post(f"/c/{slug}/sign-in", form={"csrf_token": token, "contact": contact})
    assert response.status_code == 200
    return await response.get_data(as_text=True)


async def confirm(browser: Client, path: str) -> tuple[int, str]:
    token = await csrf(browser, path)
    response = await browser.post(path, form={"csrf_token": token})
    return response.status_code, await response.get_data(as_text=True)


async def signed_in_browser(web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock) -> Client:
    browser = web.test_client()
    await ask(browser, world.org.slug, EMAIL)
    path = link_path(sign_in_messages(core, world.org.id, person.id)[-1])
    status, _ = await confirm(browser, path)
    assert status == 303
    clock.advance(timedelta(seconds=1))
    return browser


class TestAskForSignIn:
    async def test_known_and_unknown_contacts_get_the_same_page(
        self, client: Client, core: CoachOS, world: World, person: Person
    ) -> None:
        """The answer never tells whether the business has the contact."""
        known = await ask(client, "peak", EMAIL)
        unknown = await ask(client, "peak", "someone.else@example.test")
        assert known.replace(EMAIL, "X") == unknown.replace("someone.else@example.test", "X")
        assert len(sign_in_messages(core, world.org.id, person.id)) == 1

    async def test_page_is_branded_with_the_business(self, client: Client, world: World) -> None:
        """The sign-in page carries the business's name, not Coach OS's."""
        page = await (await client.get("/c/peak/sign-in")).get_data(as_text=True)
        assert "Peak Coaching" in page
        assert "Coach OS" not in page

    async def test_bad_contact_is_a_400(self, client: Client, world: World) -> None:
        """Something that is neither an email nor a phone number is refused with a message."""
        token = await csrf(client, "/c/peak/sign-in")
        response = await client.post("/c/peak/sign-in", form={"csrf_token": token, "contact": "hello"})
        assert response.status_code == 400
        assert "neither an email nor a phone" in await response.get_data(as_text=True)

    async def test_unknown_business_is_a_404(self, client: Client, world: World) -> None:
        """A portal address naming no business answers 404."""
        assert (await client.get("/c/nobody-here/sign-in")).status_code == 404


class TestLinks:
    async def test_get_and_head_do_not_sign_in_and_post_does_once(
        self, client: Client, core: CoachOS, world: World, person: Person
    ) -> None:
        """Opening the link (as a mail scanner would) changes nothing; the button signs in; a second press fails."""
        await ask(client, "peak", EMAIL)
        path = link_path(sign_in_messages(core, world.org.id, person.id)[-1])
        scanner = await client.get(path)
        assert scanner.status_code == 200
        assert "Sign in" in await scanner.get_data(as_text=True)
        assert (await client.head(path)).status_code == 200
        assert (await client.get("/c/peak/")).status_code == 303
        status, _ = await confirm(client, path)
        assert status == 303
        home = await client.get("/c/peak/")
        assert home.status_code == 200
        assert "Riley Quinn" in await home.get_data(as_text=True)
        other = web_client_of(client)
        status, page = await confirm(other, path)
        assert status == 401
        assert LINK_REFUSED in page

    async def test_expired_superseded_unknown_and_other_org_links_fail_alike(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock
    ) -> None:
        """Every link that does not sign in gets the same 401 page."""
        browser = web.test_client()
        await ask(browser, "peak", EMAIL)
        clock.advance(timedelta(seconds=1))
        await ask(browser, "peak", EMAIL)
        old, new = (link_path(b) for b in sign_in_messages(core, world.org.id, person.id))
        make_world(core, slug="summit")
        pages = []
        for path in (old, "/c/peak/sign-in/not-a-real-token", new.replace("/c/peak/", "/c/summit/")):
            status, page = await confirm(browser, path)
            assert status == 401
            pages.append(page.replace("Peak Coaching", "X").replace("summit", "peak"))
        clock.advance(timedelta(minutes=15))
        status, page = await confirm(browser, new)
        assert status == 401
        assert len({*pages, page.replace("Peak Coaching", "X")}) == 1

    async def test_code_signs_in_and_locks_after_five_wrong(
        self, web: Quart, core: CoachOS, world: World, person: Person
    ) -> None:
        """A wrong code is a 401; after five, the right one is refused too."""
        browser = web.test_client()
        await ask(browser, "peak", EMAIL)
        code = code_of(sign_in_messages(core, world.org.id, person.id)[-1])
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        token = await csrf(browser, "/c/peak/sign-in")
        for _ in range(5):
            response = await browser.post(
                "/c/peak/sign-in/code", form={"csrf_token": token, "contact": EMAIL, "code": wrong}
            )
            assert response.status_code == 401
        response = await browser.post(
            "/c/peak/sign-in/code", form={"csrf_token": token, "contact": EMAIL, "code": code}
        )
        assert response.status_code == 401
        bad = await browser.post("/c/peak/sign-in/code", form={"csrf_token": token, "contact": EMAIL, "code": "12ab"})
        assert bad.status_code == 400

    async def test_right_code_signs_in(self, web: Quart, core: CoachOS, world: World, person: Person) -> None:
        """The code from the message opens the portal."""
        browser = web.test_client()
        await ask(browser, "peak", EMAIL)
        code = code_of(sign_in_messages(core, world.org.id, person.id)[-1])
        token = await csrf(browser, "/c/peak/sign-in")
        response = await browser.post(
            "/c/peak/sign-in/code", form={"csrf_token": token, "contact": EMAIL, "code": code}
        )
        assert response.status_code == 303
        assert (await browser.get("/c/peak/")).status_code == 200

    async def test_posting_without_csrf_is_refused(
        self, client: Client, core: CoachOS, world: World, person: Person
    ) -> None:
        """The confirming POST needs the page's CSRF token."""
        await ask(client, "peak", EMAIL)
        path = link_path(sign_in_messages(core, world.org.id, person.id)[-1])
        assert (await client.post(path, form={})).status_code == 403


def web_client_of(browser: Client) -> Client:
    """Another browser on the same app."""
    return browser.app.test_client()  # type: ignore[attr-defined,no-any-return]


class TestPortalPages:
    async def test_home_shows_sessions_credits_and_todo_in_the_business_zone(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock
    ) -> None:
        """Upcoming sessions with their local time and zone abbreviation, credits left, and the To do section."""
        start = clock.now().replace(hour=15, minute=0) + timedelta(days=1)
        core.execute(
            BookSession(
                org_id=world.org.id,
                coach_id=world.coach.id,
                service_id=world.pt.id,
                client_id=person.id,
                start=start,
                actor=world.me,
            )
        )
        browser = await signed_in_browser(web, core, world, person, clock)
        page = await (await browser.get("/c/peak/")).get_data(as_text=True)
        assert "Tue 3 Mar 2026, 10:00 EST" in page
        assert "4 of 5 left" in page
        assert "To do" in page
        assert "Move or cancel" in page
        (mine,) = core.read(lambda uow: uow.bookings.for_client(world.org.id, person.id))
        assert (await browser.get(f"/c/peak/bookings/{mine.id}")).headers["Location"].startswith("/manage/")
        token = await csrf(browser, "/c/peak/")
        assert (await browser.post(f"/c/peak/bookings/{mine.id}/cancel", form={"csrf_token": token})).status_code == 303
        cancelled = core.read(lambda uow: uow.bookings.get(world.org.id, mine.id))
        assert cancelled.status.value == "cancelled"
        assert "5 of 5 left" in await (await browser.get("/c/peak/")).get_data(as_text=True)

    async def test_details_edit_name_and_refuse_blank(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock
    ) -> None:
        """The client renames themselves; a blank name is a 400 that changes nothing."""
        browser = await signed_in_browser(web, core, world, person, clock)
        token = await csrf(browser, "/c/peak/details")
        ok = await browser.post("/c/peak/details", form={"csrf_token": token, "name": "Riley Q", "timezone": ""})
        assert ok.status_code == 200
        bad = await browser.post("/c/peak/details", form={"csrf_token": token, "name": " ", "timezone": ""})
        assert bad.status_code == 400
        assert core.read(lambda uow: uow.clients.get(world.org.id, person.id)).name == "Riley Q"

    async def test_contact_change_is_confirmed_by_the_code_sent_to_it(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock
    ) -> None:
        """Asking shows the code form and changes nothing; the code from the new email makes the change."""
        browser = await signed_in_browser(web, core, world, person, clock)
        token = await csrf(browser, "/c/peak/details")
        asked = await browser.post(
            "/c/peak/details/contact", form={"csrf_token": token, "contact": "fresh@example.test"}
        )
        assert asked.status_code == 200
        assert "Confirm the change" in await asked.get_data(as_text=True)
        assert core.read(lambda uow: uow.clients.get(world.org.id, person.id)).email == EMAIL
        with core.unit_of_work() as uow:
            (body,) = [m.body for m in uow.messages.for_client(world.org.id, person.id) if m.to == "fresh@example.test"]
        bad = await browser.post("/c/peak/details/contact/confirm", form={"csrf_token": token, "code": "x"})
        assert bad.status_code == 400
        done = await browser.post("/c/peak/details/contact/confirm", form={"csrf_token": token, "code": code_of(body)})
        assert done.status_code == 200
        assert core.read(lambda uow: uow.clients.get(world.org.id, person.id)).email == "fresh@example.test"
        refused = await browser.post("/c/peak/details/contact", form={"csrf_token": token, "contact": "nope"})
        assert refused.status_code == 400

    async def test_notifications_record_and_withdraw_with_method_and_words(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock
    ) -> None:
        """Turning emails on and off is logged as the client's request, with the words shown."""
        browser = await signed_in_browser(web, core, world, person, clock)
        token = await csrf(browser, "/c/peak/notifications")
        for action in ("give", "withdraw"):
            clock.advance(timedelta(seconds=1))
            response = await browser.post(
                "/c/peak/notifications", form={"csrf_token": token, "channel": "email", "action": action}
            )
            assert response.status_code == 303
        log = core.read(lambda uow: uow.clients.consent_log(world.org.id, person.id))
        assert [(c.action.value, c.method, c.actor) for c in log] == [
            ("given", "client_request", f"client:{person.id}"),
            ("withdrawn", "client_request", f"client:{person.id}"),
        ]
        assert log[0].wording
        assert "Peak Coaching" in log[0].wording
        bad = await browser.post(
            "/c/peak/notifications", form={"csrf_token": token, "channel": "fax", "action": "give"}
        )
        assert bad.status_code == 400

    async def test_data_download_as_json_and_csv(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock
    ) -> None:
        """The JSON holds every section and no sign-in secret; the CSV has one row per field."""
        browser = await signed_in_browser(web, core, world, person, clock)
        response = await browser.get("/c/peak/data.json")
        assert response.headers["Content-Disposition"].startswith("attachment")
        export = json.loads(await response.get_data(as_text=True))
        assert set(export) >= {"profile", "consents", "consent_log", "bookings", "packages", "messages"}
        assert export["profile"]["email"] == EMAIL
        assert export["packages"][0]["total"] == 5
        body = sign_in_messages(core, world.org.id, person.id)[-1]
        assert code_of(body) not in json.dumps(export["messages"])
        csv_text = await (await browser.get("/c/peak/data.csv")).get_data(as_text=True)
        assert csv_text.startswith("section,record,field,value")
        assert f"profile,0,email,{EMAIL}" in csv_text

    async def test_deletion_request_then_coach_approval_anonymises(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock
    ) -> None:
        """The client asks; the coach approves on the client page; the client is anonymised and signed out."""
        browser = await signed_in_browser(web, core, world, person, clock)
        token = await csrf(browser, "/c/peak/data")
        assert (await browser.post("/c/peak/delete", form={"csrf_token": token})).status_code == 303
        assert "You asked to delete" in await (await browser.get("/c/peak/data")).get_data(as_text=True)
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
        login = await csrf(coach)
        await coach.post("/login", form={"csrf_token": login, "email": "alex@peak.test", "password": PASSWORD})
        page = await (await coach.get(f"/clients/{person.id}")).get_data(as_text=True)
        assert "asked to delete their account" in page
        token = await csrf(coach, f"/clients/{person.id}")
        approved = await coach.post(f"/clients/{person.id}/approve-deletion", form={"csrf_token": token})
        assert approved.status_code == 303
        gone = core.read(lambda uow: uow.clients.get(world.org.id, person.id))
        assert gone.name == "Deleted client"
        assert gone.email is None
        assert (await browser.get("/c/peak/")).status_code == 303


class TestBookingAsClient:
    async def test_signed_in_booking_uses_own_details_and_a_credit(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock
    ) -> None:
        """The booking page says who is booking; booking takes a credit from the client's package."""
        browser = await signed_in_browser(web, core, world, person, clock)
        start = "2026-03-03T15:00:00Z"
        path = f"/book/peak/{world.pt.id}/book?start={start}"
        page = await (await browser.get(path)).get_data(as_text=True)
        assert "Booking as <strong>Riley Quinn</strong>" in page
        token = await csrf(browser, path)
        response = await browser.post(path, form={"csrf_token": token, "idempotency_key": "k1"})
        assert response.status_code == 302
        (booking,) = core.read(lambda uow: uow.bookings.for_client(world.org.id, person.id))
        assert booking.package_id is not None
        (package,) = core.read(lambda uow: uow.packages.for_client(world.org.id, person.id))
        assert package.used == 1

    async def test_without_credits_the_booking_is_made_unpaid(
        self, web: Quart, core: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """A signed-in client with no package still books, as a guest would, with no credit taken."""
        other = core.execute(CreateClient(org_id=world.org.id, name="Sky Noor", email=EMAIL, actor=world.me))
        browser = await signed_in_browser(web, core, world, other, clock)
        path = f"/book/peak/{world.pt.id}/book?start=2026-03-03T16:00:00Z"
        token = await csrf(browser, path)
        response = await browser.post(path, form={"csrf_token": token, "idempotency_key": "k2"})
        assert response.status_code == 302
        (booking,) = core.read(lambda uow: uow.bookings.for_client(world.org.id, other.id))
        assert booking.package_id is None

    async def test_guest_sees_a_sign_in_link(self, client: Client, world: World) -> None:
        """Without a session the booking pages offer to sign in."""
        page = await (await client.get("/book/peak")).get_data(as_text=True)
        assert "/c/peak/sign-in" in page


class TestTenancy:
    async def test_every_portal_route_refuses_another_orgs_session(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock
    ) -> None:
        """Signed in at Peak, every portal page of Summit sends to Summit's sign-in and shows none of Summit's data."""
        summit = make_world(core, slug="summit")
        theirs = core.execute(
            BookSession(
                org_id=summit.org.id,
                coach_id=summit.coach.id,
                service_id=summit.pt.id,
                client_id=summit.client.id,
                start=clock.now().replace(hour=15, minute=0) + timedelta(days=1),
                actor=summit.me,
            )
        )
        browser = await signed_in_browser(web, core, world, person, clock)
        token = await csrf(browser, "/c/peak/")
        rules = [r for r in web.url_map.iter_rules() if r.endpoint.startswith("portal.")]
        open_pages = {"portal.sign_in", "portal.sign_in_with_code", "portal.confirm_link", "portal.use_link"}
        walked = 0
        for rule in rules:
            if rule.endpoint in open_pages or rule.endpoint == "portal.sign_out":
                continue
            path = (
                rule.rule.replace("<slug>", "summit")
                .replace("<uuid:booking_id>", str(theirs.id))
                .replace("<uuid:package_id>", str(summit.package.id))
            )
            path = path.replace("<uuid:plan_id>", str(theirs.id))  # any id: the sign-in check comes first
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                form = {"csrf_token": token, "name": "Probe", "channel": "email", "action": "give"}
                response = await (browser.get(path) if method == "GET" else browser.post(path, form=form))
                assert response.status_code == 303, (method, path, response.status_code)
                assert response.headers["Location"].endswith("/c/summit/sign-in")
                walked += 1
        assert walked >= 8
        assert core.read(lambda uow: uow.clients.get(summit.org.id, summit.client.id)).name == "Jordan Lee"
        assert core.read(lambda uow: uow.portal.deletion_requested(summit.org.id, summit.client.id)) is None
        assert core.read(lambda uow: uow.bookings.get(summit.org.id, theirs.id)).status.is_open
        for path in (f"/c/peak/bookings/{theirs.id}", f"/c/summit/bookings/{theirs.id}"):
            assert (await browser.get(path)).status_code in (303, 404)

    async def test_another_clients_bookings_never_show(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock
    ) -> None:
        """A booking of another client of the same business is not on this client's pages or export."""
        start = clock.now().replace(hour=16, minute=0) + timedelta(days=1)
        theirs = core.execute(
            BookSession(
                org_id=world.org.id,
                coach_id=world.coach.id,
                service_id=world.pt.id,
                client_id=world.client.id,
                start=start,
                actor=world.me,
            )
        )
        browser = await signed_in_browser(web, core, world, person, clock)
        home = await (await browser.get("/c/peak/")).get_data(as_text=True)
        assert "No sessions booked" in home
        assert (await browser.get(f"/c/peak/bookings/{theirs.id}")).status_code == 404
        token = await csrf(browser, "/c/peak/")
        cancel = await browser.post(f"/c/peak/bookings/{theirs.id}/cancel", form={"csrf_token": token})
        assert cancel.status_code == 404
        assert core.read(lambda uow: uow.bookings.get(world.org.id, theirs.id)).status.is_open
        export = await (await browser.get("/c/peak/data.json")).get_data(as_text=True)
        assert str(theirs.id) not in export
        assert "Jordan Lee" not in export


class TestLogPrivacy:
    async def test_sign_in_and_portal_pages_log_no_contact_name_token_or_code(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock, logs: io.StringIO
    ) -> None:
        """Asking, a wrong code, the link, the portal's pages and a download log ids and routes only."""
        browser = web.test_client()
        await ask(browser, "peak", EMAIL)
        await ask(browser, "peak", "+1 212 555 0199")
        body = sign_in_messages(core, world.org.id, person.id)[-1]
        path, code = link_path(body), code_of(body)
        token = await csrf(browser, "/c/peak/sign-in")
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        await browser.post("/c/peak/sign-in/code", form={"csrf_token": token, "contact": EMAIL, "code": wrong})
        await browser.head(path)
        status, _ = await confirm(browser, path)
        assert status == 303
        for page in ("/c/peak/", "/c/peak/details", "/c/peak/notifications", "/c/peak/data", "/c/peak/data.json"):
            assert (await browser.get(page)).status_code == 200
        written = logs.getvalue()
        assert "/c/<slug>/sign-in/<token>" in written
        secret = path.rsplit("/", 1)[1]
        for private in (EMAIL, "riley", "Riley Quinn", "2125550199", secret, code, wrong):
            assert private.lower() not in written.lower(), private
