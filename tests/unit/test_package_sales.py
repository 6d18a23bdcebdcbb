"""Packages sold for money: offers, hand-recorded payments, card Checkout, its webhooks, revenue recognition."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coachos import BookSession, CancelBooking, CoachOS, Money, SellPackage, Settings, bootstrap
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.payments import MemoryPayments
from coachos.domain.catalog import PackageOffer, PaymentMethod, PaymentState, SessionPackage
from coachos.domain.errors import (
    CurrencyMismatch,
    InvalidTransition,
    PackageUnpaid,
    PaymentUnavailable,
    PolicyViolation,
    ValidationError,
)
from coachos.domain.ledger import Account
from coachos.domain.usecases import (
    CreatePackageOffer,
    ListPackageOffers,
    ReceiveStripeEvent,
    RecogniseExpiredPackages,
    RecordPackagePayment,
    StartPackageCheckout,
    UpdatePackageOffer,
    UseCredit,
)
from coachos.domain.usecases.package_sales import recognise_key, sale_key
from tests.helpers import MONDAY_NOON_UTC, World, add_client, connected_account, drain, local, make_world
from tests.unit.test_stripe_events import event_body


@pytest.fixture
def payments() -> MemoryPayments:
    """The recording payments fake."""
    return MemoryPayments()


@pytest.fixture
def app(clock: FixedClock, payments: MemoryPayments) -> Iterator[CoachOS]:
    """Coach OS on the fakes, with card payments on."""
    with bootstrap(
        Settings(database_url="memory://"),
        uow=MemoryStore().unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        payments=payments,
    ) as built:
        yield built


def connect(app: CoachOS, world: World, *, charges: bool = True) -> str:
    """The business connected a Stripe account of its own (and Stripe said whether it can take charges); its id."""
    with app.deps.uow() as uow:
        found = uow.stripe.account(world.org.id)
        account = found.account_id if found else connected_account(world.org.id)
        if found is None:
            uow.stripe.link_account(world.org.id, account, app.clock.now())
            uow.commit()
    obj = {"id": account, "object": "account", "charges_enabled": charges, "details_submitted": True}
    created = int(MONDAY_NOON_UTC.timestamp()) + (1 if found else 0)
    app.execute(ReceiveStripeEvent(body=event_body("account.updated", account=account, obj=obj, created=created)))
    return account


def offer(app: CoachOS, world: World, *, sessions: int = 3, price: int = 10000) -> PackageOffer:
    return app.execute(
        CreatePackageOffer(
            org_id=world.org.id, name="Three pack", sessions=sessions, price=Money(price, "USD"), actor=world.me
        )
    )


def package(app: CoachOS, world: World, package_id: Any) -> SessionPackage:
    with app.deps.uow() as uow:
        return uow.packages.get(world.org.id, package_id)


def sale(app: CoachOS, world: World, package_id: Any) -> Any:
    with app.deps.uow() as uow:
        return uow.ledger.by_key(world.org.id, sale_key(package_id))


def balance(app: CoachOS, world: World, account: Account) -> int:
    with app.deps.uow() as uow:
        return uow.ledger.balances(world.org.id, "USD").get(account, 0)


def checkout_event(
    kind: str,
    package_id: Any,
    world: World,
    *,
    status: str = "paid",
    amount: int = 10000,
    account: str | None = None,
    intent: str | None = None,
) -> str:
    """A package Checkout's event, from the business's own connected account unless `account` says otherwise."""
    obj = {
        "id": "cs_" + uuid.uuid4().hex[:20],
        "object": "checkout.session",
        "payment_status": status,
        "payment_intent": intent or "pi_" + uuid.uuid4().hex[:20],
        "amount_total": amount,
        "currency": "usd",
        "customer_details": {"email": "client@private.test"},
        "metadata": {"coachos_kind": "package", "org_id": str(world.org.id), "package_id": str(package_id)},
    }
    return event_body(
        kind, account=account or connected_account(world.org.id), obj=obj, created=int(MONDAY_NOON_UTC.timestamp())
    )


def sell(app: CoachOS, world: World, client_id: Any, paid_by: PaymentMethod, *, sessions: int = 3) -> SessionPackage:
    made: SessionPackage = app.execute(
        SellPackage(
            org_id=world.org.id,
            client_id=client_id,
            name="Three pack",
            sessions=sessions,
            price=Money(10000, "USD"),
            actor=world.me,
            paid_by=paid_by,
        )
    )
    return made


def book(app: CoachOS, world: World, client_id: Any, day: int, hour: int, *, unpaid: bool = False) -> Any:
    return app.execute(
        BookSession(
            org_id=world.org.id,
            coach_id=world.coach.id,
            service_id=world.pt.id,
            client_id=client_id,
            start=local(world, day, hour),
            actor=world.me,
            allow_without_credit=unpaid,
        )
    )


def buy(app: CoachOS, world: World, client_id: Any, offer_id: Any) -> Any:
    return app.execute(
        StartPackageCheckout(
            org_id=world.org.id,
            client_id=client_id,
            offer_id=offer_id,
            success_url="https://coach.test/paid/{package_id}",
            cancel_url="https://coach.test/packages",
        )
    )


class TestSellByHand:
    def test_cash_is_paid_at_once_and_deferred_in_the_ledger(self, app: CoachOS, world: World) -> None:
        """A cash sale is PAID, its credits usable, and its sale sits in cash and deferred revenue with no fees."""
        client = add_client(app, world)
        sold = sell(app, world, client.id, PaymentMethod.CASH)
        assert (sold.payment_state, sold.payment_method, sold.paid_at) == (
            PaymentState.PAID,
            PaymentMethod.CASH,
            app.clock.now(),
        )
        assert balance(app, world, Account.CASH) == 10000
        assert balance(app, world, Account.DEFERRED_REVENUE) == -10000
        assert balance(app, world, Account.PLATFORM_FEES) == 0
        assert book(app, world, client.id, 4, 10).package_id == sold.id

    def test_complimentary_gives_credits_and_records_no_money(self, app: CoachOS, world: World) -> None:
        """A free package is usable and writes nothing to the ledger."""
        client = add_client(app, world)
        sold = sell(app, world, client.id, PaymentMethod.COMPLIMENTARY)
        assert sold.is_paid
        assert sale(app, world, sold.id) is None

    def test_the_default_keeps_the_old_behaviour(self, app: CoachOS, world: World) -> None:
        """A caller naming no payment gets a usable package and no ledger money, as before payments existed."""
        assert world.package.payment_method is PaymentMethod.UNRECORDED
        assert world.package.is_paid
        assert sale(app, world, world.package.id) is None

    def test_client_pays_by_card_leaves_it_pending_until_a_payment_is_recorded(
        self, app: CoachOS, world: World
    ) -> None:
        """A card sale's credits are refused until the coach records the cash payment, which writes the sale once."""
        client = add_client(app, world)
        sold = sell(app, world, client.id, PaymentMethod.CARD)
        assert sold.payment_state is PaymentState.PENDING
        booking = book(app, world, client.id, 4, 10, unpaid=True)
        with pytest.raises(PackageUnpaid):
            app.execute(UseCredit(org_id=world.org.id, booking_id=booking.id, actor=world.me, package_id=sold.id))
        paid = app.execute(RecordPackagePayment(org_id=world.org.id, package_id=sold.id, method="bank", actor=world.me))
        assert (paid.payment_state, paid.payment_method) == (PaymentState.PAID, PaymentMethod.BANK)
        with pytest.raises(InvalidTransition):
            app.execute(RecordPackagePayment(org_id=world.org.id, package_id=sold.id, method="cash", actor=world.me))
        assert balance(app, world, Account.CASH) == 10000

    def test_recording_a_card_payment_by_hand_is_refused(self, world: World) -> None:
        """Only cash and bank transfers are recorded by hand."""
        with pytest.raises(ValidationError):
            RecordPackagePayment(org_id=world.org.id, package_id=world.package.id, method="card", actor=world.me)


