"""Saving a card at Checkout and charging it off-session later: the real stripe SDK against the loopback stub."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID

import pytest

from coachos.adapters.stripe_payments import StripePayments
from coachos.domain.errors import PaymentRefused
from coachos.domain.money import Money
from tests.integration.fake_stripe import SECRET_KEY, FakeStripe, fake_stripe

COACH = "acct_coach0000000001"
BOOKING = UUID("00000000-0000-4000-8000-0000000000bb")
CARD_DECLINED = {
    "type": "card_error",
    "code": "card_declined",
    "decline_code": "insufficient_funds",
    "message": "Your card has insufficient funds.",
}


@pytest.fixture
def stripe_stub() -> Iterator[FakeStripe]:
    """Stripe's API on 127.0.0.1."""
    with fake_stripe() as stub:
        yield stub


def _adapter(stub: FakeStripe) -> StripePayments:
    return StripePayments(SECRET_KEY, api_url=stub.url, timeout=5.0, retries=2)


def _charge(payments: StripePayments, key: str = f"fee:{BOOKING}:no_show") -> object:
    return payments.charge_saved_card(
        idempotency_key=key,
        customer_id="cus_test0000000001",
        payment_method_id="pm_test0000000001",
        amount=Money(2500, "USD"),
        application_fee=Money(125, "USD"),
        account_id=COACH,
        description="No-show fee",
        metadata={"coachos_kind": "booking_fee", "booking_id": str(BOOKING), "fee": "no_show"},
    )


class TestSavedCard:
    def test_checkout_can_keep_the_card_for_later(self, stripe_stub: FakeStripe) -> None:
        """With save_card the Checkout makes a Customer and keeps the card off-session; expires_at is sent as given."""
        _adapter(stripe_stub).create_checkout(
            idempotency_key=f"checkout:booking:{BOOKING}",
            account_id=COACH,
            name="Drop-in",
            price=Money(5000, "USD"),
            application_fee=Money(250, "USD"),
            success_url="https://coach.test/ok",
            cancel_url="https://coach.test/no",
            reference=str(BOOKING),
            metadata={"coachos_kind": "booking"},
            save_card=True,
            expires_at=datetime(2026, 3, 2, 12, 34, tzinfo=UTC),
        )
        (request,) = stripe_stub.requests
        assert request.stripe_account == COACH  # the Customer and its card live on the coach's account
        assert request.form["expires_at"] == str(int(datetime(2026, 3, 2, 12, 34, tzinfo=UTC).timestamp()))
        assert request.form["customer_creation"] == "always"
        assert request.form["payment_intent_data[setup_future_usage]"] == "off_session"

    def test_checkout_without_save_card_keeps_nothing(self, stripe_stub: FakeStripe) -> None:
        """Without save_card no Customer is made and the card is not kept."""
        _adapter(stripe_stub).create_checkout(
            idempotency_key=f"checkout:booking:{BOOKING}:plain",
            account_id=COACH,
            name="Drop-in",
            price=Money(5000, "USD"),
            application_fee=Money(250, "USD"),
            success_url="https://coach.test/ok",
            cancel_url="https://coach.test/no",
            reference=str(BOOKING),
            metadata={"coachos_kind": "booking"},
        )
        (request,) = stripe_stub.requests
        assert "customer_creation" not in request.form
        assert "payment_intent_data[setup_future_usage]" not in request.form

    def test_an_off_session_charge_is_a_confirmed_direct_charge_with_our_key(self, stripe_stub: FakeStripe) -> None:
        """The fee is one PaymentIntent ON the coach's account: amount, off_session, confirm, platform fee,
        our key, no transfer_data / on_behalf_of."""
        charged = _charge(_adapter(stripe_stub))
        (request,) = stripe_stub.requests
        assert request.path == "/v1/payment_intents"
        assert request.idempotency_key == f"fee:{BOOKING}:no_show"
        form = request.form
        assert (form["amount"], form["currency"]) == ("2500", "usd")
        assert (form["customer"], form["payment_method"]) == ("cus_test0000000001", "pm_test0000000001")
        assert (form["off_session"], form["confirm"]) == ("true", "true")
        assert form["application_fee_amount"] == "125"
        assert request.stripe_account == COACH
        assert not [k for k in form if "transfer_data" in k or "on_behalf_of" in k]
        assert form["metadata[coachos_kind]"] == "booking_fee"
        assert getattr(charged, "status", None) == "succeeded"

    def test_charging_again_with_the_same_key_charges_once(self, stripe_stub: FakeStripe) -> None:
        """A retry under the same key gets the first PaymentIntent back and Stripe makes no second one."""
        adapter = _adapter(stripe_stub)
        first, second = _charge(adapter), _charge(adapter)
        assert first == second
        assert len(stripe_stub.objects) == 1

    def test_a_declined_card_is_refused_with_stripes_words(self, stripe_stub: FakeStripe) -> None:
        """A card error becomes PaymentRefused with Stripe's readable message and code, and nothing is created."""
        stripe_stub.fail_next(402, CARD_DECLINED)
        with pytest.raises(PaymentRefused, match="insufficient funds"):
            _charge(_adapter(stripe_stub))
        assert stripe_stub.objects == []
