"""Memberships: plans, joining through Checkout, and what Stripe's subscription and invoice events do."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from coachos import CoachOS, Conflict
from coachos.adapters.clock import FixedClock
from coachos.adapters.payments import MemoryPayments
from coachos.domain.catalog import PaymentMethod, PaymentState, SessionPackage
from coachos.domain.errors import NoCreditsLeft
from coachos.domain.ids import Actor, ClientId
from coachos.domain.memberships import GRACE_PERIOD, Membership, MembershipPlan, MembershipStatus, period_package_id
from coachos.domain.money import Money
from coachos.domain.usecases import (
    CancelMembership,
    ClientMemberships,
    CreateMembershipPlan,
    PauseLapsedMemberships,
    ReceiveStripeEvent,
    StartMembershipCheckout,
    StripeEventReceived,
)
from coachos.domain.usecases.memberships import subscribe_memberships
from coachos.domain.usecases.package_sales import sale_key
from coachos.domain.usecases.stripe_fees import subscribe_stripe_fees
from coachos.ports.payments import SubscriptionState
from tests.helpers import World, connected_account, drain

#: 1 March 2026 09:00 UTC: when the tests' events happened (the clock is at 2 March noon).
CREATED = int(datetime(2026, 3, 1, 9, 0, tzinfo=UTC).timestamp())
PERIOD_START = int(datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp())
PERIOD_END = int(datetime(2026, 4, 1, 12, 0, tzinfo=UTC).timestamp())


_OWN = "own"


def _owner_account(obj: dict[str, Any]) -> str | None:
    """The connected account of the business the object's metadata names (memberships are direct charges)."""
    parent = obj.get("parent") or {}
    for meta in (
        obj.get("metadata"),
        (parent.get("subscription_details") or {}).get("metadata"),
        (obj.get("subscription_details") or {}).get("metadata"),
    ):
        if isinstance(meta, dict) and meta.get("org_id"):
            try:
                return connected_account(uuid.UUID(str(meta["org_id"])))
            except ValueError:
                return None
    return None


def event(
    kind: str,
    obj: dict[str, Any],
    *,
    created: int = CREATED,
    event_id: str | None = None,
    account: str | None = _OWN,
) -> str:
    """A Stripe event as Stripe sends it: memberships are direct charges, so from the connected account of
    the business the metadata names unless `account` says otherwise."""
    return json.dumps(
        {
            "id": event_id or "evt_" + uuid.uuid4().hex,
            "object": "event",
            "api_version": "2026-10-28.endive",
            "type": kind,
            "account": _owner_account(obj) if account == _OWN else account,
            "created": created,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj},
        }
    )


@attrs.frozen
class Member:
    """A client's membership of a plan, with the Stripe ids the tests' events use."""

    world: World
    plan: MembershipPlan
    membership_id: uuid.UUID
    subscription: str

    @property
    def metadata(self) -> dict[str, str]:
        return {
            "coachos_kind": "membership",
            "org_id": str(self.world.org.id),
            "membership_id": str(self.membership_id),
            "plan_id": str(self.plan.id),
        }

    def iid(self, name: str) -> str:
        """A Stripe invoice id unique to this membership (tests share databases), from a short name."""
        return f"{name}{self.subscription[4:16]}"

    def invoice(
        self,
        invoice_id: str,
        *,
        amount: int = 12000,
        attempt: int = 1,
        start: int = PERIOD_START,
        end: int = PERIOD_END,
    ) -> dict[str, Any]:
        """An invoice of the subscription as API 2025-03-31 and later shape it (`parent.subscription_details`)."""
        return {
            "id": self.iid(invoice_id),
            "object": "invoice",
            "amount_paid": amount,
            "amount_due": amount,
            "currency": "usd",
            "attempt_count": attempt,
            "customer_email": "jordan@private.test",
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": self.subscription, "metadata": self.metadata},
            },
            "lines": {"data": [{"period": {"start": start, "end": end}}]},
            "period_start": start - 86400,
            "period_end": start,
            "status_transitions": {"paid_at": CREATED},
        }

    def subscription_obj(self, status: str) -> dict[str, Any]:
        """The subscription as a customer.subscription.* event carries it."""
        return {
            "id": self.subscription,
            "object": "subscription",
            "status": status,
            "metadata": self.metadata,
            "items": {"data": [{"current_period_start": PERIOD_START, "current_period_end": PERIOD_END}]},
        }


