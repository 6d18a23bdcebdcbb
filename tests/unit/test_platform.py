"""The coach's side of the platform: connecting Stripe, plans and fees, platform webhooks, the operator's report."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from coachos import CoachOS
from coachos.adapters.email import MemoryEmail
from coachos.adapters.memory import ImmediateTasks
from coachos.adapters.payments import MemoryPayments
from coachos.domain import ledger
from coachos.domain.errors import Conflict, ValidationError
from coachos.domain.ids import OrgId
from coachos.domain.money import Money
from coachos.domain.platform import OrgSubscription, replaces
from coachos.domain.usecases import (
    ConnectStripe,
    EndPlatformPlan,
    GetPaymentsSetup,
    OperatorRevenue,
    ReceiveStripeEvent,
    SubscribeToPlan,
)
from coachos.domain.usecases._fees import platform_fee_percent
from coachos.domain.usecases.platform import subscribe_platform
from coachos.ports.payments import SubscriptionState
from tests.helpers import World, drain, make_world
from tests.unit.test_stripe_events import CREATED, account_event, event_body

BACK = "https://coach.test/setup/payments"


@attrs.frozen
class Platform:
    """Coach OS with the payments fake and emails kept, beside a business."""

    app: CoachOS
    payments: MemoryPayments
    mail: MemoryEmail
    world: World


@pytest.fixture
def platform(app: CoachOS) -> Platform:
    """The test's `app` (memory here, SQL in tests/integration) with payments configured."""
    payments, mail = MemoryPayments(), MemoryEmail()
    built = CoachOS(attrs.evolve(app.deps, payments=payments, email=mail, tasks=ImmediateTasks(mail)))
    subscribe_platform(built.relay)  # as bootstrap does: the worker's follow-up fetch
    return Platform(built, payments, mail, make_world(built))


def fee_percent(p: Platform) -> Decimal:
    with p.app.deps.uow() as uow:
        return platform_fee_percent(uow, p.world.org.id)


def subscription(p: Platform) -> OrgSubscription | None:
    with p.app.deps.uow() as uow:
        return uow.platform.subscription(p.world.org.id)


def meta(p: Platform, plan: str = "pro", org_id: OrgId | None = None) -> dict[str, str]:
    return {"coachos_kind": "platform", "org_id": str(org_id or p.world.org.id), "plan": plan}


def sub_event(
    p: Platform, kind: str, status: str, *, sub_id: str = "sub_platform1", created: int = CREATED, plan: str = "pro"
) -> str:
    obj = {"id": sub_id, "object": "subscription", "status": status, "metadata": meta(p, plan)}
    obj["items"] = {"data": [{"current_period_end": created + 30 * 86400}]}  # type: ignore[assignment]
    return event_body(f"customer.subscription.{kind}", created=created, obj=obj)


def invoice_event(p: Platform, kind: str, invoice_id: str | None = None, amount: int = 4900, **extra: Any) -> str:
    """An invoice event of the business's Pro subscription (`invoice_id` defaults to one per business)."""
    obj = {
        "id": invoice_id or f"in_{p.world.org.id.hex}",
        "object": "invoice",
        "amount_paid": amount,
        "amount_due": amount,
        "currency": "usd",
        "parent": {"subscription_details": {"subscription": "sub_platform1", "metadata": meta(p)}},
    } | extra
    return event_body(kind, obj=obj)


def receive(p: Platform, body: str) -> None:
    p.app.execute(ReceiveStripeEvent(body=body))


class TestPlans:
    def test_a_business_on_no_plan_pays_the_starter_fee(self, platform: Platform) -> None:
        """With no subscription the default plan (Starter, 5 %) sets the platform fee."""
        assert fee_percent(platform) == Decimal("5")
        setup = platform.app.execute(GetPaymentsSetup(org_id=platform.world.org.id))
        assert setup.plan is not None
        assert setup.plan.key == "starter"
        assert [p.key for p in setup.plans] == ["starter", "pro"]

    def test_a_live_pro_subscription_sets_its_fee(self, platform: Platform) -> None:
        """An active Pro subscription makes the fee 2 %; cancelling it brings back 5 %."""
        receive(platform, sub_event(platform, "created", "active"))
        assert fee_percent(platform) == Decimal("2")
        receive(platform, sub_event(platform, "deleted", "canceled", created=CREATED + 60))
        assert fee_percent(platform) == Decimal("5")

    def test_a_plans_fee_rounds_half_a_cent_up(self) -> None:
        """Half a cent of fee rounds up: 2 % of 25.25 is 0.505 → 0.51, 5 % of 0.10 is 0.005 → 0.01."""
        assert ledger.platform_fee(Money(2525, "USD"), Decimal("2")) == Money(51, "USD")
        assert ledger.platform_fee(Money(10, "USD"), Decimal("5")) == Money(1, "USD")
        assert ledger.platform_fee(Money(2524, "USD"), Decimal("2")) == Money(50, "USD")


