"""Memberships: plans, a client joining through Stripe Checkout, cancelling, and what Stripe's events do.

Stripe owns the subscription; Coach OS mirrors it from events, each applied once (the event id is kept
in the same transaction, see stripe_events.py) and only if newer than what it already applied:

- `checkout.session.completed` (mode subscription, kind membership): record the subscription id;
- `invoice.paid` / `invoice.payment_succeeded` (twins for one invoice): ONE grant per invoice, keyed by
  the invoice id: a PAID card package "<plan> · <period>" of N sessions (an unlimited plan's cap),
  expiring at the period's end, and a ledger sale `sale:package:<period package id>` into deferred revenue (like
  packages: unused credits are money not earned yet). The membership becomes ACTIVE and credits a
  pause stopped come back;
- `invoice.payment_failed`: PAST_DUE with a grace period (the first failure's deadline stays), the
  client told once per attempt (template `membership_payment_failed`); Stripe retries by itself;
- `customer.subscription.created/updated/deleted`: the status; for `updated` the current subscription
  is fetched from Stripe, so a late event cannot put an old status back; deleted is final.

`PauseLapsedMemberships` (the worker, every minute) pauses past-due memberships whose grace ran out:
their packages' payment state becomes 'failed', which the conditional credit UPDATE refuses.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import attrs

from coachos.domain import ledger
from coachos.domain.catalog import PaymentMethod, PaymentState, SessionPackage
from coachos.domain.errors import Conflict, NotFound, PaymentRefused, ValidationError
from coachos.domain.events import Event, MembershipSubscriptionChanged
from coachos.domain.ids import Actor, ClientId, OrgId, PackageId
from coachos.domain.memberships import (
    GRACE_PERIOD,
    KIND,
    Membership,
    MembershipPlan,
    MembershipStatus,
    PeriodGrant,
    StatusChange,
    invoice_period,
    invoice_subscription,
    period_label,
    period_package_id,
    status_from_stripe,
    subscription_metadata,
    subscription_period,
    unix_time,
)
from coachos.domain.messages import MessageChannel, Purpose, outgoing
from coachos.domain.money import Money
from coachos.domain.orgs import Organization
from coachos.domain.rows import Rows, unreadable_in
from coachos.domain.stripe_events import StripeEvent, stripe_id
from coachos.domain.templates import TemplateKind, default_wording, render, when_text
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases._fees import platform_fee_percent
from coachos.domain.usecases.package_sales import sale_key
from coachos.domain.usecases.relay import Relay
from coachos.domain.usecases.stripe_events import from_connected_account, on_stripe_event
from coachos.domain.usecases.stripe_fees import learn_stripe_fee
from coachos.ports.payments import cancel_subscription_key, subscription_checkout_key
from coachos.ports.storage import UnitOfWork

log = logging.getLogger(__name__)

CARDS_OFF = "Card payments are not set up for this business yet."
CANNOT_CHARGE = "This business cannot take card payments yet; ask your coach."
_INTERVAL_DAYS = {"week": 7, "month": 31}


# --- plans -----------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CreateMembershipPlan(Command[MembershipPlan]):
    """A new plan: `price` every `interval` for `sessions` sessions a period (the cap when `unlimited`)."""

    org_id: OrgId
    actor: Actor
    name: str
    price: Money
    interval: str = "month"
    sessions: int
    unlimited: bool = False


@handles(CreateMembershipPlan)
def create_membership_plan(cmd: CreateMembershipPlan, deps: Deps) -> MembershipPlan:
    """Check the plan (price in the business's currency) and store it."""
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        if cmd.price.currency != org.currency:
            raise ValidationError(f"Prices in this business are in {org.currency}.", field="price")
        plan = MembershipPlan(
            id=deps.ids.new_id(),
            org_id=cmd.org_id,
            name=cmd.name,
            price=cmd.price,
            interval=cmd.interval,
            sessions=cmd.sessions,
            unlimited=cmd.unlimited,
        )
        uow.memberships.add_plan(plan)
        uow.commit()
    return plan


@attrs.frozen(kw_only=True)
class SetMembershipPlanActive(Command[MembershipPlan]):
    """Offer a plan to new members again, or stop offering it (members keep theirs)."""

    org_id: OrgId
    actor: Actor
    plan_id: UUID
    active: bool


@handles(SetMembershipPlanActive)
def set_membership_plan_active(cmd: SetMembershipPlanActive, deps: Deps) -> MembershipPlan:
    """Store the plan's active flag."""
    with deps.uow() as uow:
        plan = attrs.evolve(uow.memberships.plan(cmd.org_id, cmd.plan_id), active=cmd.active)
        uow.memberships.update_plan(plan)
        uow.commit()
    return plan


@attrs.frozen(kw_only=True)
class ListMembershipPlans(Command[Rows[MembershipPlan]]):
    """The business's plans (only those offered to new members when `active_only`)."""

    org_id: OrgId
    active_only: bool = False


@handles(ListMembershipPlans)
def list_membership_plans(cmd: ListMembershipPlans, deps: Deps) -> Rows[MembershipPlan]:
    """The plans, by name."""
    with deps.uow() as uow:
        plans = uow.memberships.plans(cmd.org_id)
    # Rows: the plans that could not be read travel with the list, for the page to name them.
    return Rows([p for p in plans if p.active or not cmd.active_only], plans.unreadable)


@attrs.frozen
class ClientMembership:
    """A membership with its plan, for pages."""

    membership: Membership
    plan: MembershipPlan


@attrs.frozen(kw_only=True)
class ClientMemberships(Command[Rows[ClientMembership]]):
    """A client's memberships with their plans, newest first."""

    org_id: OrgId
    client_id: ClientId


@handles(ClientMemberships)
def client_memberships(cmd: ClientMemberships, deps: Deps) -> Rows[ClientMembership]:
    """Each of the client's memberships and its plan."""
    with deps.uow() as uow:
        found = uow.memberships.for_client(cmd.org_id, cmd.client_id)
        read = uow.memberships.plans(cmd.org_id)
    plans = {p.id: p for p in read}
    # A membership whose plan cannot be read is left out and named by the plan's unreadable row.
    mine = [ClientMembership(m, plans[m.plan_id]) for m in found if m.plan_id in plans]
    return Rows(mine, unreadable_in(found, read))


# --- joining and cancelling ----------------------------------------------------------------------------


@attrs.frozen
class MembershipCheckout:
    """Where to send the client to pay: Stripe Checkout's page, for this membership."""

    membership_id: UUID
    url: str


@attrs.frozen(kw_only=True)
class StartMembershipCheckout(Command[MembershipCheckout]):
    """A signed-in client asks to join a plan; they are sent to Checkout at the returned address."""

    org_id: OrgId
    client_id: ClientId
    plan_id: UUID
    success_url: str
    cancel_url: str


@handles(StartMembershipCheckout)
def start_membership_checkout(cmd: StartMembershipCheckout, deps: Deps) -> MembershipCheckout:
    """Store a PENDING membership (or reuse the client's pending one for the plan) and open Checkout.

    Refused when card payments are off, the business's Stripe account cannot take charges, the plan
    is not offered, or the client already has it. The Stripe call is made after the commit, so no
    transaction waits on the network; a retry reuses the pending membership.
    """
    if deps.payments is None:
        raise Conflict(CARDS_OFF)
    now = deps.clock.now()
    with deps.uow() as uow:
        plan = uow.memberships.plan(cmd.org_id, cmd.plan_id)
        if not plan.active:
            raise Conflict("This membership is no longer offered.")
        account = uow.stripe.account(cmd.org_id)
        if account is None or not account.charges_enabled:
            raise Conflict(CANNOT_CHARGE)
        uow.clients.get(cmd.org_id, cmd.client_id)
        mine = [m for m in uow.memberships.for_client(cmd.org_id, cmd.client_id) if m.plan_id == plan.id]
        if any(m.is_live for m in mine):
            raise Conflict("You already have this membership.")
        pending = next((m for m in mine if m.status is MembershipStatus.PENDING), None)
        if pending is None:
            pending = Membership(
                id=deps.ids.new_id(),
                org_id=cmd.org_id,
                client_id=cmd.client_id,
                plan_id=plan.id,
                status=MembershipStatus.PENDING,
                created_at=now,
            )
            uow.memberships.add(pending)
        percent = platform_fee_percent(uow, cmd.org_id)
        uow.commit()
    metadata = {
        "coachos_kind": KIND,
        "org_id": str(cmd.org_id),
        "membership_id": str(pending.id),
        "plan_id": str(plan.id),
        "client_id": str(cmd.client_id),
    }
    session = deps.payments.create_subscription_checkout(
        idempotency_key=subscription_checkout_key(cmd.org_id, pending.id, deps.ids.new_id()),
        account_id=account.account_id,
        name=plan.name,
        price=plan.price,
        interval="week" if plan.interval == "week" else "month",
        application_fee_percent=percent,
        success_url=cmd.success_url,
        cancel_url=cmd.cancel_url,
        reference=str(pending.id),
        metadata=metadata,
    )
    log.info("membership checkout started: membership=%s", pending.id)
    return MembershipCheckout(pending.id, session.url)


@attrs.frozen(kw_only=True)
class CancelMembership(Command[Membership]):
    """The coach ends a membership now: Stripe bills no more; credits already granted stay usable."""

    org_id: OrgId
    membership_id: UUID
    actor: Actor


@handles(CancelMembership)
def cancel_membership(cmd: CancelMembership, deps: Deps) -> Membership:
    """Cancel the subscription at Stripe (idempotency key from our ids), then mark the membership CANCELLED."""
    with deps.uow() as uow:
        membership = uow.memberships.get(cmd.org_id, cmd.membership_id)
    if membership.status is MembershipStatus.CANCELLED:
        return membership
    if membership.subscription_id is not None:
        if deps.payments is None:
            raise Conflict(CARDS_OFF)
        with deps.uow() as uow:
            account = uow.stripe.account(cmd.org_id)
        if account is None:
            raise Conflict(CANNOT_CHARGE)
        try:
            deps.payments.cancel_subscription(
                idempotency_key=cancel_subscription_key(cmd.org_id, membership.id),
                subscription_id=membership.subscription_id,
                account_id=account.account_id,
            )
        except PaymentRefused as exc:
            if exc.reason != "resource_missing":
                raise
            # Stripe no longer has the subscription (deleted there): it bills nothing, so cancel here too.
    with deps.uow() as uow:
        uow.memberships.apply(cmd.org_id, membership.id, StatusChange(MembershipStatus.CANCELLED, deps.clock.now()))
        done = uow.memberships.get(cmd.org_id, membership.id)
        uow.commit()
    return done


# --- the worker ----------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PauseLapsedMemberships(Command[int]):
    """Pause every past-due membership whose grace ran out (the worker, every minute); how many."""

    limit: int = 100


@handles(PauseLapsedMemberships)
def pause_lapsed_memberships(cmd: PauseLapsedMemberships, deps: Deps) -> int:
    """Each in its own transaction; the conditional UPDATE makes a repeat or a racing worker pause once."""
    now = deps.clock.now()
    with deps.uow() as uow:
        due = uow.memberships.lapsed(now, cmd.limit)
    paused = 0
    for org_id, membership_id in due:
        with deps.uow() as uow:
            if uow.memberships.pause(org_id, membership_id, now):
                paused += 1
            uow.commit()
    if paused:
        log.info("memberships paused after their grace: %d", paused)
    return paused


# --- Stripe's events -------------------------------------------------------------------------------------


def _ours(uow: UnitOfWork, meta: Mapping[str, Any], event: StripeEvent) -> Membership | None:
    """The membership `meta` names, if it is one of ours and the event came from that business's own
    connected account (else None: another kind's event, or a forged one — see `from_connected_account`)."""
    if meta.get("coachos_kind") != KIND:
        return None
    try:
        org_id, membership_id = OrgId(UUID(str(meta.get("org_id")))), UUID(str(meta.get("membership_id")))
        if not from_connected_account(uow, event, org_id):
            return None
        return uow.memberships.get(org_id, membership_id)
    except (ValueError, NotFound):
        log.warning("membership event names no membership of ours: event=%s type=%s", event.id, event.type)
        return None


def _same_subscription(uow: UnitOfWork, membership: Membership, subscription_id: str | None) -> bool:
    """Whether the event's subscription is the membership's (linking it when none is recorded yet)."""
    if subscription_id is None:
        return True
    if membership.subscription_id is None:
        return uow.memberships.link_subscription(membership.org_id, membership.id, subscription_id) or (
            uow.memberships.get(membership.org_id, membership.id).subscription_id == subscription_id
        )
    return membership.subscription_id == subscription_id


@on_stripe_event("checkout.session.completed")
def membership_checkout_completed(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """Record the subscription a membership's Checkout created."""
    del deps
    session = event.object
    if session.get("mode") != "subscription":
        return
    membership = _ours(uow, _mapping(session.get("metadata")), event)
    subscription = session.get("subscription")
    if isinstance(subscription, Mapping):
        subscription = subscription.get("id")
    if membership is None or not isinstance(subscription, str):
        return
    _same_subscription(uow, membership, stripe_id(subscription, "data.object.subscription"))


@on_stripe_event("invoice.paid", "invoice.payment_succeeded")
def membership_invoice_paid(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """Grant the paid period's credits once per invoice, record the sale once, and make the membership ACTIVE."""
    invoice = event.object
    membership = _ours(uow, subscription_metadata(invoice), event)
    if membership is None or not _same_subscription(uow, membership, invoice_subscription(invoice)):
        return
    org = uow.orgs.get(membership.org_id)
    plan = uow.memberships.plan(org.id, membership.plan_id)
    invoice_id = stripe_id(invoice.get("id"), "data.object.id")
    period = invoice_period(invoice) or (event.created, event.created + timedelta(days=_INTERVAL_DAYS[plan.interval]))
    transitions = _mapping(invoice.get("status_transitions"))
    paid_at = unix_time(transitions.get("paid_at")) or event.created
    paid = _paid(invoice, plan)
    package_id = PackageId(period_package_id(org.id, invoice_id))
    grant = PeriodGrant(org.id, membership.id, invoice_id, package_id, period[0], period[1])
    if uow.memberships.grant(grant):
        uow.packages.add(
            SessionPackage(
                id=package_id,
                org_id=org.id,
                client_id=membership.client_id,
                name=f"{plan.name} · {period_label(period[0], plan.interval, org.tz)}",
                total=plan.sessions,
                price=paid,
                purchased_at=min(paid_at, period[1] - timedelta(seconds=1)),
                expires_at=period[1],
                payment_state=PaymentState.PAID,
                payment_method=PaymentMethod.CARD,
                paid_at=paid_at,
                payment_ref=invoice_id,
            )
        )
        if _record_sale(uow, invoice, org, membership, plan, paid, paid_at, invoice_id, package_id) and event.account:
            learn_stripe_fee(
                uow,
                org_id=org.id,
                at=paid_at,
                sale_key=sale_key(package_id),
                payment_ref=invoice_payment_ref(invoice, invoice_id),
                account_id=event.account,
            )
    change = StatusChange(MembershipStatus.ACTIVE, event.created, period[0], period[1])
    if uow.memberships.apply(org.id, membership.id, change):
        uow.memberships.resume_credits(org.id, membership.id)


def _paid(invoice: Mapping[str, Any], plan: MembershipPlan) -> Money:
    amount, currency = invoice.get("amount_paid"), invoice.get("currency")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0 or not isinstance(currency, str):
        return plan.price
    return Money(amount, currency.upper())


def _record_sale(
    uow: UnitOfWork,
    invoice: Mapping[str, Any],
    org: Organization,
    membership: Membership,
    plan: MembershipPlan,
    paid: Money,
    paid_at: datetime,
    invoice_id: str,
    package_id: PackageId,
) -> bool:
    """The sale into deferred revenue; the platform's cut is the invoice's application fee when Stripe says it.

    Stripe's own fee is not on the invoice (it is on the balance transaction, which this event does not
    carry): the worker reads it (stripe_fees) and writes it apart. True if a sale was recorded.
    """
    if paid.amount_minor <= 0:
        return False  # a free period (a 100% coupon) moves no money
    fee = invoice.get("application_fee_amount")
    if isinstance(fee, bool) or not isinstance(fee, int) or not 0 <= fee <= paid.amount_minor:
        fee = ledger.platform_fee(paid, platform_fee_percent(uow, org.id)).amount_minor
    # Keyed by the period's package like any package sale, so its credits' revenue is recognised as
    # they are used and on expiry by the same code (package_sales); the package is one per invoice.
    key = sale_key(package_id)
    header = ledger.Header(
        id=uuid5(NAMESPACE_URL, f"coachos:ledger:{org.id}:{key}"),
        org_id=org.id,
        key=key,
        occurred_at=paid_at,
        source_id=invoice_id,
        memo=f"Membership: {plan.name}",
        client_id=membership.client_id,
        item=plan.name,
    )
    return uow.ledger.record(ledger.sale(header, paid, 0, fee, deferred=True))


def invoice_payment_ref(invoice: Mapping[str, Any], invoice_id: str) -> str:
    """The PaymentIntent that paid the invoice when the payload names it, else the invoice's id.

    Since API 2025-03-31 an invoice lists its payments (`payments.data[].payment.payment_intent`, an
    includable field webhooks may leave out); older versions had `payment_intent` on the invoice.
    With neither, the worker looks the payment up from the invoice id.
    """
    for item in _mapping(invoice.get("payments")).get("data") or []:
        entry = _mapping(item)
        intent = _mapping(entry.get("payment")).get("payment_intent")
        intent = intent.get("id") if isinstance(intent, Mapping) else intent
        if isinstance(intent, str) and entry.get("status") in (None, "paid"):
            return intent
    legacy = invoice.get("payment_intent")
    legacy = legacy.get("id") if isinstance(legacy, Mapping) else legacy
    return legacy if isinstance(legacy, str) else invoice_id


@on_stripe_event("invoice.payment_failed")
def membership_payment_failed(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """Past due with a grace period; tell the client once per attempt (Stripe retries by itself)."""
    invoice = event.object
    membership = _ours(uow, subscription_metadata(invoice), event)
    if membership is None or not _same_subscription(uow, membership, invoice_subscription(invoice)):
        return
    now = deps.clock.now()
    uow.memberships.start_grace(membership.org_id, membership.id, event.created, now + GRACE_PERIOD)
    current = uow.memberships.get(membership.org_id, membership.id)
    if current.status not in (MembershipStatus.PAST_DUE, MembershipStatus.PAUSED):
        return
    attempt = invoice.get("attempt_count")
    invoice_id = stripe_id(invoice.get("id"), "data.object.id")
    key = f"membership:{current.id}:payment-failed:{invoice_id}:{attempt if isinstance(attempt, int) else 0}"
    _tell_client(uow, deps, current, key, now)


def _tell_client(uow: UnitOfWork, deps: Deps, membership: Membership, key: str, now: datetime) -> None:
    org = uow.orgs.get(membership.org_id)
    client = uow.clients.get(org.id, membership.client_id)
    plan = uow.memberships.plan(org.id, membership.plan_id)
    grace = membership.grace_until or now + GRACE_PERIOD
    first = client.name.split()[0] if client.name.split() else client.name
    values = {
        "client_first_name": first,
        "client_name": client.name,
        "business": org.name,
        "membership": plan.name,
        "grace_until": when_text(grace, org.tz),
        "portal_link": deps.links.portal_sign_in(org.slug),
    }
    kind = TemplateKind.MEMBERSHIP_PAYMENT_FAILED
    for channel, to in ((MessageChannel.SMS, client.phone), (MessageChannel.EMAIL, client.email)):
        if not to:
            continue
        stored = uow.templates.get(org.id, kind, channel)
        rendered = render(stored.wording if stored is not None else default_wording(kind, channel), channel, values)
        uow.messages.add(
            outgoing(
                id=deps.ids.new_id(),
                org_id=org.id,
                key=f"{key}:{channel.value}",
                channel=channel,
                purpose=Purpose.TRANSACTIONAL,
                to=to,
                body=rendered.text,
                subject=rendered.subject,
                html=rendered.html,
                now=now,
                client_id=client.id,
                template=kind.value,
                quiet_hours=channel is MessageChannel.SMS,
            )
        )


@on_stripe_event("customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted")
def membership_subscription_changed(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """Mirror the subscription's status, newer events only; deleted is final.

    For `updated` the worker then fetches the subscription as it is now (`MembershipSubscriptionChanged`,
    consumer `membership_refresh`), so two updates delivered in the wrong order (or in the same second)
    end with what is current, without a call to Stripe inside the webhook's transaction.
    """
    sub = event.object
    membership = _ours(uow, _mapping(sub.get("metadata")), event)
    if membership is None:
        return
    sub_id = stripe_id(sub.get("id"), "data.object.id")
    if not _same_subscription(uow, membership, sub_id):
        return
    status = MembershipStatus.CANCELLED if event.type.endswith(".deleted") else status_from_stripe(sub.get("status"))
    start, end = subscription_period(sub)
    _apply(uow, membership, status, event.created, start, end)
    if event.type.endswith(".updated") and deps.payments is not None and event.account is not None:
        uow.emit(
            MembershipSubscriptionChanged(
                org_id=membership.org_id,
                occurred_at=event.created,
                actor="stripe",
                membership_id=membership.id,
                subscription_id=sub_id,
                account_id=event.account,
            )
        )


def _apply(
    uow: UnitOfWork,
    membership: Membership,
    status: MembershipStatus | None,
    at: datetime,
    start: datetime | None,
    end: datetime | None,
) -> None:
    if status is None or status is MembershipStatus.PENDING:
        return
    if status is MembershipStatus.PAST_DUE and membership.status is MembershipStatus.PAUSED:
        return  # Stripe still retrying a membership whose grace ran out: it stays paused
    applied = uow.memberships.apply(membership.org_id, membership.id, StatusChange(status, at, start, end))
    if applied and status is MembershipStatus.ACTIVE:
        uow.memberships.resume_credits(membership.org_id, membership.id)


#: The outbox consumer that fetches a changed subscription (see `refresh_subscription`).
REFRESH_CONSUMER = "membership_refresh"


def subscribe_memberships(relay: Relay) -> None:
    """Subscribe the worker's follow-up of subscription changes (the composition root calls this)."""
    relay.subscribe(REFRESH_CONSUMER, MembershipSubscriptionChanged, refresh_subscription)


def refresh_subscription(event: Event, deps: Deps) -> None:
    """Fetch the subscription from the coach's account as it is now and apply that, unless newer news came.

    Stamped with the time of the event that asked for it, so the same rule as the webhook holds: a
    newer event applied meanwhile wins (it asks for its own refresh), cancelled stays final, and a
    past-due never un-pauses. Stripe out of reach raises PaymentUnavailable: the relay tries again.
    """
    if not isinstance(event, MembershipSubscriptionChanged) or deps.payments is None:
        return
    try:
        now = deps.payments.retrieve_subscription(event.subscription_id, account_id=event.account_id)
    except PaymentRefused:
        return  # Stripe no longer has it (deleted): the deleted event says so by itself
    with deps.uow() as uow:
        membership = uow.memberships.get(event.org_id, event.membership_id)
        if membership.subscription_id != event.subscription_id:
            return
        start, end = unix_time(now.current_period_start), unix_time(now.current_period_end)
        _apply(uow, membership, status_from_stripe(now.status), event.occurred_at, start, end)
        uow.commit()


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