@pytest.fixture
def payments() -> MemoryPayments:
    """The recording payments fake."""
    return MemoryPayments()


@pytest.fixture
def paying(app: CoachOS, payments: MemoryPayments) -> Iterator[CoachOS]:
    """The test's Coach OS with card payments on (the recording fake)."""
    with CoachOS(attrs.evolve(app.deps, payments=payments)) as built:
        subscribe_memberships(built.relay)  # as bootstrap does: the worker's follow-ups
        subscribe_stripe_fees(built.relay)
        yield built


def make_plan(app: CoachOS, world: World, *, sessions: int = 8, unlimited: bool = False) -> MembershipPlan:
    return app.execute(
        CreateMembershipPlan(
            org_id=world.org.id,
            actor=Actor("coach", world.coach.id),
            name="Monthly 8",
            price=Money(12000, "USD"),
            sessions=sessions,
            unlimited=unlimited,
        )
    )


def can_charge(app: CoachOS, world: World, clock: FixedClock, *, charges: bool = True) -> str:
    """Connect the business's Stripe account, able to take charges when `charges`."""
    account = connected_account(world.org.id)
    with app.deps.uow() as uow:
        if uow.stripe.account(world.org.id) is None:
            uow.stripe.link_account(world.org.id, account, clock.now())
            uow.commit()
    receive(
        app,
        event(
            "account.updated",
            {"id": account, "object": "account", "charges_enabled": charges, "details_submitted": charges},
            account=account,
        ),
    )
    return account


def receive(app: CoachOS, body: str) -> StripeEventReceived:
    return app.execute(ReceiveStripeEvent(body=body))


def join(
    app: CoachOS,
    world: World,
    clock: FixedClock,
    *,
    sessions: int = 8,
    unlimited: bool = False,
    client_id: ClientId | None = None,
) -> Member:
    """A membership of the world's client (or `client_id`) linked to a fresh subscription id, as after Checkout."""
    plan = make_plan(app, world, sessions=sessions, unlimited=unlimited)
    membership = Membership(
        id=uuid.uuid4(),
        org_id=world.org.id,
        client_id=client_id or world.client.id,
        plan_id=plan.id,
        status=MembershipStatus.PENDING,
        created_at=clock.now(),
    )
    with app.deps.uow() as uow:
        uow.memberships.add(membership)
        if uow.stripe.account(world.org.id) is None:  # its Stripe objects live on the business's account
            uow.stripe.link_account(world.org.id, connected_account(world.org.id), clock.now())
        uow.commit()
    member = Member(world, plan, membership.id, "sub_" + uuid.uuid4().hex[:20])
    session = {
        "id": "cs_" + uuid.uuid4().hex[:20],
        "object": "checkout.session",
        "mode": "subscription",
        "subscription": member.subscription,
        "metadata": member.metadata,
    }
    receive(app, event("checkout.session.completed", session))
    return member


def membership(app: CoachOS, member: Member) -> Membership:
    with app.deps.uow() as uow:
        return uow.memberships.get(member.world.org.id, member.membership_id)


def period_packages(app: CoachOS, member: Member) -> list[SessionPackage]:
    with app.deps.uow() as uow:
        return [
            p
            for p in uow.packages.for_client(member.world.org.id, member.world.client.id)
            if p.id != member.world.package.id
        ]


