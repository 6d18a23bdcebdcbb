"""Bad input answers 4xx, never 500, and writes nothing: NUL bytes, huge integers, far dates, bad UTF-8, deep JSON.

A walk over the app's url_map throws the same probes at every page, form and API route, so routes
added later are covered; the table below aims values at the fields each route reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import attrs
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from werkzeug.routing import Rule

from coachos import CoachOS
from coachos.adapters.links import form_serializer, waiver_token
from coachos.adapters.security import MemoryEmail
from coachos.domain.errors import NotFound
from coachos.domain.ids import Actor
from coachos.domain.memberships import Membership, MembershipStatus
from coachos.domain.money import Money
from coachos.domain.orgs import Organization
from coachos.domain.todos import Todo
from coachos.domain.usecases import (
    CalendarFeedUrl,
    CreateApiToken,
    CreateClient,
    CreateHealthScreening,
    CreateMembershipPlan,
    CreatePackageOffer,
    CreateWaiver,
    PublishForm,
    RecordClearance,
    SellPackage,
    SignWaiver,
    SubmitForm,
)
from tests.web.support import csrf, sign_up

_PARAMETER = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")
#: Tuesday 3 March 2026, 10:00 in New York: a free slot of the sign-up hours.
SLOT = "2026-03-03T15:00:00Z"
DEEP = ("[" * 10_000 + "]" * 10_000).encode()
NUL = "\x00"


@attrs.frozen
class Business:
    """A signed-up business with a client, a package, a public booking and every secret its routes take."""

    org: Organization
    browser: Client
    csrf: str
    bearer: dict[str, str]
    #: A value for every route parameter, by name (tokens by endpoint, see `value`).
    values: dict[str, str]
    tokens: dict[str, str]

    def value(self, rule: Rule, name: str) -> str:
        """The value of parameter `name` in `rule`'s address."""
        if name == "token":
            return self.tokens[rule.endpoint]
        return self.values[name]

    def url(self, rule: Rule, *, append: str = "") -> str:
        """`rule`'s address filled in; `append` is added to every value that is not an id."""

        def fill(match: re.Match[str]) -> str:
            converter, name = match.group(1), match.group(2)
            return self.value(rule, name) + ("" if converter == "uuid" else append)

        return _PARAMETER.sub(fill, rule.rule)