class TestSubscriptionOrder:
    def test_an_old_update_after_deleted_leaves_it_cancelled(self, platform: Platform) -> None:
        """`updated` (active) created before `deleted` but delivered after it leaves the subscription cancelled."""
        receive(platform, sub_event(platform, "created", "active", created=CREATED))
        receive(platform, sub_event(platform, "deleted", "canceled", created=CREATED + 120))
        receive(platform, sub_event(platform, "updated", "active", created=CREATED + 60))
        found = subscription(platform)
        assert found is not None
        assert found.status == "canceled"

    def test_deleted_is_final_even_against_a_newer_event(self, platform: Platform) -> None:
        """Nothing about the same subscription revives it once cancelled, however new."""
        receive(platform, sub_event(platform, "deleted", "canceled", created=CREATED))
        receive(platform, sub_event(platform, "updated", "active", created=CREATED + 600))
        found = subscription(platform)
        assert found is not None
        assert found.status == "canceled"

    def test_a_late_deleted_cancels_even_after_newer_updates(self, platform: Platform) -> None:
        """`deleted` older than the stored `updated` still cancels: cancelling is final whenever it arrives."""
        receive(platform, sub_event(platform, "updated", "active", created=CREATED + 600))
        receive(platform, sub_event(platform, "deleted", "canceled", created=CREATED))
        found = subscription(platform)
        assert found is not None
        assert found.status == "canceled"

    def test_an_older_event_does_not_replace_a_newer_one(self, platform: Platform) -> None:
        """`past_due` from 10:01 stays when `active` from 10:00 arrives after it."""
        receive(platform, sub_event(platform, "updated", "past_due", created=CREATED + 60))
        receive(platform, sub_event(platform, "updated", "active", created=CREATED))
        found = subscription(platform)
        assert found is not None
        assert found.status == "past_due"

    def test_a_new_subscription_replaces_a_cancelled_one(self, platform: Platform) -> None:
        """Subscribing again after cancelling stores the new subscription."""
        receive(platform, sub_event(platform, "deleted", "canceled", created=CREATED + 600))
        receive(platform, sub_event(platform, "created", "active", sub_id="sub_platform2", created=CREATED + 60))
        found = subscription(platform)
        assert found is not None
        assert (found.subscription_id, found.status) == ("sub_platform2", "active")

    def test_a_tie_is_settled_by_what_stripe_holds_now(self, platform: Platform) -> None:
        """`updated` (active) then `created` (incomplete) in one second: Stripe's current state (active) stays."""
        platform.payments.subscriptions["sub_platform1"] = SubscriptionState("sub_platform1", "active", None, None)
        receive(platform, sub_event(platform, "updated", "active", created=CREATED))
        receive(platform, sub_event(platform, "created", "incomplete", created=CREATED))
        found = subscription(platform)
        assert found is not None
        assert found.status == "active"
        platform.payments.subscriptions.clear()
        receive(platform, sub_event(platform, "updated", "past_due", created=CREATED + 1))
        found = subscription(platform)
        assert found is not None
        assert found.status == "past_due"  # Stripe has no such subscription: the event's own status is used

    def test_fetching_stores_the_current_status_not_the_events(self, platform: Platform) -> None:
        """An old `created` (incomplete) arriving first: the webhook calls no one and stores the event's status;
        the worker then fetches the subscription and stores the status Stripe has now (active)."""
        platform.payments.subscriptions["sub_platform1"] = SubscriptionState("sub_platform1", "active", None, None)
        receive(platform, sub_event(platform, "created", "incomplete", created=CREATED))
        assert platform.payments.calls == []
        found = subscription(platform)
        assert found is not None
        assert found.status == "incomplete"
        drain(platform.app)
        found = subscription(platform)
        assert found is not None
        assert found.status == "active"
        assert {"subscription_id": "sub_platform1"} in [c.params for c in platform.payments.calls]

    def test_a_deleted_arriving_before_the_fetch_stays_canceled(self, platform: Platform) -> None:
        """Deleted is final even if the worker's fetch (queued by an earlier update) still finds it active."""
        platform.payments.subscriptions["sub_platform1"] = SubscriptionState("sub_platform1", "active", None, None)
        receive(platform, sub_event(platform, "updated", "active", created=CREATED))
        receive(platform, sub_event(platform, "deleted", "canceled", created=CREATED + 5))
        drain(platform.app)
        found = subscription(platform)
        assert found is not None
        assert found.status == "canceled"

    def test_the_rule_itself(self) -> None:
        """`replaces`: same id only newer and never after cancel; another id only live and newer (or stored dead)."""
        at = datetime(2026, 3, 1, tzinfo=UTC)
        org = OrgId(uuid.uuid4())

        def sub(sid: str, status: str, minutes: int) -> OrgSubscription:
            return OrgSubscription(
                org_id=org,
                plan_key="pro",
                subscription_id=sid,
                status=status,
                current_period_end=None,
                status_at=at + timedelta(minutes=minutes),
            )

        assert replaces(None, sub("sub_a", "incomplete", 0))
        assert replaces(sub("sub_a", "active", 0), sub("sub_a", "past_due", 1))
        assert not replaces(sub("sub_a", "active", 1), sub("sub_a", "past_due", 1))
        assert not replaces(sub("sub_a", "canceled", 0), sub("sub_a", "active", 5))
        assert replaces(sub("sub_a", "active", 5), sub("sub_a", "canceled", 0))
        assert not replaces(sub("sub_a", "active", 5), sub("sub_b", "active", 1))
        assert not replaces(sub("sub_a", "active", 0), sub("sub_b", "canceled", 5))
        assert replaces(sub("sub_a", "canceled", 5), sub("sub_b", "active", 1))