def sales(app: CoachOS, member: Member, invoice_id: str) -> int:
    with app.deps.uow() as uow:
        return sum(
            1
            for tx in uow.ledger.transactions(member.world.org.id)
            if tx.key == sale_key(period_package_id(member.world.org.id, member.iid(invoice_id)))
        )


class TestPlans:
    def test_a_plan_is_kept_with_its_price_and_sessions(self, app: CoachOS, world: World) -> None:
        """A new plan is stored active, with its price per month and sessions per period."""
        plan = make_plan(app, world)
        with app.deps.uow() as uow:
            assert uow.memberships.plans(world.org.id) == [plan]
        assert plan.active
        assert plan.describe == "8 sessions a month"

    def test_an_unlimited_plan_describes_its_cap(self, app: CoachOS, world: World) -> None:
        """An unlimited plan names the most sessions a period allows."""
        assert make_plan(app, world, sessions=20, unlimited=True).describe == "Unlimited sessions (up to 20) a month"

    def test_a_price_in_another_currency_is_refused(self, app: CoachOS, world: World) -> None:
        """A plan priced in a currency the business does not use is refused and nothing is stored."""
        with pytest.raises(Exception, match="USD"):
            app.execute(
                CreateMembershipPlan(
                    org_id=world.org.id,
                    actor=Actor("coach", world.coach.id),
                    name="Monthly",
                    price=Money(12000, "EUR"),
                    sessions=4,
                )
            )
        with app.deps.uow() as uow:
            assert uow.memberships.plans(world.org.id) == []