async def open_business(web: Quart, core: CoachOS, mail: MemoryEmail) -> Business:
    """Sign 'peak' up and give it what every route needs: records, a manage link, a reset link, a feed."""
    browser = web.test_client()
    await sign_up(browser)
    org = core.read(lambda uow: uow.orgs.by_slug("peak"))
    (coach,) = core.read(lambda uow: uow.coaches.list(org.id))
    (service,) = core.read(lambda uow: uow.services.list(org.id))
    me = Actor("coach", coach.id)
    person = core.execute(CreateClient(org_id=org.id, name="Jo Bloggs", email="jo@peak.test", actor=me))
    package = core.execute(
        SellPackage(org_id=org.id, client_id=person.id, name="Ten", sessions=10, price=Money(50000, "USD"), actor=me)
    )
    api = core.execute(CreateApiToken(org_id=org.id, coach_id=coach.id, name="script"))
    offer = core.execute(CreatePackageOffer(org_id=org.id, name="Five", sessions=5, price=Money(100, "USD"), actor=me))
    feed = core.execute(CalendarFeedUrl(org_id=org.id, coach_id=coach.id))
    todo = Todo(id=uuid4(), org_id=org.id, title="Call Jo", created_at=core.clock.now(), client_id=person.id)
    with core.unit_of_work() as uow:
        uow.todos.add(todo)
        uow.commit()
    screening = core.execute(CreateHealthScreening(org_id=org.id, actor=me))
    version = core.execute(PublishForm(org_id=org.id, form_id=screening.id, actor=me))
    no = {q.key: "no" for q in version.questions}
    submission = core.execute(
        SubmitForm(org_id=org.id, client_id=person.id, form_id=screening.id, version_id=version.id, answers=no, key="k")
    )
    clearance = core.execute(
        RecordClearance(org_id=org.id, client_id=person.id, note="GP", actor=me, document=b"%PDF-1.4 letter")
    )
    fill = form_serializer("test-secret-key", core.clock).dumps([str(org.id), str(person.id), str(screening.id)])
    waiver, version = core.execute(CreateWaiver(org_id=org.id, title="Waiver", body="Text", actor=me))
    signature = core.execute(
        SignWaiver(
            org_id=org.id,
            client_id=person.id,
            waiver_id=waiver.id,
            version_id=version.id,
            shown_sha256=version.sha256,
            typed_name="Jo Bloggs",
            consent=True,
            date_of_birth=date(1990, 1, 1),
        )
    )
    plan = core.execute(
        CreateMembershipPlan(org_id=org.id, actor=me, name="Monthly", price=Money(9000, "USD"), sessions=4)
    )
    membership = Membership(
        id=uuid4(),
        org_id=org.id,
        client_id=person.id,
        plan_id=plan.id,
        status=MembershipStatus.PENDING,
        created_at=core.clock.now(),
    )
    with core.unit_of_work() as uow:
        uow.memberships.add(membership)
        uow.commit()
    # A second client with a link to sign (the first signed already): the signing POST is probed too.
    signer = core.execute(CreateClient(org_id=org.id, name="Sam Signer", actor=me))
    waiver_link = waiver_token(web.config["COACHOS_SECRET"], core.clock, org.id, signer.id, waiver.id)
    guest = web.test_client()
    form_path = f"/book/peak/{service.id}/book?start={SLOT}"
    booked = await guest.post(
        form_path,
        form={"csrf_token": await csrf(guest, form_path), "name": "Casey Morgan", "email": "casey@example.com"},
    )
    manage = booked.headers["Location"].split("/booked/")[1].split("?")[0]
    await guest.post("/forgot", form={"csrf_token": await csrf(guest, "/forgot"), "email": "alex@peak.test"})
    reset = mail.sent[-1].text.split("/reset/")[1].split()[0]
    (booking,) = core.read(
        lambda uow: uow.bookings.between(org.id, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    )
    return Business(
        org=org,
        browser=browser,
        csrf=await csrf(browser, "/today"),
        bearer={"Authorization": f"Bearer {api.secret}"},
        values={
            "slug": "peak",
            "service_id": str(service.id),
            "client_id": str(person.id),
            "coach_id": str(coach.id),
            "booking_id": str(booking.id),
            "package_id": str(package.id),
            "offer_id": str(offer.id),
            "token_id": str(api.token.id),
            "todo_id": str(todo.id),
            "form_id": str(screening.id),
            "clearance_id": str(clearance.id),
            "submission_id": str(submission.id),
            "waiver_id": str(waiver.id),
            "signature_id": str(signature.id),
            "plan_id": str(plan.id),
            "membership_id": str(membership.id),
            "name": "notes",
            "filename": "app.css",
            "kind": "booking_confirmed",
            "channel": "sms",
        },
        tokens={
            "public.manage": manage,
            "public.cancel": manage,
            "public.reschedule": manage,
            "public.booked": manage,
            "public.pay": manage,
            "account.reset": reset,
            "public.ical": feed.secret or "",
            # Any token does: the confirmation page never looks it up, and a bad one is refused as unusable input first.
            "portal.confirm_link": "a" * 43,
            "portal.use_link": "a" * 43,
            "public.fill_form": fill,
            "public.submit_form": fill,
            "waiver_signing.sign_page": waiver_link,
            "waiver_signing.sign": waiver_link,
            "waiver_signing.signed_pdf": waiver_link,
        },
    )


def state(core: CoachOS, org: Organization) -> Any:
    """Everything of the business that a write could change."""
    far = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))

    def read(uow: Any) -> Any:
        coaches = tuple(uow.coaches.list(org.id))
        return (
            uow.orgs.get(org.id),
            coaches,
            tuple(uow.services.list(org.id)),
            tuple(uow.clients.list(org.id, limit=1000)),
            tuple(uow.packages.recent(org.id, limit=1000)),
            tuple(uow.bookings.between(org.id, *far)),
            tuple(r for c in coaches for r in uow.availability.weekly(org.id, c.id)),
            tuple(
                o for c in coaches for o in uow.availability.overrides(org.id, c.id, date(1900, 1, 1), date(2200, 1, 1))
            ),
            tuple(t for c in coaches for t in uow.accounts.api_tokens_of(org.id, c.id)),
            tuple(uow.templates.list(org.id)),
            tuple(v for w in uow.waivers.list(org.id) for v in uow.waivers.versions(org.id, w.id)),
            tuple(s for c in uow.clients.list(org.id, limit=1000) for s in uow.waivers.signatures(org.id, c.id)),
            tuple(uow.packages.offers(org.id)),
            tuple(uow.memberships.plans(org.id)),
        )

    return core.read(read)


