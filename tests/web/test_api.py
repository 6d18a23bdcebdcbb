"""The JSON API under /api/v1: auth, every resource's happy path, idempotent booking, errors and OpenAPI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.domain.bookings import BookingStatus
from coachos.domain.clients import ClientStatus
from coachos.domain.orgs import Coach, Organization
from coachos.domain.usecases import CreateApiToken, RevokeApiToken
from tests.web.support import csrf, sign_up

#: Tuesday 3 March 2026, 09:00 in New York: the first slot the sign-up hours offer after the 12-hour notice.
FIRST_SLOT = "2026-03-03T14:00:00Z"


@attrs.frozen
class Account:
    """A signed-up business as the API sees it: its records and a bearer token's headers."""

    org: Organization
    coach: Coach
    bearer: dict[str, str]


async def open_account(client: Client, core: CoachOS, *, email: str = "alex@peak.test", slug: str = "peak") -> Account:
    """Sign a business up through the web (the client keeps the session) and give it an API token."""
    await sign_up(client, email=email, slug=slug)
    org = core.read(lambda uow: uow.orgs.by_slug(slug))
    (coach,) = core.read(lambda uow: uow.coaches.list(org.id))
    token = core.execute(CreateApiToken(org_id=org.id, coach_id=coach.id, name="script"))
    return Account(org=org, coach=coach, bearer={"Authorization": f"Bearer {token.secret}"})


@pytest.fixture
async def account(client: Client, core: CoachOS) -> Account:
    """The signed-up business 'peak' (timezone New York, USD, daily hours 09:00-17:00)."""
    return await open_account(client, core)


async def ok(response: Any, status: int = 200) -> Any:
    """The JSON body of a response that must have `status`."""
    body = await response.get_json()
    assert response.status_code == status, body
    return body


async def problem(response: Any, status: int) -> Any:
    """The problem+json body of a refusal that must have `status`."""
    assert response.status_code == status, await response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return await response.get_json()


async def new_client(client: Client, account: Account, name: str = "Jordan Lee") -> Any:
    return await ok(
        await client.post(
            "/api/v1/clients", json={"name": name, "email": f"{name.split()[0].lower()}@x.test"}, headers=account.bearer
        ),
        201,
    )


async def sell(client: Client, account: Account, client_id: str, sessions: int = 5) -> Any:
    price = {"amount_minor": 40000, "currency": "USD"}
    body = {"name": f"{sessions} sessions", "sessions": sessions, "price": price}
    return await ok(await client.post(f"/api/v1/clients/{client_id}/packages", json=body, headers=account.bearer), 201)


async def service_id(client: Client, account: Account) -> str:
    body = await ok(await client.get("/api/v1/services", headers=account.bearer))
    found: str = body["items"][0]["id"]
    return found


async def book(client: Client, account: Account, **extra: Any) -> Any:
    """POST /bookings for a new client with a package; returns the response (not yet checked)."""
    person = await new_client(client, account)
    await sell(client, account, person["id"])
    body = {"client_id": person["id"], "service_id": await service_id(client, account), "start": FIRST_SLOT} | extra
    return await client.post("/api/v1/bookings", json=body, headers=account.bearer)


