"""The client list and the client page's panels, through the real app on the fakes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import attrs
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import (
    Actor,
    BookSession,
    CoachOS,
    CreateClient,
    Money,
    SellPackage,
    Settings,
    bootstrap,
)
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.domain.bookings import Booking, CreditChange, CreditEvent
from coachos.domain.catalog import Service, SessionPackage
from coachos.domain.clients import Client as ClientRecord
from coachos.domain.clients import ClientStatus
from coachos.domain.ids import BookingId, ClientId, OrgId, PackageId
from coachos.domain.orgs import Coach, Organization
from coachos.entrypoints.web.views.clients import PANELS
from coachos.ports.storage import PackageRepository, UnitOfWork
from tests.web.support import csrf, serving, sign_up

PANEL_NAMES = [p.name for p in PANELS]
NEW_YORK = "America/New_York"


@attrs.frozen
class Business:
    """A signed-up business as the tests see it."""

    org: Organization
    coach: Coach
    service: Service

    @property
    def me(self) -> Actor:
        """The owner as actor."""
        return Actor("coach", self.coach.id)


async def open_business(client: Client, core: CoachOS, slug: str = "peak") -> Business:
    """Sign up through the form (the client stays signed in) and look up what it created."""
    await sign_up(client, email=f"alex@{slug}.test", slug=slug, timezone=NEW_YORK)
    org = core.read(lambda uow: uow.orgs.by_slug(slug))
    (coach,) = core.read(lambda uow: uow.coaches.list(org.id))
    (service,) = core.read(lambda uow: uow.services.list(org.id))
    return Business(org, coach, service)


def add(core: CoachOS, biz: Business, name: str, **kw: object) -> ClientRecord:
    return core.execute(CreateClient(org_id=biz.org.id, name=name, actor=biz.me, **kw))  # type: ignore[arg-type]


def sell(core: CoachOS, biz: Business, who: ClientRecord, sessions: int = 10) -> SessionPackage:
    return core.execute(
        SellPackage(
            org_id=biz.org.id,
            client_id=who.id,
            name="Ten pack",
            sessions=sessions,
            price=Money(45000, "USD"),
            actor=biz.me,
        )
    )


def book(core: CoachOS, biz: Business, who: ClientRecord, day: int, hour: int) -> Booking:
    """A session on March `day` at `hour`:00 New York time."""
    start = datetime(2026, 3, day, hour, tzinfo=biz.org.tz).astimezone(UTC)
    return core.execute(
        BookSession(
            org_id=biz.org.id,
            coach_id=biz.coach.id,
            service_id=biz.service.id,
            client_id=who.id,
            start=start,
            actor=biz.me,
        )
    )


async def text(client: Client, path: str, **kw: object) -> tuple[int, str]:
    response = await client.get(path, **kw)  # type: ignore[arg-type]
    return response.status_code, await response.get_data(as_text=True)


def names_listed(page: str) -> list[str]:
    return re.findall(r'<td data-label="Name"><a href="/clients/[0-9a-f-]+">([^<]+)</a>', page)


class TestClientList:
    async def test_lists_clients_with_credits_and_next_session(self, client: Client, core: CoachOS) -> None:
        """Each client shows contact details, status, tags, credits left and the next session in New York time."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee", phone="+12125550101", email="jordan@example.com", tags={"vip"})
        sell(core, biz, jordan)
        book(core, biz, jordan, 3, 10)
        add(core, biz, "Sam Patel")
        status, page = await text(client, "/clients")
        assert status == 200
        assert names_listed(page) == ["Jordan Lee", "Sam Patel"]
        assert "+12125550101" in page
        assert "jordan@example.com" in page
        assert 'href="/clients?tag=vip"' in page
        assert '<td data-label="Credits left" class="credits">9</td>' in page
        assert "Tue 3 Mar, 10:00 EST" in page

    async def test_search_matches_name_email_and_typed_phone(self, client: Client, core: CoachOS) -> None:
        """Searching finds clients by part of the name, the email, or the phone typed with spaces."""
        biz = await open_business(client, core)
        add(core, biz, "Jordan Lee", phone="+12125550101")
        add(core, biz, "Sam Patel", email="sam@gym.example")
        assert names_listed((await text(client, "/clients?q=jord"))[1]) == ["Jordan Lee"]
        assert names_listed((await text(client, "/clients?q=GYM.example"))[1]) == ["Sam Patel"]
        assert names_listed((await text(client, "/clients?q=555 0101"))[1]) == ["Jordan Lee"]
        assert "No clients match" in (await text(client, "/clients?q=nobody"))[1]

    async def test_filters_by_status_and_tag(self, client: Client, core: CoachOS) -> None:
        """The status and tag filters narrow the list, together with the search."""
        biz = await open_business(client, core)
        add(core, biz, "Jordan Lee", status=ClientStatus.ACTIVE, tags={"morning"})
        add(core, biz, "Sam Patel", status=ClientStatus.ACTIVE)
        add(core, biz, "Kim Ng", tags={"morning"})
        assert names_listed((await text(client, "/clients?status=active"))[1]) == ["Jordan Lee", "Sam Patel"]
        assert names_listed((await text(client, "/clients?tag=Morning"))[1]) == ["Jordan Lee", "Kim Ng"]
        assert names_listed((await text(client, "/clients?status=active&tag=morning"))[1]) == ["Jordan Lee"]
        assert (await text(client, "/clients?status=vip"))[0] == 400

    async def test_signed_out_visitors_are_sent_to_log_in(self, client: Client) -> None:
        """The list is only for signed-in coaches."""
        response = await client.get("/clients")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


