"""A stored row that cannot be read: lists show the others with a marker, asking for it by id is a logged 500.

Here on the in-memory fake, which can hold an unreadable row; tests/integration/web runs the same
suite on SQLite and PostgreSQL with rows spoiled by raw SQL.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import attrs
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import Actor, BookSession, CoachOS, CreateClient, Money, SellPackage, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.domain.ids import ClientId, CoachId, OrgId, ServiceId
from coachos.logs import configure_logging, reset_logging
from tests.web.support import sign_up


class Spoil(Protocol):
    """Makes a stored row unreadable: `column` says which value to spoil, `keys` how list reads still find it."""

    def __call__(self, org_id: OrgId, table: str, row_id: UUID, column: str, **keys: object) -> None: ...


_ERROR_ID = re.compile(r"error id ([0-9a-f]{12})")


@pytest.fixture
def store() -> MemoryStore:
    """The fake's storage, so the test can plant rows in it."""
    return MemoryStore()


@pytest.fixture
def core(store: MemoryStore, clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on the fake `store`."""
    with bootstrap(
        Settings(database_url="memory://"),
        uow=store.unit_of_work,
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
    ) as built:
        yield built


@pytest.fixture
def spoil(store: MemoryStore) -> Spoil:
    """Turns a stored record of the fake into a row it cannot read."""

    def plant(org_id: OrgId, table: str, row_id: UUID, column: str, **keys: object) -> None:
        store.add_unreadable(table, row_id, org_id, **keys)

    return plant


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Production logging (JSON lines, redaction on) into a buffer for the test."""
    buffer = io.StringIO()
    configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=buffer)
    yield buffer
    reset_logging()


@attrs.frozen
class Shop:
    """A signed-in coach's business where one client has two unreadable packages and a session today."""

    coach: Client
    org_id: OrgId
    coach_id: CoachId
    service_id: ServiceId
    jordan: ClientId
    sam: ClientId
    bad: list[UUID]


async def _shop(web: Quart, core: CoachOS, clock: FixedClock, spoil: Spoil) -> Shop:
    slug = f"peak-{uuid.uuid4().hex[:8]}"
    coach = web.test_client()
    await sign_up(coach, slug=slug, email=f"alex@{slug}.test")
    org = core.read(lambda uow: uow.orgs.by_slug(slug))
    (me,) = core.read(lambda uow: uow.coaches.list(org.id))
    (service,) = core.read(lambda uow: uow.services.list(org.id))
    actor = Actor("coach", me.id)
    ids = []
    for name, pack in (("Jordan Lee", "Ten pack"), ("Sam Patel", "Five pack")):
        person = core.execute(CreateClient(org_id=org.id, name=name, actor=actor))
        core.execute(
            SellPackage(org_id=org.id, client_id=person.id, name=pack, sessions=10, price=Money(0, "USD"), actor=actor)
        )
        ids.append(person.id)
    now = clock.now()
    clock.set(now - timedelta(days=2))  # book with enough notice, then come back to "today"
    core.execute(
        BookSession(
            org_id=org.id,
            coach_id=me.id,
            service_id=service.id,
            client_id=ids[0],
            start=datetime(2026, 3, 2, 15, 0, tzinfo=UTC),  # 10:00 in New York, today
            confirm=True,
            actor=actor,
        )
    )
    clock.set(now)
    bad = []
    for name, column in (("Spoiled currency", "currency"), ("Spoiled expiry", "expires_at")):
        sold = core.execute(
            SellPackage(org_id=org.id, client_id=ids[0], name=name, sessions=5, price=Money(100, "USD"), actor=actor)
        )
        spoil(org.id, "packages", sold.id, column, client_id=ids[0])
        bad.append(sold.id)
    return Shop(coach, org.id, me.id, service.id, ids[0], ids[1], bad)


def _lines(logs: io.StringIO, error_id: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in logs.getvalue().splitlines() if error_id in line]


def _marked(html: str, shop: Shop, logs: io.StringIO) -> None:
    """The page names two unreadable packages under an error id logged once, with ids and no values."""
    found = _ERROR_ID.search(html)
    assert found, "no marker on the page"
    assert f"2 packages could not be read \u2014 error id {found.group(1)}, tell support." in html
    (line,) = _lines(logs, found.group(1))
    assert line["event"] == "stored rows could not be read"
    assert {r["id"] for r in line["rows"]} == {str(b) for b in shop.bad}
    assert {r["table"] for r in line["rows"]} == {"packages"}
    for value in ("ZZZ", "infinity", "2026-02-30", "Jordan"):
        assert value not in json.dumps(line)


