"""Accounting on SQLite and PostgreSQL: the database's sums equal the domain's, local months, racing payouts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.domain import ledger
from coachos.domain.accounting import month_boundaries, months_between, summarise
from coachos.domain.bookings import FeeState
from coachos.domain.catalog import PaymentState
from coachos.domain.errors import CoachOSError
from coachos.domain.ids import PackageId
from coachos.domain.ledger import Account, LedgerTransaction
from coachos.domain.memberships import MembershipStatus
from coachos.domain.money import Money
from coachos.domain.usecases import AccountingReport, OutstandingPayments
from tests.helpers import World, make_world
from tests.integration.test_concurrency import race
from tests.unit.test_accounting import (
    WHEN,
    YEAR,
    books,
    head,
    keys_of,
    member,
    money_of,
    owe,
    payout_event,
    sums_equal,
)
from tests.unit.test_stripe_events import fresh_account, link, receive

_DB = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def store(app: CoachOS, txs: list[LedgerTransaction]) -> None:
    with app.deps.uow() as uow:
        for tx in txs:
            assert uow.ledger.record(tx)
        uow.commit()


class TestSums:
    @_DB
    @given(data=st.data())
    def test_the_databases_sums_are_the_domains(self, app: CoachOS, data: st.DataObject) -> None:
        """Random books in a fresh business: the SQL aggregation per local month equals `summarise`."""
        world = make_world(app, timezone="Europe/London")
        txs = data.draw(books(world.org.id))
        store(app, txs)
        bounds = month_boundaries(YEAR[2:10], world.org.tz)
        with app.deps.uow() as uow:
            found = uow.ledger.summary(world.org.id, bounds)
        assert sums_equal(found, summarise(txs, bounds))

    def test_a_sale_late_on_the_last_local_night_is_that_months(self, app: CoachOS, world: World) -> None:
        """23:30 New York on 31 October (already November in UTC) is October's revenue, in the database too."""
        at = datetime(2026, 10, 31, 23, 30, tzinfo=world.org.tz).astimezone(UTC)
        early = datetime(2026, 11, 1, 0, 30, tzinfo=world.org.tz).astimezone(UTC)
        store(app, [ledger.sale(head(at, org=world.org.id), Money(700, "USD"), 0, 0)])
        store(app, [ledger.sale(head(early, org=world.org.id), Money(300, "USD"), 0, 0)])
        r = app.execute(AccountingReport(org_id=world.org.id, first=date(2026, 10, 1), last=date(2026, 11, 1)))
        assert r.revenue_by_month == (700, 300)

    def test_the_window_pages_newest_first_within_the_range(self, app: CoachOS, world: World) -> None:
        """Pages of the range, newest first, join up without gaps; the end of the range is left out."""
        start = datetime(2026, 5, 1, tzinfo=UTC)
        txs = [
            ledger.sale(head(start + timedelta(days=n), org=world.org.id), Money(100, "USD"), 0, 0) for n in range(5)
        ]
        store(app, txs)
        with app.deps.uow() as uow:
            first = uow.ledger.window(world.org.id, start, start + timedelta(days=4), newest_first=True, limit=2)
            second = uow.ledger.window(
                world.org.id, start, start + timedelta(days=4), newest_first=True, limit=2, offset=2
            )
            oldest = uow.ledger.window(world.org.id, start, start + timedelta(days=9), limit=1)
        assert [t.key for t in first + second] == [t.key for t in reversed(txs[:4])]
        assert [t.key for t in oldest] == [txs[0].key]
        with app.deps.uow() as uow:
            mark = (txs[1].occurred_at, txs[1].key)
            later = uow.ledger.window(world.org.id, start, start + timedelta(days=9), limit=9, after=mark)
            earlier = uow.ledger.window(
                world.org.id, start, start + timedelta(days=9), newest_first=True, limit=9, after=mark
            )
        assert [t.key for t in later] == [t.key for t in txs[2:]]
        assert [t.key for t in earlier] == [txs[0].key]

    def test_pending_and_failed_packages_are_outstanding(self, app: CoachOS, world: World) -> None:
        """The repository's query finds packages pending or failed, not paid or refunded ones."""
        with app.deps.uow() as uow:
            for state in PaymentState:
                uow.packages.add(attrs.evolve(world.package, id=PackageId(uuid4()), payment_state=state))
            uow.commit()
        rows = app.execute(OutstandingPayments(org_id=world.org.id))
        assert sorted(r.state for r in rows) == ["failed", "pending"]