def no_org(core: CoachOS, slug: str) -> bool:
    """Whether no business has `slug`."""
    try:
        core.read(lambda uow: uow.orgs.by_slug(slug))
    except NotFound:
        return True
    return False


@pytest.fixture
async def biz(web: Quart, core: CoachOS, mail: MemoryEmail) -> Business:
    """The business 'peak', signed in on `biz.browser`, with an API token in `biz.bearer`."""
    return await open_business(web, core, mail)


# --- the walk ----------------------------------------------------------------------------------------------


#: Every query parameter some view reads, each carrying a NUL.
NUL_QUERY = "&".join(
    f"{name}=x%00"
    for name in ("q", "tag", "status", "date", "view", "week", "from", "days", "start", "end", "tz", "next", "limit")
)
#: Every form field some form reads, each carrying a NUL (with a valid CSRF token added).
FORM_FIELDS = "name email phone password business_name slug timezone notes tags price sessions minutes date time on"
NUL_FORM = dict.fromkeys([*FORM_FIELDS.split(), "new_start", "expires_on", "service_name", "reason"], f"probe{NUL}")
#: A JSON body every API write would read, with NULs and a lone surrogate in its strings.
NUL_JSON = (
    b'{"name": "Probe\\u0000", "notes": "x\\ud800", "reason": "r\\u0000", "note": "n\\u0000", '
    b'"price": {"amount_minor": 100, "currency": "USD\\u0000"}, "sessions": 1, "rules": []}'
)


