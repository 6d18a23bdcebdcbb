"""The coach's side of the platform: connecting Stripe, subscribing to a plan, and the operator's revenue.

Stripe is called outside any transaction (a network call never holds a database connection); what
it answers is stored in a transaction of its own. Each call's idempotency key comes from our ids.
Webhook handlers here are for the platform's own subscription only: they act on events with no
connected account (`event.account` is None) whose object carries `coachos_kind` = "platform".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import attrs

from coachos.domain.errors import Conflict, CorruptRecord, NotFound, ValidationError
from coachos.domain.events import Event, PlatformSubscriptionChanged
from coachos.domain.ids import Actor, CoachId, OrgId
from coachos.domain.money import Money
from coachos.domain.platform import (
    CANCELED,
    DEFAULT_PLAN,
    OrgSubscription,
    PlatformInvoice,
    PlatformPlan,
    RevenueReport,
    check_status,
)
from coachos.domain.rows import unreadable_in
from coachos.domain.stripe_events import StripeAccount, StripeEvent, stripe_id
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases._fees import platform_fee_percent
from coachos.domain.usecases.relay import Relay
from coachos.domain.usecases.stripe_events import on_stripe_event
from coachos.ports.payments import Payments, platform_cancel_key, platform_subscription_key
from coachos.ports.storage import UnitOfWork

#: The `coachos_kind` of every Stripe object made for a coach's own platform subscription.
PLATFORM_KIND = "platform"
NOT_CONFIGURED = (
    "Card payments are not set up on this Coach OS installation (COACHOS_STRIPE_SECRET_KEY is not set); "
    "ask whoever runs it."
)


def _payments(deps: Deps) -> Payments:
    if deps.payments is None:
        raise Conflict(NOT_CONFIGURED)
    return deps.payments


def connection_state(account: StripeAccount | None) -> str:
    """'not_connected', 'details_missing' (connected, Stripe still needs something) or 'can_take_charges'."""
    if account is None:
        return "not_connected"
    return "can_take_charges" if account.charges_enabled else "details_missing"


@attrs.frozen(kw_only=True)
class PaymentsSetup:
    """What Setup → Payments shows: the connected account, the plans and the business's subscription."""

    configured: bool
    account: StripeAccount | None
    state: str
    plans: tuple[PlatformPlan, ...]
    subscription: OrgSubscription | None
    #: The plan that applies now (the default plan when no subscription is live).
    plan: PlatformPlan | None
    fee_percent: Any
    invoices: tuple[PlatformInvoice, ...]
    #: Plans and invoices whose stored rows could not be read (the page says so).
    unreadable: tuple[CorruptRecord, ...] = ()


@attrs.frozen(kw_only=True)
class GetPaymentsSetup(Command[PaymentsSetup]):
    """Read the business's Stripe connection, plans, subscription and invoices paid to the platform."""

    org_id: OrgId


@handles(GetPaymentsSetup)
def get_payments_setup(cmd: GetPaymentsSetup, deps: Deps) -> PaymentsSetup:
    """One read transaction."""
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        account = uow.stripe.account(cmd.org_id)
        sub = uow.platform.subscription(cmd.org_id)
        plan = uow.platform.plan(sub.plan_key if sub is not None and sub.live else DEFAULT_PLAN)
        plans, invoices = uow.platform.plans(), uow.platform.invoices(cmd.org_id)
        return PaymentsSetup(
            configured=deps.payments is not None,
            account=account,
            state=connection_state(account),
            plans=tuple(plans),
            subscription=sub,
            plan=plan,
            fee_percent=platform_fee_percent(uow, cmd.org_id),
            invoices=tuple(invoices[:12]),
            unreadable=unreadable_in(plans, invoices),
        )


@attrs.frozen(kw_only=True)
class ConnectStripe(Command[str]):
    """Start (or resume) connecting the business's Stripe account; answers Stripe's onboarding address."""

    org_id: OrgId
    actor: Actor
    #: Where Stripe sends the coach when they finish, and when the link has expired.
    return_url: str
    refresh_url: str


