"""Sign-up, log-in, log-out, password reset, CSRF and cookie rules, through the real app."""

from __future__ import annotations

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS
from coachos.adapters.security import MemoryEmail
from tests.web.support import PASSWORD, csrf, serving, sign_up


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

    async def test_pages_need_a_session(self, client: Client) -> None:
        """A signed-out visitor asking for a page is sent to log in, and back afterwards."""
        response = await client.get("/today")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=/today")


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
