"""Reading Stripe's fee on a payment with the real stripe SDK against the loopback stub (no mocks)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from coachos.adapters.payments import MemoryPayments
from coachos.adapters.stripe_payments import StripePayments
from coachos.domain.errors import PaymentRefused
from coachos.domain.money import Money
from coachos.ports.payments import Payments
from tests.integration.fake_stripe import SECRET_KEY, FakeStripe, fake_stripe

INTENT = "pi_3Nfeetest0000001"
INVOICE = "in_1Qmember00000001"
COACH = "acct_coach0000000001"


@pytest.fixture
def stripe_stub() -> Iterator[FakeStripe]:
    """Stripe's API on 127.0.0.1."""
    with fake_stripe() as stub:
        yield stub


def _adapter(stub: FakeStripe) -> StripePayments:
    return StripePayments(SECRET_KEY, api_url=stub.url, timeout=5.0, retries=0)


class TestPaymentFee:
    def test_the_fee_is_stripes_part_of_the_balance_transaction(self, stripe_stub: FakeStripe) -> None:
        """One GET of the PaymentIntent ON the coach's account (a direct charge: the coach pays Stripe's fee),
        its charge's balance transaction expanded; the platform's application fee is left out."""
        stripe_stub.fees[INTENT] = (320, "usd")
        assert _adapter(stripe_stub).payment_fee(INTENT, account_id=COACH) == Money(320, "USD")
        (request,) = stripe_stub.requests
        assert request.path == f"/v1/payment_intents/{INTENT}"
        assert request.form == {"expand[0]": "latest_charge.balance_transaction"}
        assert request.idempotency_key is None
        assert request.stripe_account == COACH

    def test_an_invoices_fee_is_read_through_its_paid_payment(self, stripe_stub: FakeStripe) -> None:
        """A membership period's invoice: its paid payment's PaymentIntent is listed, then read, both on the
        coach's account."""
        stripe_stub.invoice_intents[INVOICE] = INTENT
        stripe_stub.fees[INTENT] = (611, "usd")
        assert _adapter(stripe_stub).payment_fee(INVOICE, account_id=COACH) == Money(611, "USD")
        listed, read = stripe_stub.requests
        assert (listed.path, listed.form["invoice"], listed.form["status"]) == ("/v1/invoice_payments", INVOICE, "paid")
        assert read.path == f"/v1/payment_intents/{INTENT}"
        assert {listed.stripe_account, read.stripe_account} == {COACH}

    def test_an_invoice_without_a_paid_payment_has_no_fee_yet(self, stripe_stub: FakeStripe) -> None:
        """No paid payment listed for the invoice yet: None, asked again later."""
        assert _adapter(stripe_stub).payment_fee(INVOICE, account_id=COACH) is None

    def test_an_unsettled_charge_has_no_fee_yet(self, stripe_stub: FakeStripe) -> None:
        """A charge without a balance transaction answers None, to be asked again later."""
        stripe_stub.unsettled.add(INTENT)
        assert _adapter(stripe_stub).payment_fee(INTENT, account_id=COACH) is None

    def test_an_unknown_payment_is_refused(self, stripe_stub: FakeStripe) -> None:
        """A PaymentIntent Stripe does not know is PaymentRefused, with Stripe's code."""
        with pytest.raises(PaymentRefused) as refused:
            _adapter(stripe_stub).payment_fee("pi_unknown000000001", account_id=COACH)
        assert refused.value.reason == "resource_missing"

    def test_the_fake_answers_like_the_adapter(self) -> None:
        """MemoryPayments gives the fee a test set, and None before."""
        fake: Payments = MemoryPayments(fees={INTENT: Money(320, "USD")})
        assert fake.payment_fee(INTENT, account_id=COACH) == Money(320, "USD")
        assert fake.payment_fee("pi_other", account_id=COACH) is None