def probes(biz: Business, rule: Rule, method: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Bad requests for `method` on `rule`: (what it is, keyword arguments for the test client's open)."""
    url = biz.url(rule)
    api = rule.rule.startswith("/api/")
    headers = biz.bearer if api else {}
    yield "NUL in the query", {"path": f"{url}?{NUL_QUERY}", "headers": headers}
    yield "bad UTF-8 in the query", {"path": f"{url}?q=%FF%FE", "headers": headers}
    if any(converter != "uuid" for converter, _ in _PARAMETER.findall(rule.rule)):
        yield "NUL in the path", {"path": biz.url(rule, append="%00"), "headers": headers}
        raw = biz.url(rule, append="%FF")
        yield (
            "bad UTF-8 in the path",
            {"path": biz.url(rule, append="\ufffd"), "scope_base": {"raw_path": raw.encode()}},
        )
    if method in ("GET", "HEAD"):
        return
    form_headers = headers | {"Content-Type": "application/x-www-form-urlencoded"}
    json_headers = headers | {"Content-Type": "application/json"}
    yield "NUL in a form", {"path": url, "form": NUL_FORM | {"csrf_token": biz.csrf}, "headers": headers}
    yield (
        "bad UTF-8 in a form",
        {"path": url, "data": b"csrf_token=" + biz.csrf.encode() + b"&name=\xff", "headers": form_headers},
    )
    yield "bad escape in a form", {"path": url, "data": b"name=%C3%28", "headers": form_headers}
    yield "NUL in JSON", {"path": url, "data": NUL_JSON, "headers": json_headers}
    yield "bad UTF-8 in JSON", {"path": url, "data": b'{"name": "\xff\xfe"}', "headers": json_headers}
    yield "10000-deep JSON", {"path": url, "data": DEEP, "headers": json_headers}
    yield "deep JSON cut short", {"path": url, "data": b'{"a": ' + b"[" * 5000, "headers": json_headers}


class TestEveryRoute:
    async def test_every_route_refuses_unusable_input_with_400_and_writes_nothing(
        self, web: Quart, core: CoachOS, biz: Business
    ) -> None:
        """Every route answers 400 to NUL, bad UTF-8 (query, path, form, JSON) and 10000-deep JSON; writes nothing."""
        rules = list(web.url_map.iter_rules())
        assert len(rules) > 40, "the url_map walk found too few routes"
        walked = {r.rule for r in rules}
        assert {"/packages/<uuid:package_id>/refund", "/bookings/<uuid:booking_id>/refund"} <= walked
        before = state(core, biz.org)
        wrong = []
        for rule in sorted(rules, key=lambda r: r.rule):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                for what, request in probes(biz, rule, method):
                    response = await biz.browser.open(method=method, **request)
                    if response.status_code != 400:
                        wrong.append(f"{method} {rule.rule}: {what} -> {response.status_code}")
        assert not wrong, "routes not answering 400 to unusable input:\n" + "\n".join(wrong)
        assert state(core, biz.org) == before, "a refused request changed the business"
        assert no_org(core, "probe")

    async def test_the_refusal_names_the_field(self, biz: Business) -> None:
        """The 400 names the part of the request at fault: the query parameter, the JSON path, the body."""
        found = await biz.browser.get("/api/v1/clients?q=ab%00", headers=biz.bearer)
        assert (await found.get_json())["errors"] == [
            {"field": "q", "message": "The query string field 'q' contains a NUL character."}
        ]
        body = b'{"name": "Jo", "tags": ["ok", "b\\u0000d"]}'
        sent = await biz.browser.post(
            "/api/v1/clients", data=body, headers=biz.bearer | {"Content-Type": "application/json"}
        )
        assert (await sent.get_json())["errors"][0]["field"] == "tags[1]"
        deep = await biz.browser.post(
            "/api/v1/clients", data=DEEP, headers=biz.bearer | {"Content-Type": "application/json"}
        )
        assert deep.mimetype == "application/problem+json"
        assert (await deep.get_json())["errors"][0]["field"] == "body"

    async def test_json_may_nest_32_deep_and_no_deeper(self, biz: Business) -> None:
        """A body nested 32 deep passes the guard and is judged by the schema as usual; 33 deep is refused."""
        headers = biz.bearer | {"Content-Type": "application/json"}
        for depth, status in ((32, 201), (33, 400)):
            nested = ("[" * (depth - 1) + "]" * (depth - 1)).encode()
            response = await biz.browser.post(
                "/api/v1/clients", data=b'{"name": "Jo", "x": ' + nested + b"}", headers=headers
            )
            assert response.status_code == status, (depth, await response.get_data(as_text=True))


# --- values aimed at the fields routes read ----------------------------------------------------------------


@attrs.frozen
class Case:
    """One bad request aimed at one field: the method, address, body, and the field the answer must name."""

    name: str
    method: str
    path: str
    json: Any = None
    form: dict[str, str] | None = None
    headers: dict[str, str] = attrs.Factory(dict)
    field: str | None = None


def _settings_form(**changes: str) -> dict[str, str]:
    values = {
        "name": "Peak Coaching",
        "timezone": "America/New_York",
        "min_notice_hours": "12",
        "horizon_days": "60",
        "cancellation_hours": "24",
        "buffer_minutes": "0",
        "slot_interval_minutes": "30",
        "quiet_start": "21:00",
        "quiet_end": "08:00",
    }
    return values | changes


def _signup_form(**changes: str) -> dict[str, str]:
    values = {
        "name": "Sam Okafor",
        "email": "sam@probe.test",
        "password": "correct horse battery",
        "business_name": "Probe Strength",
        "slug": "probe",
        "timezone": "America/New_York",
        "currency": "USD",
        "service_name": "Personal training",
        "service_minutes": "60",
        "service_price": "85.50",
        "days": "0,1,2,3,4",
        "day_start": "09:00",
        "day_end": "17:00",
    }
    return values | changes


def _price(amount: int) -> dict[str, Any]:
    return {"amount_minor": amount, "currency": "USD"}


#: Prices no form may take: not numbers, out of range, not positive, or in a form Decimal reads but people do not.
BAD_PRICES = ("1e309", "NaN", "-0", "-5", "0", "Infinity", str(10**30), "1e3", "0x10", "1_000")
#: Counts no form may take.
BAD_COUNTS = ("0", "-1", "1e309", "NaN", str(10**30), "1.5", "²")
#: Page numbers the payments page refuses.
BAD_PAGES = ("0", "-1", "NaN", "1e309", str(10**30), "%C2%B2")
#: Months the accounting pages refuse.
BAD_MONTHS = ("9999-12", "0001-01", "2026-13", "2026-00", "NaN", "1e309", "-0", "2026-1-1")


def _offer_form(**changes: str) -> dict[str, str]:
    return {"name": "Five", "sessions": "5", "price": "100", "validity_days": "90"} | changes


def _plan_form(**changes: str) -> dict[str, str]:
    return {"action": "create", "name": "Monthly", "price": "90", "interval": "month", "sessions": "4"} | changes


YEAR_1 = "0001-01-01T00:00:00%2B05:00"
YEAR_9999 = "9999-12-30T00:00:00Z"
CASES = [
    # The JSON API.
    Case("client name with a control character", "POST", "/api/v1/clients", json={"name": "Jo\x01rdan"}, field="name"),
    Case("client notes with NUL", "POST", "/api/v1/clients", json={"name": "Jo", "notes": "a\x00b"}, field="notes"),
    Case("client tag with escape", "POST", "/api/v1/clients", json={"name": "Jo", "tags": ["vip\x1b"]}, field="tags"),
    Case("search with NUL", "GET", "/api/v1/clients?q=%00", field="q"),
    *[
        Case(
            f"service price of {amount}",
            "POST",
            "/api/v1/services",
            json={"name": "PT", "duration_minutes": 60, "price": _price(amount)},
            field="price.amount_minor",
        )
        for amount in (2**63, 10**30, -(2**63) - 1)
    ],
    Case(
        "package price of 2^63",
        "POST",
        "/api/v1/clients/{client_id}/packages",
        json={"name": "Ten", "sessions": 10, "price": _price(2**63)},
        field="price.amount_minor",
    ),
    *[
        Case(
            f"package of {sessions} sessions",
            "POST",
            "/api/v1/clients/{client_id}/packages",
            json={"name": "Ten", "sessions": sessions, "price": _price(100)},
            field="sessions",
        )
        for sessions in (2**63, 10**30)
    ],
    Case(
        "package expiring 9999-12-31",
        "POST",
        "/api/v1/clients/{client_id}/packages",
        json={"name": "Ten", "sessions": 10, "price": _price(100), "expires_at": "9999-12-31T23:59:59Z"},
        field="expires_at",
    ),
    Case(
        "slots from year 1",
        "GET",
        f"/api/v1/slots?service_id={{service_id}}&start={YEAR_1}&end=0001-01-02T00:00:00%2B05:00",
        field="start",
    ),
    Case(
        "slots in year 9999",
        "GET",
        f"/api/v1/slots?service_id={{service_id}}&start={YEAR_9999}&end=9999-12-31T00:00:00Z",
        field="start",
    ),
    Case("bookings from year 1", "GET", f"/api/v1/bookings?start={YEAR_1}&end=2026-01-01T00:00:00Z", field="start"),
    *[
        Case(
            f"booking at {start}",
            "POST",
            "/api/v1/bookings",
            json={"client_id": "{client_id}", "service_id": "{service_id}", "start": start},
            field="start",
        )
        for start in ("9999-12-31T10:00:00Z", "0001-01-01T10:00:00+05:00")
    ],
    Case(
        "booking note with a bell",
        "POST",
        "/api/v1/bookings",
        json={
            "client_id": "{client_id}",
            "service_id": "{service_id}",
            "start": "2026-03-04T15:00:00Z",
            "note": "\x07",
        },
        field="note",
    ),
    Case(
        "idempotency key header with a control character",
        "POST",
        "/api/v1/bookings",
        json={"client_id": "{client_id}", "service_id": "{service_id}", "start": "2026-03-04T15:00:00Z"},
        headers={"Idempotency-Key": "key\x01"},
        field="idempotency_key",
    ),
    Case(
        "cancel reason longer than its column",
        "POST",
        "/api/v1/bookings/{booking_id}/cancel",
        json={"reason": "r" * 300},
        field="reason",
    ),
    # Public pages and forms.
    *[
        Case(
            f"public slots from {day}",
            "GET",
            f"/book/peak/{{service_id}}/slots.json?from={day}",
            headers={"Accept": "application/json"},
            field="from",
        )
        for day in ("0001-01-01", "9999-12-31")
    ],
    Case("week 9999-12-31", "GET", "/book/peak/{service_id}?week=9999-12-31"),
    Case("week 0001-01-01", "GET", "/book/peak/{service_id}?week=0001-01-01"),
    Case("booking form for year 1", "GET", f"/book/peak/{{service_id}}/book?start={YEAR_1}"),
    Case("booking form for year 9999", "GET", "/book/peak/{service_id}/book?start=9999-12-31T23:00:00Z"),
    Case(
        "public booking with a control character in the name",
        "POST",
        f"/book/peak/{{service_id}}/book?start={SLOT.replace('15:', '16:')}",
        form={"name": "Casey\x01", "email": "casey2@example.com"},
    ),
    Case(
        "public booking with NUL in the email",
        "POST",
        f"/book/peak/{{service_id}}/book?start={SLOT.replace('15:', '16:')}",
        form={"name": "Casey", "email": "casey2@example.com\x00"},
    ),
    Case("manage page for week 9999-12-31", "GET", "/manage/{manage}?week=9999-12-31"),
    Case("move to year 1", "POST", "/manage/{manage}/reschedule", form={"new_start": "0001-01-01T00:00:00+05:00"}),
    Case("sign-up with NUL in the business name", "POST", "/signup", form=_signup_form(business_name="Probe\x00")),
    Case("sign-up with a bell in the business name", "POST", "/signup", form=_signup_form(business_name="Probe\x07")),
    Case("sign-up with minutes that are no number", "POST", "/signup", form=_signup_form(service_minutes="abc")),
    Case("sign-up with 10^30 minutes", "POST", "/signup", form=_signup_form(service_minutes=str(10**30))),
    Case("sign-up with a 10^20 price", "POST", "/signup", form=_signup_form(service_price="1" + "0" * 20)),
    # The coach's pages.
    Case("calendar on 9999-12-31", "GET", "/calendar?date=9999-12-31"),
    Case("calendar month of year 1", "GET", "/calendar?date=0001-01-01&view=month"),
    Case(
        "calendar events of year 1",
        "GET",
        "/calendar/events?start=0001-01-01T00:00:00Z&end=0001-01-02T00:00:00Z",
        field="start",
    ),
    Case(
        "calendar booking on 9999-12-31",
        "POST",
        "/calendar/bookings",
        form={"date": "9999-12-31", "time": "10:00", "client_id": "{client_id}", "service_id": "{service_id}"},
    ),
    Case("horizon of 100000 days", "POST", "/setup/settings", form=_settings_form(horizon_days="100000")),
    Case(
        "package expiring 9999-12-31 (setup)",
        "POST",
        "/setup/packages",
        form={"client_id": "{client_id}", "name": "Ten", "sessions": "10", "price": "100", "expires_on": "9999-12-31"},
    ),
    Case(
        "package expiring 9999-12-31 (client page)",
        "POST",
        "/clients/{client_id}/packages",
        form={"name": "Ten", "sessions": "10", "price": "100", "expires_on": "9999-12-31"},
    ),
    Case(
        "day off on 9999-12-31",
        "POST",
        "/setup/availability",
        form={"action": "add_override", "on": "9999-12-31", "kind": "off_day"},
    ),
    Case(
        "service priced 10^20",
        "POST",
        "/setup/services",
        form={"name": "PT", "minutes": "60", "price": "1" + "0" * 20, "capacity": "1"},
    ),
    Case(
        "service of '²' minutes",
        "POST",
        "/setup/services",
        form={"name": "PT", "minutes": "²", "price": "10", "capacity": "1"},
    ),
    Case("client name with a control character", "POST", "/clients", form={"name": "Jo\x01"}),
    Case("client notes with NUL", "POST", "/clients/{client_id}", form={"panel": "notes", "notes": "a\x00"}),
    Case("API token name with escape", "POST", "/setup/tokens", form={"name": "ci\x1bbot"}),
    Case("client search with NUL", "GET", "/clients?q=%00"),
    # Billing (issue 9): offers, memberships, fees, hand-recorded payments, accounting and payments pages.
    *[
        Case(f"package offer priced {price!r}", "POST", "/setup/packages/offers", form=_offer_form(price=price))
        for price in BAD_PRICES
    ],
    *[
        Case(f"package offer of {n!r} sessions", "POST", "/setup/packages/offers", form=_offer_form(sessions=n))
        for n in BAD_COUNTS
    ],
    *[
        Case(f"package offer valid {n!r} days", "POST", "/setup/packages/offers", form=_offer_form(validity_days=n))
        for n in BAD_COUNTS
    ],
    Case("package offer with a long name", "POST", "/setup/packages/offers", form=_offer_form(name="n" * 5000)),
    *[
        Case(f"offer edited to {price!r}", "POST", "/setup/packages/offers/{offer_id}", form=_offer_form(price=price))
        for price in BAD_PRICES
    ],
    Case("offer edit saying neither", "POST", "/setup/packages/offers/{offer_id}", form={"active": "maybe"}),
    *[
        Case(f"membership plan priced {price!r}", "POST", "/setup/memberships", form=_plan_form(price=price))
        for price in BAD_PRICES
    ],
    *[
        Case(f"membership plan of {n!r} sessions", "POST", "/setup/memberships", form=_plan_form(sessions=n))
        for n in BAD_COUNTS
    ],
    Case("membership plan every 'decade'", "POST", "/setup/memberships", form=_plan_form(interval="decade")),
    Case("membership plan with a long name", "POST", "/setup/memberships", form=_plan_form(name="n" * 5000)),
    Case("membership plan action unknown", "POST", "/setup/memberships", form={"action": "drop"}),
    *[
        Case(
            f"late-cancel fee of {price!r}",
            "POST",
            "/setup/settings",
            form=_settings_form(fees_form="1", late_cancel_fee=price),
        )
        for price in BAD_PRICES
    ],
    *[
        Case(
            f"no-show fee of {price!r}",
            "POST",
            "/setup/settings",
            form=_settings_form(fees_form="1", no_show_fee=price),
        )
        for price in BAD_PRICES
    ],
    Case(
        "package paid by 'bitcoin' (client page)",
        "POST",
        "/clients/{client_id}/packages",
        form={"name": "Ten", "sessions": "10", "price": "100", "paid_by": "bitcoin"},
    ),
    Case(
        "package paid by 'bitcoin' (API)",
        "POST",
        "/api/v1/clients/{client_id}/packages",
        json={"name": "Ten", "sessions": 10, "price": _price(100), "paid_by": "bitcoin"},
        field="paid_by",
    ),
    Case(
        "payment recorded by 'bitcoin'",
        "POST",
        "/clients/{client_id}/packages/{package_id}/payment",
        form={"method": "bitcoin"},
    ),
    *[Case(f"accounting from {m}", "GET", f"/accounting?from={m}") for m in BAD_MONTHS],
    *[Case(f"accounting export from {m}", "GET", f"/accounting/export.csv?from={m}") for m in BAD_MONTHS],
    Case("accounting to before from", "GET", "/accounting?from=2026-06&to=2026-01"),
    *[Case(f"accounting summary from {m}", "GET", f"/accounting/sections/summary?from={m}") for m in BAD_MONTHS],
    *[Case(f"payments page {p}", "GET", f"/payments?page={p}") for p in BAD_PAGES],
]


def _fill(value: Any, biz: Business) -> Any:
    if isinstance(value, str):
        return value.format(**biz.values, manage=biz.tokens["public.manage"]) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, biz) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, biz) for v in value]
    return value