class TestAddClient:
    async def test_adding_a_client_opens_their_page(self, client: Client, core: CoachOS) -> None:
        """The add form stores the client with normalised details and redirects to the client's page."""
        biz = await open_business(client, core)
        token = await csrf(client, "/clients")
        response = await client.post(
            "/clients",
            form={"csrf_token": token, "name": "Jordan Lee", "phone": "+1 212 555 0101", "tags": "VIP, morning"},
        )
        assert response.status_code == 303
        (stored,) = core.read(lambda uow: uow.clients.list(biz.org.id))
        assert response.headers["Location"] == f"/clients/{stored.id}"
        assert (stored.phone, stored.tags, stored.status) == ("+12125550101", {"vip", "morning"}, ClientStatus.LEAD)

    async def test_invalid_phone_shows_the_form_again_and_writes_nothing(self, client: Client, core: CoachOS) -> None:
        """A phone without country code re-shows the form with the field's message and the typed values."""
        biz = await open_business(client, core)
        token = await csrf(client, "/clients")
        response = await client.post(
            "/clients", form={"csrf_token": token, "name": "Jordan Lee", "phone": "555 0101", "email": ""}
        )
        assert response.status_code == 400
        page = await response.get_data(as_text=True)
        assert '<span class="field-error" role="alert">Phone numbers need the country code' in page
        assert 'value="Jordan Lee"' in page
        assert core.read(lambda uow: uow.clients.list(biz.org.id)) == []