class TestAuth:
    @pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/clients", "/api/v1/services"])
    async def test_without_credentials_the_api_answers_401(self, client: Client, path: str) -> None:
        """A request with neither a session nor a token is refused with 401 problem+json."""
        body = await problem(await client.get(path), 401)
        assert body["status"] == 401

    async def test_a_write_without_credentials_is_401_not_403(self, client: Client) -> None:
        """A POST with no session and no token is refused as unauthenticated, not as a forged form."""
        body = await problem(await client.post("/api/v1/clients", json={"name": "X"}), 401)
        assert body["status"] == 401

    async def test_a_wrong_or_revoked_token_is_401(self, web: Quart, core: CoachOS, account: Account) -> None:
        """A made-up token, and a token after it was revoked, both get 401 even for writes."""
        stranger = web.test_client()
        bad = {"Authorization": "Bearer coa_not-a-real-token"}
        await problem(await stranger.get("/api/v1/me", headers=bad), 401)
        await problem(await stranger.post("/api/v1/clients", json={"name": "X"}, headers=bad), 401)
        (token,) = core.read(lambda uow: uow.accounts.api_tokens_of(account.org.id, account.coach.id))
        core.execute(RevokeApiToken(org_id=account.org.id, coach_id=account.coach.id, token_id=token.id))
        await problem(await stranger.get("/api/v1/me", headers=account.bearer), 401)

    async def test_a_bearer_token_reads_and_writes_without_csrf(self, web: Quart, account: Account) -> None:
        """A script with only the bearer token (no cookies, no CSRF header) can read and write."""
        script = web.test_client()
        me = await ok(await script.get("/api/v1/me", headers=account.bearer))
        assert me["via"] == "token"
        await ok(await script.post("/api/v1/clients", json={"name": "Sam"}, headers=account.bearer), 201)

    async def test_cookie_reads_work_and_writes_need_the_csrf_header(self, client: Client, account: Account) -> None:
        """With the session cookie a GET works, a POST without X-CSRF-Token is 403, and with it 201."""
        me = await ok(await client.get("/api/v1/me"))
        assert me["via"] == "session"
        await problem(await client.post("/api/v1/clients", json={"name": "Sam"}), 403)
        token = await csrf(client, "/today")
        created = await ok(
            await client.post("/api/v1/clients", json={"name": "Sam"}, headers={"X-CSRF-Token": token}), 201
        )
        assert created["name"] == "Sam"


class TestMe:
    async def test_me_names_the_org_and_coach(self, client: Client, account: Account) -> None:
        """GET /me answers the principal's organisation (id, name, slug, zone, currency) and coach."""
        me = await ok(await client.get("/api/v1/me", headers=account.bearer))
        assert me["org"] == {
            "id": str(account.org.id),
            "name": "Peak Coaching",
            "slug": "peak",
            "timezone": "America/New_York",
            "currency": "USD",
        }
        assert me["coach"]["id"] == str(account.coach.id)
        assert me["coach"]["email"] == "alex@peak.test"


class TestClients:
    async def test_create_get_and_search(self, client: Client, account: Account) -> None:
        """A created client answers 201 with a Location, reads back by id, and is found by ?q=."""
        response = await client.post(
            "/api/v1/clients",
            json={"name": "Jordan Lee", "phone": "+1 212 555 0100", "status": "active", "tags": ["AM", "knee"]},
            headers=account.bearer,
        )
        created = await ok(response, 201)
        assert response.headers["Location"] == f"/api/v1/clients/{created['id']}"
        assert created["status"] == "active"
        assert created["tags"] == ["am", "knee"]
        assert created["created_at"] == "2026-03-02T12:00:00Z"
        await new_client(client, account, name="Casey Morgan")
        fetched = await ok(await client.get(f"/api/v1/clients/{created['id']}", headers=account.bearer))
        assert fetched == created
        found = await ok(await client.get("/api/v1/clients", query_string={"q": "jord"}, headers=account.bearer))
        assert [c["name"] for c in found["items"]] == ["Jordan Lee"]
        everyone = await ok(await client.get("/api/v1/clients", headers=account.bearer))
        assert [c["name"] for c in everyone["items"]] == ["Casey Morgan", "Jordan Lee"]

    async def test_a_missing_name_is_400_naming_the_field(self, client: Client, account: Account) -> None:
        """A body without the required name is refused with 400 and the field 'name'."""
        body = await problem(
            await client.post("/api/v1/clients", json={"email": "a@b.test"}, headers=account.bearer), 400
        )
        assert [e["field"] for e in body["errors"]] == ["name"]

    async def test_a_domain_refusal_names_the_field(self, client: Client, account: Account) -> None:
        """A body of the right shape that the domain refuses (an unknown zone) is 400 naming the field."""
        response = await client.post(
            "/api/v1/clients", json={"name": "Sam", "timezone": "Mars/Base"}, headers=account.bearer
        )
        body = await problem(response, 400)
        assert body["errors"][0]["field"] == "timezone"
        assert "not a known time zone" in body["errors"][0]["message"]
        response = await client.post("/api/v1/clients", json={"name": "Sam", "status": "vip"}, headers=account.bearer)
        assert (await problem(response, 400))["errors"][0]["field"] == "status"

    async def test_an_unknown_id_is_404(self, client: Client, account: Account) -> None:
        """A client id that does not exist answers 404 problem+json."""
        response = await client.get("/api/v1/clients/00000000-0000-4000-8000-000000000000", headers=account.bearer)
        body = await problem(response, 404)
        assert body["code"] == "not_found"


