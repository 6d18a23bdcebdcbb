"""Sign-up, log-in, log-out, password reset, CSRF and cookie rules, through the real app."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.adapters.security import MemoryEmail
from coachos.domain.usecases import CreateApiToken
from tests.web.support import PASSWORD, csrf, serving, sign_up

SIGN_UP_FORM = {
    "name": "Alex Rivera",
    "email": "alex@peak.test",
    "password": PASSWORD,
    "business_name": "Peak Coaching",
    "slug": "peak",
    "timezone": "America/New_York",
    "currency": "USD",
    "service_name": "Personal training",
    "service_minutes": "60",
    "service_price": "85.50",
    "days": "0,1,2,3,4",
    "day_start": "09:00",
    "day_end": "17:00",
}


def from_address(address: str) -> dict[str, Any]:
    """Test-client arguments for a request coming from `address`."""
    return {"scope_base": {"client": (address, 40000)}}


async def log_in(client: Client, password: str, address: str, path: str = "/login") -> Any:
    token = await csrf(client)
    return await client.post(
        path, form={"csrf_token": token, "email": "alex@peak.test", "password": password}, **from_address(address)
    )


class TestSignUp:
    async def test_sign_up_lands_on_today_signed_in(self, client: Client, core: CoachOS) -> None:
        """The sign-up form creates the business, its first service and hours, and signs the coach in."""
        response = await sign_up(client)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/today")
        page = await client.get("/today")
        assert page.status_code == 200
        assert "Welcome" in await page.get_data(as_text=True) or "Today" in await page.get_data(as_text=True)
        org = core.read(lambda uow: uow.orgs.by_slug("peak"))
        assert org.timezone == "America/New_York"
        (service,) = core.read(lambda uow: uow.services.list(org.id))
        assert service.price.amount_minor == 8550

    @pytest.mark.parametrize(
        ("field", "value", "says"),
        [
            ("service_price", "abc", "is not an amount"),
            ("service_price", "-5", "cannot be negative"),
            ("service_price", "1.234", "at most 2 decimals"),
            ("service_minutes", "ten", "whole number from 5 to 720"),
            ("service_minutes", "0", "whole number from 5 to 720"),
            ("service_minutes", "\u00b2", "whole number from 5 to 720"),
            ("day_start", "25:00", "write it like 09:00"),
            ("day_end", "08:00", "must end after they start"),
            ("days", "0,9", "Days must be a whole number from 0 to 6"),
        ],
    )
    async def test_a_bad_service_or_hours_write_nothing_and_a_retry_works(
        self, client: Client, core: CoachOS, field: str, value: str, says: str
    ) -> None:
        """A bad price, length or hours re-show the form with the reason and store nothing; the fixed form works."""
        token = await csrf(client, "/signup")
        refused = await client.post("/signup", form={**SIGN_UP_FORM, "csrf_token": token, field: value})
        assert refused.status_code == 400
        assert says in await refused.get_data(as_text=True)
        assert core.read(lambda uow: uow.accounts.login_by_email("alex@peak.test")) is None
        response = await client.post("/signup", form={**SIGN_UP_FORM, "csrf_token": token})
        assert response.status_code == 302
        org = core.read(lambda uow: uow.orgs.by_slug("peak"))
        (coach,) = core.read(lambda uow: uow.coaches.list(org.id))
        assert len(core.read(lambda uow: uow.services.list(org.id))) == 1
        assert len(core.read(lambda uow: uow.availability.weekly(org.id, coach.id))) == 5

    async def test_bad_timezone_shows_the_form_again_and_writes_nothing(self, client: Client, core: CoachOS) -> None:
        """An unknown zone re-shows the form with the reason, and no business is created."""
        response = await sign_up(client, timezone="Mars/Base")
        assert response.status_code == 400
        assert "not a known time zone" in await response.get_data(as_text=True)
        assert core.read(lambda uow: uow.accounts.login_by_email("alex@peak.test")) is None


class TestLogIn:
    async def test_log_in_rotates_the_session_and_log_out_ends_it(self, web: Quart) -> None:
        """Logging in issues a new session cookie each time; after logging out the old one is useless."""
        first = web.test_client()
        await sign_up(first)
        second = web.test_client()
        token = await csrf(second)
        response = await second.post(
            "/login", form={"csrf_token": token, "email": "alex@peak.test", "password": PASSWORD}
        )
        assert response.status_code == 302
        cookie = response.headers["Set-Cookie"]
        assert "coachos_session=" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert (await second.get("/today")).status_code == 200
        token = await csrf(second, "/today")
        await second.post("/logout", form={"csrf_token": token})
        assert (await second.get("/today")).status_code == 302

    async def test_wrong_password_is_401_with_a_message(self, client: Client) -> None:
        """A wrong password re-shows the form with a clear message."""
        await sign_up(client)
        other_token = await csrf(client)
        response = await client.post(
            "/login", form={"csrf_token": other_token, "email": "alex@peak.test", "password": "nope nope nope"}
        )
        assert response.status_code == 401
        assert "do not match" in await response.get_data(as_text=True)

    async def test_next_only_goes_to_this_site(self, web: Quart) -> None:
        """After log-in, a 'next' pointing to another site is ignored."""
        await sign_up(web.test_client())
        client = web.test_client()
        token = await csrf(client)
        response = await client.post(
            "/login?next=//evil.example/x",
            form={"csrf_token": token, "email": "alex@peak.test", "password": PASSWORD},
        )
        assert response.headers["Location"] == "/today"

    @pytest.mark.parametrize(
        ("query", "landing"),
        [
            ("/%5Cevil.example/", "/today"),  # "/\evil.example/": browsers read it as //evil.example
            ("//evil", "/today"),
            ("https://evil", "/today"),
            ("/%255Cevil", "/today"),  # "/%5Cevil", a backslash once decoded
            ("/%09/evil.example", "/today"),  # a tab, which browsers drop: "//evil.example"
            ("%2F%2Fevil.example", "/today"),
            ("javascript:alert(1)", "/today"),
            ("/ok/path%3Fx%3D1", "/ok/path?x=1"),
        ],
    )
    async def test_next_is_only_a_plain_path_on_this_site(self, web: Quart, query: str, landing: str) -> None:
        """After log-in, 'next' is followed only if it is a plain path here; anything else lands on the dashboard."""
        await sign_up(web.test_client())
        response = await log_in(web.test_client(), PASSWORD, "192.0.2.1", path=f"/login?next={query}")
        assert response.status_code == 302
        assert response.headers["Location"] == landing

    async def test_pages_need_a_session(self, client: Client) -> None:
        """A signed-out visitor asking for a page is sent to log in, and back afterwards."""
        response = await client.get("/today")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=/today")


class TestLogInThrottle:
    async def test_waiting_is_429_with_retry_after_and_only_for_that_address(self, web: Quart) -> None:
        """Five wrong passwords from one address: the next try from there is 429 with Retry-After; elsewhere works."""
        await sign_up(web.test_client())
        client = web.test_client()
        for _ in range(5):
            assert (await log_in(client, "nope nope nope", "203.0.113.5")).status_code == 401
        refused = await log_in(client, PASSWORD, "203.0.113.5")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "60"
        assert "Try again in 1 minute" in await refused.get_data(as_text=True)
        assert (await log_in(client, PASSWORD, "198.51.100.7")).status_code == 302

    async def test_the_wait_ends_and_the_right_password_works(self, web: Quart, clock: FixedClock) -> None:
        """Once the wait is over the right password from the same address logs in."""
        await sign_up(web.test_client())
        client = web.test_client()
        for _ in range(5):
            await log_in(client, "nope nope nope", "203.0.113.5")
        clock.advance(timedelta(seconds=60))
        assert (await log_in(client, PASSWORD, "203.0.113.5")).status_code == 302

    async def test_the_coach_sees_the_lock_out_with_a_masked_address(self, web: Quart) -> None:
        """A lock-out appears in the Security list of the settings page, with the address shortened."""
        coach = web.test_client()
        await sign_up(coach)
        for _ in range(5):
            await log_in(web.test_client(), "nope nope nope", "203.0.113.5")
        page = await (await coach.get("/setup/settings")).get_data(as_text=True)
        assert page.count('id="security"') == 1
        assert "<title>Settings · Setup · Coach OS</title>" in page, "the Security list leaked into the page title"
        assert "5 wrong passwords from 203.0.113.*" in page
        assert "203.0.113.5" not in page


class TestCsrf:
    async def test_form_without_token_is_refused(self, client: Client, core: CoachOS) -> None:
        """A state-changing form without its CSRF token is refused with 403 and writes nothing."""
        await client.get("/signup")
        response = await client.post("/signup", form={"name": "X", "email": "x@y.co", "password": PASSWORD})
        assert response.status_code == 403
        assert core.read(lambda uow: uow.accounts.login_by_email("x@y.co")) is None

    async def test_token_from_another_browser_is_refused(self, web: Quart) -> None:
        """A CSRF token taken from one browser does not work in another."""
        token = await csrf(web.test_client(), "/signup")
        other = web.test_client()
        await other.get("/signup")
        response = await other.post("/login", form={"csrf_token": token, "email": "a@b.co", "password": "x" * 12})
        assert response.status_code == 403


class TestReset:
    async def test_reset_by_email_link(self, client: Client, mail: MemoryEmail) -> None:
        """The emailed link lets the coach set a new password and log in with it."""
        await sign_up(client)
        token = await csrf(client, "/forgot")
        await client.post("/forgot", form={"csrf_token": token, "email": "alex@peak.test"})
        (message,) = mail.sent
        link = message.text.split("http://coachos.test")[1].split()[0]
        token = await csrf(client, link)
        response = await client.post(link, form={"csrf_token": token, "password": "my new password 1"})
        assert response.status_code == 302
        token = await csrf(client)
        ok = await client.post(
            "/login", form={"csrf_token": token, "email": "alex@peak.test", "password": "my new password 1"}
        )
        assert ok.status_code == 302

    async def test_reset_revokes_api_tokens(self, client: Client, core: CoachOS, mail: MemoryEmail) -> None:
        """After a password reset the coach's old API token is refused with 401; the reset page says it will be."""
        await sign_up(client)
        org = core.read(lambda uow: uow.orgs.by_slug("peak"))
        (coach,) = core.read(lambda uow: uow.coaches.list(org.id))
        made = core.execute(CreateApiToken(org_id=org.id, coach_id=coach.id, name="script"))
        bearer = {"Authorization": f"Bearer {made.secret}"}
        assert (await client.get("/api/v1/services", headers=bearer)).status_code == 200
        token = await csrf(client, "/forgot")
        await client.post("/forgot", form={"csrf_token": token, "email": "alex@peak.test"})
        link = mail.sent[-1].text.split("http://coachos.test")[1].split()[0]
        page = await client.get(link)
        assert "revokes all your API tokens" in await page.get_data(as_text=True)
        token = await csrf(client, link)
        await client.post(link, form={"csrf_token": token, "password": "my new password 1"})
        assert (await client.get("/api/v1/services", headers=bearer)).status_code == 401


