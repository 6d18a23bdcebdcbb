"""Payments adapters: a recording fake that dedupes idempotency keys as Stripe does, and choosing one by settings."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

import attrs

from coachos.domain.errors import CoachOSError, PaymentRefused
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

if TYPE_CHECKING:
    from coachos.ports.payments import Payments


@attrs.frozen
class PaymentCall:
    """One call a fake was asked to make: which, under which key, with what."""

    method: str
    idempotency_key: str
    params: dict[str, Any]


@attrs.define
class MemoryPayments:
    """Records every call; a repeated idempotency key returns the first answer (as Stripe does) and creates nothing.

    `fail_next` makes the next calls raise the given errors instead (nothing is created for them).
    """

    #: Every call, in order, including repeats and those made to fail.
    calls: list[PaymentCall] = attrs.Factory(list)
    #: The objects created, by idempotency key.
    created: dict[str, Any] = attrs.Factory(dict)
    #: What each payment intent took, for full refunds (a test sets it, as a paid Checkout would at Stripe).
    paid: dict[str, Money] = attrs.Factory(dict)
    #: Subscriptions as "Stripe" holds them now, by id (a test sets them; cancelling updates them).
    subscriptions: dict[str, SubscriptionState] = attrs.Factory(dict)
    #: Stripe's fee on each payment intent, once settled (a test sets it; absent: not known yet).
    fees: dict[str, Money] = attrs.Factory(dict)
    _failures: list[CoachOSError] = attrs.field(factory=list, alias="_failures")
    _lock: threading.Lock = attrs.field(factory=threading.Lock, alias="_lock")

    def fail_next(self, *errors: CoachOSError) -> None:
        """Make the next calls raise `errors`, one per call, in order."""
        with self._lock:
            self._failures.extend(errors)

    def _once(self, method: str, key: str, params: dict[str, Any], make: Any) -> Any:
        with self._lock:
            self.calls.append(PaymentCall(method, key, params))
            if self._failures:
                raise self._failures.pop(0)
            if key not in self.created:
                self.created[key] = make(len(self.created) + 1)
            return self.created[key]

    def connect_onboarding_link(
        self,
        org_id: OrgId,
        account_id: str | None,
        *,
        return_url: str,
        refresh_url: str,
        attempt_id: UUID,
    ) -> OnboardingLink:
        """Record the account (when new) and the link; the link points at `return_url` at once."""
        if account_id is None:
            # The org's id in the account's keeps accounts distinct in a database shared by several fakes.
            account_id = str(
                self._once(
                    "account", account_key(org_id), {"org_id": str(org_id)}, lambda n: f"acct_memory{n}x{org_id.hex}"
                )
            )
        params = {"account": account_id, "return_url": return_url, "refresh_url": refresh_url}
        url = self._once("account_link", onboarding_link_key(org_id, attempt_id), params, lambda _: return_url)
        return OnboardingLink(account_id=account_id, url=str(url))

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
        """Record the sale and answer a Checkout whose page is `success_url` (the fake's client pays at once)."""
        params = {
            "save_card": save_card,
            "expires_at": expires_at,
            "account_id": account_id,
            "name": name,
            "price": price,
            "application_fee": application_fee,
            "reference": reference,
            "metadata": dict(metadata),
        }
        made: CheckoutSession = self._once(
            "checkout", idempotency_key, params, lambda n: CheckoutSession(f"cs_memory{n}", success_url)
        )
        return made

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
        """Record the membership and answer a Checkout whose page is `success_url`."""
        params = {
            "account_id": account_id,
            "name": name,
            "price": price,
            "interval": interval,
            "application_fee_percent": application_fee_percent,
            "reference": reference,
            "metadata": dict(metadata),
        }
        made: CheckoutSession = self._once(
            "subscription_checkout", idempotency_key, params, lambda n: CheckoutSession(f"cs_memory{n}", success_url)
        )
        return made

    def retrieve_subscription(self, subscription_id: str, *, account_id: str) -> SubscriptionState:
        """The subscription a test put in `subscriptions`; PaymentRefused (as Stripe's 404) for any other."""
        with self._lock:
            params = {"subscription": subscription_id, "account_id": account_id}
            self.calls.append(PaymentCall("retrieve_subscription", "", params))
            if self._failures:
                raise self._failures.pop(0)
            found = self.subscriptions.get(subscription_id)
        if found is None:
            raise PaymentRefused(f"There is no subscription {subscription_id}.", reason="resource_missing")
        return found

    def cancel_subscription(self, *, idempotency_key: str, subscription_id: str, account_id: str) -> SubscriptionState:
        """Record the cancellation and mark a known subscription canceled."""

        def cancel(_: int) -> SubscriptionState:
            known = self.subscriptions.get(subscription_id)
            done = SubscriptionState(
                subscription_id,
                "canceled",
                None if known is None else known.current_period_start,
                None if known is None else known.current_period_end,
            )
            self.subscriptions[subscription_id] = done
            return done

        made: SubscriptionState = self._once(
            "cancel_subscription", idempotency_key, {"subscription": subscription_id, "account_id": account_id}, cancel
        )
        return made

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
        """Record the off-session charge as succeeded (`fail_next(PaymentRefused(...))` makes a card decline)."""
        params = {
            "customer": customer_id,
            "payment_method": payment_method_id,
            "amount": amount,
            "application_fee": application_fee,
            "account_id": account_id,
            "description": description,
            "metadata": dict(metadata),
        }
        made: SavedCardCharge = self._once(
            "charge_saved_card",
            idempotency_key,
            params,
            lambda n: SavedCardCharge(f"pi_memory{n}", "succeeded", amount),
        )
        return made

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
        """Record the coach's plan Checkout and answer one whose page is `success_url`."""
        params = {
            "name": name,
            "price": price,
            "customer_email": customer_email,
            "reference": reference,
            "metadata": dict(metadata),
        }
        made: CheckoutSession = self._once(
            "platform_subscription_checkout",
            idempotency_key,
            params,
            lambda n: CheckoutSession(f"cs_memory{n}", success_url),
        )
        return made

    def cancel_platform_subscription(self, *, idempotency_key: str, subscription_id: str) -> SubscriptionState:
        """Record the cancellation; the subscription stays as `subscriptions` has it (active when unknown)."""
        known = self.subscriptions.get(subscription_id)
        made: SubscriptionState = self._once(
            "cancel_platform_subscription",
            idempotency_key,
            {"subscription_id": subscription_id},
            lambda _: known or SubscriptionState(subscription_id, "active", None, None),
        )
        return made

    def platform_subscription(self, subscription_id: str) -> SubscriptionState | None:
        """The subscription a test put in `subscriptions` (recorded as a call; nothing is created)."""
        with self._lock:
            self.calls.append(PaymentCall("platform_subscription", "", {"subscription_id": subscription_id}))
            if self._failures:
                raise self._failures.pop(0)
            return self.subscriptions.get(subscription_id)

    def refund(
        self, *, idempotency_key: str, payment_intent_id: str, amount: Money | None, account_id: str | None = None
    ) -> RefundResult:
        """Record the refund as succeeded; a full refund needs the payment in `paid`, as Stripe needs it to exist."""
        whole = amount or self.paid.get(payment_intent_id)
        if whole is None:
            raise PaymentRefused(f"There is no payment {payment_intent_id} to refund.", reason="resource_missing")
        params = {"payment_intent": payment_intent_id, "amount": amount, "account_id": account_id}
        made: RefundResult = self._once(
            "refund",
            idempotency_key,
            params,
            lambda n: RefundResult(_refund_id(idempotency_key, n), "succeeded", whole),
        )
        return made

    def payment_fee(self, payment_ref: str, *, account_id: str) -> Money | None:
        """The fee a test set for the payment (a PaymentIntent or invoice id), or None (not settled yet)."""
        with self._lock:
            self.calls.append(PaymentCall("payment_fee", "", {"payment_ref": payment_ref, "account_id": account_id}))
            if self._failures:
                raise self._failures.pop(0)
            return self.fees.get(payment_ref)


def _refund_id(idempotency_key: str, n: int) -> str:
    """A refund id as unique as Stripe's (a database shared by tests keeps them unique), stable per key."""
    return f"re_memory{n}_{hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]}"


def payments_from_settings(settings: Settings) -> Payments | None:
    """Stripe when COACHOS_STRIPE_SECRET_KEY is set; None (card payments off) otherwise."""
    if not settings.stripe_secret_key:
        return None
    from coachos.adapters.stripe_payments import StripePayments

    return StripePayments.from_settings(settings)