class TestListsShowWhatTheyCanRead:
    async def test_clients_list_shows_every_client_and_marks_the_unreadable_packages(
        self, web: Quart, core: CoachOS, clock: FixedClock, spoil: Spoil, logs: io.StringIO
    ) -> None:
        """The Clients list answers 200 with both clients, credits flagged where a package is missing, one marker."""
        shop = await _shop(web, core, clock, spoil)
        response = await shop.coach.get("/clients")
        html = await response.get_data(as_text=True)
        assert response.status_code == 200
        jordan, sam = html.split("Jordan Lee")[1].split("</tr>")[0], html.split("Sam Patel")[1].split("</tr>")[0]
        assert ">or more</span>" in jordan
        assert "or more" not in sam
        _marked(html, shop, logs)

    async def test_client_page_panels_show_the_readable_packages_and_a_marker(
        self, web: Quart, core: CoachOS, clock: FixedClock, spoil: Spoil, logs: io.StringIO
    ) -> None:
        """The client page and its packages and payments panels answer 200 with the good package and a marker."""
        shop = await _shop(web, core, clock, spoil)
        assert (await shop.coach.get(f"/clients/{shop.jordan}")).status_code == 200
        for name in ("packages", "payments"):
            response = await shop.coach.get(f"/clients/{shop.jordan}/panels/{name}")
            html = await response.get_data(as_text=True)
            assert response.status_code == 200, name
            assert "Ten pack" in html
            _marked(html, shop, logs)

    async def test_today_lists_the_session_and_marks_the_unreadable_packages(
        self, web: Quart, core: CoachOS, clock: FixedClock, spoil: Spoil, logs: io.StringIO
    ) -> None:
        """Today answers 200 with the client's session and a marker for the packages it could not read."""
        shop = await _shop(web, core, clock, spoil)
        response = await shop.coach.get("/today")
        html = await response.get_data(as_text=True)
        assert response.status_code == 200
        assert "Jordan Lee" in html
        assert "9 credits left or more (a package could not be read)" in html
        _marked(html, shop, logs)

    async def test_api_package_list_answers_the_readable_ones_and_names_the_others(
        self, web: Quart, core: CoachOS, clock: FixedClock, spoil: Spoil, logs: io.StringIO
    ) -> None:
        """GET /api/v1/clients/{id}/packages answers 200 with the good package and `unreadable` naming the bad."""
        shop = await _shop(web, core, clock, spoil)
        response = await shop.coach.get(f"/api/v1/clients/{shop.jordan}/packages")
        body = await response.get_json()
        assert response.status_code == 200
        assert [p["name"] for p in body["items"]] == ["Ten pack"]
        marker = body["unreadable"]
        assert marker["count"] == 2
        assert set(marker["ids"]) == {str(b) for b in shop.bad}
        assert marker["error_id"] in marker["message"]
        (line,) = _lines(logs, marker["error_id"])
        assert {r["id"] for r in line["rows"]} == set(marker["ids"])

    async def test_api_lists_without_bad_rows_have_no_marker(
        self, web: Quart, core: CoachOS, clock: FixedClock, spoil: Spoil, logs: io.StringIO
    ) -> None:
        """A list with nothing left out answers `unreadable: null` and logs no error."""
        shop = await _shop(web, core, clock, spoil)
        response = await shop.coach.get(f"/api/v1/clients/{shop.sam}/packages")
        body = await response.get_json()
        assert [p["name"] for p in body["items"]] == ["Five pack"]
        assert body["unreadable"] is None
        assert "stored rows could not be read" not in logs.getvalue()


