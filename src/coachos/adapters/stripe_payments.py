"""Stripe Connect through the official stripe SDK: connected accounts, Checkout and refunds.

Clients' payments are DIRECT charges on the coach's connected account: every call about a client's
payment (Checkout for packages, pay-at-booking and memberships, off-session fee charges, refunds,
memberships' subscriptions, reading a payment's fee) carries the `Stripe-Account` header (the SDK's
`stripe_account` option) and no `transfer_data` / `on_behalf_of`. Why: Coach OS is SaaS and the coach
is the merchant. With a direct charge Stripe debits its processing fee from the COACH's balance, so the
ledger's split of a sale (gross = Stripe fee + platform fee + net to the coach at `stripe_balance`)
reconciles with the coach's Stripe balance line by line; with destination charges Stripe's fee would
come out of the platform's balance and the coach's books would not match Stripe's. The platform takes
its cut as `application_fee_amount` (one-off payments, in `payment_intent_data`) or
`application_fee_percent` (subscriptions, in `subscription_data`). The objects and their events live on
the connected account, so they arrive as Connect events (`event.account` set) — which is why every
webhook handler checks that account against the business named in our metadata.

The coach's OWN subscription to a Coach OS plan is billed on the platform account (no header).

Stripe's errors become PaymentUnavailable / PaymentRefused here; nothing Stripe-shaped crosses into
the domain. Retries after timeouts, 409s and 5xx are the SDK's (`max_network_retries`), each repeat
with the same Idempotency-Key, so Stripe answers it with the object the first attempt made.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import attrs
import stripe

from coachos.domain.errors import PaymentRefused, PaymentUnavailable
from coachos.domain.ids import OrgId
from coachos.domain.money import Money
from coachos.ports.payments import (
    CheckoutSession,
    Interval,
    OnboardingLink,
    RefundResult,
    SavedCardCharge,
    SubscriptionState,
    account_key,
    onboarding_link_key,
)
from coachos.settings import Settings

DEFAULT_API_URL = "https://api.stripe.com"
#: Seconds to connect and to wait for each answer; a hung API costs this per attempt, not a request forever.
DEFAULT_TIMEOUT = 10.0
#: Repeats after a timeout, a connection error, a 409 or a 5xx (same idempotency key each time).
DEFAULT_RETRIES = 2

T = TypeVar("T")


@attrs.define
class StripePayments:
    """The Payments port on Stripe Connect (Standard accounts, hosted Checkout, direct charges)."""

    secret_key: str = attrs.field(repr=False)
    #: Where the SDK sends its requests; tests point it at a stub server on loopback.
    api_url: str = DEFAULT_API_URL
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    #: The kind of connected account created for a coach. Standard: the coach is the merchant with their
    #: own Stripe dashboard, pays Stripe's fees and answers disputes, which is what direct charges assume.
    account_type: str = "standard"
    _client: stripe.StripeClient = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._client = stripe.StripeClient(
            self.secret_key,
            base_addresses={"api": self.api_url.rstrip("/")},
            http_client=stripe.RequestsClient(timeout=self.timeout),
            max_network_retries=self.retries,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> StripePayments:
        """The adapter for COACHOS_STRIPE_SECRET_KEY / COACHOS_STRIPE_API_URL; the key is required."""
        if not settings.stripe_secret_key:
            raise ValueError("Card payments need COACHOS_STRIPE_SECRET_KEY (the platform's Stripe secret key).")
        return cls(settings.stripe_secret_key, api_url=settings.stripe_api_url)

    def connect_onboarding_link(
        self,
        org_id: OrgId,
        account_id: str | None,
        *,
        return_url: str,
        refresh_url: str,
        attempt_id: UUID,
    ) -> OnboardingLink:
        """Create the org's connected account when `account_id` is None, then an onboarding link for it."""
        if account_id is None:
            account = self._call(
                lambda: self._client.v1.accounts.create(
                    {"type": self.account_type, "metadata": {"org_id": str(org_id)}},
                    {"idempotency_key": account_key(org_id)},
                )
            )
            account_id = str(account.id)
        link = self._call(
            lambda: self._client.v1.account_links.create(
                {
                    "account": account_id,
                    "return_url": return_url,
                    "refresh_url": refresh_url,
                    "type": "account_onboarding",
                },
                {"idempotency_key": onboarding_link_key(org_id, attempt_id)},
            )
        )
        return OnboardingLink(account_id=account_id, url=str(link.url))

    def create_checkout(
        self,
        *,
        idempotency_key: str,
        account_id: str,
        name: str,
        price: Money,
        application_fee: Money,
        success_url: str,
        cancel_url: str,
        reference: str,
        metadata: dict[str, str],
        save_card: bool = False,
        expires_at: datetime | None = None,
    ) -> CheckoutSession:
        """A one-off Checkout for `price`, charged for the connected account, the platform keeping `application_fee`."""
        if application_fee.currency != price.currency:
            raise PaymentRefused("The platform fee must be in the sale's currency.", reason="currency_mismatch")
        if not 0 <= application_fee.amount_minor <= price.amount_minor:
            raise PaymentRefused("The platform fee must be between zero and the price.", reason="fee_out_of_range")
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [{"quantity": 1, "price_data": _price_data(name, price)}],
            "payment_intent_data": {"application_fee_amount": application_fee.amount_minor, "metadata": metadata},
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": reference,
            "metadata": metadata,
        }
        if expires_at is not None:
            params["expires_at"] = int(expires_at.timestamp())
        if save_card:
            # The card stays on a Customer of the coach's account for later off-session charges (fees).
            params["customer_creation"] = "always"
            params["payment_intent_data"]["setup_future_usage"] = "off_session"
        session = self._call(
            lambda: self._client.v1.checkout.sessions.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key, "stripe_account": account_id},
            )
        )
        return CheckoutSession(session_id=str(session.id), url=str(session.url))

    def charge_saved_card(
        self,
        *,
        idempotency_key: str,
        customer_id: str,
        payment_method_id: str,
        amount: Money,
        application_fee: Money,
        account_id: str,
        description: str,
        metadata: dict[str, str],
    ) -> SavedCardCharge:
        """Charge a saved card off-session (confirm at once): a direct charge on the coach's account, less the fee."""
        if application_fee.currency != amount.currency or not 0 <= application_fee.amount_minor <= amount.amount_minor:
            raise PaymentRefused("The platform fee must be in the charge's currency and at most the charge.")
        params: dict[str, Any] = {
            "amount": amount.amount_minor,
            "currency": amount.currency.lower(),
            "customer": customer_id,
            "payment_method": payment_method_id,
            "off_session": True,
            "confirm": True,
            "application_fee_amount": application_fee.amount_minor,
            "description": description,
            "metadata": metadata,
        }
        intent = self._call(
            lambda: self._client.v1.payment_intents.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key, "stripe_account": account_id},
            )
        )
        return SavedCardCharge(payment_intent_id=str(intent.id), status=str(intent.status), amount=amount)

    def create_subscription_checkout(
        self,
        *,
        idempotency_key: str,
        account_id: str,
        name: str,
        price: Money,
        interval: Interval,
        application_fee_percent: Decimal,
        success_url: str,
        cancel_url: str,
        reference: str,
        metadata: dict[str, str],
    ) -> CheckoutSession:
        """A subscription Checkout billing `price` each `interval`; the platform keeps `application_fee_percent`."""
        if not Decimal(0) <= application_fee_percent <= Decimal(100):
            raise PaymentRefused("The platform fee must be between 0% and 100%.", reason="fee_out_of_range")
        recurring = _price_data(name, price) | {"recurring": {"interval": interval}}
        params: dict[str, Any] = {
            "mode": "subscription",
            "line_items": [{"quantity": 1, "price_data": recurring}],
            "subscription_data": {"application_fee_percent": _percent(application_fee_percent), "metadata": metadata},
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": reference,
            "metadata": metadata,
        }
        session = self._call(
            lambda: self._client.v1.checkout.sessions.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key, "stripe_account": account_id},
            )
        )
        return CheckoutSession(session_id=str(session.id), url=str(session.url))

    def create_platform_subscription_checkout(
        self,
        *,
        idempotency_key: str,
        name: str,
        price: Money,
        customer_email: str,
        success_url: str,
        cancel_url: str,
        reference: str,
        metadata: dict[str, str],
    ) -> CheckoutSession:
        """A monthly subscription Checkout on the platform's own account: no `on_behalf_of`, no transfer, no fee."""
        monthly = _price_data(name, price) | {"recurring": {"interval": "month"}}
        params: dict[str, Any] = {
            "mode": "subscription",
            "line_items": [{"quantity": 1, "price_data": monthly}],
            "subscription_data": {"metadata": metadata},
            "customer_email": customer_email,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": reference,
            "metadata": metadata,
        }
        session = self._call(
            lambda: self._client.v1.checkout.sessions.create(params, {"idempotency_key": idempotency_key})  # type: ignore[arg-type]
        )
        return CheckoutSession(session_id=str(session.id), url=str(session.url))

    def cancel_platform_subscription(self, *, idempotency_key: str, subscription_id: str) -> SubscriptionState:
        """Set `cancel_at_period_end`: Stripe bills no more and sends `customer.subscription.deleted` at the end."""
        sub = self._call(
            lambda: self._client.v1.subscriptions.update(
                subscription_id, {"cancel_at_period_end": True}, {"idempotency_key": idempotency_key}
            )
        )
        return _subscription_state(sub.to_dict())

    def platform_subscription(self, subscription_id: str) -> SubscriptionState | None:
        """GET the subscription (a read: no idempotency key); a 404 is None."""
        try:
            sub = self._call(lambda: self._client.v1.subscriptions.retrieve(subscription_id))
        except PaymentRefused as exc:
            if exc.reason == "resource_missing":
                return None
            raise
        return _subscription_state(sub.to_dict())

    def refund(
        self, *, idempotency_key: str, payment_intent_id: str, amount: Money | None, account_id: str | None = None
    ) -> RefundResult:
        """Refund `amount` of the payment (all of what is left when None) on the coach's account.

        Sales are direct charges, so the refund is made on the connected account (`account_id`; None
        only for a payment made on the platform itself) and comes out of the coach's balance;
        `refund_application_fee` returns the platform fee in proportion, so a refunded client costs
        the coach nothing in platform fees. There is no transfer to reverse.
        """
        params: dict[str, Any] = {"payment_intent": payment_intent_id, "refund_application_fee": True}
        if amount is not None:
            params["amount"] = amount.amount_minor
        refund = self._call(
            lambda: self._client.v1.refunds.create(
                params,  # type: ignore[arg-type]
                _options(account_id, idempotency_key),
            )
        )
        return RefundResult(
            refund_id=str(refund.id),
            status=str(refund.status),
            amount=Money(int(refund.amount), str(refund.currency).upper()),
        )

    def retrieve_subscription(self, subscription_id: str, *, account_id: str) -> SubscriptionState:
        """The membership's subscription as Stripe holds it now, on the coach's account."""
        found = self._call(
            lambda: self._client.v1.subscriptions.retrieve(subscription_id, options={"stripe_account": account_id})
        )
        return _subscription_state(found)

    def cancel_subscription(self, *, idempotency_key: str, subscription_id: str, account_id: str) -> SubscriptionState:
        """Cancel at once (DELETE /v1/subscriptions/:id, coach's account) under our key: a retry cancels once."""
        done = self._call(
            lambda: self._client.v1.subscriptions.cancel(
                subscription_id, options={"idempotency_key": idempotency_key, "stripe_account": account_id}
            )
        )
        return _subscription_state(done)

    def payment_fee(self, payment_ref: str, *, account_id: str) -> Money | None:
        """Stripe's fee on a payment made on the coach's account: its charge's balance transaction.

        `payment_ref` is a PaymentIntent (`pi_…`) or an invoice (`in_…`, a membership's period): for an
        invoice its paid payment's PaymentIntent is looked up first (`/v1/invoice_payments`). The fee is
        the `stripe_fee` part of the balance transaction's `fee_details` — the coach pays it on a direct
        charge; the `application_fee` part is the platform's and is not Stripe's. None while the
        charge or its balance transaction does not exist yet.
        """
        options: Any = {"stripe_account": account_id}
        intent_id: str | None = payment_ref
        if payment_ref.startswith("in_"):
            intent_id = self._invoice_intent(payment_ref, options)
            if intent_id is None:
                return None
        intent = self._call(
            lambda: self._client.v1.payment_intents.retrieve(
                str(intent_id), {"expand": ["latest_charge.balance_transaction"]}, options
            )
        )
        found: dict[str, Any] = intent.to_dict()
        charge = found.get("latest_charge")
        txn = charge.get("balance_transaction") if isinstance(charge, dict) else None
        if not isinstance(txn, dict) or not isinstance(txn.get("currency"), str):
            return None
        details = txn.get("fee_details") or []
        fee = sum(int(d["amount"]) for d in details if isinstance(d, dict) and d.get("type") == "stripe_fee")
        if not details:
            fee = int(txn.get("fee") or 0)  # no breakdown: the whole fee (no application fee is listed then)
        return Money(fee, str(txn["currency"]).upper())

    def _invoice_intent(self, invoice_id: str, options: Any) -> str | None:
        """The PaymentIntent of an invoice's paid payment (API 2025-03-31 and later list them apart)."""
        listed = self._call(
            lambda: self._client.v1.invoice_payments.list({"invoice": invoice_id, "status": "paid"}, options)
        )
        for item in listed.to_dict().get("data") or []:
            payment = item.get("payment") if isinstance(item, dict) else None
            intent = payment.get("payment_intent") if isinstance(payment, dict) else None
            if isinstance(intent, dict):
                intent = intent.get("id")
            if isinstance(intent, str):
                return intent
        return None

    def _call(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except stripe.CardError as e:
            raise PaymentRefused(_readable(e, "The card was declined."), reason=_code(e)) from None
        except (stripe.RateLimitError, stripe.APIConnectionError) as e:
            raise PaymentUnavailable(
                "Stripe is busy or could not be reached; nothing was charged twice, so try again in a minute."
            ) from e
        except stripe.AuthenticationError:
            raise PaymentRefused(
                "Stripe refused the platform's secret key; check COACHOS_STRIPE_SECRET_KEY.", reason="authentication"
            ) from None
        except stripe.IdempotencyError:
            raise PaymentRefused(
                "Stripe already has a different request under this key; start a new attempt.", reason="idempotency"
            ) from None
        except stripe.StripeError as e:
            status = e.http_status
            if status is None or status >= 500 or status in (409, 429):
                raise PaymentUnavailable(
                    "Stripe had a problem on its side; nothing was charged twice, so try again in a minute."
                ) from e
            raise PaymentRefused(_readable(e, "Stripe refused the request."), reason=_code(e)) from None


def _options(account_id: str | None, idempotency_key: str) -> Any:
    # A payment made on the coach's account is changed there; None: the platform's own.
    if account_id is None:
        return {"idempotency_key": idempotency_key}
    return {"idempotency_key": idempotency_key, "stripe_account": account_id}


def _subscription_state(found: Any) -> SubscriptionState:
    # Since API 2025-03-31 the current period lives on the subscription's items, not on it.
    sub: dict[str, Any] = found if isinstance(found, dict) else found.to_dict()
    data = (sub.get("items") or {}).get("data") or [{}]
    first = data[0] if "current_period_end" in data[0] else sub

    def unix(name: str) -> int | None:
        value = first.get(name)
        return int(value) if isinstance(value, int) else None

    return SubscriptionState(
        subscription_id=str(sub["id"]),
        status=str(sub["status"]),
        current_period_start=unix("current_period_start"),
        current_period_end=unix("current_period_end"),
    )


def _price_data(name: str, price: Money) -> dict[str, Any]:
    # Stripe wants lower-case ISO codes and the same minor units we store (zero-decimal currencies too).
    return {"currency": price.currency.lower(), "unit_amount": price.amount_minor, "product_data": {"name": name}}


def _percent(value: Decimal) -> str:
    # Stripe takes at most two decimals; anything finer is the caller's rounding, not ours to guess.
    if value != value.quantize(Decimal("0.01")):
        raise PaymentRefused("Stripe takes the platform fee percent with at most two decimals.", reason="fee_precision")
    return format(value.normalize(), "f")


def _code(error: stripe.StripeError) -> str | None:
    return str(error.code) if error.code else None


def _readable(error: stripe.StripeError, fallback: str) -> str:
    # Stripe's user_message / message name the problem ("Your card was declined.") without card data.
    message = error.user_message or (error.error.message if error.error is not None else None)
    return str(message) if message else fallback