class TestConsents:
    async def test_record_withdraw_and_read_per_channel_and_purpose(
        self, client: Client, account: Account, clock: FixedClock
    ) -> None:
        """Consents are recorded and withdrawn per channel and purpose; the client shows current ones, the log all."""
        jordan = await new_client(client, account)
        path = f"/api/v1/clients/{jordan['id']}/consents"
        give = {"channel": "sms_marketing", "method": "coach_entered", "wording": "Yes to offers, said at the gym"}
        after = await ok(await client.post(path, json=give, headers=account.bearer))
        assert after["current"] == [
            {
                "channel": "sms_marketing",
                "label": "Marketing texts",
                "granted_at": "2026-03-02T12:00:00Z",
                "method": "coach_entered",
                "wording": "Yes to offers, said at the gym",
            }
        ]
        fetched = await ok(await client.get(f"/api/v1/clients/{jordan['id']}", headers=account.bearer))
        assert fetched["consents"] == after["current"]
        clock.advance(timedelta(hours=1))
        stop = {"channel": "sms_marketing", "method": "sms_keyword", "wording": "STOP"}
        withdrawn = await ok(await client.post(f"{path}/withdraw", json=stop, headers=account.bearer))
        assert withdrawn["current"] == []
        assert [(h["action"], h["at"], h["method"], h["wording"]) for h in withdrawn["history"]] == [
            ("given", "2026-03-02T12:00:00Z", "coach_entered", "Yes to offers, said at the gym"),
            ("withdrawn", "2026-03-02T13:00:00Z", "sms_keyword", "STOP"),
        ]
        assert await ok(await client.get(path, headers=account.bearer)) == withdrawn

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"channel": "fax", "method": "client_request"}, "channel"),
            ({"channel": "marketing", "method": "client_request"}, "channel"),
            ({"channel": "sms", "method": "coach_entered"}, "wording"),
            ({"channel": "sms", "method": "  "}, "method"),
            ({"channel": "sms"}, "method"),
        ],
    )
    async def test_bad_input_is_400_naming_the_field(
        self, client: Client, account: Account, body: dict[str, str], field: str
    ) -> None:
        """An unknown channel, a blank method or coach-entered consent without its words is 400; nothing is stored."""
        jordan = await new_client(client, account)
        path = f"/api/v1/clients/{jordan['id']}/consents"
        problem_body = await problem(await client.post(path, json=body, headers=account.bearer), 400)
        assert [e["field"] for e in problem_body["errors"]] == [field]
        assert (await ok(await client.get(path, headers=account.bearer)))["history"] == []

    async def test_an_unknown_client_is_404(self, client: Client, account: Account) -> None:
        """The consents of a client id that does not exist answer 404."""
        path = "/api/v1/clients/00000000-0000-4000-8000-000000000000/consents"
        assert (await problem(await client.get(path, headers=account.bearer), 404))["code"] == "not_found"
        body = {"channel": "sms", "method": "client_request"}
        await problem(await client.post(path, json=body, headers=account.bearer), 404)


