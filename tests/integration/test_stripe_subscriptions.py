"""The Stripe adapter's subscription calls (retrieve, cancel), by the real SDK against the loopback stub."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from coachos.adapters.stripe_payments import StripePayments
from coachos.domain.errors import PaymentRefused, PaymentUnavailable
from coachos.domain.ids import OrgId
from coachos.domain.money import Money
from coachos.ports.payments import SubscriptionState, cancel_subscription_key, subscription_checkout_key
from tests.integration.fake_stripe import SECRET_KEY, FakeStripe, fake_stripe

ORG = OrgId(UUID("00000000-0000-4000-8000-000000000001"))
MEMBERSHIP = UUID("00000000-0000-4000-8000-0000000000bb")
SUB = "sub_1Qmember000000001"
COACH = "acct_coach0000000001"


def subscription(status: str = "active") -> dict[str, Any]:
    """A subscription as API 2025-03-31 and later return it: the period on its item."""
    return {
        "id": SUB,
        "object": "subscription",
        "status": status,
        "metadata": {"coachos_kind": "membership"},
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_1",
                    "object": "subscription_item",
                    "current_period_start": 1772366400,
                    "current_period_end": 1775044800,
                }
            ],
        },
    }


@pytest.fixture
def stripe_stub() -> Iterator[FakeStripe]:
    """Stripe's API on 127.0.0.1."""
    with fake_stripe() as stub:
        yield stub


def _adapter(stub: FakeStripe) -> StripePayments:
    return StripePayments(SECRET_KEY, api_url=stub.url, timeout=5.0, retries=2)


class TestRetrieveSubscription:
    def test_the_current_subscription_is_read_with_its_period(self, stripe_stub: FakeStripe) -> None:
        """GET /v1/subscriptions/:id on the coach's account answers the status and the item's current period."""
        stripe_stub.subscriptions[SUB] = subscription("past_due")
        found = _adapter(stripe_stub).retrieve_subscription(SUB, account_id=COACH)
        assert found == SubscriptionState(SUB, "past_due", 1772366400, 1775044800)
        assert stripe_stub.requests[-1].path == f"/v1/subscriptions/{SUB}"
        assert stripe_stub.requests[-1].stripe_account == COACH

    def test_an_unknown_subscription_is_refused(self, stripe_stub: FakeStripe) -> None:
        """A subscription Stripe does not have is PaymentRefused with Stripe's code."""
        with pytest.raises(PaymentRefused) as refused:
            _adapter(stripe_stub).retrieve_subscription(SUB, account_id=COACH)
        assert refused.value.reason == "resource_missing"

    def test_a_server_error_is_unavailable(self, stripe_stub: FakeStripe) -> None:
        """Stripe failing on its side is PaymentUnavailable (the webhook answers 5xx and Stripe redelivers)."""
        stripe_stub.subscriptions[SUB] = subscription()
        stripe_stub.fail_next(500, {"type": "api_error", "message": "boom"}, times=3)
        with pytest.raises(PaymentUnavailable):
            _adapter(stripe_stub).retrieve_subscription(SUB, account_id=COACH)


class TestCancelSubscription:
    def test_cancelling_sends_our_key_and_a_repeat_cancels_once(self, stripe_stub: FakeStripe) -> None:
        """DELETE /v1/subscriptions/:id carries the key from our ids; the repeat is Stripe's replay of the first."""
        stripe_stub.subscriptions[SUB] = subscription()
        payments = _adapter(stripe_stub)
        key = cancel_subscription_key(ORG, MEMBERSHIP)
        first = payments.cancel_subscription(idempotency_key=key, subscription_id=SUB, account_id=COACH)
        again = payments.cancel_subscription(idempotency_key=key, subscription_id=SUB, account_id=COACH)
        assert first.status == again.status == "canceled"
        deletes = [r for r in stripe_stub.requests if r.path == f"/v1/subscriptions/{SUB}"]
        assert [r.idempotency_key for r in deletes] == [key, key]
        assert {r.stripe_account for r in deletes} == {COACH}
        assert key == f"subscription:{ORG}:{MEMBERSHIP}:cancel"


class TestMembershipCheckout:
    def test_the_membership_metadata_rides_on_the_session_and_the_subscription(self, stripe_stub: FakeStripe) -> None:
        """A membership's metadata reaches Stripe on the session and in subscription_data, so invoices carry it."""
        metadata = {"coachos_kind": "membership", "org_id": str(ORG), "membership_id": str(MEMBERSHIP)}
        key = subscription_checkout_key(ORG, MEMBERSHIP, uuid4())
        _adapter(stripe_stub).create_subscription_checkout(
            idempotency_key=key,
            account_id=COACH,
            name="Weekly 2",
            price=Money(4000, "USD"),
            interval="week",
            application_fee_percent=Decimal("5"),
            success_url="https://coach.test/c/peak/memberships?joined=1",
            cancel_url="https://coach.test/c/peak/memberships",
            reference=str(MEMBERSHIP),
            metadata=metadata,
        )
        (request,) = stripe_stub.requests
        for name, value in metadata.items():
            assert request.form[f"metadata[{name}]"] == value
            assert request.form[f"subscription_data[metadata][{name}]"] == value
        assert request.form["line_items[0][price_data][recurring][interval]"] == "week"
        assert request.idempotency_key == key
        assert request.stripe_account == COACH
        assert not [k for k in request.form if "transfer_data" in k or "on_behalf_of" in k]
