"""One stuck database never stalls everyone: the billing pages, the CSV export and Stripe's webhook answer 503
with Retry-After when their data cannot be read in time (and Stripe, seeing a 5xx, delivers again later)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from quart import Quart

from coachos import CoachOS
from tests.stalling import StallingStore
from tests.unit.test_stripe_events import event_body
from tests.web import test_overload as overload
from tests.web.support import serving, sign_up
from tests.web.test_stripe_webhook import SECRET, sign

stalling = overload.stalling
slow_core = overload.slow_core

PAGES = [
    "/accounting",
    "/accounting/sections/summary",
    "/accounting/sections/months",
    "/accounting/sections/clients",
    "/accounting/sections/outstanding",
    "/accounting/export.csv?from=2026-01&to=2026-03",
    "/payments",
    "/setup/payments",
    "/setup/memberships",
    "/setup/packages",
]


@pytest.fixture
async def slow_web(slow_core: CoachOS) -> AsyncIterator[Quart]:
    """The web app serving the stalling store, with Stripe's webhook secret."""
    async with serving(slow_core, stripe_webhook_secret=SECRET) as app:
        yield app


class TestBusyBillingPages:
    @pytest.mark.parametrize("path", PAGES)
    async def test_a_stuck_database_is_a_503_with_retry_after(
        self, slow_web: Quart, stalling: StallingStore, path: str
    ) -> None:
        """A billing page whose data cannot be read in time answers 503 with Retry-After within seconds."""
        coach = slow_web.test_client()
        await sign_up(coach)
        stalling.stall()
        started = time.monotonic()
        response = await asyncio.wait_for(coach.get(path), 5)
        stalling.resume()
        assert time.monotonic() - started < 3
        assert response.status_code == 503, path
        assert int(response.headers["Retry-After"]) > 0

    async def test_the_webhook_answers_503_and_the_redelivery_is_kept(
        self, slow_web: Quart, stalling: StallingStore
    ) -> None:
        """A webhook arriving while the database is stuck is a 503 (Stripe retries); the retry is answered 200.

        The first delivery's transaction may still finish once the database answers again, so the retry finds
        the event kept (a duplicate) or keeps it itself: either way it is kept once and acknowledged.
        """
        body = event_body("customer.created")
        headers = {"Content-Type": "application/json"}
        stalling.stall()
        response = await asyncio.wait_for(
            slow_web.test_client().post(
                "/webhooks/stripe", data=body, headers=headers | {"Stripe-Signature": sign(body)}
            ),
            5,
        )
        stalling.resume()
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        again = await slow_web.test_client().post(
            "/webhooks/stripe", data=body, headers=headers | {"Stripe-Signature": sign(body)}
        )
        assert again.status_code == 200
        assert (await again.get_json())["received"] is True
        third = await slow_web.test_client().post(
            "/webhooks/stripe", data=body, headers=headers | {"Stripe-Signature": sign(body)}
        )
        assert (await third.get_json())["duplicate"] is True