class TestClientPage:
    async def test_page_has_every_panel_with_a_link_for_no_script(self, client: Client, core: CoachOS) -> None:
        """The client page names the client and holds one loading panel per section, each with a plain link."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        status, page = await text(client, f"/clients/{jordan.id}")
        assert status == 200
        assert "<h1>Jordan Lee" in page
        for name in PANEL_NAMES:
            url = f"/clients/{jordan.id}/panels/{name}"
            assert f'<div class="panel" data-panel-url="{url}" data-panel-name="' in page
            assert f'<noscript><a href="{url}">' in page

    async def test_every_panel_loads(self, client: Client, core: CoachOS) -> None:
        """Each panel's fragment answers 200 on its own, without the page layout."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        for name in PANEL_NAMES:
            status, fragment = await text(client, f"/clients/{jordan.id}/panels/{name}")
            assert status == 200, name
            assert "<html" not in fragment

    async def test_session_panels_show_new_york_time(self, client: Client, core: CoachOS, clock: FixedClock) -> None:
        """Upcoming and past sessions are split at now and shown in the business's zone with its abbreviation."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        sell(core, biz, jordan)
        book(core, biz, jordan, 3, 10)
        clock.advance(timedelta(days=2))
        book(core, biz, jordan, 5, 14)
        upcoming = (await text(client, f"/clients/{jordan.id}/panels/upcoming"))[1]
        past = (await text(client, f"/clients/{jordan.id}/panels/past"))[1]
        assert "Thu 5 Mar, 14:00 EST" in upcoming
        assert "Tue 3 Mar" not in upcoming
        assert "Tue 3 Mar, 10:00 EST" in past
        assert "Thu 5 Mar" not in past
        assert "Personal training" in upcoming

    async def test_packages_panel_shows_credits_left_and_their_history(self, client: Client, core: CoachOS) -> None:
        """The packages panel shows the credits left and who used each credit, when, and for which session."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        sell(core, biz, jordan, sessions=5)
        book(core, biz, jordan, 3, 10)
        status, fragment = await text(client, f"/clients/{jordan.id}/panels/packages")
        assert status == 200
        assert "<strong>4</strong> credits left" in fragment
        assert "4 of 5 left" in fragment
        assert "Used for the session on Tue 3 Mar, 10:00 EST" in fragment
        assert "<td>Alex Rivera</td>" in fragment
        assert "Mon 2 Mar, 07:00 EST" in fragment

    async def test_payments_lists_package_purchases(self, client: Client, core: CoachOS) -> None:
        """The payments panel lists what the client bought, with the amount and date."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        sell(core, biz, jordan)
        fragment = (await text(client, f"/clients/{jordan.id}/panels/payments"))[1]
        assert "450.00 USD" in fragment
        assert "Mon 2 Mar, 07:00 EST" in fragment

    async def test_waivers_without_any_point_to_setup(self, client: Client, core: CoachOS) -> None:
        """The waivers panel of a business with no waiver says so and links to where one is written."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        assert "No waivers yet" in (await text(client, f"/clients/{jordan.id}/panels/waivers"))[1]

    async def test_unknown_panel_is_not_found(self, client: Client, core: CoachOS) -> None:
        """Asking for a panel that does not exist answers 404."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        assert (await text(client, f"/clients/{jordan.id}/panels/secrets"))[0] == 404


class TestEditing:
    async def test_editing_the_profile_saves_it(self, client: Client, core: CoachOS) -> None:
        """The profile form changes the details and brings the coach back to the page, leaving notes alone."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee", notes="Bad knee")
        token = await csrf(client, f"/clients/{jordan.id}")
        response = await client.post(
            f"/clients/{jordan.id}",
            form={
                "csrf_token": token,
                "panel": "profile",
                "name": "Jordan Lee-Smith",
                "phone": "+44 7700 900123",
                "email": "jordan@example.com",
                "timezone": "Europe/London",
                "status": "active",
                "tags": "vip",
            },
        )
        assert response.status_code == 303
        saved = core.read(lambda uow: uow.clients.get(biz.org.id, jordan.id))
        assert (saved.name, saved.phone, saved.timezone, saved.status) == (
            "Jordan Lee-Smith",
            "+447700900123",
            "Europe/London",
            ClientStatus.ACTIVE,
        )
        assert saved.notes == "Bad knee"
        assert "jordan@example.com" in (await text(client, f"/clients/{jordan.id}/panels/profile"))[1]

    async def test_bad_phone_shows_the_message_and_keeps_the_client(self, client: Client, core: CoachOS) -> None:
        """A phone without country code re-shows the profile form with the message, and nothing changes."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        token = await csrf(client, f"/clients/{jordan.id}")
        response = await client.post(
            f"/clients/{jordan.id}",
            form={"csrf_token": token, "panel": "profile", "name": "Changed", "phone": "12345"},
        )
        assert response.status_code == 400
        page = await response.get_data(as_text=True)
        assert '<span class="field-error" role="alert">Phone numbers need the country code' in page
        assert 'value="12345"' in page
        assert core.read(lambda uow: uow.clients.get(biz.org.id, jordan.id)) == jordan

    async def test_notes_are_saved_alone(self, client: Client, core: CoachOS) -> None:
        """The notes form changes only the notes."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee", phone="+12125550101")
        token = await csrf(client, f"/clients/{jordan.id}")
        response = await client.post(
            f"/clients/{jordan.id}", form={"csrf_token": token, "panel": "notes", "notes": "Prefers mornings"}
        )
        assert response.status_code == 303
        saved = core.read(lambda uow: uow.clients.get(biz.org.id, jordan.id))
        assert (saved.notes, saved.phone) == ("Prefers mornings", "+12125550101")

    async def test_selling_a_package_parses_the_price(self, client: Client, core: CoachOS) -> None:
        """The sell form stores a package at the typed price in the business's currency, to the end of a local day."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        token = await csrf(client, f"/clients/{jordan.id}")
        response = await client.post(
            f"/clients/{jordan.id}/packages",
            form={
                "csrf_token": token,
                "name": "Five pack",
                "sessions": "5",
                "price": "1,045.50",
                "expires_on": "2026-06-30",
            },
        )
        assert response.status_code == 303
        (package,) = core.read(lambda uow: uow.packages.for_client(biz.org.id, jordan.id))
        assert (package.total, package.price) == (5, Money(104550, "USD"))
        assert package.expires_at == datetime(2026, 7, 1, 4, tzinfo=UTC)

    async def test_bad_price_is_refused_in_the_packages_panel(self, client: Client, core: CoachOS) -> None:
        """A price that is not an amount re-shows the sell form with the reason, and no package is sold."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        token = await csrf(client, f"/clients/{jordan.id}")
        response = await client.post(
            f"/clients/{jordan.id}/packages",
            form={"csrf_token": token, "name": "Five pack", "sessions": "5", "price": "a lot"},
        )
        assert response.status_code == 400
        assert "is not an amount" in await response.get_data(as_text=True)
        assert core.read(lambda uow: uow.packages.for_client(biz.org.id, jordan.id)) == []