class TestPlatformEvents:
    def test_checkout_completed_makes_the_plan_active(self, platform: Platform) -> None:
        """A completed plan Checkout (platform event, kind platform) stores the subscription as active on Pro."""
        obj = {"id": "cs_1", "object": "checkout.session", "mode": "subscription", "status": "complete"}
        obj |= {"subscription": "sub_platform1", "metadata": meta(platform)}  # type: ignore[dict-item]
        receive(platform, event_body("checkout.session.completed", obj=obj))
        found = subscription(platform)
        assert found is not None
        assert (found.plan_key, found.status, found.subscription_id) == (
            "pro",
            "active",
            "sub_platform1",
        )

    def test_connect_events_and_other_kinds_are_ignored(self, platform: Platform) -> None:
        """The same object from a connected account, or with another kind, changes no plan."""
        obj = {"id": "sub_x1", "object": "subscription", "status": "active", "metadata": meta(platform)}
        receive(platform, event_body("customer.subscription.created", account="acct_someone1", obj=obj))
        other = obj | {"metadata": meta(platform) | {"coachos_kind": "membership"}}
        receive(platform, event_body("customer.subscription.created", obj=other))
        assert subscription(platform) is None

    def test_an_unknown_business_or_plan_is_only_kept(self, platform: Platform) -> None:
        """Metadata naming no business of ours, or no plan, is acknowledged and changes nothing."""
        obj = {"id": "sub_x2", "object": "subscription", "status": "active"}
        receive(platform, event_body("customer.subscription.created", obj=obj | {"metadata": meta(platform, "gold")}))
        stranger = meta(platform, org_id=OrgId(uuid.uuid4()))
        receive(platform, event_body("customer.subscription.created", obj=obj | {"metadata": stranger}))
        receive(
            platform,
            event_body("customer.subscription.created", obj=obj | {"metadata": meta(platform) | {"org_id": "x"}}),
        )
        assert subscription(platform) is None

    def test_invoice_paid_and_payment_succeeded_keep_one_payment(self, platform: Platform) -> None:
        """`invoice.paid` and `invoice.payment_succeeded` for one invoice (and a redelivery) keep it once."""
        receive(platform, invoice_event(platform, "invoice.paid"))
        receive(platform, invoice_event(platform, "invoice.payment_succeeded"))
        receive(platform, invoice_event(platform, "invoice.paid"))
        with platform.app.deps.uow() as uow:
            kept = uow.platform.invoices(platform.world.org.id)
        assert [(i.invoice_id, i.amount) for i in kept] == [(f"in_{platform.world.org.id.hex}", Money(4900, "USD"))]

    def test_a_failed_payment_emails_the_coach_once(self, platform: Platform) -> None:
        """Two `invoice.payment_failed` events for one invoice send one email; another invoice sends another."""
        receive(platform, invoice_event(platform, "invoice.payment_failed"))
        receive(platform, invoice_event(platform, "invoice.payment_failed"))
        assert [m.to for m in platform.mail.sent] == [platform.world.coach.email]
        assert "49.00 USD" in platform.mail.sent[0].text
        receive(
            platform,
            invoice_event(platform, "invoice.payment_failed", invoice_id=f"in_second{platform.world.org.id.hex}"),
        )
        assert len(platform.mail.sent) == 2

    def test_a_failed_then_paid_invoice_is_kept_as_paid(self, platform: Platform) -> None:
        """A retry that succeeds after a failure is recorded as the invoice's payment."""
        receive(platform, invoice_event(platform, "invoice.payment_failed"))
        receive(platform, invoice_event(platform, "invoice.paid"))
        with platform.app.deps.uow() as uow:
            assert len(uow.platform.invoices(platform.world.org.id)) == 1


