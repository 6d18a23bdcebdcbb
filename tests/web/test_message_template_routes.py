"""Setup → Messages: listing, editing, previewing and resetting templates; bad input is a 4xx that stores nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import Actor, BookSession, CoachOS, CreateClient, Organization, bootstrap
from coachos.adapters.clock import FixedClock
from coachos.adapters.memory import MemoryStore
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.domain.messages import MessageChannel
from coachos.domain.templates import TemplateKind
from tests.web.support import csrf, sign_up, web_settings

SMS_PAGE = "/setup/messages/booking_confirmed/sms"
EMAIL_PAGE = "/setup/messages/reminder_24h/email"


def _org(core: CoachOS, slug: str = "peak") -> Organization:
    return core.read(lambda uow: uow.orgs.by_slug(slug))


def _saved(core: CoachOS, slug: str = "peak") -> list[Any]:
    org = _org(core, slug)
    return list(core.read(lambda uow: uow.templates.list(org.id)))


async def _post(client: Client, path: str, fields: dict[str, str]) -> Any:
    token = await csrf(client, path)
    return await client.post(path, form={"csrf_token": token, **fields})


async def _text(response: Any) -> str:
    text: str = await response.get_data(as_text=True)
    return text


class TestList:
    async def test_every_kind_is_listed_with_its_text_and_email_links(self, client: Client) -> None:
        """The page names every kind of message and links to both channels' editors."""
        await sign_up(client)
        response = await client.get("/setup/messages")
        assert response.status_code == 200
        page = await _text(response)
        for kind in TemplateKind:
            assert f'href="/setup/messages/{kind.value}/sms"' in page
            assert f'href="/setup/messages/{kind.value}/email"' in page
        assert "America/New_York (EST)" in page
        assert 'href="/setup/messages" aria-current="page"' in page

    async def test_the_pages_need_a_session(self, client: Client) -> None:
        """A signed-out visitor is sent to log in."""
        for path in ("/setup/messages", SMS_PAGE):
            response = await client.get(path)
            assert response.status_code == 302
            assert response.headers["Location"].startswith("/login")

    async def test_an_unknown_kind_or_channel_is_404(self, client: Client) -> None:
        """Addresses naming no message answer 404."""
        await sign_up(client)
        for path in ("/setup/messages/nope/sms", "/setup/messages/booking_confirmed/fax"):
            assert (await client.get(path)).status_code == 404


class TestEdit:
    async def test_the_editor_shows_the_default_its_preview_in_the_orgs_zone_and_its_sms_parts(
        self, client: Client
    ) -> None:
        """Without JavaScript the page already shows the rendered sample (9:00 AM EST tomorrow) and its SMS parts."""
        await sign_up(client)
        page = await _text(await client.get(SMS_PAGE))
        assert "you&#39;re booked for {service}" in page
        assert "Tue 3 Mar, 9:00 AM EST" in page
        assert 'id="segments"' in page
        assert "GSM-7" in page
        assert "messages.js" in page

    async def test_preview_renders_what_was_typed_and_stores_nothing(self, client: Client, core: CoachOS) -> None:
        """Preview shows the typed wording filled in, with a curly apostrophe counted as UCS-2, and saves nothing."""
        await sign_up(client)
        response = await _post(
            client, SMS_PAGE, {"action": "preview", "body": "Hi {client_first_name}, you\u2019re in"}
        )
        assert response.status_code == 200
        page = await _text(response)
        assert "Hi Jordan, you\u2019re in" in page
        assert "UCS-2" in page
        assert _saved(core) == []

    async def test_save_stores_the_wording_and_reset_removes_it(self, client: Client, core: CoachOS) -> None:
        """A saved wording is the business's own until reset brings back the default."""
        await sign_up(client)
        response = await _post(client, SMS_PAGE, {"action": "save", "body": "See you {when}\r\n{manage_link}"})
        assert response.status_code == 302
        [saved] = _saved(core)
        assert (saved.kind, saved.channel, saved.body) == (
            TemplateKind.BOOKING_CONFIRMED,
            MessageChannel.SMS,
            "See you {when}\n{manage_link}",
        )
        page = await _text(await client.get(SMS_PAGE + "?saved=saved"))
        assert "Your wording is saved." in page
        assert "your wording" in await _text(await client.get("/setup/messages"))
        response = await _post(client, SMS_PAGE, {"action": "reset"})
        assert response.status_code == 302
        assert _saved(core) == []

    async def test_an_email_keeps_its_subject(self, client: Client, core: CoachOS) -> None:
        """An email template is saved with its subject, and its preview shows the subject filled in."""
        await sign_up(client)
        fields = {"subject": "Tomorrow at {when}", "body": "Hi {client_first_name}"}
        preview = await _text(await _post(client, EMAIL_PAGE, {"action": "preview", **fields}))
        assert "Tomorrow at Tue 3 Mar, 9:00 AM EST" in preview
        await _post(client, EMAIL_PAGE, {"action": "save", **fields})
        [saved] = _saved(core)
        assert (saved.subject, saved.body) == ("Tomorrow at {when}", "Hi {client_first_name}")

    async def test_the_preview_escapes_what_was_typed(self, client: Client) -> None:
        """Markup typed into a template is shown as text, never run."""
        await sign_up(client)
        page = await _text(
            await _post(client, SMS_PAGE, {"action": "preview", "body": "<script>alert(1)</script> {when}"})
        )
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