class TestOtherOrganisations:
    async def test_another_orgs_client_is_not_found_anywhere(self, web: Quart, core: CoachOS) -> None:
        """Another business's client id answers 404 on the page, every panel and every form, and changes nothing."""
        theirs = web.test_client()
        other = await open_business(theirs, core, slug="other")
        stranger = add(core, other, "Kim Ng")
        mine = web.test_client()
        await open_business(mine, core)
        assert (await text(mine, f"/clients/{stranger.id}"))[0] == 404
        for name in PANEL_NAMES:
            assert (await text(mine, f"/clients/{stranger.id}/panels/{name}"))[0] == 404, name
        token = await csrf(mine, "/clients")
        posts = {
            f"/clients/{stranger.id}": {"panel": "profile", "name": "Taken", "phone": "bad"},
            f"/clients/{stranger.id}/packages": {"name": "Pack", "sessions": "5", "price": "10"},
        }
        for path, form in posts.items():
            assert (await mine.post(path, form={"csrf_token": token, **form})).status_code == 404, path
        assert core.read(lambda uow: uow.clients.get(other.org.id, stranger.id)) == stranger
        assert core.read(lambda uow: uow.packages.for_client(other.org.id, stranger.id)) == []
        assert names_listed((await text(mine, "/clients"))[1]) == []