class TestOffers:
    def test_create_update_deactivate_and_list(self, app: CoachOS, world: World) -> None:
        """An offer can be changed and withdrawn; the active list then leaves it out."""
        made = offer(app, world)
        changed = app.execute(
            UpdatePackageOffer(org_id=world.org.id, offer_id=made.id, actor=world.me, sessions=5, validity_days=90)
        )
        assert (changed.sessions, changed.validity_days) == (5, 90)
        app.execute(UpdatePackageOffer(org_id=world.org.id, offer_id=made.id, actor=world.me, active=False))
        assert list(app.execute(ListPackageOffers(org_id=world.org.id, active_only=True))) == []
        assert [o.id for o in app.execute(ListPackageOffers(org_id=world.org.id))] == [made.id]

    def test_another_currency_is_refused(self, app: CoachOS, world: World) -> None:
        """An offer is priced in the business's currency."""
        with pytest.raises(CurrencyMismatch):
            app.execute(
                CreatePackageOffer(org_id=world.org.id, name="X", sessions=1, price=Money(100, "EUR"), actor=world.me)
            )


class TestCheckout:
    def test_checkout_makes_a_pending_package_and_asks_stripe_with_our_ids(
        self, app: CoachOS, world: World, payments: MemoryPayments
    ) -> None:
        """Buying an offer stores a pending card package and one Checkout keyed and tagged by our ids, with the fee."""
        account = connect(app, world)
        client = add_client(app, world)
        started = buy(app, world, client.id, offer(app, world).id)
        assert started.package.payment_state is PaymentState.PENDING
        assert started.url == f"https://coach.test/paid/{started.package.id}"
        (call,) = [c for c in payments.calls if c.method == "checkout"]
        assert call.idempotency_key == f"checkout:{world.org.id}:{started.package.id}:{started.package.id}"
        assert call.params["metadata"]["coachos_kind"] == "package"
        assert call.params["metadata"]["package_id"] == str(started.package.id)
        assert call.params["application_fee"] == Money(500, "USD")
        assert call.params["account_id"] == account

    def test_a_business_that_cannot_take_charges_refuses(self, app: CoachOS, world: World) -> None:
        """Without a connected account able to take charges nothing is stored and the client is told."""
        client = add_client(app, world)
        made = offer(app, world)
        with pytest.raises(PolicyViolation, match="cannot take card payments"):
            buy(app, world, client.id, made.id)
        connect(app, world, charges=False)
        with pytest.raises(PolicyViolation, match="cannot take card payments"):
            buy(app, world, client.id, made.id)
        with app.deps.uow() as uow:
            assert list(uow.packages.for_client(world.org.id, client.id)) == []

    def test_a_withdrawn_offer_is_refused(self, app: CoachOS, world: World) -> None:
        """An inactive offer cannot be bought."""
        connect(app, world)
        made = offer(app, world)
        app.execute(UpdatePackageOffer(org_id=world.org.id, offer_id=made.id, actor=world.me, active=False))
        with pytest.raises(PolicyViolation, match="not on sale"):
            buy(app, world, world.client.id, made.id)

    def test_stripe_down_fails_the_pending_package(self, app: CoachOS, world: World, payments: MemoryPayments) -> None:
        """When Checkout cannot be created the package is FAILED, never left pending."""
        connect(app, world)
        client = add_client(app, world)
        payments.fail_next(PaymentUnavailable("Stripe is busy."))
        with pytest.raises(PaymentUnavailable):
            buy(app, world, client.id, offer(app, world).id)
        with app.deps.uow() as uow:
            (only,) = uow.packages.for_client(world.org.id, client.id)
        assert only.payment_state is PaymentState.FAILED

    def test_without_payments_configured_checkout_is_refused(self, clock: FixedClock) -> None:
        """With no payment provider the use case says card payments are not set up."""
        with bootstrap(Settings(database_url="memory://"), uow=MemoryStore().unit_of_work, clock=clock) as plain:
            w = make_world(plain)
            made = offer(plain, w)
            with pytest.raises(PolicyViolation, match="not set up"):
                buy(plain, w, w.client.id, made.id)