class TestForgot:
    async def test_same_answer_and_no_email_past_the_limit(self, client: Client, mail: MemoryEmail) -> None:
        """Requests past the limit, and for unknown emails, get the same page as the rest and send nothing."""
        await sign_up(client)
        token = await csrf(client, "/forgot")
        pages = []
        for email in ["alex@peak.test"] * 5 + ["ghost@peak.test"]:
            response = await client.post("/forgot", form={"csrf_token": token, "email": email})
            assert response.status_code == 200
            pages.append(await response.get_data(as_text=True))
        assert "a link to choose a new password is on its way" in pages[0]
        assert all(page == pages[0] for page in pages)
        assert len(mail.sent) == 3


class TestHeaders:
    async def test_security_headers_and_request_id(self, client: Client) -> None:
        """Every response carries a request id and the security headers."""
        response = await client.get("/login", headers={"X-Request-ID": "req-abc12345"})
        assert response.headers["X-Request-ID"] == "req-abc12345"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"

    @pytest.mark.parametrize("offered", ["jordan@example.com", "short", "x" * 65, "a b c d e f g h"])
    async def test_odd_request_ids_are_replaced(self, client: Client, offered: str) -> None:
        """A request id that does not look like one (it is logged on every line) is replaced by a fresh one."""
        response = await client.get("/login", headers={"X-Request-ID": offered})
        assert response.headers["X-Request-ID"] != offered
        assert len(response.headers["X-Request-ID"]) == 32

    @pytest.mark.parametrize("secure", [True, False])
    async def test_cookie_secure_flag_follows_settings(self, core: CoachOS, secure: bool) -> None:
        """Session and anonymous cookies are Secure unless settings turn that off (local http only)."""
        async with serving(core, cookie_secure=secure) as app:
            response = await app.test_client().get("/login")
        assert ("Secure" in response.headers["Set-Cookie"]) is secure
