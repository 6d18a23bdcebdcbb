"""The Stripe adapter, driving the real stripe SDK against a stub of Stripe's API on loopback (no mocks)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from coachos.adapters.payments import MemoryPayments, payments_from_settings
from coachos.adapters.security import fast_test_hasher
from coachos.adapters.stripe_payments import StripePayments
from coachos.bootstrap import bootstrap
from coachos.domain.errors import PaymentRefused, PaymentUnavailable
from coachos.domain.ids import OrgId
from coachos.domain.money import Money
from coachos.logs import configure_logging, reset_logging
from coachos.ports.payments import CheckoutSession, Payments, checkout_key, refund_key, subscription_checkout_key
from coachos.settings import Settings
from tests.integration.fake_stripe import SECRET_KEY, FakeStripe, fake_stripe

ORG = OrgId(UUID("00000000-0000-4000-8000-000000000001"))
PACKAGE = UUID("00000000-0000-4000-8000-0000000000aa")
COACH = "acct_coach0000000001"
CARD_DECLINED = {
    "type": "card_error",
    "code": "card_declined",
    "decline_code": "generic_decline",
    "message": "Your card was declined.",
}


@pytest.fixture
def stripe_stub() -> Iterator[FakeStripe]:
    """Stripe's API on 127.0.0.1."""
    with fake_stripe() as stub:
        yield stub


def _adapter(stub: FakeStripe, *, timeout: float = 5.0, retries: int = 2) -> StripePayments:
    return StripePayments(SECRET_KEY, api_url=stub.url, timeout=timeout, retries=retries)


def _checkout(payments: Payments, key: str) -> CheckoutSession:
    return payments.create_checkout(
        idempotency_key=key,
        account_id=COACH,
        name="10 sessions",
        price=Money(45050, "USD"),
        application_fee=Money(2253, "USD"),
        success_url="https://coach.test/paid",
        cancel_url="https://coach.test/cancelled",
        reference="pkg-1",
        metadata={"org_id": str(ORG), "package_id": str(PACKAGE)},
    )


