"""One whole billing flow with production logging at DEBUG: offer, card purchase, webhook, credit used, a
membership's paid and failed invoices and pause, a held booking paid, a late cancellation fee charged and a
declined one, hostile events. The logs name ids and counts, never names, contacts, amounts, card or
customer ids, Checkout addresses or tokens."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from coachos import Actor, CancelBooking, CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.payments import MemoryPayments
from coachos.domain.errors import PaymentRefused
from coachos.domain.usecases import ChargeDueFees, PauseLapsedMemberships, ReceiveStripeEvent, ReleaseExpiredHolds
from coachos.logs import configure_logging, reset_logging
from tests.helpers import World
from tests.unit.test_booking_fees import FEES, paid_with_card
from tests.unit.test_booking_holds import book, checkout, paying_on
from tests.unit.test_hostile_webhooks import from_account
from tests.unit.test_memberships import event, join
from tests.unit.test_package_sales import book as book_with_credit
from tests.unit.test_package_sales import buy, checkout_event, connect, offer

#: What must never be written to a log line.
PRIVATE = (
    "Jordan",
    "Lee",
    "Casey",
    "Morgan",
    "example.com",
    "private.test",
    "2125550101",
    "555",
    "10000",
    "100.00",
    "12345",
    "123.45",
    "2500",
    "25.00",
    "cus_test_kept",
    "pm_test_kept",
    "https://x.test",
    "coachos.test/c/",
    "Your card was declined",
)


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Production logging (JSON lines, redaction on, DEBUG) into a buffer."""
    buffer = io.StringIO()
    configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=buffer)
    yield buffer
    reset_logging()


@pytest.fixture
def app(clock: FixedClock) -> Iterator[CoachOS]:
    """Coach OS on the fakes with card payments on."""
    with bootstrap(
        Settings(database_url="memory://"),
        uow=MemoryStore().unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        payments=MemoryPayments(),
    ) as built:
        yield built


class TestWholeBillingFlow:
    def test_logs_carry_no_personal_data(
        self, app: CoachOS, world: World, clock: FixedClock, logs: io.StringIO
    ) -> None:
        """Every step of billing logs only ids and counts."""
        # Packages: an offer bought by card, paid by the webhook (twice), a credit used.
        connect(app, world)
        bought = buy(app, world, world.client.id, offer(app, world).id).package
        paid = checkout_event("checkout.session.completed", bought.id, world)
        app.execute(ReceiveStripeEvent(body=paid))
        app.execute(ReceiveStripeEvent(body=paid))
        book_with_credit(app, world, world.client.id, 4, 10)
        app.relay.relay_once(1000)
        # Memberships: a paid and a failed invoice, then the grace runs out.
        member = join(app, world, clock)
        app.execute(ReceiveStripeEvent(body=event("invoice.paid", member.invoice("in_log", amount=12345))))
        app.execute(ReceiveStripeEvent(body=event("invoice.payment_failed", member.invoice("in_lof", amount=12345))))
        # Hostile: another account's event naming our package; an event no handler can apply.
        app.execute(ReceiveStripeEvent(body=from_account(paid, "acct_1SomeoneElse00")))
        app.execute(ReceiveStripeEvent(body=event("invoice.paid", member.invoice("in_big", amount=10**30))))
        # A held booking paid by card, its card kept; a late cancellation charged; another declined.
        with paying_on(app, clock, FEES) as p:
            held = book(p, agree=True)
            checkout(p, held)
            paid_with_card(p, held)
            declined = book(p, 12, agree=True)
            checkout(p, declined)
            paid_with_card(p, declined)
            clock.set(held.start - timedelta(hours=2))
            for b in (held, declined):
                p.app.execute(CancelBooking(org_id=p.world.org.id, booking_id=b.id, actor=Actor("client", b.client_id)))
            p.payments.fail_next(PaymentRefused("Your card was declined."))
            p.app.execute(ChargeDueFees())
            p.app.execute(ChargeDueFees())
            p.app.execute(ReleaseExpiredHolds())
        clock.advance(timedelta(days=4))
        app.execute(PauseLapsedMemberships())
        app.relay.relay_once(1000)

        written = logs.getvalue()
        assert written, "the flow logged nothing at all"
        lines = [json.loads(line) for line in written.splitlines()]
        assert any("kept unapplied" in line["event"] for line in lines)
        for private in PRIVATE:
            assert private not in written, f"personal data in logs: {private!r}"
