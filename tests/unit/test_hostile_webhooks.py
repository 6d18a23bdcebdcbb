"""Validly signed but hostile or odd Stripe events: they are acknowledged and never move money or credits wrongly.

A connected account's owner can put any metadata on the objects they make in their own account, so an
event that comes from a connected account (`account` set) may only act on the business that connected
that account; the platform's own events (no `account`) name objects only Coach OS made.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.payments import MemoryPayments
from coachos.domain.bookings import BookingStatus
from coachos.domain.catalog import PaymentMethod, PaymentState
from coachos.domain.memberships import MembershipStatus
from coachos.domain.usecases import ApproveAccountDeletion, ReceiveStripeEvent, RequestAccountDeletion
from coachos.domain.usecases.stripe_events import STRIPE_HANDLERS
from tests.helpers import MONDAY_NOON_UTC, World, make_world
from tests.unit.test_booking_holds import book, checkout, checkout_event, current, paying_on, sales
from tests.unit.test_memberships import event, join, membership, period_packages
from tests.unit.test_package_sales import checkout_event as package_event
from tests.unit.test_package_sales import connect, sale, sell


@pytest.fixture
def payments() -> MemoryPayments:
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


def from_account(body: str, account: str | None) -> str:
    """The same event as delivered for `account` (a connected account's event), with a fresh id."""
    payload = json.loads(body)
    payload["account"] = account
    payload["id"] = "evt_" + uuid.uuid4().hex
    return json.dumps(payload)


def package_state(app: CoachOS, world: World, package_id: Any) -> PaymentState:
    with app.deps.uow() as uow:
        return uow.packages.get(world.org.id, package_id).payment_state


class TestAnotherAccountsEvents:
    @pytest.mark.parametrize("who", ["other business", "unknown account"])
    def test_a_package_paid_in_another_account_stays_unpaid(self, app: CoachOS, world: World, who: str) -> None:
        """A Checkout completed in another business's (or an unknown) account naming our package grants nothing."""
        other = make_world(app)
        connect(app, world)
        account = connect(app, other) if who == "other business" else "acct_unknown0000"
        package = sell(app, world, world.client.id, PaymentMethod.CARD)
        body = from_account(package_event("checkout.session.completed", package.id, world), account)
        app.execute(ReceiveStripeEvent(body=body))
        assert package_state(app, world, package.id) is PaymentState.PENDING
        assert sale(app, world, package.id) is None

    def test_metadata_pairing_one_businesss_org_with_anothers_package_pays_nothing(
        self, app: CoachOS, world: World
    ) -> None:
        """A platform event naming business B's org with business A's package (or the reverse) changes neither."""
        other = make_world(app)
        connect(app, world)
        connect(app, other)
        mine = sell(app, world, world.client.id, PaymentMethod.CARD)
        theirs = sell(app, other, other.client.id, PaymentMethod.CARD)
        for package, named in ((mine, other), (theirs, world)):
            body = from_account(package_event("checkout.session.completed", package.id, named), None)
            app.execute(ReceiveStripeEvent(body=body))
        assert package_state(app, world, mine.id) is PaymentState.PENDING
        assert package_state(app, other, theirs.id) is PaymentState.PENDING
        assert sale(app, world, mine.id) is None

    def test_a_package_paid_in_its_own_businesss_account_is_paid(self, app: CoachOS, world: World) -> None:
        """Clients pay by direct charges: the business's own connected account counts, the platform does not."""
        account = connect(app, world)
        for sender, paid in ((account, True), (None, False)):
            package = sell(app, world, world.client.id, PaymentMethod.CARD)
            body = from_account(package_event("checkout.session.completed", package.id, world), sender)
            app.execute(ReceiveStripeEvent(body=body))
            assert (package_state(app, world, package.id) is PaymentState.PAID) is paid
            assert (sale(app, world, package.id) is not None) is paid

    def test_a_package_failed_in_another_account_stays_pending(self, app: CoachOS, world: World) -> None:
        """An expired Checkout in another business's account cannot fail our pending package."""
        other = make_world(app)
        connect(app, world)
        account = connect(app, other)
        package = sell(app, world, world.client.id, PaymentMethod.CARD)
        body = from_account(package_event("checkout.session.expired", package.id, world, status="unpaid"), account)
        app.execute(ReceiveStripeEvent(body=body))
        assert package_state(app, world, package.id) is PaymentState.PENDING

    def test_a_held_booking_paid_in_another_account_stays_held(self, app: CoachOS, clock: FixedClock) -> None:
        """A booking Checkout completed in another business's account neither confirms nor releases the hold."""
        with paying_on(app, clock) as p, paying_on(app, clock) as q:
            booking = book(p)
            checkout(p, booking)
            for kind in ("checkout.session.completed", "checkout.session.expired"):
                app.execute(ReceiveStripeEvent(body=from_account(checkout_event(p, booking, kind), q.account)))
            assert current(p, booking).status is BookingStatus.HELD
            assert sales(p, booking) is None
            app.execute(ReceiveStripeEvent(body=from_account(checkout_event(p, booking), p.account)))
            assert current(p, booking).status is BookingStatus.CONFIRMED

    def test_a_membership_invoice_paid_in_another_account_grants_nothing(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """An invoice paid in another business's account naming our membership grants no credits."""
        other = make_world(app)
        account = connect(app, other)
        member = join(app, world, clock)
        body = from_account(event("invoice.paid", member.invoice("in_evil")), account)
        app.execute(ReceiveStripeEvent(body=body))
        assert period_packages(app, member) == []
        assert membership(app, member).status is MembershipStatus.PENDING


class TestOddEvents:
    def test_a_booking_that_is_not_there_is_acknowledged(self, app: CoachOS, clock: FixedClock) -> None:
        """Checkout events naming a booking that does not exist (deleted, or never ours) are kept, not refused."""
        with paying_on(app, clock) as p:
            booking = book(p)
            ghost = type(booking)(**{**_fields(booking), "id": uuid.uuid4()})
            for kind in (
                "checkout.session.completed",
                "checkout.session.expired",
                "checkout.session.async_payment_failed",
            ):
                received = app.execute(ReceiveStripeEvent(body=checkout_event(p, ghost, kind)))
                assert received.new
            intent = {
                "id": "pi_x",
                "object": "payment_intent",
                "customer": "cus_x",
                "payment_method": "pm_x",
                "metadata": {"coachos_kind": "booking", "org_id": str(p.world.org.id), "booking_id": str(ghost.id)},
            }
            body = json.dumps(
                {
                    "id": "evt_" + uuid.uuid4().hex,
                    "object": "event",
                    "type": "payment_intent.succeeded",
                    "account": None,
                    "created": int(MONDAY_NOON_UTC.timestamp()),
                    "livemode": False,
                    "data": {"object": intent},
                }
            )
            assert app.execute(ReceiveStripeEvent(body=body)).new

    def test_a_payment_for_a_deleted_clients_package_is_booked(self, app: CoachOS, world: World) -> None:
        """A client deleted (anonymised) after buying: the late payment still pays the package and is booked once."""
        connect(app, world)
        package = sell(app, world, world.client.id, PaymentMethod.CARD)
        app.execute(RequestAccountDeletion(org_id=world.org.id, client_id=world.client.id))
        app.execute(ApproveAccountDeletion(org_id=world.org.id, client_id=world.client.id, actor=world.me))
        body = package_event("checkout.session.completed", package.id, world)
        assert app.execute(ReceiveStripeEvent(body=body)).handled
        assert package_state(app, world, package.id) is PaymentState.PAID
        assert sale(app, world, package.id) is not None

    @pytest.mark.parametrize("amount", [10**30, -(10**30), "12000", 120.5, True, None])
    def test_an_invoice_with_an_odd_amount_is_acknowledged(
        self, app: CoachOS, world: World, clock: FixedClock, amount: Any
    ) -> None:
        """An invoice.paid with a huge, negative, string, float or missing amount is kept; the ledger stays sane."""
        member = join(app, world, clock)
        obj = member.invoice("in_odd") | {"amount_paid": amount}
        received = app.execute(ReceiveStripeEvent(body=event("invoice.paid", obj)))
        assert received.new
        with app.deps.uow() as uow:
            assert all(tx.entries for tx in uow.ledger.transactions(world.org.id))
            for tx in uow.ledger.transactions(world.org.id):
                assert all(abs(line.amount_minor) < 10**15 for line in tx.entries)

    @pytest.mark.parametrize(
        "obj",
        [
            {},
            {"metadata": "x"},
            {"metadata": None, "id": 5},
            {"id": "sub_x", "metadata": {"coachos_kind": ["membership"]}},
            {"parent": "x", "lines": 5, "subscription_details": 3},
            {"lines": {"data": [{"period": "x"}]}},
        ],
    )
    def test_every_handled_type_acknowledges_objects_of_unknown_shape(self, app: CoachOS, obj: dict[str, Any]) -> None:
        """Every event type with a handler keeps an event whose object has an unknown shape, and changes nothing."""
        for kind in sorted(STRIPE_HANDLERS):
            body = json.dumps(
                {
                    "id": "evt_" + uuid.uuid4().hex,
                    "object": "event",
                    "type": kind,
                    "account": None,
                    "created": int(MONDAY_NOON_UTC.timestamp()),
                    "livemode": False,
                    "data": {"object": obj},
                }
            )
            assert app.execute(ReceiveStripeEvent(body=body)).new, kind


def _fields(booking: Any) -> dict[str, Any]:
    return {a.name: getattr(booking, a.name) for a in attrs.fields(type(booking)) if a.init}
