"""Payments port: the calls Coach OS makes to the card-payment provider (Stripe Connect).

Every call carries an idempotency key built from OUR ids (see the `*_key` helpers), so a call repeated
after a timeout or a crash finds the object the first attempt created instead of making a second one.
Amounts are `Money` (integer minor units); the platform fee is computed by the caller and passed in.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol
from uuid import UUID

import attrs

from coachos.domain.ids import OrgId
from coachos.domain.money import Money

Interval = Literal["week", "month", "year"]


@attrs.frozen
class OnboardingLink:
    """The coach's connected account and the one-time address where they finish connecting it."""

    account_id: str
    url: str


@attrs.frozen
class CheckoutSession:
    """A hosted Checkout page the client is sent to."""

    session_id: str
    url: str


@attrs.frozen
class RefundResult:
    """A refund the provider accepted (`status` as the provider says: pending, succeeded, failed…)."""

    refund_id: str
    status: str
    amount: Money


@attrs.frozen
class SubscriptionState:
    """A subscription as the provider holds it now: its status (Stripe's word) and current period (Unix times)."""

    subscription_id: str
    status: str
    current_period_start: int | None
    current_period_end: int | None


def cancel_subscription_key(org_id: OrgId, membership_id: UUID) -> str:
    """The key for cancelling a membership's subscription (cancelling twice is once)."""
    return f"subscription:{org_id}:{membership_id}:cancel"


@attrs.frozen
class SavedCardCharge:
    """An off-session charge of a saved card: the PaymentIntent and its status as the provider says."""

    payment_intent_id: str
    status: str
    amount: Money


def account_key(org_id: OrgId) -> str:
    """The key for creating an org's connected account: one account per org, whatever the retries."""
    return f"connect:{org_id}:account"


def onboarding_link_key(org_id: OrgId, attempt_id: UUID) -> str:
    """The key for one onboarding-link request (a link expires in minutes, so each visit is a new attempt)."""
    return f"connect:{org_id}:link:{attempt_id}"


def checkout_key(org_id: OrgId, package_id: UUID, attempt_id: UUID) -> str:
    """The key for one Checkout attempt of a package sale."""
    return f"checkout:{org_id}:{package_id}:{attempt_id}"


def subscription_checkout_key(org_id: OrgId, membership_id: UUID, attempt_id: UUID) -> str:
    """The key for one Checkout attempt of a membership."""
    return f"subscription:{org_id}:{membership_id}:{attempt_id}"


def platform_subscription_key(org_id: OrgId, plan_key: str, attempt_id: UUID) -> str:
    """The key for one Checkout attempt of a business subscribing to a platform plan."""
    return f"platform:{org_id}:{plan_key}:{attempt_id}"


def platform_cancel_key(org_id: OrgId, subscription_id: str) -> str:
    """The key for ending a business's platform subscription at its period's end (once per subscription)."""
    return f"platform:{org_id}:cancel:{subscription_id}"


def refund_key(org_id: OrgId, refund_id: UUID) -> str:
    """The key for one refund we recorded (our refund id, so asking twice refunds once)."""
    return f"refund:{org_id}:{refund_id}"


class Payments(Protocol):
    """Creates connected accounts, Checkout sessions and refunds at the payment provider.

    Raises `PaymentUnavailable` when the provider could not be reached or was busy (try again with the
    same key) and `PaymentRefused` when it refused the request (trying again will not help).
    """

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
        ...

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
        """A one-off Checkout for `price`: a direct charge on the connected account, the platform keeping its fee.

        With `save_card`, a Customer is made and the card kept for later off-session charges (fees).
        `expires_at` ends the Checkout then (Stripe allows 30 minutes to 24 hours ahead; None: its default).
        """
        ...

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
        ...

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
        """Charge a card the client saved, without them present, for the connected account (a fee)."""
        ...

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
        """A monthly subscription Checkout on the PLATFORM's own account (the coach paying Coach OS; no Connect)."""
        ...

    def cancel_platform_subscription(self, *, idempotency_key: str, subscription_id: str) -> SubscriptionState:
        """End the platform subscription when the period already paid for ends (`cancel_at_period_end`)."""
        ...

    def platform_subscription(self, subscription_id: str) -> SubscriptionState | None:
        """The platform account's subscription as it is now; None if the provider has no such subscription."""
        ...

    def refund(
        self, *, idempotency_key: str, payment_intent_id: str, amount: Money | None, account_id: str | None = None
    ) -> RefundResult:
        """Refund `amount` of the payment (all of what is left when None) on the connected account `account_id`.

        Clients' payments are direct charges on the coach's account, so their refunds must name it;
        None only for a payment made on the platform account itself.
        """
        ...

    def retrieve_subscription(self, subscription_id: str, *, account_id: str) -> SubscriptionState:
        """The membership's subscription (on the coach's account) as it is now; PaymentRefused if there is none."""
        ...

    def cancel_subscription(self, *, idempotency_key: str, subscription_id: str, account_id: str) -> SubscriptionState:
        """Cancel the membership's subscription (on the coach's account) at once; a cancelled one changes nothing."""
        ...

    def payment_fee(self, payment_ref: str, *, account_id: str) -> Money | None:
        """Stripe's processing fee on a payment made on the coach's account; None until Stripe has settled it.

        `payment_ref` is a PaymentIntent id (`pi_…`) or an invoice id (`in_…`: its paid payment's). Sales
        are direct charges, so the coach pays this fee and the payment is read on `account_id`. The
        platform's application fee is not part of it. A read: no idempotency key.
        """
        ...