class TestWebhooks:
    def _pending(self, app: CoachOS, world: World) -> SessionPackage:
        connect(app, world)
        client = add_client(app, world)
        started = buy(app, world, client.id, offer(app, world).id)
        return started.package  # type: ignore[no-any-return]

    def test_completed_pays_once_with_one_sale(self, app: CoachOS, world: World) -> None:
        """A paid Checkout makes it PAID with one deferred sale and the platform fee; copies change nothing."""
        pending = self._pending(app, world)
        body = checkout_event("checkout.session.completed", pending.id, world)
        for _ in range(3):
            app.execute(ReceiveStripeEvent(body=body))
        app.execute(
            ReceiveStripeEvent(body=checkout_event("checkout.session.async_payment_succeeded", pending.id, world))
        )
        paid = package(app, world, pending.id)
        assert (paid.payment_state, paid.payment_method) == (PaymentState.PAID, PaymentMethod.CARD)
        assert paid.payment_ref == json.loads(body)["data"]["object"]["payment_intent"]
        tx = sale(app, world, pending.id)
        assert tx is not None
        assert (tx.client_id, tx.item) == (pending.client_id, "Three pack")
        assert balance(app, world, Account.PLATFORM_FEES) == 500
        assert balance(app, world, Account.STRIPE_BALANCE) == 9500
        assert balance(app, world, Account.DEFERRED_REVENUE) == -10000

    def test_expired_after_completed_leaves_it_paid(self, app: CoachOS, world: World) -> None:
        """An expiry or failure arriving after the payment changes nothing."""
        pending = self._pending(app, world)
        app.execute(ReceiveStripeEvent(body=checkout_event("checkout.session.completed", pending.id, world)))
        app.execute(ReceiveStripeEvent(body=checkout_event("checkout.session.expired", pending.id, world)))
        app.execute(ReceiveStripeEvent(body=checkout_event("checkout.session.async_payment_failed", pending.id, world)))
        assert package(app, world, pending.id).payment_state is PaymentState.PAID

    def test_expired_checkout_fails_the_package(self, app: CoachOS, world: World) -> None:
        """An expired Checkout makes a pending package FAILED and writes no money."""
        pending = self._pending(app, world)
        app.execute(
            ReceiveStripeEvent(body=checkout_event("checkout.session.expired", pending.id, world, status="unpaid"))
        )
        assert package(app, world, pending.id).payment_state is PaymentState.FAILED
        assert sale(app, world, pending.id) is None

    def test_an_unpaid_completion_waits(self, app: CoachOS, world: World) -> None:
        """A completed Checkout whose payment is still processing leaves the package pending."""
        pending = self._pending(app, world)
        app.execute(
            ReceiveStripeEvent(body=checkout_event("checkout.session.completed", pending.id, world, status="unpaid"))
        )
        assert package(app, world, pending.id).payment_state is PaymentState.PENDING

    def test_an_event_for_an_unknown_package_is_acknowledged_and_changes_nothing(
        self, app: CoachOS, world: World
    ) -> None:
        """A package id we do not have (another environment's, a deleted test) is kept as an event and ignored."""
        received = app.execute(
            ReceiveStripeEvent(body=checkout_event("checkout.session.completed", uuid.uuid4(), world))
        )
        assert received.new
        assert balance(app, world, Account.DEFERRED_REVENUE) == 0

    def test_others_events_are_ignored(self, app: CoachOS, world: World) -> None:
        """A Checkout of another kind (a booking's, a membership's) leaves the package alone."""
        pending = self._pending(app, world)
        body = json.loads(checkout_event("checkout.session.completed", pending.id, world))
        body["data"]["object"]["metadata"]["coachos_kind"] = "booking"
        app.execute(ReceiveStripeEvent(body=json.dumps(body)))
        assert package(app, world, pending.id).payment_state is PaymentState.PENDING


