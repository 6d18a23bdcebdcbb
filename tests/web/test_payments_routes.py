"""Setup → Payments: connecting Stripe, the account's state, choosing a plan, and the platform's webhooks."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import attrs
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS
from coachos.adapters.email import MemoryEmail
from coachos.adapters.memory import ImmediateTasks
from coachos.adapters.payments import MemoryPayments
from coachos.domain.errors import PaymentUnavailable
from coachos.domain.ids import OrgId
from tests.unit.test_stripe_events import account_event, event_body
from tests.web.support import csrf, serving, sign_up
from tests.web.test_log_privacy import logs  # noqa: F401  # the JSON-lines log buffer
from tests.web.test_stripe_webhook import SECRET, post, sign

PAGE = "/setup/payments"


@pytest.fixture
def payments() -> MemoryPayments:
    """The payments fake the app calls."""
    return MemoryPayments()


@pytest.fixture
async def paid_web(core: CoachOS, payments: MemoryPayments, mail: MemoryEmail) -> AsyncIterator[Quart]:
    """The web app with payments configured (the fake) and the platform webhook's secret."""
    built = CoachOS(attrs.evolve(core.deps, payments=payments, tasks=ImmediateTasks(mail)))
    async with serving(built, stripe_webhook_secret=SECRET) as app:
        yield app


async def coach(web: Quart, slug: str = "peak") -> tuple[Client, str]:
    browser = web.test_client()
    assert (await sign_up(browser, email=f"{slug}@coach.test", slug=slug)).status_code == 302
    return browser, await csrf(browser, PAGE)


def org_of(core: CoachOS, slug: str = "peak") -> OrgId:
    return core.read(lambda uow: uow.orgs.by_slug(slug)).id


class TestPaymentsPage:
    async def test_without_payments_configured_the_page_says_so(self, web: Quart) -> None:
        """With no Stripe key the page explains card payments are off and Connect is refused with a 409."""
        browser, token = await coach(web)
        page = await (await browser.get(PAGE)).get_data(as_text=True)
        assert "not set up on this Coach OS installation" in page
        assert 'data-state="not_connected"' in page
        refused = await browser.post(PAGE, form={"csrf_token": token, "action": "connect"})
        assert refused.status_code == 409
        assert "COACHOS_STRIPE_SECRET_KEY" in await refused.get_data(as_text=True)

    async def test_connect_redirects_to_stripe_and_the_page_follows_the_account(
        self, paid_web: Quart, core: CoachOS, payments: MemoryPayments
    ) -> None:
        """Connect is a 303 to Stripe's link (return URL back here); then details missing, then able to charge."""
        browser, token = await coach(paid_web)
        page = await (await browser.get(PAGE)).get_data(as_text=True)
        assert "Connect Stripe" in page
        assert "not set up" not in page
        sent = await browser.post(PAGE, form={"csrf_token": token, "action": "connect"})
        assert sent.status_code == 303
        assert sent.headers["Location"] == "http://coachos.test/setup/payments?saved=connected"
        (link,) = [c for c in payments.calls if c.method == "account_link"]
        assert link.params["refresh_url"].startswith("http://coachos.test/setup/payments")
        page = await (await browser.get(sent.headers["Location"])).get_data(as_text=True)
        assert 'data-state="details_missing"' in page
        assert "Welcome back from Stripe" in page
        account = core.read(lambda uow: uow.stripe.account(org_of(core)))
        assert account is not None
        body = account_event(account.account_id, charges=True)
        assert (await post(paid_web, body, sign(body))).status_code == 200
        page = await (await browser.get(PAGE)).get_data(as_text=True)
        assert 'data-state="can_take_charges"' in page
        assert "Connect Stripe" not in page

    async def test_choosing_pro_redirects_to_checkout(
        self, paid_web: Quart, core: CoachOS, payments: MemoryPayments
    ) -> None:
        """Choose Pro is a 303 to Checkout on the platform, with the plan and business in its metadata."""
        browser, token = await coach(paid_web)
        page = await (await browser.get(PAGE)).get_data(as_text=True)
        assert "Starter" in page
        assert "49.00 USD a month" in page
        assert "5%" in page
        sent = await browser.post(PAGE, form={"csrf_token": token, "action": "subscribe", "plan": "pro"})
        assert sent.status_code == 303
        assert sent.headers["Location"] == "http://coachos.test/setup/payments?saved=subscribed"
        (call,) = [c for c in payments.calls if c.method == "platform_subscription_checkout"]
        assert call.params["metadata"]["org_id"] == str(org_of(core))

    @pytest.mark.parametrize(
        ("form", "status"),
        [({"action": "subscribe", "plan": "gold"}, 400), ({"action": "subscribe"}, 400), ({"action": "x"}, 400)],
    )
    async def test_bad_input_is_a_400_and_calls_nothing(
        self, paid_web: Quart, payments: MemoryPayments, form: dict[str, str], status: int
    ) -> None:
        """An unknown plan or action is answered 400 with the page and Stripe is not called."""
        browser, token = await coach(paid_web)
        refused = await browser.post(PAGE, form={"csrf_token": token} | form)
        assert refused.status_code == 400
        assert payments.calls == []

    async def test_stripe_unreachable_is_a_503_with_the_reason(self, paid_web: Quart, payments: MemoryPayments) -> None:
        """When Stripe cannot be reached the coach sees the page again, 503, saying to try again."""
        browser, token = await coach(paid_web)
        payments.fail_next(PaymentUnavailable("Stripe is busy or could not be reached; try again in a minute."))
        refused = await browser.post(PAGE, form={"csrf_token": token, "action": "connect"})
        assert refused.status_code == 503
        assert "try again" in await refused.get_data(as_text=True)