class TestAskingForAnUnreadableRecord:
    async def test_api_get_of_the_bad_package_is_a_logged_500(
        self, web: Quart, core: CoachOS, clock: FixedClock, spoil: Spoil, logs: io.StringIO
    ) -> None:
        """GET /api/v1/packages/{bad} answers 500 problem+json with an error id, logged with the ids and no values."""
        shop = await _shop(web, core, clock, spoil)
        for bad in shop.bad:
            response = await shop.coach.get(f"/api/v1/packages/{bad}")
            body = await response.get_json()
            assert response.status_code == 500
            assert response.mimetype == "application/problem+json"
            assert body["code"] == "corrupt_record"
            assert body["error_id"] in body["detail"]
            (line,) = _lines(logs, body["error_id"])
            assert line["level"] == "error"
            assert line["route"] == "/api/v1/packages/<uuid:package_id>"
            assert line["rows"] == [{"table": "packages", "id": str(bad), "cause": line["rows"][0]["cause"]}]
        for value in ("ZZZ", "infinity", "2026-02-30", "Jordan"):
            assert value not in logs.getvalue()

    async def test_api_get_of_a_readable_package_answers_it(
        self, web: Quart, core: CoachOS, clock: FixedClock, spoil: Spoil
    ) -> None:
        """GET /api/v1/packages/{id} of a readable package answers it."""
        shop = await _shop(web, core, clock, spoil)
        listed = await (await shop.coach.get(f"/api/v1/clients/{shop.sam}/packages")).get_json()
        (package,) = listed["items"]
        response = await shop.coach.get(f"/api/v1/packages/{package['id']}")
        assert response.status_code == 200
        assert await response.get_json() == package


class TestCalendarAndBookings:
    async def test_calendar_and_booking_lists_show_the_readable_bookings_and_mark_the_other(
        self, web: Quart, core: CoachOS, clock: FixedClock, spoil: Spoil, logs: io.StringIO
    ) -> None:
        """The calendar page, its events feed and GET /api/v1/bookings answer 200 with a marker for the bad booking."""
        shop = await _shop(web, core, clock, spoil)
        tomorrow = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
        clock.set(clock.now() - timedelta(days=2))
        bad = core.execute(
            BookSession(
                org_id=shop.org_id,
                coach_id=shop.coach_id,
                service_id=shop.service_id,
                client_id=shop.sam,
                start=tomorrow,
                confirm=True,
                actor=Actor("coach", shop.coach_id),
            )
        )
        clock.set(clock.now() + timedelta(days=2))
        spoil(shop.org_id, "bookings", bad.id, "created_by", starts_at=tomorrow, client_id=shop.sam)

        page = await shop.coach.get("/calendar?view=week&date=2026-03-02")
        html = await page.get_data(as_text=True)
        assert page.status_code == 200
        assert "Jordan Lee" in html
        assert "1 booking could not be read" in html
        week = "start=2026-03-02T05:00:00Z&end=2026-03-09T04:00:00Z"
        events = await (await shop.coach.get(f"/calendar/events?{week}")).get_json()
        assert [e["client_name"] for e in events["events"]] == ["Jordan Lee"]
        assert events["unreadable"]["count"] == 1
        listed = await shop.coach.get(f"/api/v1/bookings?{week}")
        body = await listed.get_json()
        assert listed.status_code == 200
        assert [b["client_id"] for b in body["items"]] == [str(shop.jordan)]
        assert body["unreadable"]["ids"] == [str(bad.id)]
        (line,) = _lines(logs, body["unreadable"]["error_id"])
        assert line["rows"][0]["table"] == "bookings"

        direct = await shop.coach.get(f"/api/v1/bookings/{bad.id}")
        assert direct.status_code == 500
        assert (await direct.get_json())["error_id"]

    async def test_a_page_about_an_unreadable_client_is_a_logged_500_page(
        self, web: Quart, core: CoachOS, clock: FixedClock, spoil: Spoil, logs: io.StringIO
    ) -> None:
        """Opening the page of a client whose row cannot be read shows a 500 page quoting a logged error id."""
        shop = await _shop(web, core, clock, spoil)
        spoil(shop.org_id, "clients", shop.sam, "status")
        response = await shop.coach.get(f"/clients/{shop.sam}")
        html = await response.get_data(as_text=True)
        assert response.status_code == 500
        found = re.search(r"quote error ([0-9a-f]{12})", html)
        assert found
        (line,) = _lines(logs, found.group(1))
        assert line["rows"] == [{"table": "clients", "id": str(shop.sam), "cause": line["rows"][0]["cause"]}]
        listed = await (await shop.coach.get("/clients")).get_data(as_text=True)
        assert "Jordan Lee" in listed
        assert "1 client and 2 packages could not be read" in listed