class TestForgedEvents:
    """Direct charges: a coach controls their own Stripe account, so events from it may name another business."""

    def test_a_checkout_on_another_account_naming_this_package_is_ignored(self, app: CoachOS, world: World) -> None:
        """Another business's account (or any account not this business's) cannot pay this package."""
        pending = TestWebhooks()._pending(app, world)
        other = make_world(app)
        connect(app, other)
        for account in (connected_account(other.org.id), "acct_unknown00000001"):
            forged = checkout_event("checkout.session.completed", pending.id, world, account=account)
            assert app.execute(ReceiveStripeEvent(body=forged)).new
        assert package(app, world, pending.id).payment_state is PaymentState.PENDING
        assert sale(app, world, pending.id) is None

    def test_a_platform_event_naming_a_package_is_ignored(self, app: CoachOS, world: World) -> None:
        """A client's payment is never made on the platform account: an event without `account` pays nothing."""
        pending = TestWebhooks()._pending(app, world)
        body = json.loads(checkout_event("checkout.session.completed", pending.id, world))
        body["account"] = None
        app.execute(ReceiveStripeEvent(body=json.dumps(body)))
        assert package(app, world, pending.id).payment_state is PaymentState.PENDING

    def test_a_forged_expiry_does_not_fail_the_package(self, app: CoachOS, world: World) -> None:
        """An expiry from another account leaves the pending package pending (the client can still pay)."""
        pending = TestWebhooks()._pending(app, world)
        forged = checkout_event("checkout.session.expired", pending.id, world, status="unpaid", account="acct_x1")
        app.execute(ReceiveStripeEvent(body=forged))
        assert package(app, world, pending.id).payment_state is PaymentState.PENDING