class TestOwedOnDatabases:
    def test_memberships_past_due_or_paused_longest_owed_first(self, app: CoachOS, world: World) -> None:
        """The SQL query finds past-due and paused memberships only, by when they fell due, and keeps its limit."""
        paused = member(app, world, MembershipStatus.PAUSED, WHEN - timedelta(days=5))
        due = member(app, world, MembershipStatus.PAST_DUE, WHEN)
        for status in (MembershipStatus.ACTIVE, MembershipStatus.CANCELLED, MembershipStatus.PENDING):
            member(app, world, status, WHEN - timedelta(days=9))
        with app.deps.uow() as uow:
            found = uow.memberships.owing(world.org.id)
            first = uow.memberships.owing(world.org.id, limit=1)
        assert [(m.id, m.status, m.grace_until) for m in found] == [
            (paused.id, MembershipStatus.PAUSED, paused.grace_until),
            (due.id, MembershipStatus.PAST_DUE, WHEN + timedelta(days=3)),
        ]
        assert [m.id for m in first] == [paused.id]

    def test_fees_pending_or_failed_oldest_first(self, app: CoachOS, world: World) -> None:
        """The SQL query finds pending and failed fees only, by the fee's time, with amount and reason read back."""
        failed = owe(app, world, 3, FeeState.FAILED, WHEN - timedelta(hours=2))
        pending = owe(app, world, 4, FeeState.PENDING, WHEN)
        owe(app, world, 5, FeeState.CHARGED, WHEN - timedelta(days=1))
        with app.deps.uow() as uow:
            found = uow.bookings.unpaid_fees(world.org.id)
            first = uow.bookings.unpaid_fees(world.org.id, limit=1)
        assert [(b.id, b.fee.state if b.fee else None) for b in found] == [
            (failed.id, FeeState.FAILED),
            (pending.id, FeeState.PENDING),
        ]
        assert found[0].fee is not None
        assert found[0].fee.amount == Money(2_500, "USD")
        assert found[0].fee.error == "The card was declined."
        assert [b.id for b in first] == [failed.id]

    def test_one_list_oldest_first_and_only_this_business(self, app: CoachOS, world: World) -> None:
        """Packages, memberships and fees in one list by age; another business's rows in the database never show."""
        other = make_world(app)
        member(app, other, MembershipStatus.PAST_DUE, WHEN - timedelta(days=20))
        owe(app, other, 3, FeeState.FAILED, WHEN - timedelta(days=20))
        package = attrs.evolve(
            world.package, id=PackageId(uuid4()), payment_state=PaymentState.PENDING, purchased_at=WHEN
        )
        with app.deps.uow() as uow:
            uow.packages.add(package)
            uow.commit()
        fee = owe(app, world, 3, FeeState.PENDING, WHEN - timedelta(days=1))
        due = member(app, world, MembershipStatus.PAST_DUE, WHEN + timedelta(days=1))
        rows = app.execute(OutstandingPayments(org_id=world.org.id))
        assert [r.source_id for r in rows] == [fee.id, package.id, due.id]
        assert [r.amount for r in rows] == [Money(2_500, "USD"), package.price, Money(12_000, "USD")]
        assert rows.unreadable == ()
        assert rows.capped == ()


class TestPayouts:
    def test_twenty_racing_deliveries_of_one_payout_book_it_once(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """One payout.paid ten times and ten other events for its payout, all at once: all accepted, one booking."""
        account = fresh_account()
        link(app, world, account, clock)
        po = "po_" + uuid4().hex[:14]
        same = payout_event("payout.paid", account, po)
        bodies = [same] * 10 + [payout_event("payout.paid", account, po) for _ in range(10)]
        results = race([lambda b=b: receive(app, b) for b in bodies])
        assert not [r for r in results if isinstance(r, (CoachOSError, Exception))]
        assert keys_of(app, world) == [f"payout:{po}"]
        assert money_of(app, world) == {Account.BANK: 12_345, Account.STRIPE_BALANCE: -12_345}

    @pytest.mark.parametrize("first", ["payout.paid", "payout.failed"])
    def test_paid_and_failed_racing_net_to_nothing(
        self, app: CoachOS, world: World, clock: FixedClock, first: str
    ) -> None:
        """payout.paid and payout.failed for one payout racing: the payout and its reversal, once each."""
        account = fresh_account()
        link(app, world, account, clock)
        po = "po_" + uuid4().hex[:14]
        kinds = [first, "payout.failed" if first == "payout.paid" else "payout.paid"] * 5
        race([lambda k=k: receive(app, payout_event(k, account, po)) for k in kinds])
        assert sorted(keys_of(app, world)) == [f"payout-failed:{po}", f"payout:{po}"]
        assert money_of(app, world) == {}


def test_month_list_is_the_reports() -> None:
    """Any days in the first and last month give the same whole months."""
    assert months_between(date(2026, 1, 15), date(2026, 12, 2)) == YEAR