class TestServices:
    async def test_create_and_list(self, client: Client, account: Account) -> None:
        """A new service is priced in minor units and listed with the sign-up one, by name."""
        body = {"name": "Small group", "duration_minutes": 45, "price": {"amount_minor": 2500, "currency": "USD"}}
        created = await ok(
            await client.post("/api/v1/services", json=body | {"capacity": 6}, headers=account.bearer), 201
        )
        assert created["price"] == {"amount_minor": 2500, "currency": "USD"}
        assert (created["duration_minutes"], created["capacity"]) == (45, 6)
        listed = await ok(await client.get("/api/v1/services", headers=account.bearer))
        assert [(s["name"], s["price"]["amount_minor"]) for s in listed["items"]] == [
            ("Personal training", 8550),
            ("Small group", 2500),
        ]

    async def test_a_float_amount_is_400_naming_the_nested_field(self, client: Client, account: Account) -> None:
        """Money as a float is refused, naming price.amount_minor."""
        body = {"name": "X", "duration_minutes": 30, "price": {"amount_minor": 25.5, "currency": "USD"}}
        refused = await problem(await client.post("/api/v1/services", json=body, headers=account.bearer), 400)
        assert refused["errors"][0]["field"] == "price.amount_minor"

    async def test_a_missing_nested_field_is_named_by_its_path(self, client: Client, account: Account) -> None:
        """A price without its currency is refused naming price.currency."""
        body = {"name": "X", "duration_minutes": 30, "price": {"amount_minor": 2500}}
        refused = await problem(await client.post("/api/v1/services", json=body, headers=account.bearer), 400)
        assert refused["errors"][0]["field"] == "price.currency"

    async def test_another_currency_is_refused(self, client: Client, account: Account) -> None:
        """A price in a currency other than the organisation's is 400 on the price field."""
        body = {"name": "X", "duration_minutes": 30, "price": {"amount_minor": 2500, "currency": "EUR"}}
        refused = await problem(await client.post("/api/v1/services", json=body, headers=account.bearer), 400)
        assert refused["errors"][0]["field"] == "price"

    async def test_a_malformed_currency_names_the_request_path(self, client: Client, account: Account) -> None:
        """A currency code the domain refuses is named as the request has it: price.currency, not currency."""
        body = {"name": "X", "duration_minutes": 30, "price": {"amount_minor": 2500, "currency": "U$D"}}
        refused = await problem(await client.post("/api/v1/services", json=body, headers=account.bearer), 400)
        assert [e["field"] for e in refused["errors"]] == ["price.currency"]


class TestSlots:
    async def test_slots_are_utc_instants(self, client: Client, account: Account) -> None:
        """The first slot of Tuesday is 09:00 New York time, answered as 14:00Z."""
        query = {
            "service_id": await service_id(client, account),
            "start": "2026-03-03T00:00:00Z",
            "end": "2026-03-04T00:00:00Z",
        }
        slots = await ok(await client.get("/api/v1/slots", query_string=query, headers=account.bearer))
        assert slots["items"][0]["start"] == FIRST_SLOT
        assert slots["items"][0]["end"] == "2026-03-03T15:00:00Z"
        assert slots["items"][0]["coach_id"] == str(account.coach.id)
        assert slots["items"][-1]["start"] == "2026-03-03T21:00:00Z"

    async def test_a_missing_parameter_is_named(self, client: Client, account: Account) -> None:
        """Without service_id the query is refused naming that parameter."""
        query = {"start": "2026-03-03T00:00:00Z", "end": "2026-03-04T00:00:00Z"}
        refused = await problem(await client.get("/api/v1/slots", query_string=query, headers=account.bearer), 400)
        assert refused["errors"][0]["field"] == "service_id"

    async def test_an_instant_without_offset_is_refused(self, client: Client, account: Account) -> None:
        """A start without a UTC offset names no zone and is refused on 'start'."""
        query = {"service_id": await service_id(client, account), "start": "2026-03-03T00:00:00", "end": FIRST_SLOT}
        refused = await problem(await client.get("/api/v1/slots", query_string=query, headers=account.bearer), 400)
        assert refused["errors"][0]["field"] == "start"