@handles(ConnectStripe)
def connect_stripe(cmd: ConnectStripe, deps: Deps) -> str:
    """Create the connected account once (its key is the org's), link it to the business, answer the link."""
    payments = _payments(deps)
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        known = uow.stripe.account(cmd.org_id)
    link = payments.connect_onboarding_link(
        cmd.org_id,
        None if known is None else known.account_id,
        return_url=cmd.return_url,
        refresh_url=cmd.refresh_url,
        attempt_id=deps.ids.new_id(),
    )
    if known is None:
        with deps.uow() as uow:
            # A retry after a crash gets the same account back (same key); link it once.
            owner = uow.stripe.account_owner(link.account_id)
            if owner is None:
                uow.stripe.link_account(cmd.org_id, link.account_id, deps.clock.now())
                uow.commit()
            elif owner != cmd.org_id:
                raise Conflict("This Stripe account is already connected to another business.")
    return link.url


@attrs.frozen(kw_only=True)
class SubscribeToPlan(Command[str]):
    """Send the coach to Stripe Checkout to subscribe to a paid plan; answers Checkout's address."""

    org_id: OrgId
    actor: Actor
    plan_key: str
    success_url: str
    cancel_url: str


@handles(SubscribeToPlan)
def subscribe_to_plan(cmd: SubscribeToPlan, deps: Deps) -> str:
    """A subscription Checkout on the platform account, metadata naming the business and the plan."""
    payments = _payments(deps)
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        plan = uow.platform.plan(cmd.plan_key)
        if plan is None:
            raise ValidationError("There is no such plan; choose one of those listed.", field="plan")
        if plan.free:
            raise ValidationError(f"{plan.name} is free: there is nothing to pay for it.", field="plan")
        sub = uow.platform.subscription(cmd.org_id)
        if sub is not None and sub.live and sub.plan_key == plan.key:
            raise Conflict(f"You are already on {plan.name}.")
        if sub is not None and sub.live:
            # A second Checkout would start a second subscription and bill the coach twice.
            raise Conflict("You already pay for a plan: end it first (Switch to the free plan), then choose another.")
        if cmd.actor.kind != "coach" or cmd.actor.id is None:
            raise ValidationError("Only a coach of the business can choose its plan.", field="actor")
        coach = uow.coaches.get(cmd.org_id, CoachId(cmd.actor.id))
    metadata = {"coachos_kind": PLATFORM_KIND, "org_id": str(cmd.org_id), "plan": plan.key}
    session = payments.create_platform_subscription_checkout(
        idempotency_key=platform_subscription_key(cmd.org_id, plan.key, deps.ids.new_id()),
        name=f"Coach OS {plan.name}",
        price=plan.monthly_price,
        customer_email=coach.email,
        success_url=cmd.success_url,
        cancel_url=cmd.cancel_url,
        reference=str(cmd.org_id),
        metadata=metadata,
    )
    return session.url


@attrs.frozen(kw_only=True)
class EndPlatformPlan(Command[datetime | None]):
    """Go back to the free plan: the paid subscription ends when the period already paid for ends."""

    org_id: OrgId
    actor: Actor


@handles(EndPlatformPlan)
def end_platform_plan(cmd: EndPlatformPlan, deps: Deps) -> datetime | None:
    """Ask Stripe to cancel at the period's end (key from our ids); `deleted` then moves the business to Starter.

    Answers when the plan ends, if Stripe said.
    """
    payments = _payments(deps)
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        sub = uow.platform.subscription(cmd.org_id)
    if sub is None or not sub.live:
        raise Conflict("You are on the free plan already; there is nothing to end.")
    state = payments.cancel_platform_subscription(
        idempotency_key=platform_cancel_key(cmd.org_id, sub.subscription_id), subscription_id=sub.subscription_id
    )
    return _time(state.current_period_end) or sub.current_period_end


@attrs.frozen(kw_only=True)
class OperatorRevenue(Command[RevenueReport]):
    """The platform operator's report across every business: MRR, businesses per plan, fee income by month."""