class TestRequestShape:
    def test_checkout_is_a_direct_charge_on_the_coachs_account_with_the_platform_fee(
        self, stripe_stub: FakeStripe
    ) -> None:
        """A package Checkout is made ON the coach's account (Stripe-Account), amount in minor units, the
        platform fee, our key, and no transfer_data / on_behalf_of (a direct charge)."""
        key = checkout_key(ORG, PACKAGE, uuid4())
        session = _adapter(stripe_stub).create_checkout(
            idempotency_key=key,
            account_id=COACH,
            name="10 sessions",
            price=Money(45050, "USD"),
            application_fee=Money(2253, "USD"),
            success_url="https://coach.test/paid",
            cancel_url="https://coach.test/cancelled",
            reference="pkg-1",
            metadata={"package_id": str(PACKAGE)},
        )
        (request,) = stripe_stub.requests
        assert request.path == "/v1/checkout/sessions"
        assert request.idempotency_key == key
        assert request.authorization == f"Bearer {SECRET_KEY}"
        assert request.stripe_account == COACH
        form = request.form
        assert not [k for k in form if "transfer_data" in k or "on_behalf_of" in k]
        assert form["mode"] == "payment"
        assert form["line_items[0][price_data][unit_amount]"] == "45050"
        assert form["line_items[0][price_data][currency]"] == "usd"
        assert form["line_items[0][quantity]"] == "1"
        assert form["payment_intent_data[application_fee_amount]"] == "2253"
        assert form["payment_intent_data[metadata][package_id]"] == str(PACKAGE)
        assert form["client_reference_id"] == "pkg-1"
        assert session.session_id == stripe_stub.objects[0]["id"]
        assert session.url.startswith("https://checkout.stripe.test/")

    def test_zero_decimal_currencies_are_sent_in_their_own_units(self, stripe_stub: FakeStripe) -> None:
        """A yen price goes out as whole yen (its minor unit), not multiplied by 100."""
        _adapter(stripe_stub).create_checkout(
            idempotency_key="checkout:jpy",
            account_id=COACH,
            name="Session",
            price=Money(5000, "JPY"),
            application_fee=Money(250, "JPY"),
            success_url="https://coach.test/paid",
            cancel_url="https://coach.test/cancelled",
            reference="pkg-2",
            metadata={},
        )
        form = stripe_stub.requests[0].form
        assert (form["line_items[0][price_data][unit_amount]"], form["line_items[0][price_data][currency]"]) == (
            "5000",
            "jpy",
        )
        assert form["payment_intent_data[application_fee_amount]"] == "250"

    def test_subscription_checkout_takes_the_fee_as_a_percent(self, stripe_stub: FakeStripe) -> None:
        """A membership Checkout, on the coach's account, is recurring monthly with application_fee_percent."""
        key = subscription_checkout_key(ORG, PACKAGE, uuid4())
        _adapter(stripe_stub).create_subscription_checkout(
            idempotency_key=key,
            account_id=COACH,
            name="Unlimited",
            price=Money(19900, "EUR"),
            interval="month",
            application_fee_percent=Decimal("2.50"),
            success_url="https://coach.test/paid",
            cancel_url="https://coach.test/cancelled",
            reference="membership-1",
            metadata={},
        )
        (request,) = stripe_stub.requests
        form = request.form
        assert request.idempotency_key == key
        assert form["mode"] == "subscription"
        assert form["line_items[0][price_data][unit_amount]"] == "19900"
        assert form["line_items[0][price_data][currency]"] == "eur"
        assert form["line_items[0][price_data][recurring][interval]"] == "month"
        assert form["subscription_data[application_fee_percent]"] == "2.5"
        assert request.stripe_account == COACH
        assert not [k for k in form if "transfer_data" in k or "on_behalf_of" in k]

    def test_onboarding_creates_the_account_once_then_a_link(self, stripe_stub: FakeStripe) -> None:
        """Connecting a new coach creates an Express account keyed by the org, then an onboarding AccountLink."""
        payments = _adapter(stripe_stub)
        first = payments.connect_onboarding_link(
            ORG, None, return_url="https://coach.test/back", refresh_url="https://coach.test/again", attempt_id=uuid4()
        )
        again = payments.connect_onboarding_link(
            ORG, None, return_url="https://coach.test/back", refresh_url="https://coach.test/again", attempt_id=uuid4()
        )
        account, link, _, second_link = stripe_stub.requests
        assert {r.stripe_account for r in stripe_stub.requests} == {None}  # the platform's own calls
        assert account.path == "/v1/accounts"
        assert account.form["type"] == "standard"
        assert account.form["metadata[org_id]"] == str(ORG)
        assert account.idempotency_key == f"connect:{ORG}:account"
        assert link.path == "/v1/account_links"
        assert link.form == {
            "account": first.account_id,
            "return_url": "https://coach.test/back",
            "refresh_url": "https://coach.test/again",
            "type": "account_onboarding",
        }
        assert again.account_id == first.account_id
        assert [o["object"] for o in stripe_stub.objects] == ["account", "account_link", "account_link"]
        assert second_link.idempotency_key != link.idempotency_key

    def test_an_existing_account_gets_only_a_link(self, stripe_stub: FakeStripe) -> None:
        """A coach who already has an account is sent a fresh link for it; no account is created."""
        link = _adapter(stripe_stub).connect_onboarding_link(
            ORG, COACH, return_url="https://coach.test/back", refresh_url="https://coach.test/again", attempt_id=uuid4()
        )
        assert [r.path for r in stripe_stub.requests] == ["/v1/account_links"]
        assert link.account_id == COACH
        assert COACH in link.url

    def test_partial_refund_is_made_on_the_coachs_account_and_returns_the_fee(self, stripe_stub: FakeStripe) -> None:
        """A partial refund is made ON the coach's account with its amount, our refund key and
        refund_application_fee; there is no transfer to reverse."""
        refund_id = uuid4()
        result = _adapter(stripe_stub).refund(
            idempotency_key=refund_key(ORG, refund_id),
            payment_intent_id="pi_123",
            amount=Money(1500, "USD"),
            account_id=COACH,
        )
        (request,) = stripe_stub.requests
        assert request.path == "/v1/refunds"
        assert request.stripe_account == COACH
        assert request.idempotency_key == f"refund:{ORG}:{refund_id}"
        assert request.form == {
            "payment_intent": "pi_123",
            "amount": "1500",
            "refund_application_fee": "true",
        }
        assert result.amount == Money(1500, "USD")
        assert result.status == "succeeded"

    def test_full_refund_sends_no_amount(self, stripe_stub: FakeStripe) -> None:
        """A full refund leaves the amount to Stripe (what is left of the payment)."""
        _adapter(stripe_stub).refund(
            idempotency_key="refund:x", payment_intent_id="pi_123", amount=None, account_id=COACH
        )
        assert "amount" not in stripe_stub.requests[0].form
        assert stripe_stub.requests[0].stripe_account == COACH

    def test_a_refund_without_an_account_is_made_on_the_platform(self, stripe_stub: FakeStripe) -> None:
        """account_id None (a payment made on the platform itself) sends no Stripe-Account header."""
        _adapter(stripe_stub).refund(idempotency_key="refund:p", payment_intent_id="pi_456", amount=None)
        assert stripe_stub.requests[0].stripe_account is None