class TestBookings:
    async def test_book_read_and_list(self, client: Client, account: Account) -> None:
        """A booking is created as requested, uses a credit, reads back by id and is listed in its range."""
        response = await book(client, account, note="knee rehab")
        booking = await ok(response, 201)
        assert response.headers["Location"] == f"/api/v1/bookings/{booking['id']}"
        assert (booking["status"], booking["start"], booking["end"]) == (
            "requested",
            FIRST_SLOT,
            "2026-03-03T15:00:00Z",
        )
        assert booking["package_id"] is not None
        assert await ok(await client.get(f"/api/v1/bookings/{booking['id']}", headers=account.bearer)) == booking
        query = {"start": "2026-03-03T00:00:00Z", "end": "2026-03-04T00:00:00Z"}
        listed = await ok(await client.get("/api/v1/bookings", query_string=query, headers=account.bearer))
        assert [b["id"] for b in listed["items"]] == [booking["id"]]
        packages = await ok(
            await client.get(f"/api/v1/clients/{booking['client_id']}/packages", headers=account.bearer)
        )
        assert packages["items"][0]["remaining"] == 4

    async def test_the_same_idempotency_key_answers_the_first_booking(self, client: Client, account: Account) -> None:
        """Repeating a POST with the same key (body field, then header) returns the same booking, once."""
        first = await ok(await book(client, account, idempotency_key="retry-1"), 201)
        body = {"client_id": first["client_id"], "service_id": first["service_id"], "start": FIRST_SLOT}
        again = await client.post(
            "/api/v1/bookings", json=body, headers=account.bearer | {"Idempotency-Key": "retry-1"}
        )
        assert (await ok(again, 201))["id"] == first["id"]
        packages = await ok(await client.get(f"/api/v1/clients/{first['client_id']}/packages", headers=account.bearer))
        assert packages["items"][0]["used"] == 1

    async def test_a_reused_key_with_other_details_is_409(self, client: Client, account: Account) -> None:
        """The same key for a different time is a conflict, not a second booking."""
        first = await ok(await book(client, account, idempotency_key="k"), 201)
        body = {"client_id": first["client_id"], "service_id": first["service_id"], "start": "2026-03-03T16:00:00Z"}
        await problem(
            await client.post("/api/v1/bookings", json=body | {"idempotency_key": "k"}, headers=account.bearer), 409
        )

    async def test_header_and_body_keys_must_agree(self, client: Client, account: Account) -> None:
        """Different keys in the header and the body are refused on idempotency_key."""
        person = await new_client(client, account)
        body = {"client_id": person["id"], "service_id": await service_id(client, account), "start": FIRST_SLOT}
        headers = account.bearer | {"Idempotency-Key": "a"}
        refused = await problem(
            await client.post("/api/v1/bookings", json=body | {"idempotency_key": "b"}, headers=headers), 400
        )
        assert refused["errors"][0]["field"] == "idempotency_key"

    async def test_a_taken_slot_is_409_and_no_credits_is_409(self, client: Client, account: Account) -> None:
        """Booking a taken time conflicts; a client without a package has no credits."""
        first = await ok(await book(client, account), 201)
        body = {"client_id": first["client_id"], "service_id": first["service_id"], "start": FIRST_SLOT}
        taken = await problem(await client.post("/api/v1/bookings", json=body, headers=account.bearer), 409)
        assert taken["code"] == "slot_unavailable"
        broke = await new_client(client, account, name="No Package")
        body = body | {"client_id": broke["id"], "start": "2026-03-03T16:00:00Z"}
        assert (await problem(await client.post("/api/v1/bookings", json=body, headers=account.bearer), 409))[
            "code"
        ] == "no_credits_left"

    async def test_a_time_in_the_past_is_a_policy_refusal(self, client: Client, account: Account) -> None:
        """A start before now is refused by the policy with 422."""
        await problem(await book(client, account, start="2026-03-01T14:00:00Z"), 422)

    async def test_confirm_then_complete(self, client: Client, account: Account, clock: FixedClock) -> None:
        """Confirm moves a requested booking; complete is refused before the start and works after it."""
        booking = await ok(await book(client, account), 201)
        url = f"/api/v1/bookings/{booking['id']}"
        assert (await ok(await client.post(f"{url}/confirm", headers=account.bearer)))["status"] == "confirmed"
        await problem(await client.post(f"{url}/complete", headers=account.bearer), 422)
        clock.advance(timedelta(days=1, hours=3))
        assert (await ok(await client.post(f"{url}/complete", headers=account.bearer)))["status"] == "completed"
        refused = await problem(await client.post(f"{url}/cancel", headers=account.bearer), 409)
        assert refused["code"] == "invalid_transition"

    async def test_no_show_after_the_start(self, client: Client, account: Account, clock: FixedClock) -> None:
        """A no-show is recorded once the session has started."""
        booking = await ok(await book(client, account), 201)
        clock.advance(timedelta(days=1, hours=2, minutes=30))
        moved = await ok(await client.post(f"/api/v1/bookings/{booking['id']}/no-show", headers=account.bearer))
        assert moved["status"] == "no_show"

    async def test_cancel_returns_the_credit_and_repeats_safely(self, client: Client, account: Account) -> None:
        """Cancelling (body optional) frees the credit; cancelling again answers the cancelled booking."""
        booking = await ok(await book(client, account), 201)
        url = f"/api/v1/bookings/{booking['id']}/cancel"
        cancelled = await ok(await client.post(url, json={"reason": "sick"}, headers=account.bearer))
        assert cancelled["status"] == "cancelled"
        assert (await ok(await client.post(url, headers=account.bearer)))["status"] == "cancelled"
        packages = await ok(
            await client.get(f"/api/v1/clients/{booking['client_id']}/packages", headers=account.bearer)
        )
        assert packages["items"][0]["remaining"] == 5

    async def test_a_cancel_body_of_the_wrong_shape_is_400(self, client: Client, account: Account) -> None:
        """A cancel body whose return_credit is not a boolean is refused naming it."""
        booking = await ok(await book(client, account), 201)
        response = await client.post(
            f"/api/v1/bookings/{booking['id']}/cancel", json={"return_credit": "maybe"}, headers=account.bearer
        )
        assert (await problem(response, 400))["errors"][0]["field"] == "return_credit"