class TestAimedValues:
    @pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
    async def test_is_refused_with_400_naming_the_field_and_writes_nothing(
        self, core: CoachOS, biz: Business, case: Case
    ) -> None:
        """A NUL, control character, huge integer or far date answers 400 (naming the field) and writes nothing."""
        before = state(core, biz.org)
        path = _fill(case.path, biz)
        api = path.startswith("/api/")
        headers = (biz.bearer if api else {}) | case.headers
        if case.json is not None:
            response = await biz.browser.open(path, method=case.method, json=_fill(case.json, biz), headers=headers)
        elif case.form is not None:
            form = _fill(case.form, biz) | {"csrf_token": biz.csrf}
            response = await biz.browser.open(path, method=case.method, form=form, headers=headers)
        else:
            response = await biz.browser.open(path, method=case.method, headers=headers)
        body = await response.get_data(as_text=True)
        assert response.status_code == 400, body[:2000]
        if case.field is not None:
            assert response.mimetype == "application/problem+json", body[:500]
            assert (await response.get_json())["errors"][0]["field"] == case.field, body
        assert state(core, biz.org) == before
        assert no_org(core, "probe")

    async def test_a_sign_up_with_bad_hours_leaves_no_account(self, web: Quart, core: CoachOS) -> None:
        """A sign-up whose weekly hours or days cannot be read is refused before the business is made."""
        browser = web.test_client()
        for bad in ({"day_start": "9am"}, {"days": "0,1,mon"}, {"days": "0,7"}):
            token = await csrf(browser, "/signup")
            response = await browser.post("/signup", form=_signup_form(**bad) | {"csrf_token": token})
            assert response.status_code == 400, bad
            assert no_org(core, "probe"), bad

    async def test_the_window_ends_where_it_says(self, biz: Business) -> None:
        """Dates inside the window answer normally (the calendar of 1900, slots of 2199); just past it is a 400."""
        calendar = await biz.browser.get("/calendar?date=1900-01-01&view=day")
        assert calendar.status_code == 200
        assert (await biz.browser.get("/calendar?date=2200-01-02&view=day")).status_code == 400
        slots = await biz.browser.get(f"/book/peak/{biz.values['service_id']}/slots.json?from=2199-12-01&days=7")
        assert slots.status_code == 200
        assert (await slots.get_json())["items"] == []  # beyond the booking horizon, but a fine question
        events = await biz.browser.get(
            "/calendar/events?start=1900-01-01T00:00:00Z&end=1900-01-02T00:00:00Z",
            headers={"Accept": "application/json"},
        )
        assert events.status_code == 200
        assert (await events.get_json())["events"] == []
