"""Connect payouts through POST /webhooks/stripe, signed as Stripe signs them, shown on the Payments page."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from quart import Quart

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.domain.ledger import Account
from coachos.domain.orgs import Organization
from tests.unit.test_accounting import payout_event
from tests.unit.test_stripe_events import fresh_account
from tests.web.support import sign_up
from tests.web.test_stripe_webhook import CONNECT_SECRET, post, sign, web  # noqa: F401  # the app with both secrets


async def connected_coach(app: Quart, core: CoachOS, clock: FixedClock) -> tuple[Any, Organization, str]:
    """A signed-in coach whose business has connected a Stripe account; the account's id."""
    coach = app.test_client()
    slug = f"peak-{uuid.uuid4().hex[:8]}"
    await sign_up(coach, slug=slug, email=f"alex@{slug}.test")
    org = core.read(lambda uow: uow.orgs.by_slug(slug))
    account = fresh_account()
    with core.deps.uow() as uow:
        uow.stripe.link_account(org.id, account, clock.now())
        uow.commit()
    return coach, org, account


class TestPayoutWebhook:
    async def test_racing_signed_payouts_book_once_and_show_on_payments(
        self,
        web: Quart,  # noqa: F811  # the fixture imported above
        core: CoachOS,
        clock: FixedClock,
    ) -> None:
        """Eight signed deliveries of one payout.paid at once: all 200, one payout on the books and on the page."""
        coach, org, account = await connected_coach(web, core, clock)
        body = payout_event("payout.paid", account, "po_" + uuid.uuid4().hex[:14], 25_000)
        responses = await asyncio.gather(*(post(web, body, sign(body, CONNECT_SECRET)) for _ in range(8)))
        assert [r.status_code for r in responses] == [200] * 8
        with core.deps.uow() as uow:
            balances = uow.ledger.balances(org.id, "USD")
        assert (balances[Account.BANK], balances[Account.STRIPE_BALANCE]) == (25_000, -25_000)
        html = await (await coach.get("/payments")).get_data(as_text=True)
        assert "kind-payout" in html
        assert "250.00 USD" in html

    async def test_a_payout_body_changed_by_one_byte_is_refused_and_books_nothing(
        self,
        web: Quart,  # noqa: F811  # the fixture imported above
        core: CoachOS,
        clock: FixedClock,
    ) -> None:
        """A payout whose amount was changed after signing: 400, nothing on the books."""
        _, org, account = await connected_coach(web, core, clock)
        body = payout_event("payout.paid", account, "po_tampered1", 25_000)
        response = await post(web, body.replace("25000", "95000"), sign(body, CONNECT_SECRET))
        assert response.status_code == 400
        with core.deps.uow() as uow:
            assert uow.ledger.transactions(org.id) == []