class TestPackages:
    async def test_sell_and_list(self, client: Client, account: Account) -> None:
        """A sold package lists with its credits and price in minor units."""
        person = await new_client(client, account)
        sold = await sell(client, account, person["id"], sessions=10)
        assert (sold["total"], sold["used"], sold["remaining"]) == (10, 0, 10)
        assert sold["price"] == {"amount_minor": 40000, "currency": "USD"}
        listed = await ok(await client.get(f"/api/v1/clients/{person['id']}/packages", headers=account.bearer))
        assert [p["id"] for p in listed["items"]] == [sold["id"]]

    async def test_zero_sessions_is_refused(self, client: Client, account: Account) -> None:
        """A package of no sessions is refused by the domain with 400."""
        person = await new_client(client, account)
        body = {"name": "Nothing", "sessions": 0, "price": {"amount_minor": 0, "currency": "USD"}}
        response = await client.post(f"/api/v1/clients/{person['id']}/packages", json=body, headers=account.bearer)
        await problem(response, 400)

    async def test_a_negative_count_names_sessions_not_the_domain_total(self, client: Client, account: Account) -> None:
        """`sessions: -1` is refused naming the request's `sessions`, not the package record's `total`."""
        person = await new_client(client, account)
        body = {"name": "Minus", "sessions": -1, "price": {"amount_minor": 0, "currency": "USD"}}
        response = await client.post(f"/api/v1/clients/{person['id']}/packages", json=body, headers=account.bearer)
        assert [e["field"] for e in (await problem(response, 400))["errors"]] == ["sessions"]

    async def test_how_it_was_paid_is_taken_and_shown(self, client: Client, account: Account) -> None:
        """`paid_by` card leaves the package pending; cash makes it paid at once; an unknown way is a 400 naming it."""
        person = await new_client(client, account)
        url = f"/api/v1/clients/{person['id']}/packages"
        body = {"name": "Ten", "sessions": 10, "price": {"amount_minor": 40000, "currency": "USD"}}
        card = await ok(await client.post(url, json=body | {"paid_by": "card"}, headers=account.bearer), 201)
        assert (card["payment_state"], card["payment_method"], card["paid_at"]) == ("pending", "card", None)
        cash = await ok(await client.post(url, json=body | {"paid_by": "cash"}, headers=account.bearer), 201)
        assert (cash["payment_state"], cash["payment_method"]) == ("paid", "cash")
        assert cash["paid_at"] is not None
        response = await client.post(url, json=body | {"paid_by": "gold"}, headers=account.bearer)
        assert [e["field"] for e in (await problem(response, 400))["errors"]] == ["paid_by"]