class FlakyPackages:
    """The packages repository, failing for the clients in `broken` as an unreachable database would."""

    def __init__(self, inner: PackageRepository, broken: set[UUID]) -> None:
        self._inner = inner
        self._broken = broken

    def _check(self, client_id: UUID) -> None:
        if client_id in self._broken:
            raise RuntimeError("packages are unreachable")

    def add(self, package: SessionPackage) -> None:
        """Store a package."""
        self._inner.add(package)

    def get(self, org_id: OrgId, package_id: PackageId) -> SessionPackage:
        """The package."""
        return self._inner.get(org_id, package_id)

    def for_client(self, org_id: OrgId, client_id: ClientId) -> Sequence[SessionPackage]:
        """The client's packages, unless the client is broken."""
        self._check(client_id)
        return self._inner.for_client(org_id, client_id)

    def use_credit(self, org_id: OrgId, event: CreditEvent) -> CreditChange:
        """Use a credit."""
        return self._inner.use_credit(org_id, event)

    def return_credit(
        self, org_id: OrgId, booking_id: BookingId, *, at: datetime, actor: Actor, reason: str
    ) -> CreditChange | None:
        """Return a credit."""
        return self._inner.return_credit(org_id, booking_id, at=at, actor=actor, reason=reason)

    def credit_events(self, org_id: OrgId, package_id: PackageId) -> Sequence[CreditEvent]:
        """The package's credit history."""
        return self._inner.credit_events(org_id, package_id)


@pytest.fixture
def broken() -> set[UUID]:
    """Client ids whose packages cannot be read."""
    return set()


@pytest.fixture
def flaky_core(clock: FixedClock, mail: MemoryEmail, broken: set[UUID]) -> Iterator[CoachOS]:
    """Coach OS on fakes whose packages repository fails for the clients in `broken`."""
    store = MemoryStore()

    def unit_of_work() -> UnitOfWork:
        uow = store.unit_of_work()
        uow.packages = FlakyPackages(uow.packages, broken)
        return uow

    with bootstrap(
        Settings(database_url="memory://"),
        uow=unit_of_work,
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
    ) as built:
        yield built


@pytest.fixture
async def flaky_web(flaky_core: CoachOS) -> AsyncIterator[Quart]:
    """The web app serving the flaky Coach OS."""
    async with serving(flaky_core) as app:
        yield app


class TestPanelFailure:
    async def test_one_failing_panel_does_not_break_the_others(
        self, flaky_web: Quart, flaky_core: CoachOS, broken: set[UUID]
    ) -> None:
        """When a client's packages cannot be read, the packages and payments panels fail and the rest load."""
        client = flaky_web.test_client()
        biz = await open_business(client, flaky_core)
        jordan = add(flaky_core, biz, "Jordan Lee")
        broken.add(jordan.id)
        assert (await text(client, f"/clients/{jordan.id}"))[0] == 200
        failing = {"packages", "payments"}
        for name in PANEL_NAMES:
            status, _ = await text(client, f"/clients/{jordan.id}/panels/{name}", headers={"Accept": "text/html"})
            assert (status == 500) if name in failing else (status == 200), name

    async def test_a_script_asking_for_json_gets_a_problem(
        self, flaky_web: Quart, flaky_core: CoachOS, broken: set[UUID]
    ) -> None:
        """A failing panel asked for JSON answers problem+json with a message and an error id, no details."""
        client = flaky_web.test_client()
        biz = await open_business(client, flaky_core)
        jordan = add(flaky_core, biz, "Jordan Lee")
        broken.add(jordan.id)
        response = await client.get(f"/clients/{jordan.id}/panels/packages", headers={"Accept": "application/json"})
        assert response.status_code == 500
        assert response.mimetype == "application/problem+json"
        body = await response.get_json()
        assert "error_id" in body
        assert "unreachable" not in body["detail"]