class TestBadInput:
    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ("Hi {clinet_name}", "{clinet_name} is not a placeholder"),
            ("Hi {client_first_name", "brace is not closed"),
            ("Hi \x1b there", "control character"),
            ("x" * 1_531, "limited to 1,530 characters"),
            ("   ", "cannot be empty"),
        ],
    )
    async def test_a_refused_template_is_a_400_with_the_reason_and_nothing_stored(
        self, client: Client, core: CoachOS, body: str, message: str
    ) -> None:
        """Each bad wording is shown again with what is wrong, answered 400, and not stored."""
        await sign_up(client)
        response = await _post(client, SMS_PAGE, {"action": "save", "body": body})
        assert response.status_code == 400
        assert message in await _text(response)
        assert _saved(core) == []

    async def test_a_nul_byte_is_refused_and_nothing_stored(self, client: Client, core: CoachOS) -> None:
        """A NUL in the body is refused before anything is parsed into a template."""
        await sign_up(client)
        response = await _post(client, SMS_PAGE, {"action": "save", "body": "Hi\x00{when}"})
        assert response.status_code == 400
        assert _saved(core) == []

    async def test_a_huge_body_is_refused_and_nothing_stored(self, client: Client, core: CoachOS) -> None:
        """A body past any limit (here 2 MB, over the request limit) is a 4xx and stores nothing."""
        await sign_up(client)
        token = await csrf(client, SMS_PAGE)
        response = await client.post(SMS_PAGE, form={"csrf_token": token, "action": "save", "body": "x" * 2_000_000})
        assert 400 <= response.status_code < 500
        response = await _post(client, EMAIL_PAGE, {"action": "save", "subject": "S", "body": "y" * 10_001})
        assert response.status_code == 400
        assert _saved(core) == []

    async def test_an_email_without_a_subject_is_refused(self, client: Client, core: CoachOS) -> None:
        """Saving an email with an empty subject is refused."""
        await sign_up(client)
        response = await _post(client, EMAIL_PAGE, {"action": "save", "subject": "", "body": "Hi"})
        assert response.status_code == 400
        assert "needs a subject" in await _text(response)
        assert _saved(core) == []

    async def test_a_form_without_csrf_is_refused(self, client: Client, core: CoachOS) -> None:
        """A save without the CSRF token is refused and stores nothing."""
        await sign_up(client)
        response = await client.post(SMS_PAGE, form={"action": "save", "body": "Hi"})
        assert response.status_code in (400, 403)
        assert _saved(core) == []

    async def test_another_business_cannot_see_or_change_mine(self, web: Quart, core: CoachOS) -> None:
        """Templates are per business: one business's wording is not another's."""
        mine = web.test_client()
        await sign_up(mine)
        await _post(mine, SMS_PAGE, {"action": "save", "body": "Mine {when}"})
        theirs = web.test_client()
        await sign_up(theirs, email="sam@other.test", slug="other")
        page = await _text(await theirs.get(SMS_PAGE))
        assert "Mine {when}" not in page
        assert _saved(core, "other") == []


class TestSettings:
    async def test_reminders_and_notice_channels_are_saved_from_the_settings_page(
        self, client: Client, core: CoachOS
    ) -> None:
        """Switching off the 2-hour reminder and choosing texts at a number is stored on the business."""
        await sign_up(client)
        fields = {
            "name": "Peak Coaching",
            "timezone": "America/New_York",
            "min_notice_hours": "12",
            "horizon_days": "60",
            "cancellation_hours": "24",
            "buffer_minutes": "0",
            "slot_interval_minutes": "30",
            "quiet_start": "21:00",
            "quiet_end": "08:00",
            "notifications_form": "1",
            "reminder_24h": "on",
            "notice_email": "",
            "notice_sms": "on",
            "notice_phone": "+1 212 555 0100",
        }
        response = await _post(client, "/setup/settings", fields)
        assert response.status_code == 302
        n = _org(core).notifications
        assert (n.reminder_24h, n.reminder_2h, n.notice_email, n.notice_sms, n.notice_phone) == (
            True,
            False,
            False,
            True,
            "+12125550100",
        )
        page = await _text(await client.get("/setup/settings"))
        lines = {name: next(line for line in page.splitlines() if f'name="{name}"' in line) for name in fields}
        assert "checked" in lines["reminder_24h"]
        assert "checked" not in lines["notice_email"]

    async def test_texts_without_a_number_are_refused(self, client: Client, core: CoachOS) -> None:
        """Choosing notices by text without a number is a 400 that changes nothing."""
        await sign_up(client)
        fields = {
            "name": "Peak Coaching",
            "timezone": "America/New_York",
            "min_notice_hours": "12",
            "horizon_days": "60",
            "cancellation_hours": "24",
            "buffer_minutes": "0",
            "slot_interval_minutes": "30",
            "quiet_start": "21:00",
            "quiet_end": "08:00",
            "notifications_form": "1",
            "notice_sms": "on",
        }
        response = await _post(client, "/setup/settings", fields)
        assert response.status_code == 400
        assert "mobile number" in await _text(response)
        assert _org(core).notifications.notice_sms is False


class TestManageLink:
    @pytest.fixture
    def core(self, clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
        """Coach OS sharing the web app's secret and address, as one deployment's processes do."""
        with bootstrap(
            web_settings(), uow=MemoryStore().unit_of_work, clock=clock, hasher=fast_test_hasher(), email=mail
        ) as built:
            yield built

    async def test_the_link_in_a_queued_confirmation_opens_the_manage_page(self, client: Client, core: CoachOS) -> None:
        """The worker's manage link is one the public pages accept: it opens the booking's page."""
        await sign_up(client)
        org = _org(core)
        coach = core.read(lambda uow: uow.coaches.list(org.id))[0]
        service = core.read(lambda uow: uow.services.list(org.id))[0]
        me = Actor("coach", coach.id)
        who = core.execute(CreateClient(org_id=org.id, name="Jordan Lee", email="jordan@example.com", actor=me))
        start = datetime(2026, 3, 4, 10, tzinfo=org.tz).astimezone(UTC)
        booking = core.execute(
            BookSession(
                org_id=org.id,
                coach_id=coach.id,
                service_id=service.id,
                client_id=who.id,
                start=start,
                actor=me,
                confirm=True,
                allow_without_credit=True,
            )
        )
        core.relay.relay_once()
        message = core.read(lambda uow: uow.messages.by_key(org.id, f"booking:{booking.id}:confirmation:email"))
        assert message is not None
        link = re.search(r"http://coachos\.test(/manage/\S+)", message.body)
        assert link is not None
        response = await client.get(link.group(1))
        assert response.status_code == 200
        assert "Wed 4 Mar" in await _text(response)