class TestAvailability:
    async def test_read_and_replace_weekly_hours(self, client: Client, account: Account) -> None:
        """The sign-up hours read back as HH:MM in the org's zone; PUT replaces them as a whole."""
        url = f"/api/v1/availability/{account.coach.id}"
        hours = await ok(await client.get(url, headers=account.bearer))
        assert hours["timezone"] == "America/New_York"
        assert hours["rules"][0] == {"weekday": 0, "start": "09:00", "end": "17:00"}
        assert len(hours["rules"]) == 7
        rules = [{"weekday": 1, "start": "07:00", "end": "12:00"}, {"weekday": 1, "start": "14:00", "end": "19:30"}]
        replaced = await ok(await client.put(url, json={"rules": rules}, headers=account.bearer))
        assert replaced["rules"] == rules
        assert (await ok(await client.get(url, headers=account.bearer)))["rules"] == rules

    async def test_a_malformed_time_names_its_place(self, client: Client, account: Account) -> None:
        """A time that is not HH:MM is refused naming rules[0].start."""
        body = {"rules": [{"weekday": 0, "start": "9am", "end": "17:00"}]}
        response = await client.put(f"/api/v1/availability/{account.coach.id}", json=body, headers=account.bearer)
        assert (await problem(response, 400))["errors"][0]["field"] == "rules[0].start"

    async def test_overlapping_periods_are_refused(self, client: Client, account: Account) -> None:
        """Two periods overlapping on one day are refused by the domain, naming the request's `rules`."""
        rules = [{"weekday": 0, "start": "09:00", "end": "12:00"}, {"weekday": 0, "start": "11:00", "end": "13:00"}]
        response = await client.put(
            f"/api/v1/availability/{account.coach.id}", json={"rules": rules}, headers=account.bearer
        )
        assert (await problem(response, 400))["errors"][0]["field"] == "rules"


class TestErrors:
    async def test_a_crash_is_500_with_an_error_id_and_no_internals(self, web: Quart, core: CoachOS) -> None:
        """An unexpected exception answers problem+json 500 with an error id, no stack trace or message."""

        async def explode() -> Any:
            raise RuntimeError("secret internals: password=hunter2")

        web.add_url_rule("/api/v1/test-crash", "test_crash", explode)
        client = web.test_client()
        account = await open_account(client, core)
        response = await client.get("/api/v1/test-crash", headers=account.bearer)
        body = await problem(response, 500)
        text = await response.get_data(as_text=True)
        assert len(body["error_id"]) == 12
        assert body["error_id"] in body["detail"]
        assert "Traceback" not in text
        assert "hunter2" not in text

    async def test_malformed_json_is_400(self, client: Client, account: Account) -> None:
        """A body that is not JSON at all is a 400 problem, not a crash."""
        response = await client.post(
            "/api/v1/clients",
            data="{not json",
            headers=account.bearer | {"Content-Type": "application/json"},
        )
        await problem(response, 400)

    async def test_an_unknown_api_path_is_404_problem(self, client: Client, account: Account) -> None:
        """A path under /api/ that does not exist answers problem+json 404."""
        await problem(await client.get("/api/v1/nothing-here", headers=account.bearer), 404)