@handles(OperatorRevenue)
def operator_revenue(cmd: OperatorRevenue, deps: Deps) -> RevenueReport:
    """One read transaction (cross-business reads under the repository's operator flag)."""
    del cmd
    with deps.uow() as uow:
        return uow.platform.revenue_report()


# --- Webhooks -------------------------------------------------------------------------------------


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def platform_metadata(event: StripeEvent) -> Mapping[str, Any] | None:
    """Our metadata when the event is about the platform's own subscription (no account, kind "platform").

    Invoices carry their subscription's metadata under `subscription_details` (older API versions) or
    `parent.subscription_details` (newer); sessions and subscriptions carry it themselves.
    """
    if event.account is not None:
        return None
    obj = event.object
    for meta in (
        _mapping(obj.get("metadata")),
        _mapping(_mapping(obj.get("subscription_details")).get("metadata")),
        _mapping(_mapping(_mapping(obj.get("parent")).get("subscription_details")).get("metadata")),
    ):
        if meta.get("coachos_kind") == PLATFORM_KIND:
            return meta
    return None


def _org(uow: UnitOfWork, meta: Mapping[str, Any]) -> OrgId | None:
    """The business the metadata names, if it exists (an unknown one is kept, not retried forever)."""
    try:
        org_id = OrgId(UUID(str(meta.get("org_id"))))
        uow.orgs.get(org_id)
    except (ValueError, NotFound):
        return None
    return org_id


def _time(value: object) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**40:
        return datetime.fromtimestamp(value, UTC)
    return None


def _subscription_id(obj: Mapping[str, Any]) -> str | None:
    for found in (
        obj.get("subscription"),
        _mapping(_mapping(obj.get("parent")).get("subscription_details")).get("subscription"),
    ):
        if isinstance(found, str):
            return found
        if isinstance(found, Mapping) and isinstance(found.get("id"), str):
            return str(found["id"])
    return None


def _apply(uow: UnitOfWork, event: StripeEvent, *, status: str, subscription_id: object, period_end: object) -> None:
    meta = platform_metadata(event)
    if meta is None:
        return
    org_id = _org(uow, meta)
    plan_key = meta.get("plan")
    if org_id is None or not isinstance(plan_key, str) or uow.platform.plan(plan_key) is None:
        return
    uow.platform.apply_subscription(
        OrgSubscription(
            org_id=org_id,
            plan_key=plan_key,
            subscription_id=stripe_id(subscription_id, "subscription"),
            status=check_status(status),
            current_period_end=_time(period_end),
            status_at=event.created,
        )
    )