class TestConnectStripe:
    def test_without_payments_configured_it_is_refused(self, app: CoachOS, world: World) -> None:
        """With no Stripe key (payments None) connecting is a Conflict saying so, and nothing is linked."""
        with pytest.raises(Conflict, match="COACHOS_STRIPE_SECRET_KEY"):
            app.execute(ConnectStripe(org_id=world.org.id, actor=world.me, return_url=BACK, refresh_url=BACK))
        setup = app.execute(GetPaymentsSetup(org_id=world.org.id))
        assert (setup.configured, setup.state) == (False, "not_connected")

    def test_connecting_links_one_account_and_answers_the_link(self, platform: Platform) -> None:
        """Two visits create one account (key from the org), link it once, and each gets an onboarding link."""
        w = platform.world
        for _ in range(2):
            url = platform.app.execute(
                ConnectStripe(org_id=w.org.id, actor=w.me, return_url=BACK + "?saved=connected", refresh_url=BACK)
            )
            assert url == BACK + "?saved=connected"
        accounts = [c for c in platform.payments.calls if c.method == "account"]
        assert [c.idempotency_key for c in accounts] == [f"connect:{w.org.id}:account"]
        links = [c for c in platform.payments.calls if c.method == "account_link"]
        assert len({c.idempotency_key for c in links}) == 2
        setup = platform.app.execute(GetPaymentsSetup(org_id=w.org.id))
        assert setup.state == "details_missing"
        assert setup.account is not None
        assert setup.account.account_id == f"acct_memory1x{w.org.id.hex}"

    def test_charge_account_follows_account_updated(self, platform: Platform) -> None:
        """`charge_account` is None until Stripe says the account can take charges, then its id."""
        w = platform.world
        platform.app.execute(ConnectStripe(org_id=w.org.id, actor=w.me, return_url=BACK, refresh_url=BACK))
        with platform.app.deps.uow() as uow:
            assert uow.stripe.charge_account(w.org.id) is None
        account = f"acct_memory1x{w.org.id.hex}"
        receive(platform, account_event(account, charges=True))
        with platform.app.deps.uow() as uow:
            assert uow.stripe.charge_account(w.org.id) == account
        assert platform.app.execute(GetPaymentsSetup(org_id=w.org.id)).state == "can_take_charges"