class TestPlatformWebhooks:
    async def test_a_signed_subscription_event_changes_the_plan_on_the_page(
        self, paid_web: Quart, core: CoachOS
    ) -> None:
        """A signed `customer.subscription.created` for Pro shows Pro and its 2% fee on the page."""
        browser, _ = await coach(paid_web)
        meta = {"coachos_kind": "platform", "org_id": str(org_of(core)), "plan": "pro"}
        obj = {"id": "sub_web1", "object": "subscription", "status": "active", "metadata": meta}
        body = event_body("customer.subscription.created", obj=obj)
        assert (await post(paid_web, body, sign(body))).status_code == 200
        page = await (await browser.get(PAGE)).get_data(as_text=True)
        assert 'class="current-plan">Pro<' in page
        assert 'class="fee-percent">2%<' in page

    async def test_on_pro_the_coach_can_switch_back_to_starter(
        self, paid_web: Quart, core: CoachOS, payments: MemoryPayments
    ) -> None:
        """On Pro the page offers Starter from the period's end; choosing it is a 303 back and one cancel call."""
        browser, token = await coach(paid_web)
        meta = {"coachos_kind": "platform", "org_id": str(org_of(core)), "plan": "pro"}
        obj = {"id": "sub_web2", "object": "subscription", "status": "active", "metadata": meta}
        body = event_body("customer.subscription.created", obj=obj)
        assert (await post(paid_web, body, sign(body))).status_code == 200
        page = await (await browser.get(PAGE)).get_data(as_text=True)
        assert "Switch to Starter when this period ends" in page
        sent = await browser.post(PAGE, form={"csrf_token": token, "action": "end"})
        assert sent.status_code == 303
        assert sent.headers["Location"] == "http://coachos.test/setup/payments?saved=ending"
        assert [c.params for c in payments.calls if c.method == "cancel_platform_subscription"] == [
            {"subscription_id": "sub_web2"}
        ]


class TestLogs:
    async def test_the_platform_flow_logs_no_personal_data_or_amounts(
        self,
        paid_web: Quart,
        core: CoachOS,
        mail: MemoryEmail,
        logs: io.StringIO,  # noqa: F811  # the fixture imported above
    ) -> None:
        """Connecting, choosing Pro, paying and failing to pay log no email, name, amount or Stripe URL."""
        browser, token = await coach(paid_web, "quiet")
        await browser.post(PAGE, form={"csrf_token": token, "action": "connect"})
        await browser.post(PAGE, form={"csrf_token": token, "action": "subscribe", "plan": "pro"})
        meta = {"coachos_kind": "platform", "org_id": str(org_of(core, "quiet")), "plan": "pro"}
        for kind in ("invoice.paid", "invoice.payment_failed"):
            obj = {
                "id": "in_" + kind.replace(".", "").replace("_", ""),
                "object": "invoice",
                "amount_paid": 4917,
                "amount_due": 4917,
                "currency": "usd",
                "customer_email": "quiet@coach.test",
                "subscription_details": {"metadata": meta},
            }
            body = event_body(kind, obj=obj)
            answer = await post(paid_web, body, sign(body))
            assert answer.status_code == 200, await answer.get_data(as_text=True)
        assert [m.subject for m in mail.sent] == ["Your Coach OS payment failed"]
        written = logs.getvalue()
        assert written  # the flow logged its requests and events
        for secret in ("quiet@coach.test", "Alex Rivera", "49.17", "4917", "setup/payments?saved"):
            assert secret not in written, f"personal data in logs: {secret!r}"
