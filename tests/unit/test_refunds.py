"""Refunds: by hand and by card from Coach OS, made in Stripe, the credit rule, and a ledger that stays right."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coachos import CoachOS, Money, SellPackage, Settings, bootstrap
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.payments import MemoryPayments
from coachos.domain import ledger
from coachos.domain.catalog import PaymentMethod, PaymentState, SessionPackage
from coachos.domain.errors import (
    CoachOSError,
    NotFound,
    PaymentRefused,
    PaymentUnavailable,
    PolicyViolation,
    ValidationError,
)
from coachos.domain.ledger import Account
from coachos.domain.refunds import RefundState
from coachos.domain.usecases import ReceiveStripeEvent, RecogniseExpiredPackages, RefundPayment, RetryPendingRefunds
from coachos.domain.usecases.package_sales import credits_priced, high_water, sale_key
from coachos.ports.payments import refund_key
from tests.helpers import MONDAY_NOON_UTC, World, add_client, connected_account, make_world
from tests.unit.test_package_sales import app, book, buy, checkout_event, connect, offer, package, payments
from tests.unit.test_stripe_events import event_body

__all__ = ["app", "payments"]  # fixtures shared with test_package_sales


def refund(app: CoachOS, world: World, key: str, amount: int | None, reason: str = "") -> Any:
    return app.execute(
        RefundPayment(
            org_id=world.org.id,
            sale_key=key,
            amount=None if amount is None else Money(amount, "USD"),
            reason=reason,
            actor=world.me,
        )
    )


def cash_pack(app: CoachOS, world: World, *, sessions: int = 3, price: int = 10000) -> SessionPackage:
    client = add_client(app, world, f"Client {uuid.uuid4().hex[:6]}")
    made: SessionPackage = app.execute(
        SellPackage(
            org_id=world.org.id,
            client_id=client.id,
            name="Pack",
            sessions=sessions,
            price=Money(price, "USD"),
            actor=world.me,
            paid_by=PaymentMethod.CASH,
        )
    )
    return made


def card_pack(app: CoachOS, world: World, payments: MemoryPayments) -> SessionPackage:
    """A three-session package for 100.00 paid by card through Checkout (5 % platform fee)."""
    connect(app, world)
    client = add_client(app, world, "Card Client")
    made = buy(app, world, client.id, offer(app, world).id)
    app.execute(ReceiveStripeEvent(body=checkout_event("checkout.session.completed", made.package.id, world)))
    paid = package(app, world, made.package.id)
    assert paid.payment_ref is not None
    payments.paid[paid.payment_ref] = paid.price
    return paid


def charge_refunded(world: World, pack: SessionPackage, refunded: int, refunds: list[tuple[str, int]]) -> str:
    obj = {
        "id": "ch_" + uuid.uuid4().hex[:20],
        "object": "charge",
        "amount": 10000,
        "amount_refunded": refunded,
        "currency": "usd",
        "payment_intent": pack.payment_ref,
        "metadata": {"coachos_kind": "package", "org_id": str(world.org.id), "package_id": str(pack.id)},
        "refunds": {"object": "list", "data": [{"id": i, "amount": a, "status": "succeeded"} for i, a in refunds]},
    }
    # Clients pay by direct charges: the charge, and its event, are on the business's connected account.
    return event_body(
        "charge.refunded",
        account=connected_account(world.org.id),
        obj=obj,
        created=int(MONDAY_NOON_UTC.timestamp()) + 60,
    )


def totals(app: CoachOS, world: World) -> dict[Account, int]:
    with app.deps.uow() as uow:
        return dict(uow.ledger.balances(world.org.id, "USD"))


class TestRefundByHand:
    def test_a_full_cash_refund_after_a_used_credit_empties_every_account(self, app: CoachOS, world: World) -> None:
        """A full cash refund with one credit used makes the package REFUNDED and every account 0."""
        pack = cash_pack(app, world)
        book(app, world, pack.client_id, 4, 10)
        done = refund(app, world, sale_key(pack.id), None, "moved away")
        assert (done.state, done.amount, done.reason) == (RefundState.SUCCEEDED, Money(10000, "USD"), "moved away")
        after = package(app, world, pack.id)
        assert (after.payment_state, after.used) == (PaymentState.REFUNDED, 1)
        assert {a: v for a, v in totals(app, world).items() if v} == {}
        assert not app.deps.payments or not getattr(app.deps.payments, "calls", [])

    def test_a_partial_refund_removes_the_credits_the_money_stands_for(self, app: CoachOS, world: World) -> None:
        """45.00 of a 3-credit 100.00 package removes one credit; deferred revenue is the two left at 33.33."""
        pack = cash_pack(app, world)
        refund(app, world, sale_key(pack.id), 4500)
        after = package(app, world, pack.id)
        assert (after.total, after.payment_state) == (2, PaymentState.PAID)
        balances = totals(app, world)
        assert balances[Account.DEFERRED_REVENUE] == -2 * 3333
        assert balances[Account.CASH] == 5500
        assert balances[Account.REVENUE] == -(5500 - 2 * 3333)

    def test_more_than_is_left_is_refused_and_writes_nothing(self, app: CoachOS, world: World) -> None:
        """A refund past what is left is a PolicyViolation naming what is left; the ledger is unchanged."""
        pack = cash_pack(app, world)
        refund(app, world, sale_key(pack.id), 6000)
        before = totals(app, world)
        with pytest.raises(PolicyViolation, match=r"40\.00"):
            refund(app, world, sale_key(pack.id), 4001)
        assert totals(app, world) == before
        assert package(app, world, pack.id).total == 2

    def test_bad_amounts_and_unknown_sales_are_refused(self, app: CoachOS, world: World) -> None:
        """Zero, another currency, a NUL in the reason and a key that is no sale are refused."""
        pack = cash_pack(app, world)
        with pytest.raises(ValidationError):
            refund(app, world, sale_key(pack.id), 0)
        with pytest.raises(ValidationError):
            app.execute(
                RefundPayment(org_id=world.org.id, sale_key=sale_key(pack.id), amount=Money(5, "EUR"), actor=world.me)
            )
        with pytest.raises(ValidationError):
            refund(app, world, sale_key(pack.id), 5, "a\x00b")
        with pytest.raises(NotFound):
            refund(app, world, sale_key(uuid.uuid4()), 5)
        with pytest.raises(NotFound):
            refund(app, world, f"recognise:{pack.id}:1", 5)


class TestRefundByCard:
    def test_a_card_refund_asks_stripe_with_our_key_and_reverses_the_fee(
        self, app: CoachOS, world: World, payments: MemoryPayments
    ) -> None:
        """A partial card refund calls Stripe once with refund:<org>:<refund id>, then books the ledger refund."""
        pack = card_pack(app, world, payments)
        done = refund(app, world, sale_key(pack.id), 5000)
        call = [c for c in payments.calls if c.method == "refund"]
        assert [(c.idempotency_key, c.params["payment_intent"]) for c in call] == [
            (refund_key(world.org.id, done.id), pack.payment_ref)
        ]
        assert done.state is RefundState.SUCCEEDED
        assert str(done.stripe_refund_id).startswith("re_memory")
        balances = totals(app, world)
        assert balances[Account.PLATFORM_FEES] == 250  # half of the 5 % fee given back
        assert balances[Account.DEFERRED_REVENUE] == -2 * 3333
        assert package(app, world, pack.id).total == 2

    def test_refused_by_stripe_fails_and_frees_the_amount(
        self, app: CoachOS, world: World, payments: MemoryPayments
    ) -> None:
        """Stripe refusing marks the refund FAILED, writes no ledger refund, and the amount can be refunded again."""
        pack = card_pack(app, world, payments)
        before = totals(app, world)
        payments.fail_next(PaymentRefused("Charge already refunded", reason="charge_already_refunded"))
        with pytest.raises(PaymentRefused):
            refund(app, world, sale_key(pack.id), None)
        with app.deps.uow() as uow:
            (failed,) = uow.refunds.for_sale(world.org.id, sale_key(pack.id))
        assert (failed.state, failed.failure) == (RefundState.FAILED, "Charge already refunded")
        assert totals(app, world) == before
        assert refund(app, world, sale_key(pack.id), None).state is RefundState.SUCCEEDED

    def test_stripe_unavailable_leaves_it_pending_and_the_worker_refunds_once(
        self, app: CoachOS, world: World, payments: MemoryPayments, clock: FixedClock
    ) -> None:
        """A timeout leaves the refund pending; the retry job asks again with the same key and settles it once."""
        pack = card_pack(app, world, payments)
        payments.fail_next(PaymentUnavailable("Stripe timed out"))
        with pytest.raises(PaymentUnavailable):
            refund(app, world, sale_key(pack.id), 3000)
        assert app.execute(RetryPendingRefunds()) == 0  # too fresh to retry
        clock.advance(timedelta(minutes=3))
        assert app.execute(RetryPendingRefunds()) == 1
        assert app.execute(RetryPendingRefunds()) == 0
        keys = [c.idempotency_key for c in payments.calls if c.method == "refund"]
        assert len(keys) == 2
        assert len(set(keys)) == 1
        with app.deps.uow() as uow:
            (done,) = uow.refunds.for_sale(world.org.id, sale_key(pack.id))
            assert uow.ledger.by_key(world.org.id, f"refund:{done.id}") is not None
        assert done.state is RefundState.SUCCEEDED

    def test_refunds_that_add_up_to_the_sale_refund_it_in_full(
        self, app: CoachOS, world: World, payments: MemoryPayments
    ) -> None:
        """Three partial refunds summing to the gross leave the package REFUNDED and every account at its pre-sale 0."""
        pack = card_pack(app, world, payments)
        for amount in (3333, 3333, 3334):
            refund(app, world, sale_key(pack.id), amount)
        assert package(app, world, pack.id).payment_state is PaymentState.REFUNDED
        assert {a: v for a, v in totals(app, world).items() if v} == {}
        with pytest.raises(PolicyViolation):
            refund(app, world, sale_key(pack.id), None)


class TestBookingRefunds:
    def test_refunding_a_paid_booking_keeps_the_booking(
        self, app: CoachOS, world: World, payments: MemoryPayments
    ) -> None:
        """A booking sale paid by card (its PaymentIntent as the sale's source) is refunded; the booking stays."""
        client = add_client(app, world, "Booker", sessions=1)
        booked = book(app, world, client.id, 4, 10)
        with app.deps.uow() as uow:
            header = ledger.Header(
                id=uuid.uuid4(),
                org_id=world.org.id,
                key=f"sale:booking:{booked.id}",
                occurred_at=MONDAY_NOON_UTC,
                source_id="pi_booking1",
                client_id=client.id,
                item="PT",
            )
            uow.ledger.record(ledger.sale(header, Money(6000, "USD"), 0, 300))
            uow.commit()
        done = refund(app, world, f"sale:booking:{booked.id}", None)
        assert done.amount == Money(6000, "USD")
        (call,) = [c for c in payments.calls if c.method == "refund"]
        assert call.params["payment_intent"] == "pi_booking1"
        with app.deps.uow() as uow:
            assert uow.bookings.get(world.org.id, booked.id).status is booked.status
            assert uow.ledger.balances(world.org.id, "USD").get(Account.REVENUE, 0) == 0


class TestRefundsMadeInStripe:
    def test_a_dashboard_refund_is_recorded_once(self, app: CoachOS, world: World, payments: MemoryPayments) -> None:
        """charge.refunded for a refund made in Stripe records it with its id, once, with the credit rule."""
        pack = card_pack(app, world, payments)
        body = charge_refunded(world, pack, 4000, [("re_dash1", 4000)])
        app.execute(ReceiveStripeEvent(body=body))
        app.execute(ReceiveStripeEvent(body=body))
        again = json.loads(body)
        again["id"] = "evt_other"
        app.execute(ReceiveStripeEvent(body=json.dumps(again)))
        with app.deps.uow() as uow:
            found = uow.refunds.for_sale(world.org.id, sale_key(pack.id))
        assert [(r.stripe_refund_id, r.amount.amount_minor, r.created_by) for r in found] == [
            ("re_dash1", 4000, "stripe")
        ]
        assert package(app, world, pack.id).total == 2

    def test_our_own_refund_echoed_back_changes_nothing(
        self, app: CoachOS, world: World, payments: MemoryPayments
    ) -> None:
        """The charge.refunded that follows a refund made from Coach OS records nothing more."""
        pack = card_pack(app, world, payments)
        done = refund(app, world, sale_key(pack.id), 5000)
        before = totals(app, world)
        app.execute(ReceiveStripeEvent(body=charge_refunded(world, pack, 5000, [(str(done.stripe_refund_id), 5000)])))
        assert totals(app, world) == before
        with app.deps.uow() as uow:
            assert len(uow.refunds.for_sale(world.org.id, sale_key(pack.id))) == 1

    def test_an_unlisted_refund_records_the_difference_and_older_events_nothing(
        self, app: CoachOS, world: World, payments: MemoryPayments
    ) -> None:
        """Without a refunds list the amount beyond ours is recorded; an older, smaller total adds nothing."""
        pack = card_pack(app, world, payments)
        app.execute(ReceiveStripeEvent(body=charge_refunded(world, pack, 7000, [])))
        app.execute(ReceiveStripeEvent(body=charge_refunded(world, pack, 3000, [])))
        with app.deps.uow() as uow:
            found = uow.refunds.for_sale(world.org.id, sale_key(pack.id))
        assert [r.amount.amount_minor for r in found] == [7000]

    def test_a_direct_charge_is_found_by_its_account_and_payment_intent(
        self, app: CoachOS, world: World, payments: MemoryPayments
    ) -> None:
        """A charge.refunded on the coach's account without our metadata is matched by its PaymentIntent."""
        pack = card_pack(app, world, payments)
        account = connect(app, world)
        body = json.loads(charge_refunded(world, pack, 3000, [("re_direct", 3000)]))
        body["account"], body["data"]["object"]["metadata"] = account, {}
        app.execute(ReceiveStripeEvent(body=json.dumps(body)))
        with app.deps.uow() as uow:
            found = uow.refunds.for_sale(world.org.id, sale_key(pack.id))
        assert [(r.stripe_refund_id, r.amount.amount_minor) for r in found] == [("re_direct", 3000)]

    def test_a_refund_from_another_account_naming_this_sale_is_ignored(
        self, app: CoachOS, world: World, payments: MemoryPayments
    ) -> None:
        """A coach controls their own Stripe account: a charge there whose metadata names another business's
        sale must not take credits or money from that business's books."""
        pack = card_pack(app, world, payments)
        other = make_world(app)
        for account in (connected_account(other.org.id), "acct_unknown00000001"):
            body = json.loads(charge_refunded(world, pack, 10000, [("re_forged", 10000)]))
            body["account"], body["id"] = account, f"evt_forged{account[-6:]}"
            assert app.execute(ReceiveStripeEvent(body=json.dumps(body))).new
        with app.deps.uow() as uow:
            assert uow.refunds.for_sale(world.org.id, sale_key(pack.id)) == []
        assert package(app, world, pack.id).payment_state is PaymentState.PAID

    def test_charges_that_are_not_ours_are_ignored(self, app: CoachOS, world: World) -> None:
        """A charge without our metadata records nothing."""
        obj = {"id": "ch_x", "object": "charge", "amount_refunded": 500, "metadata": {}}
        app.execute(ReceiveStripeEvent(body=event_body("charge.refunded", obj=obj)))
        with app.deps.uow() as uow:
            assert not uow.refunds.recent(world.org.id)


def dispute(kind: str, account: str, pack: SessionPackage, status: str, *, amount: int = 10000) -> str:
    obj = {
        "id": "dp_" + str(pack.id).replace("-", "")[:16],
        "object": "dispute",
        "amount": amount,
        "currency": "usd",
        "charge": "ch_disputed",
        "payment_intent": pack.payment_ref,
        "reason": "fraudulent",
        "status": status,
    }
    return event_body(kind, account=account, obj=obj, created=int(MONDAY_NOON_UTC.timestamp()) + 120)


class TestDisputes:
    def test_a_dispute_is_shown_to_the_coach_once(self, app: CoachOS, world: World, payments: MemoryPayments) -> None:
        """charge.dispute.created adds one to-do naming the disputed amount; a repeat adds none."""
        pack = card_pack(app, world, payments)
        account = connect(app, world)
        for _ in range(2):
            app.execute(ReceiveStripeEvent(body=dispute("charge.dispute.created", account, pack, "needs_response")))
        with app.deps.uow() as uow:
            todos = [t for t in uow.todos.open(world.org.id) if (t.key or "").startswith("dispute:")]
        assert [t.title.split(":")[0] for t in todos] == ["Payment disputed (100.00 USD, Three pack)"]

    def test_a_lost_dispute_reverses_the_sale_once_and_a_won_one_nothing(
        self, app: CoachOS, world: World, payments: MemoryPayments
    ) -> None:
        """Lost: a DISPUTE reversal keyed dispute:<id>, the package refunded, once; won: nothing in the ledger."""
        won, lost = card_pack(app, world, payments), card_pack(app, world, payments)
        account = connect(app, world)
        app.execute(ReceiveStripeEvent(body=dispute("charge.dispute.closed", account, won, "won")))
        for _ in range(2):
            app.execute(ReceiveStripeEvent(body=dispute("charge.dispute.closed", account, lost, "lost")))
        with app.deps.uow() as uow:
            dp = "dp_" + str(lost.id).replace("-", "")[:16]
            reversal = uow.ledger.by_key(world.org.id, f"dispute:{dp}")
            assert reversal is not None
            assert reversal.source_kind is ledger.SourceKind.DISPUTE
            assert uow.refunds.totals(world.org.id, sale_key(won.id)) is None
            assert len(uow.refunds.for_sale(world.org.id, sale_key(lost.id))) == 1
        assert package(app, world, lost.id).payment_state is PaymentState.REFUNDED
        assert package(app, world, won.id).payment_state is PaymentState.PAID

    def test_a_dispute_from_an_unknown_account_is_kept_and_changes_nothing(
        self, app: CoachOS, world: World, payments: MemoryPayments
    ) -> None:
        """A dispute on an account no business connected records nothing."""
        pack = card_pack(app, world, payments)
        app.execute(ReceiveStripeEvent(body=dispute("charge.dispute.closed", "acct_unknown", pack, "lost")))
        with app.deps.uow() as uow:
            assert uow.refunds.totals(world.org.id, sale_key(pack.id)) is None


class TestLedgerProperty:
    @settings(max_examples=40, deadline=None)
    @given(
        steps=st.lists(
            st.tuples(st.sampled_from(["use", "refund"]), st.integers(0, 2), st.integers(1, 12000)),
            max_size=8,
        ),
        packs=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 12000)), min_size=1, max_size=3),
        expire=st.booleans(),
    )
    def test_sales_uses_refunds_and_expiry_keep_the_ledger_right(
        self, packs: list[tuple[int, int]], steps: list[tuple[str, int, int]], expire: bool
    ) -> None:
        """Balanced, deferred revenue never negative and equal to what unused credits stand for, refunds ≤ paid."""
        clock = FixedClock(MONDAY_NOON_UTC)
        store = MemoryStore()
        settings_ = Settings(database_url="memory://")
        with bootstrap(settings_, uow=store.unit_of_work, clock=clock, ids=SequentialIds()) as app:
            world = make_world(app)
            sold: list[SessionPackage] = []
            for n, (sessions, price) in enumerate(packs):
                client = add_client(app, world, f"Client {n}")
                sold.append(
                    app.execute(
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
                )
            day = 3
            for what, which, amount in steps:
                pack = sold[which % len(sold)]
                if what == "use":
                    day += 1
                    with contextlib.suppress(CoachOSError):  # no credit left, or refunded: the use is refused
                        book(app, world, pack.client_id, day, 10)
                else:
                    with contextlib.suppress(PolicyViolation):
                        refund(app, world, sale_key(pack.id), amount)
            if expire:
                clock.advance(timedelta(days=21))
                app.execute(RecogniseExpiredPackages(org_id=world.org.id))
            with app.deps.uow() as uow:
                txs = list(store.tables.ledger.values())
                for tx in txs:
                    assert sum(e.amount_minor for e in tx.entries) == 0
                expected = 0
                for pack in sold:
                    now = uow.packages.get(world.org.id, pack.id)
                    sale_tx = uow.ledger.by_key(world.org.id, sale_key(pack.id))
                    assert sale_tx is not None
                    got = uow.refunds.totals(world.org.id, sale_key(pack.id))
                    assert got is None or got.booked <= ledger.gross_of(sale_tx).amount_minor
                    if now.payment_state is PaymentState.PAID and not expire:
                        top = min(high_water(uow, world.org.id, pack.id), now.total)
                        expected += credits_priced(uow, now, sale_tx).unearned(top).amount_minor
                deferred = -uow.ledger.balances(world.org.id, "USD").get(Account.DEFERRED_REVENUE, 0)
            assert deferred >= 0
            assert deferred == expected