class TestRetries:
    def test_a_timed_out_create_is_retried_with_the_same_key_and_makes_one_object(
        self, stripe_stub: FakeStripe
    ) -> None:
        """Stripe creates the session but its answer is lost; the SDK's retry with the same key gets that session."""
        stripe_stub.hold_next()
        key = checkout_key(ORG, PACKAGE, uuid4())
        session = _checkout(_adapter(stripe_stub, timeout=0.5), key)
        assert len(stripe_stub.requests) == 2
        assert {r.idempotency_key for r in stripe_stub.requests} == {key}
        assert len(stripe_stub.objects) == 1
        assert session.session_id == stripe_stub.objects[0]["id"]

    def test_our_own_retry_after_giving_up_makes_one_object(self, stripe_stub: FakeStripe) -> None:
        """When every attempt timed out, asking again later with the same key returns the object made first."""
        stripe_stub.hold_next()
        key = checkout_key(ORG, PACKAGE, uuid4())
        with pytest.raises(PaymentUnavailable, match="try again"):
            _checkout(_adapter(stripe_stub, timeout=0.5, retries=0), key)
        again = _checkout(_adapter(stripe_stub), key)
        assert len(stripe_stub.objects) == 1
        assert again.session_id == stripe_stub.objects[0]["id"]

    def test_the_fake_dedupes_by_key_too(self) -> None:
        """The recording fake answers a repeated key with the first session and records both calls."""
        fake = MemoryPayments()
        first, second = _checkout(fake, "k"), _checkout(fake, "k")
        assert first == second
        assert len(fake.created) == 1
        assert len(fake.calls) == 2