class TestSubscribeToPlan:
    def test_a_paid_plan_opens_a_platform_checkout(self, platform: Platform) -> None:
        """Pro opens a Checkout on the platform (no connected account, no fee) with our metadata and key."""
        w = platform.world
        url = platform.app.execute(
            SubscribeToPlan(org_id=w.org.id, actor=w.me, plan_key="pro", success_url=BACK + "?ok", cancel_url=BACK)
        )
        assert url == BACK + "?ok"
        (call,) = platform.payments.calls
        assert call.method == "platform_subscription_checkout"
        assert call.idempotency_key.startswith(f"platform:{w.org.id}:pro:")
        assert call.params["price"] == Money(4900, "USD")
        assert call.params["metadata"] == {"coachos_kind": "platform", "org_id": str(w.org.id), "plan": "pro"}
        assert call.params["customer_email"] == w.coach.email
        assert "account_id" not in call.params

    @pytest.mark.parametrize("plan", ["starter", "gold", ""])
    def test_a_free_or_unknown_plan_is_refused(self, platform: Platform, plan: str) -> None:
        """The free plan and a plan that does not exist are refused and Stripe is not called."""
        w = platform.world
        with pytest.raises(ValidationError):
            platform.app.execute(
                SubscribeToPlan(org_id=w.org.id, actor=w.me, plan_key=plan, success_url=BACK, cancel_url=BACK)
            )
        assert platform.payments.calls == []

    def test_the_plan_already_held_is_refused(self, platform: Platform) -> None:
        """A business already on a live Pro is told so instead of paying twice."""
        receive(platform, sub_event(platform, "created", "active"))
        w = platform.world
        with pytest.raises(Conflict, match="already on Pro"):
            platform.app.execute(
                SubscribeToPlan(org_id=w.org.id, actor=w.me, plan_key="pro", success_url=BACK, cancel_url=BACK)
            )


class TestEndPlatformPlan:
    def test_ending_pro_cancels_at_the_periods_end_once(self, platform: Platform) -> None:
        """Ending Pro cancels at the period's end under a key from our ids; asking twice makes one Stripe change."""
        receive(platform, sub_event(platform, "created", "active"))
        w = platform.world
        for _ in range(2):
            platform.app.execute(EndPlatformPlan(org_id=w.org.id, actor=w.me))
        cancels = [c for c in platform.payments.calls if c.method == "cancel_platform_subscription"]
        assert {c.idempotency_key for c in cancels} == {f"platform:{w.org.id}:cancel:sub_platform1"}
        assert len([k for k in platform.payments.created if ":cancel:" in k]) == 1
        found = subscription(platform)
        assert found is not None
        assert found.status == "active"  # until Stripe's `deleted` at the period's end

    def test_on_the_free_plan_there_is_nothing_to_end(self, platform: Platform) -> None:
        """A business on Starter is told there is nothing to end, and Stripe is not called."""
        w = platform.world
        with pytest.raises(Conflict, match="nothing to end"):
            platform.app.execute(EndPlatformPlan(org_id=w.org.id, actor=w.me))
        assert platform.payments.calls == []


class TestOperatorRevenue:
    def test_mrr_plans_and_fee_income_across_businesses(self, platform: Platform) -> None:
        """MRR sums active plans; plans count every business; fee income is the ledger's platform fees by month."""
        before = platform.app.execute(OperatorRevenue())
        other = make_world(platform.app)
        receive(platform, sub_event(platform, "created", "active"))
        for w, gross, cut, month in ((platform.world, 10000, 200, 3), (other, 5050, 253, 3), (other, 1000, 50, 4)):
            header = ledger.Header(
                id=uuid.uuid4(),
                org_id=w.org.id,
                key=f"sale:test:{uuid.uuid4()}",
                occurred_at=datetime(2026, month, 2, 12, tzinfo=UTC),
                source_id="test",
            )
            with platform.app.deps.uow() as uow:
                assert uow.ledger.record(ledger.sale(header, Money(gross, "USD"), 0, cut))
                uow.commit()
        report = platform.app.execute(OperatorRevenue())
        usd = {m.currency: m for m in report.mrr}["USD"]
        old_usd = {m.currency: m for m in before.mrr}.get("USD", Money(0, "USD"))
        assert usd == old_usd + Money(4900, "USD")
        counts = {c.plan_key: c.orgs for c in report.plans}
        old = {c.plan_key: c.orgs for c in before.plans}
        assert counts["pro"] == old.get("pro", 0) + 1
        assert counts["starter"] == old.get("starter", 0)  # `other` joined Starter, ours left it
        fees = {(f.month, f.amount.currency): f.amount.amount_minor for f in report.fees}
        old_fees = {(f.month, f.amount.currency): f.amount.amount_minor for f in before.fees}
        assert fees[("2026-03", "USD")] - old_fees.get(("2026-03", "USD"), 0) == 453
        assert fees[("2026-04", "USD")] - old_fees.get(("2026-04", "USD"), 0) == 50