class TestStripeFee:
    def test_the_worker_writes_stripes_fee_once_when_stripe_has_it(
        self, app: CoachOS, world: World, payments: MemoryPayments, clock: FixedClock
    ) -> None:
        """The fee consumer retries until Stripe has settled the fee, then writes it once as its own transaction."""
        connect(app, world)
        client = add_client(app, world)
        pending = buy(app, world, client.id, offer(app, world).id).package
        body = checkout_event("checkout.session.completed", pending.id, world)
        app.execute(ReceiveStripeEvent(body=body))
        intent = json.loads(body)["data"]["object"]["payment_intent"]
        drain(app)
        with app.deps.uow() as uow:
            assert uow.ledger.by_key(world.org.id, f"stripe_fee:package:{pending.id}") is None
        payments.fees[intent] = Money(320, "USD")
        clock.advance(timedelta(minutes=5))
        drain(app)
        clock.advance(timedelta(minutes=5))
        drain(app)
        assert balance(app, world, Account.STRIPE_FEES) == 320
        assert balance(app, world, Account.STRIPE_BALANCE) == 10000 - 500 - 320
        asked = [c.params for c in payments.calls if c.method == "payment_fee"]  # (a shared database: others' too)
        assert {"payment_ref": intent, "account_id": connected_account(world.org.id)} in asked

    def test_cash_payments_ask_stripe_nothing(self, app: CoachOS, world: World, payments: MemoryPayments) -> None:
        """A package recorded as paid in cash has no Stripe fee and no call to Stripe."""
        client = add_client(app, world)
        sold = sell(app, world, client.id, PaymentMethod.CARD)
        drain(app)  # other tests' events in a shared database, delivered (or put off) before this one's
        asked = len(payments.calls)
        app.execute(RecordPackagePayment(org_id=world.org.id, package_id=sold.id, method="cash", actor=world.me))
        drain(app)
        assert [c for c in payments.calls[asked:] if c.method == "payment_fee"] == []
        assert balance(app, world, Account.STRIPE_FEES) == 0