class TestErrors:
    def test_a_declined_card_is_refused_with_a_readable_message(self, stripe_stub: FakeStripe) -> None:
        """A 402 card error becomes PaymentRefused carrying Stripe's message and code, and is not retried."""
        stripe_stub.fail_next(402, CARD_DECLINED)
        with pytest.raises(PaymentRefused) as caught:
            _checkout(_adapter(stripe_stub), "checkout:declined")
        assert caught.value.message == "Your card was declined."
        assert caught.value.reason == "card_declined"
        assert len(stripe_stub.requests) == 1

    def test_a_bad_request_is_refused(self, stripe_stub: FakeStripe) -> None:
        """A 400 becomes PaymentRefused with Stripe's explanation."""
        stripe_stub.fail_next(
            400, {"type": "invalid_request_error", "code": "resource_missing", "message": "No such PaymentIntent."}
        )
        with pytest.raises(PaymentRefused, match="No such PaymentIntent"):
            _adapter(stripe_stub).refund(idempotency_key="refund:y", payment_intent_id="pi_gone", amount=None)

    def test_server_errors_are_retried_then_unavailable(self, stripe_stub: FakeStripe) -> None:
        """A 500 on every attempt is retried with one key and ends as PaymentUnavailable; nothing is created."""
        stripe_stub.fail_next(500, {"type": "api_error", "message": "boom"}, times=3)
        with pytest.raises(PaymentUnavailable, match="try again"):
            _checkout(_adapter(stripe_stub), "checkout:down")
        assert [r.idempotency_key for r in stripe_stub.requests] == ["checkout:down"] * 3
        assert stripe_stub.objects == []

    def test_rate_limiting_is_unavailable(self, stripe_stub: FakeStripe) -> None:
        """A 429 becomes PaymentUnavailable."""
        stripe_stub.fail_next(429, {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many"})
        with pytest.raises(PaymentUnavailable):
            _checkout(_adapter(stripe_stub, retries=0), "checkout:busy")

    def test_a_fee_above_the_price_is_refused_before_calling_stripe(self, stripe_stub: FakeStripe) -> None:
        """A platform fee larger than the price never reaches Stripe."""
        with pytest.raises(PaymentRefused, match="between zero and the price"):
            _adapter(stripe_stub).create_checkout(
                idempotency_key="checkout:fee",
                account_id=COACH,
                name="x",
                price=Money(100, "USD"),
                application_fee=Money(101, "USD"),
                success_url="https://coach.test/paid",
                cancel_url="https://coach.test/cancelled",
                reference="r",
                metadata={},
            )
        assert stripe_stub.requests == []


class TestSettings:
    def test_the_key_and_url_come_from_the_environment(self, stripe_stub: FakeStripe) -> None:
        """COACHOS_STRIPE_SECRET_KEY and COACHOS_STRIPE_API_URL build the Stripe adapter; without a key, none."""
        settings = Settings.from_env(
            {"COACHOS_STRIPE_SECRET_KEY": SECRET_KEY, "COACHOS_STRIPE_API_URL": stripe_stub.url + "/"}
        )
        payments = payments_from_settings(settings)
        assert isinstance(payments, StripePayments)
        assert payments.api_url == stripe_stub.url
        assert SECRET_KEY not in repr(settings)
        assert SECRET_KEY not in repr(payments)
        assert payments_from_settings(Settings.from_env({})) is None

    def test_bootstrap_wires_payments_from_settings(self, stripe_stub: FakeStripe) -> None:
        """The composition root gives use cases Stripe when a key is set, none without, and a swapped-in fake."""
        keyed = Settings(database_url="memory://", stripe_secret_key=SECRET_KEY, stripe_api_url=stripe_stub.url)
        with bootstrap(keyed, hasher=fast_test_hasher()) as app:
            assert isinstance(app.deps.payments, StripePayments)
        with bootstrap(Settings(database_url="memory://"), hasher=fast_test_hasher()) as app:
            assert app.deps.payments is None
        fake = MemoryPayments()
        with bootstrap(Settings(database_url="memory://"), hasher=fast_test_hasher(), payments=fake) as app:
            assert app.deps.payments is fake


class TestLogs:
    def test_debug_logging_keeps_stripe_bodies_out(self, stripe_stub: FakeStripe) -> None:
        """At DEBUG, the SDK's lines name the request and status but not the bodies (product names, metadata)."""
        stream = io.StringIO()
        configure_logging(Settings(log_level="DEBUG", log_format="json"), stream=stream)
        try:
            _checkout(_adapter(stripe_stub), "checkout:logged")
        finally:
            reset_logging()
        logged = stream.getvalue()
        assert "/v1/checkout/sessions" in logged
        assert "10 sessions" not in logged
        assert str(PACKAGE) not in logged
        assert "checkout.stripe.test" not in logged