class TestCheckout:
    def _start(self, app: CoachOS, world: World, plan: MembershipPlan) -> Any:
        return app.execute(
            StartMembershipCheckout(
                org_id=world.org.id,
                client_id=world.client.id,
                plan_id=plan.id,
                success_url="https://coach.test/c/ok",
                cancel_url="https://coach.test/c/no",
            )
        )

    def test_checkout_carries_our_ids_and_the_platform_fee(
        self, paying: CoachOS, world: World, clock: FixedClock, payments: MemoryPayments
    ) -> None:
        """Joining opens a subscription Checkout on the business's account, metadata naming the membership."""
        account = can_charge(paying, world, clock)
        plan = make_plan(paying, world)
        started = self._start(paying, world, plan)
        call = payments.calls[-1]
        assert call.method == "subscription_checkout"
        assert call.params["account_id"] == account
        assert call.params["price"] == Money(12000, "USD")
        assert call.params["interval"] == "month"
        assert call.params["application_fee_percent"] == Decimal("5")
        assert call.params["metadata"] == {
            "coachos_kind": "membership",
            "org_id": str(world.org.id),
            "membership_id": str(started.membership_id),
            "plan_id": str(plan.id),
            "client_id": str(world.client.id),
        }
        assert call.idempotency_key.startswith(f"subscription:{world.org.id}:{started.membership_id}:")
        assert started.url == "https://coach.test/c/ok"

    def test_starting_again_reuses_the_pending_membership(
        self, paying: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """A client who abandons Checkout and starts again has one pending membership, not two."""
        can_charge(paying, world, clock)
        plan = make_plan(paying, world)
        first, again = self._start(paying, world, plan), self._start(paying, world, plan)
        assert first.membership_id == again.membership_id

    def test_a_business_that_cannot_take_charges_is_refused(
        self, paying: CoachOS, world: World, clock: FixedClock, payments: MemoryPayments
    ) -> None:
        """Without a Stripe account able to take charges, joining is refused and Stripe is not called."""
        can_charge(paying, world, clock, charges=False)
        with pytest.raises(Conflict, match="cannot take card payments"):
            self._start(paying, world, make_plan(paying, world))
        assert payments.calls == []

    def test_without_card_payments_joining_is_refused(self, app: CoachOS, world: World) -> None:
        """With no payment provider configured, joining is refused clearly."""
        with pytest.raises(Conflict, match="not set up"):
            self._start(app, world, make_plan(app, world))


class TestPaidInvoice:
    def test_a_paid_invoice_grants_the_period_once(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """invoice.paid grants a paid card package of N sessions expiring at the period's end, and one sale."""
        member = join(app, world, clock)
        receive(app, event("invoice.paid", member.invoice("in_001")))
        [package] = period_packages(app, member)
        assert package.name == "Monthly 8 · Mar 2026"
        assert package.total == 8
        assert package.payment_state is PaymentState.PAID
        assert package.payment_method is PaymentMethod.CARD
        assert package.expires_at == datetime.fromtimestamp(PERIOD_END, UTC)
        assert package.payment_ref == member.iid("in_001")
        assert sales(app, member, "in_001") == 1
        now = membership(app, member)
        assert now.status is MembershipStatus.ACTIVE
        assert now.current_period_end == datetime.fromtimestamp(PERIOD_END, UTC)

    def test_the_twin_event_and_redeliveries_grant_nothing_more(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """invoice.paid, its redelivery and invoice.payment_succeeded for one invoice give one package and one sale."""
        member = join(app, world, clock)
        paid = event("invoice.paid", member.invoice("in_002"))
        receive(app, paid)
        receive(app, paid)
        receive(app, event("invoice.payment_succeeded", member.invoice("in_002")))
        assert len(period_packages(app, member)) == 1
        assert sales(app, member, "in_002") == 1

    def test_the_sale_is_deferred_revenue_less_the_platform_fee(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """The sale credits deferred revenue with the gross; the platform takes 5%, Stripe's fee is not known (0)."""
        member = join(app, world, clock)
        receive(app, event("invoice.paid", member.invoice("in_003", amount=12345)))
        with app.deps.uow() as uow:
            [tx] = [
                t
                for t in uow.ledger.transactions(world.org.id)
                if t.key == sale_key(period_package_id(world.org.id, member.iid("in_003")))
            ]
        lines = {e.account.value: e.amount_minor for e in tx.entries}
        assert lines == {"stripe_balance": 11728, "platform_fees": 617, "deferred_revenue": -12345}
        assert (tx.client_id, tx.item) == (world.client.id, "Monthly 8")

    def test_an_unlimited_plan_grants_its_cap(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """An unlimited plan's period package holds the cap."""
        member = join(app, world, clock, sessions=20, unlimited=True)
        receive(app, event("invoice.paid", member.invoice("in_004")))
        assert [p.total for p in period_packages(app, member)] == [20]

    def test_another_kinds_invoice_is_ignored(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """An invoice whose subscription is not a membership's grants nothing."""
        member = join(app, world, clock)
        invoice = member.invoice("in_005")
        invoice["parent"]["subscription_details"]["metadata"] = {"coachos_kind": "platform"}
        assert receive(app, event("invoice.paid", invoice)).handled
        assert period_packages(app, member) == []

    def test_an_older_api_shape_is_read_too(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """An invoice with `subscription_details` and `subscription` on itself (before 2025-03-31) grants too."""
        member = join(app, world, clock)
        invoice = member.invoice("in_006")
        details = invoice.pop("parent")["subscription_details"]
        invoice |= {"subscription": details["subscription"], "subscription_details": {"metadata": details["metadata"]}}
        receive(app, event("invoice.paid", invoice))
        assert len(period_packages(app, member)) == 1


class TestForgedEvents:
    """Memberships are direct charges: their events come from the coach's own account, which the coach controls."""

    def test_an_invoice_from_another_account_grants_nothing(
        self, paying: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """An invoice naming this business's membership but sent from another account (or the platform's) is
        kept, acknowledged and ignored: no credits, no sale."""
        member = join(paying, world, clock)
        for account in ("acct_forger000000001", None):
            assert receive(paying, event("invoice.paid", member.invoice("in_f01"), account=account)).new
        assert period_packages(paying, member) == []
        assert sales(paying, member, "in_f01") == 0
        assert membership(paying, member).status is MembershipStatus.PENDING

    def test_a_forged_deletion_or_failure_changes_nothing(
        self, paying: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """Another account cannot cancel a membership or start its grace."""
        member = join(paying, world, clock)
        receive(paying, event("invoice.paid", member.invoice("in_f02")))
        forged = "acct_forger000000002"
        receive(paying, event("customer.subscription.deleted", member.subscription_obj("canceled"), account=forged))
        receive(paying, event("invoice.payment_failed", member.invoice("in_f03"), account=forged))
        assert membership(paying, member).status is MembershipStatus.ACTIVE


class TestStripeFeeOnInvoices:
    def test_the_worker_writes_stripes_fee_on_a_paid_period(
        self, paying: CoachOS, world: World, clock: FixedClock, payments: MemoryPayments
    ) -> None:
        """The invoice's PaymentIntent (from `payments` in the basil shape) is read on the coach's account and
        its fee written once under the period package's key."""
        member = join(paying, world, clock)
        invoice = member.invoice("in_fee1") | {
            "payments": {
                "object": "list",
                "data": [{"status": "paid", "payment": {"type": "payment_intent", "payment_intent": "pi_fee1"}}],
            }
        }
        receive(paying, event("invoice.paid", invoice))
        payments.fees["pi_fee1"] = Money(378, "USD")
        drain(paying)
        drain(paying)
        key = "stripe_fee:" + sale_key(period_package_id(world.org.id, member.iid("in_fee1"))).removeprefix("sale:")
        with paying.deps.uow() as uow:
            fee = uow.ledger.by_key(world.org.id, key)
        assert fee is not None
        assert sorted(e.amount_minor for e in fee.entries) == [-378, 378]
        asked = [c.params for c in payments.calls if c.method == "payment_fee"]
        assert {"payment_ref": "pi_fee1", "account_id": connected_account(world.org.id)} in asked

    def test_an_older_api_shapes_payment_intent_is_used(
        self, paying: CoachOS, world: World, clock: FixedClock, payments: MemoryPayments
    ) -> None:
        """Before API 2025-03-31 the invoice named its PaymentIntent itself (`payment_intent`)."""
        member = join(paying, world, clock)
        receive(paying, event("invoice.paid", member.invoice("in_fee3") | {"payment_intent": "pi_old3"}))
        payments.fees["pi_old3"] = Money(299, "USD")
        drain(paying)
        assert "pi_old3" in [c.params["payment_ref"] for c in payments.calls if c.method == "payment_fee"]

    def test_a_free_period_asks_for_no_fee(
        self, paying: CoachOS, world: World, clock: FixedClock, payments: MemoryPayments
    ) -> None:
        """A period paid 0 (a 100% coupon) records no sale, so there is no Stripe fee to ask for."""
        member = join(paying, world, clock)
        receive(paying, event("invoice.paid", member.invoice("in_fee4", amount=0)))
        drain(paying)
        assert member.iid("in_fee4") not in [
            c.params["payment_ref"] for c in payments.calls if c.method == "payment_fee"
        ]

    def test_without_a_payment_in_the_payload_the_invoice_is_asked_for(
        self, paying: CoachOS, world: World, clock: FixedClock, payments: MemoryPayments
    ) -> None:
        """Webhooks may leave `payments` out: the worker asks Stripe by the invoice id."""
        member = join(paying, world, clock)
        receive(paying, event("invoice.paid", member.invoice("in_fee2")))
        payments.fees[member.iid("in_fee2")] = Money(311, "USD")
        drain(paying)
        assert member.iid("in_fee2") in [c.params["payment_ref"] for c in payments.calls if c.method == "payment_fee"]


class TestFailedPayment:
    def test_a_failed_payment_starts_grace_and_tells_the_client_once_per_attempt(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """invoice.payment_failed makes it past due with 3 days' grace and queues one notice per attempt."""
        member = join(app, world, clock)
        receive(app, event("invoice.paid", member.invoice("in_010")))
        failed = event("invoice.payment_failed", member.invoice("in_011", attempt=1), created=CREATED + 60)
        receive(app, failed)
        receive(app, failed)
        now = membership(app, member)
        assert now.status is MembershipStatus.PAST_DUE
        assert now.grace_until == clock.now() + GRACE_PERIOD
        with app.deps.uow() as uow:
            sent = [
                m
                for m in uow.messages.for_client(world.org.id, world.client.id)
                if m.template == "membership_payment_failed"
            ]
        assert len(sent) == 1  # the client has a phone only
        assert "Monthly 8" in sent[0].body
        receive(app, event("invoice.payment_failed", member.invoice("in_011", attempt=2), created=CREATED + 120))
        with app.deps.uow() as uow:
            again = [
                m
                for m in uow.messages.for_client(world.org.id, world.client.id)
                if m.template == "membership_payment_failed"
            ]
        assert len(again) == 2
        assert membership(app, member).grace_until == clock.now() + GRACE_PERIOD

    def test_after_grace_the_credits_pause_and_a_payment_brings_them_back(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """Once grace runs out the worker pauses it and its credits stop; a paid invoice makes them usable again."""
        member = join(app, world, clock)
        receive(app, event("invoice.paid", member.invoice("in_020")))
        receive(app, event("invoice.payment_failed", member.invoice("in_021"), created=CREATED + 60))
        app.execute(PauseLapsedMemberships())
        assert membership(app, member).status is MembershipStatus.PAST_DUE  # grace not over yet
        clock.advance(GRACE_PERIOD + timedelta(seconds=1))
        # Other tests' memberships may share the database: count at least this one, then none again.
        assert app.execute(PauseLapsedMemberships()) >= 1
        assert app.execute(PauseLapsedMemberships()) == 0
        assert membership(app, member).status is MembershipStatus.PAUSED
        [package] = period_packages(app, member)
        assert package.payment_state is PaymentState.FAILED
        assert not package.usable(clock.now())
        with app.deps.uow() as uow:  # paused, not unpaid: it is no outstanding payment
            assert package.id not in [p.id for p in uow.packages.unsettled(world.org.id, limit=10_000)]
        receive(app, event("invoice.paid", member.invoice("in_021"), created=CREATED + 7200))
        assert membership(app, member).status is MembershipStatus.ACTIVE
        assert membership(app, member).grace_until is None
        assert all(p.payment_state is PaymentState.PAID for p in period_packages(app, member))


class TestPausedCredits:
    """On the fakes only: the SQL credit UPDATE's own tests cover non-paid packages (a use needs a stored booking)."""

    def test_a_paused_package_refuses_a_credit(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """The credit UPDATE refuses a paused membership's package."""
        from coachos.domain.bookings import CreditEvent, CreditEventKind

        member = join(app, world, clock)
        receive(app, event("invoice.paid", member.invoice("in_030")))
        receive(app, event("invoice.payment_failed", member.invoice("in_031"), created=CREATED + 60))
        clock.advance(GRACE_PERIOD + timedelta(seconds=1))
        app.execute(PauseLapsedMemberships())
        [package] = period_packages(app, member)
        use = CreditEvent(
            package.id, uuid.uuid4(), CreditEventKind.USE, clock.now(), Actor("coach", world.coach.id), ""
        )  # type: ignore[arg-type]
        with app.deps.uow() as uow, pytest.raises(NoCreditsLeft):
            uow.packages.use_credit(world.org.id, use)


class TestSubscriptionEvents:
    def test_an_old_update_after_deleted_leaves_it_cancelled(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """customer.subscription.deleted is final: an older updated delivered after it changes nothing."""
        member = join(app, world, clock)
        receive(app, event("customer.subscription.deleted", member.subscription_obj("canceled"), created=CREATED + 60))
        receive(app, event("customer.subscription.updated", member.subscription_obj("active"), created=CREATED))
        assert membership(app, member).status is MembershipStatus.CANCELLED
        assert membership(app, member).status_at == datetime.fromtimestamp(CREATED + 60, UTC)

    def test_a_late_deleted_keeps_the_newer_status_time(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A deleted older than the last applied event still cancels, and status_at stays the newest time."""
        member = join(app, world, clock)
        receive(app, event("customer.subscription.updated", member.subscription_obj("active"), created=CREATED + 60))
        receive(app, event("customer.subscription.deleted", member.subscription_obj("canceled"), created=CREATED))
        assert membership(app, member).status is MembershipStatus.CANCELLED
        assert membership(app, member).status_at == datetime.fromtimestamp(CREATED + 60, UTC)

    def test_an_older_update_does_not_undo_a_newer_one(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """Of two updates delivered out of order, the newer one's status stands."""
        member = join(app, world, clock)
        receive(app, event("customer.subscription.updated", member.subscription_obj("past_due"), created=CREATED + 60))
        receive(app, event("customer.subscription.updated", member.subscription_obj("active"), created=CREATED))
        assert membership(app, member).status is MembershipStatus.PAST_DUE

    def test_an_update_applies_what_stripe_holds_now_fetched_by_the_worker(
        self, paying: CoachOS, world: World, clock: FixedClock, payments: MemoryPayments
    ) -> None:
        """The webhook calls no one: it applies the event's copy and queues the fetch; the worker then reads
        the subscription on the business's connected account and applies what Stripe holds now."""
        member = join(paying, world, clock)
        payments.subscriptions[member.subscription] = SubscriptionState(
            member.subscription, "past_due", PERIOD_START, PERIOD_END
        )
        receive(paying, event("customer.subscription.updated", member.subscription_obj("active")))
        assert membership(paying, member).status is MembershipStatus.ACTIVE
        assert [c for c in payments.calls if c.method == "retrieve_subscription"] == []
        drain(paying)
        assert membership(paying, member).status is MembershipStatus.PAST_DUE
        fetched = [c.params for c in payments.calls if c.method == "retrieve_subscription"]
        assert {"subscription": member.subscription, "account_id": connected_account(world.org.id)} in fetched

    def test_a_deleted_arriving_before_the_fetch_stays_cancelled(
        self, paying: CoachOS, world: World, clock: FixedClock, payments: MemoryPayments
    ) -> None:
        """Deleted is final even when the worker's fetch (queued by an earlier update) still finds it active."""
        member = join(paying, world, clock)
        payments.subscriptions[member.subscription] = SubscriptionState(
            member.subscription, "active", PERIOD_START, PERIOD_END
        )
        receive(paying, event("customer.subscription.updated", member.subscription_obj("active")))
        receive(
            paying, event("customer.subscription.deleted", member.subscription_obj("canceled"), created=CREATED + 5)
        )
        drain(paying)
        assert membership(paying, member).status is MembershipStatus.CANCELLED

    def test_a_fetch_for_an_older_update_does_not_undo_a_newer_event(
        self, paying: CoachOS, world: World, clock: FixedClock, payments: MemoryPayments
    ) -> None:
        """The fetch is stamped with its event's time: a newer event applied meanwhile wins (its own fetch follows)."""
        member = join(paying, world, clock)
        receive(paying, event("customer.subscription.updated", member.subscription_obj("active")))
        receive(
            paying, event("customer.subscription.created", member.subscription_obj("past_due"), created=CREATED + 60)
        )
        payments.subscriptions[member.subscription] = SubscriptionState(
            member.subscription, "active", PERIOD_START, PERIOD_END
        )
        drain(paying)
        assert membership(paying, member).status is MembershipStatus.PAST_DUE

    def test_stripe_out_of_reach_is_retried_by_the_relay(
        self, paying: CoachOS, world: World, clock: FixedClock, payments: MemoryPayments
    ) -> None:
        """The webhook succeeded already; the fetch failing is the worker's to retry, then it applies."""
        from coachos.domain.errors import PaymentUnavailable

        member = join(paying, world, clock)
        drain(paying)  # nothing else queued (a shared database) takes the failure meant for this fetch
        received = receive(paying, event("customer.subscription.updated", member.subscription_obj("active")))
        assert received.new
        payments.subscriptions[member.subscription] = SubscriptionState(
            member.subscription, "past_due", PERIOD_START, PERIOD_END
        )
        payments.fail_next(PaymentUnavailable("down"))
        drain(paying)
        assert membership(paying, member).status is MembershipStatus.ACTIVE
        clock.advance(timedelta(minutes=10))
        drain(paying)
        assert membership(paying, member).status is MembershipStatus.PAST_DUE


class TestCancel:
    def test_the_coach_cancels_at_stripe_with_our_key(
        self, paying: CoachOS, world: World, clock: FixedClock, payments: MemoryPayments
    ) -> None:
        """Cancelling calls Stripe once under a key from our ids and marks the membership cancelled."""
        member = join(paying, world, clock)
        cmd = CancelMembership(
            org_id=world.org.id, membership_id=member.membership_id, actor=Actor("coach", world.coach.id)
        )
        paying.execute(cmd)
        paying.execute(cmd)
        cancels = [c for c in payments.calls if c.method == "cancel_subscription"]
        assert [c.idempotency_key for c in cancels] == [f"subscription:{world.org.id}:{member.membership_id}:cancel"]
        assert cancels[0].params["account_id"] == connected_account(world.org.id)
        assert membership(paying, member).status is MembershipStatus.CANCELLED
        [shown] = paying.execute(ClientMemberships(org_id=world.org.id, client_id=world.client.id))
        assert shown.membership.status is MembershipStatus.CANCELLED


class TestCancelWhenStripeHasNone:
    def test_a_subscription_stripe_no_longer_has_is_cancelled_here(
        self, paying: CoachOS, world: World, clock: FixedClock, payments: MemoryPayments
    ) -> None:
        """Cancelling a membership whose subscription Stripe answers 'no such subscription' still cancels it here."""
        from coachos.domain.errors import PaymentRefused

        member = join(paying, world, clock)
        payments.fail_next(PaymentRefused("No such subscription", reason="resource_missing"))
        paying.execute(
            CancelMembership(
                org_id=world.org.id, membership_id=member.membership_id, actor=Actor("coach", world.coach.id)
            )
        )
        assert membership(paying, member).status is MembershipStatus.CANCELLED

    def test_stripe_refusing_for_another_reason_leaves_it_as_it_was(
        self, paying: CoachOS, world: World, clock: FixedClock, payments: MemoryPayments
    ) -> None:
        """Any other refusal is raised and the membership is not marked cancelled."""
        from coachos.domain.errors import PaymentRefused

        member = join(paying, world, clock)
        payments.fail_next(PaymentRefused("Nope", reason="authentication"))
        with pytest.raises(PaymentRefused):
            paying.execute(
                CancelMembership(
                    org_id=world.org.id, membership_id=member.membership_id, actor=Actor("coach", world.coach.id)
                )
            )
        assert membership(paying, member).status is MembershipStatus.PENDING


class TestPlanNames:
    def test_a_long_plan_name_is_refused_so_period_packages_fit(self, app: CoachOS, world: World) -> None:
        """A plan name over 120 characters is refused (its period packages add the period to it)."""
        from coachos import ValidationError

        with pytest.raises(ValidationError, match="120"):
            app.execute(
                CreateMembershipPlan(
                    org_id=world.org.id,
                    actor=Actor("coach", world.coach.id),
                    name="M" * 121,
                    price=Money(12000, "USD"),
                    sessions=4,
                )
            )