class TestRecognition:
    def test_each_used_credit_recognises_its_share_and_the_last_the_remainder(self, app: CoachOS, world: World) -> None:
        """10000 over 3 credits earns 3333, 3333 and 3334; deferred revenue ends at zero."""
        client = add_client(app, world)
        sold = sell(app, world, client.id, PaymentMethod.CASH)
        for hour in (10, 12, 14):
            book(app, world, client.id, 4, hour)
        with app.deps.uow() as uow:
            shares = [uow.ledger.by_key(world.org.id, recognise_key(sold.id, n)) for n in (1, 2, 3)]
        assert [t.entries[0].amount_minor for t in shares if t is not None] == [3333, 3333, 3334]
        assert balance(app, world, Account.DEFERRED_REVENUE) == 0
        assert balance(app, world, Account.REVENUE) == -10000

    def test_a_returned_credit_used_again_is_not_recognised_twice(self, app: CoachOS, world: World) -> None:
        """Cancelling with the credit back and booking again keeps recognised revenue at one credit's share."""
        client = add_client(app, world)
        sell(app, world, client.id, PaymentMethod.CASH)
        first = book(app, world, client.id, 4, 10)
        app.execute(CancelBooking(org_id=world.org.id, booking_id=first.id, actor=world.me, return_credit=True))
        book(app, world, client.id, 4, 12)
        assert balance(app, world, Account.REVENUE) == -3333

    def test_expiry_recognises_what_is_left_once(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """After expiry the worker's job earns the unused credits' share, once however often it runs."""
        client = add_client(app, world)
        app.execute(
            SellPackage(
                org_id=world.org.id,
                client_id=client.id,
                name="Short",
                sessions=3,
                price=Money(10000, "USD"),
                actor=world.me,
                paid_by=PaymentMethod.CASH,
                expires_at=clock.now() + timedelta(days=5),
            )
        )
        book(app, world, client.id, 4, 10)
        clock.advance(timedelta(days=6))
        assert app.execute(RecogniseExpiredPackages(org_id=world.org.id)) == 1
        assert app.execute(RecogniseExpiredPackages(org_id=world.org.id)) == 0
        assert balance(app, world, Account.DEFERRED_REVENUE) == 0
        assert balance(app, world, Account.REVENUE) == -10000


class TestExpiryAcrossBusinesses:
    def test_without_a_business_every_business_is_visited(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """RecogniseExpiredPackages() with no org recognises expired packages of every business."""
        other = make_world(app)
        for w in (world, other):
            client = add_client(app, w)
            app.execute(
                SellPackage(
                    org_id=w.org.id,
                    client_id=client.id,
                    name="Short",
                    sessions=2,
                    price=Money(1001, "USD"),
                    actor=w.me,
                    paid_by=PaymentMethod.BANK,
                    expires_at=clock.now() + timedelta(days=1),
                )
            )
        clock.advance(timedelta(days=2))
        assert app.execute(RecogniseExpiredPackages()) == 2
        assert balance(app, other, Account.REVENUE) == -1001


class TestDeferredRevenueProperty:
    @settings(max_examples=25, deadline=None)
    @given(
        packs=st.lists(
            st.tuples(st.integers(1, 6), st.integers(1, 50000), st.integers(0, 6)),
            min_size=1,
            max_size=3,
        ),
        expire=st.booleans(),
    )
    def test_deferred_revenue_is_unused_credits_times_unit_price(
        self, packs: list[tuple[int, int, int]], expire: bool
    ) -> None:
        """For any sales, uses and expiries, deferred revenue equals what the unused credits stand for."""
        clock = FixedClock(MONDAY_NOON_UTC)
        with bootstrap(Settings(database_url="memory://"), uow=MemoryStore().unit_of_work, clock=clock) as app:
            world = make_world(app)
            sold: list[tuple[SessionPackage, int]] = []
            for n, (sessions, price, uses) in enumerate(packs):
                client = add_client(app, world, f"Client {n}")
                pack = app.execute(
                    SellPackage(
                        org_id=world.org.id,
                        client_id=client.id,
                        name="Pack",
                        sessions=sessions,
                        price=Money(price, "USD"),
                        actor=world.me,
                        paid_by=PaymentMethod.CASH,
                        expires_at=clock.now() + timedelta(days=20),
                    )
                )
                for u in range(min(uses, sessions)):
                    book(app, world, client.id, 3 + u, 10 + n)
                sold.append((pack, min(uses, sessions)))
            if expire:
                clock.advance(timedelta(days=21))
                app.execute(RecogniseExpiredPackages(org_id=world.org.id))
            expected = 0 if expire else sum(pack.unearned(used).amount_minor for pack, used in sold)
            assert -balance(app, world, Account.DEFERRED_REVENUE) == expected