@on_stripe_event("checkout.session.completed")
def platform_checkout_completed(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """A coach finished a plan's Checkout: the subscription is active from the event's time (if nothing newer)."""
    del deps
    obj = event.object
    if obj.get("mode") != "subscription" or obj.get("status", "complete") != "complete":
        return
    _apply(uow, event, status="active", subscription_id=_subscription_id(obj), period_end=None)


@on_stripe_event("customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted")
def platform_subscription_changed(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """Store the subscription's status from a newer event; `deleted` cancels for good.

    Events of one second tie on `created` and Stripe sends them in any order, so for created/updated the
    worker then fetches the subscription as Stripe holds it now (`PlatformSubscriptionChanged`, consumer
    `platform_refresh`) — no call to Stripe inside the webhook's transaction.
    """
    obj = event.object
    items = _mapping(obj.get("items")).get("data")
    first = _mapping(items[0]) if isinstance(items, Sequence) and items else {}
    status: object = CANCELED if event.type.endswith(".deleted") else obj.get("status")
    period_end: object = obj.get("current_period_end", first.get("current_period_end"))
    _apply(uow, event, status=str(status), subscription_id=obj.get("id"), period_end=period_end)
    meta = platform_metadata(event)
    org_id = None if meta is None else _org(uow, meta)
    plan_key = None if meta is None else meta.get("plan")
    if status != CANCELED and deps.payments is not None and org_id is not None and isinstance(plan_key, str):
        uow.emit(
            PlatformSubscriptionChanged(
                org_id=org_id,
                occurred_at=event.created,
                actor="stripe",
                subscription_id=stripe_id(obj.get("id"), "subscription"),
                plan_key=plan_key,
            )
        )


#: The outbox consumer that fetches a business's changed plan subscription (see `refresh_platform_subscription`).
REFRESH_CONSUMER = "platform_refresh"


def subscribe_platform(relay: Relay) -> None:
    """Subscribe the worker's follow-up of plan subscription changes (the composition root calls this)."""
    relay.subscribe(REFRESH_CONSUMER, PlatformSubscriptionChanged, refresh_platform_subscription)


def refresh_platform_subscription(event: Event, deps: Deps) -> None:
    """Fetch the plan subscription from the platform account as it is now and store that.

    Stamped with the time just before the fetch (what Stripe answers is at least that new), under the same
    rule as events: a newer event applied meanwhile wins, `canceled` stays final. Stripe without such a
    subscription: the events' own statuses stand. Stripe out of reach: the relay tries again.
    """
    if not isinstance(event, PlatformSubscriptionChanged) or deps.payments is None:
        return
    asked_at = deps.clock.now()
    now = deps.payments.platform_subscription(event.subscription_id)
    if now is None or now.status == CANCELED:
        return  # deleted: `customer.subscription.deleted` says so itself, with its own time
    with deps.uow() as uow:
        if uow.platform.plan(event.plan_key) is None:
            return
        uow.platform.apply_subscription(
            OrgSubscription(
                org_id=event.org_id,
                plan_key=event.plan_key,
                subscription_id=event.subscription_id,
                status=check_status(now.status),
                current_period_end=_time(now.current_period_end),
                status_at=asked_at,
            )
        )
        uow.commit()


def _invoice_amount(obj: Mapping[str, Any], field: str) -> Money | None:
    amount, currency = obj.get(field), obj.get("currency")
    if not isinstance(amount, int) or isinstance(amount, bool) or not isinstance(currency, str):
        return None
    return Money(amount, currency.upper())


@on_stripe_event("invoice.paid", "invoice.payment_succeeded")
def platform_invoice_paid(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """Keep what the coach paid the platform, once per invoice whichever of the two events comes first."""
    del deps
    meta = platform_metadata(event)
    org_id = None if meta is None else _org(uow, meta)
    amount = _invoice_amount(event.object, "amount_paid")
    if org_id is None or amount is None:
        return
    paid_at = _time(_mapping(event.object.get("status_transitions")).get("paid_at")) or event.created
    uow.platform.record_invoice(
        PlatformInvoice(
            invoice_id=stripe_id(event.object.get("id"), "invoice"),
            org_id=org_id,
            subscription_id=_subscription_id(event.object),
            amount=amount,
            paid_at=paid_at,
        )
    )


@on_stripe_event("invoice.payment_failed")
def platform_invoice_failed(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """Tell the business's coaches by email that paying their plan failed, once per invoice."""
    meta = platform_metadata(event)
    org_id = None if meta is None else _org(uow, meta)
    amount = _invoice_amount(event.object, "amount_due")
    if org_id is None or amount is None:
        return
    invoice_id = stripe_id(event.object.get("id"), "invoice")
    if not uow.platform.claim_failure_notice(org_id, invoice_id, amount, deps.clock.now()):
        return
    plan = uow.platform.plan(str(meta.get("plan"))) if meta is not None else None
    name = f"the {plan.name} plan" if plan is not None else "your plan"
    for coach in uow.coaches.list(org_id):
        if coach.active:
            # Queued, so the webhook answers at once; the claim above makes it once per invoice.
            deps.tasks.enqueue_email(
                coach.email,
                "Your Coach OS payment failed",
                f"We could not take the payment of {amount} for {name} of Coach OS.\n\n"
                "Stripe will try your card again over the next days. Until a payment succeeds your "
                "plan may end; update your card from Setup → Payments.",
            )
