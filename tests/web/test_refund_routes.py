"""Refunds on the web: the form from the Payments panel and page, its errors, and charge.refunded signed like Stripe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS
from coachos.adapters.payments import MemoryPayments
from coachos.domain.catalog import PaymentState
from coachos.domain.errors import PaymentRefused, PaymentUnavailable
from coachos.domain.refunds import RefundState
from coachos.domain.usecases.package_sales import sale_key
from tests.unit.test_refunds import card_pack, cash_pack, charge_refunded
from tests.web.support import csrf, serving
from tests.web.test_client_routes import Business, open_business
from tests.web.test_stripe_webhook import SECRET, post, sign


@pytest.fixture
def payments() -> MemoryPayments:
    """The recording payments fake."""
    return MemoryPayments()


@pytest.fixture
def core(core: CoachOS, payments: MemoryPayments) -> CoachOS:  # the folder's core, with payments on
    """Coach OS (the folder's: fakes here, PostgreSQL under tests/integration/web) with card payments on."""
    return CoachOS(attrs.evolve(core.deps, payments=payments))


@pytest.fixture
async def web(core: CoachOS) -> AsyncIterator[Quart]:
    """The web app with the Stripe webhook secret."""
    async with serving(core, stripe_webhook_secret=SECRET) as app:
        yield app


@pytest.fixture
async def browser(web: Quart) -> Client:
    return web.test_client()


@pytest.fixture
async def biz(browser: Client, core: CoachOS) -> Business:
    """The business 'peak', signed in on `browser`."""
    return await open_business(browser, core)


def refunds_of(core: CoachOS, biz: Business, key: str) -> list[Any]:
    return list(core.read(lambda uow: uow.refunds.for_sale(biz.org.id, key)))


async def send(browser: Client, path: str, **form: str) -> Any:
    return await browser.post(path, form={"csrf_token": await csrf(browser, "/today"), **form})


class TestRefundForm:
    async def test_the_panel_links_to_a_form_prefilled_with_what_is_left(
        self, browser: Client, core: CoachOS, biz: Business
    ) -> None:
        """The client's Payments panel has a Refund link; its page prefills 100.00 and states the credit rule."""
        pack = cash_pack(core, biz)  # type: ignore[arg-type]
        panel = await (await browser.get(f"/clients/{pack.client_id}/panels/payments")).get_data(as_text=True)
        assert f"/packages/{pack.id}/refund" in panel
        page = await browser.get(f"/packages/{pack.id}/refund")
        text = await page.get_data(as_text=True)
        assert page.status_code == 200
        assert 'value="100.00"' in text
        assert "removes its unused credits" in text
        listing = await (await browser.get("/payments")).get_data(as_text=True)
        assert f"/packages/{pack.id}/refund" in listing

    async def test_a_partial_cash_refund_is_recorded_and_listed(
        self, browser: Client, core: CoachOS, biz: Business
    ) -> None:
        """Posting 40.00 records it at once, removes one credit and lists it as Refunded with its reason."""
        pack = cash_pack(core, biz)  # type: ignore[arg-type]
        response = await send(
            browser, f"/packages/{pack.id}/refund", sale=sale_key(pack.id), amount="40.00", reason="missed week"
        )
        assert response.status_code == 303
        page = await (await browser.get(response.headers["Location"])).get_data(as_text=True)
        assert "Refund recorded" in page
        assert "missed week" in page
        assert 'value="60.00"' in page
        assert core.read(lambda uow: uow.packages.get(biz.org.id, pack.id)).total == 2
        panel = await (await browser.get(f"/clients/{pack.client_id}/panels/payments")).get_data(as_text=True)
        assert "Refunded 40.00 USD" in panel

    @pytest.mark.parametrize("amount", ["-5", "100.01", "1e999", "99999999999999999999999", "4.001", "abc", "1\x00"])
    async def test_bad_amounts_are_400_and_write_nothing(
        self, browser: Client, core: CoachOS, biz: Business, amount: str
    ) -> None:
        """Negative, more than refundable, huge, too precise, not a number or with a NUL: 400, nothing written."""
        pack = cash_pack(core, biz)  # type: ignore[arg-type]
        response = await send(browser, f"/packages/{pack.id}/refund", sale=sale_key(pack.id), amount=amount)
        assert response.status_code == 400
        assert refunds_of(core, biz, sale_key(pack.id)) == []
        assert core.read(lambda uow: uow.refunds.totals(biz.org.id, sale_key(pack.id))) is None

    async def test_another_packages_sale_is_refused(self, browser: Client, core: CoachOS, biz: Business) -> None:
        """A sale key that is not the page's own package is a 400 that refunds nothing."""
        pack, other = cash_pack(core, biz), cash_pack(core, biz)  # type: ignore[arg-type]
        response = await send(browser, f"/packages/{pack.id}/refund", sale=sale_key(other.id), amount="1")
        assert response.status_code == 400
        assert refunds_of(core, biz, sale_key(other.id)) == []


class TestCardRefunds:
    async def test_a_full_card_refund_goes_through_stripe(
        self, browser: Client, core: CoachOS, biz: Business, payments: MemoryPayments
    ) -> None:
        """Refunding all of a card sale calls Stripe once and leaves the package Refunded."""
        pack = card_pack(core, biz, payments)  # type: ignore[arg-type]
        response = await send(browser, f"/packages/{pack.id}/refund", sale=sale_key(pack.id), amount="100.00")
        assert response.status_code == 303
        assert [c.method for c in payments.calls].count("refund") == 1
        assert core.read(lambda uow: uow.packages.get(biz.org.id, pack.id)).payment_state is PaymentState.REFUNDED

    async def test_stripe_refusing_shows_its_reason(
        self, browser: Client, core: CoachOS, biz: Business, payments: MemoryPayments
    ) -> None:
        """Stripe refusing answers 422 with its reason, and the refund is listed as refused."""
        pack = card_pack(core, biz, payments)  # type: ignore[arg-type]
        payments.fail_next(PaymentRefused("This charge has a dispute", reason="charge_disputed"))
        response = await send(browser, f"/packages/{pack.id}/refund", sale=sale_key(pack.id), amount="10")
        assert response.status_code == 422
        assert "This charge has a dispute" in await response.get_data(as_text=True)
        assert [r.state for r in refunds_of(core, biz, sale_key(pack.id))] == [RefundState.FAILED]

    async def test_stripe_out_of_reach_is_a_503_with_retry(
        self, browser: Client, core: CoachOS, biz: Business, payments: MemoryPayments
    ) -> None:
        """Stripe out of reach answers 503 with a retry link; the refund waits, pending."""
        pack = card_pack(core, biz, payments)  # type: ignore[arg-type]
        payments.fail_next(PaymentUnavailable("timed out"))
        response = await send(browser, f"/packages/{pack.id}/refund", sale=sale_key(pack.id), amount="10")
        assert response.status_code == 503
        assert 'id="refund-retry"' in await response.get_data(as_text=True)
        assert [r.state for r in refunds_of(core, biz, sale_key(pack.id))] == [RefundState.PENDING]


class TestStripeWebhook:
    async def test_a_signed_charge_refunded_is_recorded_once(
        self, web: Quart, browser: Client, core: CoachOS, biz: Business, payments: MemoryPayments
    ) -> None:
        """charge.refunded signed like Stripe records the dashboard refund; the redelivery changes nothing."""
        pack = card_pack(core, biz, payments)  # type: ignore[arg-type]
        body = charge_refunded(biz, pack, 2500, [("re_dash_web", 2500)])  # type: ignore[arg-type]
        assert (await post(web, body, sign(body))).status_code == 200
        assert (await post(web, body, sign(body))).status_code == 200
        (found,) = refunds_of(core, biz, sale_key(pack.id))
        assert (found.stripe_refund_id, found.amount.amount_minor) == ("re_dash_web", 2500)
        page = await (await browser.get(f"/packages/{pack.id}/refund")).get_data(as_text=True)
        assert "made in Stripe" in page