class TestOpenApi:
    async def test_every_api_route_is_documented_with_a_summary(self, web: Quart, client: Client) -> None:
        """/openapi.json lists every /api/v1 path and method, each with a summary and a documented answer."""
        spec = await ok(await client.get("/openapi.json"))
        routes = [r for r in web.url_map.iter_rules() if r.rule.startswith("/api/v1/")]
        assert len(routes) >= 17
        for rule in routes:
            path = rule.rule
            for name in rule.arguments:
                path = path.replace(f"<uuid:{name}>", f"{{{name}}}")
            operations = spec["paths"][path]
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                operation = operations[method.lower()]
                assert operation["summary"], f"{method} {path} has no summary"
                assert operation["responses"], f"{method} {path} documents no response"
        assert spec["paths"]["/api/v1/bookings"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert "Money" in spec["components"]["schemas"]
        assert all(path.startswith("/api/") for path in spec["paths"]), "pages are not part of the API document"
        dangling = {
            ref for ref in _refs(spec) if ref.removeprefix("#/components/schemas/") not in spec["components"]["schemas"]
        }
        assert not dangling, f"$refs to missing components: {sorted(dangling)}"

    async def test_operation_ids_are_the_stable_view_names(self, client: Client) -> None:
        """Each operation's id is its view's name, which a generated client uses as its function name."""
        spec = await ok(await client.get("/openapi.json"))
        ids = sorted(op["operationId"] for path in spec["paths"].values() for op in path.values())
        assert ids == sorted(
            [
                "book_session",
                "cancel_booking",
                "complete_booking",
                "confirm_booking",
                "create_client",
                "create_service",
                "find_slots",
                "get_availability",
                "get_booking",
                "get_client",
                "get_consents",
                "get_me",
                "get_package",
                "list_bookings",
                "list_clients",
                "list_packages",
                "list_services",
                "mark_no_show",
                "record_consent",
                "sell_package",
                "set_availability",
                "withdraw_consent",
            ]
        )

    async def test_every_refusal_is_the_shared_problem_as_problem_json(self, client: Client) -> None:
        """Every 4xx/5xx of every operation is application/problem+json referencing the one Problem schema,
        and every operation documents 400, 401, 429, 500 and 503; writes add 403, bodies 413, path ids 404."""
        spec = await ok(await client.get("/openapi.json"))
        for path, operations in spec["paths"].items():
            for method, op in operations.items():
                statuses = {int(status) for status in op["responses"]}
                assert {400, 401, 429, 500, 503} <= statuses, (method, path)
                if method != "get":
                    assert 403 in statuses, (method, path)
                if "requestBody" in op:
                    assert 413 in statuses, (method, path)
                if "{" in path:
                    assert 404 in statuses, (method, path)
                for status, answer in op["responses"].items():
                    if int(status) >= 400:
                        assert answer["content"] == {
                            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                        }, (method, path, status)
                    else:
                        assert list(answer["content"]) == ["application/json"], (method, path, status)
                        assert "$ref" in answer["content"]["application/json"]["schema"], (method, path, status)
        problem_schema = spec["components"]["schemas"]["Problem"]
        assert set(problem_schema["required"]) == {"type", "title", "status", "detail", "code", "errors"}
        assert problem_schema["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/FieldError"}

    async def test_parameters_and_bodies_say_what_is_required_and_their_formats(self, client: Client) -> None:
        """Required query parameters and bodies are marked required; ids are UUIDs and instants date-times."""
        spec = await ok(await client.get("/openapi.json"))
        slots = {p["name"]: p for p in spec["paths"]["/api/v1/slots"]["get"]["parameters"]}
        assert {name: p["required"] for name, p in slots.items()} == {
            "service_id": True,
            "start": True,
            "end": True,
            "coach_id": False,
        }
        assert slots["coach_id"]["schema"] == {"type": "string", "format": "uuid"}
        assert slots["start"]["schema"] == {"type": "string", "format": "date-time"}
        booking = spec["paths"]["/api/v1/bookings/{booking_id}"]["get"]["parameters"]
        assert booking == [
            {"name": "booking_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        ]
        assert spec["paths"]["/api/v1/bookings"]["post"]["requestBody"]["required"] is True
        assert spec["paths"]["/api/v1/bookings/{booking_id}/cancel"]["post"]["requestBody"]["required"] is False
        shapes = spec["components"]["schemas"]
        assert shapes["Booking"]["properties"]["created_at"]["format"] == "date-time"
        assert shapes["Booking"]["properties"]["client_id"]["format"] == "uuid"

    async def test_statuses_are_enums(self, client: Client) -> None:
        """Booking and client statuses are enums of exactly the domain's values; `via` is session or token."""
        spec = await ok(await client.get("/openapi.json"))
        shapes = spec["components"]["schemas"]
        assert shapes["Booking"]["properties"]["status"] == {"$ref": "#/components/schemas/BookingStatus"}
        assert sorted(shapes["BookingStatus"]["enum"]) == sorted(s.value for s in BookingStatus)
        assert shapes["Client"]["properties"]["status"] == {"$ref": "#/components/schemas/ClientStatus"}
        assert sorted(shapes["ClientStatus"]["enum"]) == sorted(s.value for s in ClientStatus)
        assert shapes["Me"]["properties"]["via"]["enum"] == ["session", "token"]

    async def test_every_problem_has_a_code_and_errors(self, web: Quart, client: Client, account: Account) -> None:
        """Refusals that come from HTTP itself (no credentials, an unknown path) carry `code` and `errors` too."""
        unknown = await problem(await client.get("/api/v1/nothing-here", headers=account.bearer), 404)
        assert (unknown["code"], unknown["errors"]) == ("not_found", [])
        anonymous = await problem(await web.test_client().get("/api/v1/me"), 401)
        assert anonymous["code"] == "unauthorized"
        assert anonymous["errors"] == []


def _refs(node: Any) -> list[str]:
    """Every `$ref` in a JSON document."""
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []
