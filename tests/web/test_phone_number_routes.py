"""Setup → Phone numbers: a coach adds, lists and removes the numbers texts reach them on."""

from __future__ import annotations

from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS
from coachos.domain.numbers import NUMBER_TAKEN
from coachos.domain.usecases import ListPhoneNumbers
from tests.unit.test_inbound import fresh_number
from tests.web.support import csrf, sign_up

PAGE = "/setup/numbers"


async def coach(web: Quart, slug: str) -> tuple[Client, str]:
    browser = web.test_client()
    assert (await sign_up(browser, email=f"{slug}@coach.test", slug=slug)).status_code == 302
    return browser, await csrf(browser, PAGE)


def numbers_of(core: CoachOS, slug: str) -> list[str]:
    org = core.read(lambda uow: uow.orgs.by_slug(slug))
    return [n.number for n in core.execute(ListPhoneNumbers(org_id=org.id))]


class TestPhoneNumbersPage:
    async def test_add_then_remove(self, web: Quart, core: CoachOS) -> None:
        """A number typed with spaces is added in E.164 and listed with its label; Remove takes it away."""
        browser, token = await coach(web, "peak")
        number = fresh_number()
        typed = f"{number[:2]} {number[2:5]} {number[5:8]} {number[8:]}"
        added = await browser.post(
            PAGE, form={"csrf_token": token, "action": "add", "number": typed, "label": "Studio"}
        )
        assert added.status_code == 302
        page = await (await browser.get(PAGE + "?saved=added")).get_data(as_text=True)
        assert number in page
        assert "Studio" in page
        assert "Number added" in page
        assert numbers_of(core, "peak") == [number]
        org = core.read(lambda uow: uow.orgs.by_slug("peak"))
        (stored,) = core.execute(ListPhoneNumbers(org_id=org.id))
        removed = await browser.post(PAGE, form={"csrf_token": token, "action": "remove", "number_id": str(stored.id)})
        assert removed.status_code == 302
        assert numbers_of(core, "peak") == []

    async def test_the_page_shows_the_webhook_url_to_give_twilio(self, web: Quart) -> None:
        """The page tells the coach which URL to set as the number's incoming-message webhook."""
        browser, _ = await coach(web, "peak")
        page = await (await browser.get(PAGE)).get_data(as_text=True)
        assert "http://coachos.test/webhooks/twilio/sms" in page

    async def test_another_businesss_number_is_refused_with_what_to_do(self, web: Quart, core: CoachOS) -> None:
        """A number another business has is a 409 saying to remove it there first; nothing is added."""
        first, token = await coach(web, "first")
        number = fresh_number()
        await first.post(PAGE, form={"csrf_token": token, "action": "add", "number": number})
        second, token = await coach(web, "second")
        refused = await second.post(PAGE, form={"csrf_token": token, "action": "add", "number": number})
        assert refused.status_code == 409
        assert NUMBER_TAKEN.split(":")[0].replace("'", "&#39;") in await refused.get_data(as_text=True)
        assert numbers_of(core, "second") == []
        assert numbers_of(core, "first") == [number]

    async def test_a_number_without_a_country_code_is_refused_and_kept_in_the_form(
        self, web: Quart, core: CoachOS
    ) -> None:
        """A bad number is a 400 with the reason, the typed value kept in the form, nothing stored."""
        browser, token = await coach(web, "peak")
        refused = await browser.post(PAGE, form={"csrf_token": token, "action": "add", "number": "555 0100"})
        page = await refused.get_data(as_text=True)
        assert refused.status_code == 400
        assert "country code" in page
        assert 'value="555 0100"' in page
        assert numbers_of(core, "peak") == []

    async def test_another_businesss_number_id_is_not_found(self, web: Quart, core: CoachOS) -> None:
        """Removing by another business's number id is a 404 and removes nothing."""
        first, token = await coach(web, "first")
        await first.post(PAGE, form={"csrf_token": token, "action": "add", "number": fresh_number()})
        org = core.read(lambda uow: uow.orgs.by_slug("first"))
        (theirs,) = core.execute(ListPhoneNumbers(org_id=org.id))
        second, token = await coach(web, "second")
        response = await second.post(PAGE, form={"csrf_token": token, "action": "remove", "number_id": str(theirs.id)})
        assert response.status_code == 404
        assert len(numbers_of(core, "first")) == 1

    async def test_a_form_without_its_csrf_token_is_refused(self, web: Quart, core: CoachOS) -> None:
        """The numbers form needs its CSRF token like every other form."""
        browser, _ = await coach(web, "peak")
        refused = await browser.post(PAGE, form={"action": "add", "number": fresh_number()})
        assert refused.status_code == 403
        assert numbers_of(core, "peak") == []

    async def test_signed_out_visitors_are_sent_to_log_in(self, web: Quart) -> None:
        """The page is for signed-in coaches only."""
        response = await web.test_client().get(PAGE)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
