"""Accounting: reports equal the ledger's sums, local-month buckets, journal CSV lines, payouts (on the fakes)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coachos import CoachOS, ValidationError
from coachos.adapters.clock import FixedClock
from coachos.domain import accounting, ledger
from coachos.domain.accounting import LedgerSum, build_report, month_boundaries, months_between, summarise
from coachos.domain.bookings import Booking, FeeCharge, FeeKind, FeeState
from coachos.domain.catalog import PaymentState
from coachos.domain.ids import OrgId, PackageId
from coachos.domain.ledger import Account, Header, LedgerTransaction
from coachos.domain.memberships import Membership, MembershipPlan, MembershipStatus
from coachos.domain.money import Money
from coachos.domain.usecases import AccountingReport, BookSession, OutstandingPayments
from tests.helpers import World, local, make_world
from tests.unit.test_stripe_events import event_body, fresh_account, link, receive

ORG = OrgId(UUID(int=7))
WHEN = datetime(2026, 3, 2, 12, tzinfo=UTC)
_serial = count()
ITEMS = ("Ten pack", "Monthly", "PT session", "")
CLIENTS = (UUID(int=101), UUID(int=102), None)


def head(at: datetime, *, org: OrgId = ORG, item: str = "", client: UUID | None = None) -> Header:
    return Header(
        id=uuid4(),
        org_id=org,
        key=f"t{next(_serial)}-{uuid4()}",
        occurred_at=at,
        source_id="x",
        item=item,
        client_id=client,
    )


@st.composite
def books(draw: st.DrawFn, org: OrgId = ORG, currency: str = "USD") -> list[LedgerTransaction]:
    """Random sales (deferred or not, by card or cash), refunds of them, recognitions and payouts in 2026."""
    txs: list[LedgerTransaction] = []
    sales: list[tuple[LedgerTransaction, int]] = []
    for _ in range(draw(st.integers(0, 25))):
        at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 364 * 24 * 60)))
        h = head(at, org=org, item=draw(st.sampled_from(ITEMS)), client=draw(st.sampled_from(CLIENTS)))
        kind = draw(st.sampled_from(["sale", "cash", "refund", "recognise", "payout", "payout-back"]))
        if kind == "refund" and sales:
            n = draw(st.integers(0, len(sales) - 1))
            sale, before = sales[n]
            gross = ledger.gross_of(sale).amount_minor
            if before < gross:
                amount = draw(st.integers(1, gross - before))
                txs.append(ledger.refund(h, sale, amount, refunded_before=before))
                sales[n] = (sale, before + amount)
            continue
        amount = draw(st.integers(1, 500_000))
        if kind in ("sale", "cash", "refund"):
            fee = 0 if kind == "cash" else draw(st.integers(0, amount // 2))
            cut = 0 if kind == "cash" else draw(st.integers(0, amount - fee))
            received = Account.CASH if kind == "cash" else Account.STRIPE_BALANCE
            tx = ledger.sale(h, Money(amount, currency), fee, cut, deferred=draw(st.booleans()), received_in=received)
            sales.append((tx, 0))
        elif kind == "recognise":
            tx = ledger.recognise(h, Money(amount, currency))
        else:
            tx = ledger.payout(h, Money(amount if kind == "payout" else -amount, currency))
        txs.append(tx)
    return txs


YEAR = months_between(date(2026, 1, 1), date(2026, 12, 1))


def report_of(txs: Sequence[LedgerTransaction], tz: str = "UTC") -> accounting.Report:
    return build_report(summarise(txs, month_boundaries(YEAR, ZoneInfo(tz))), YEAR, "USD")


class TestReport:
    @settings(max_examples=150, deadline=None)
    @given(books())
    def test_totals_equal_the_ledgers_balances(self, txs: list[LedgerTransaction]) -> None:
        """Over a range holding every transaction, each report total is the balance of its account."""
        bal = ledger.balances(txs, "USD")
        r = report_of(txs)
        assert r.recognised == -bal.get(Account.REVENUE, 0) == sum(r.revenue_by_month)
        assert r.stripe_fees == bal.get(Account.STRIPE_FEES, 0)
        assert r.platform_fees == bal.get(Account.PLATFORM_FEES, 0)
        assert r.payouts == bal.get(Account.BANK, 0)
        assert r.deferred == -bal.get(Account.DEFERRED_REVENUE, 0)
        assert r.sales - r.refunds == -(bal.get(Account.REVENUE, 0) + bal.get(Account.DEFERRED_REVENUE, 0))
        assets = bal.get(Account.STRIPE_BALANCE, 0) + bal.get(Account.CASH, 0) + bal.get(Account.BANK, 0)
        assert r.net == assets
        for rows in (r.by_item, r.by_client):
            assert sum(line.sales for _, line in rows) == r.sales
            assert sum(line.refunds for _, line in rows) == r.refunds
            assert sum(line.recognised for _, line in rows) == r.recognised

    @settings(max_examples=60, deadline=None)
    @given(books())
    def test_a_month_is_the_sum_of_its_transactions(self, txs: list[LedgerTransaction]) -> None:
        """Each month's revenue is the revenue of exactly the transactions in it; earlier ones only feed deferred."""
        r = report_of(txs)
        for n, month in enumerate(YEAR):
            inside = [t for t in txs if t.occurred_at.date().replace(day=1) == month]
            assert r.revenue_by_month[n] == -ledger.balances(inside, "USD").get(Account.REVENUE, 0)
        later = build_report(summarise(txs, month_boundaries(YEAR[6:], ZoneInfo("UTC"))), YEAR[6:], "USD")
        assert later.deferred == report_of(txs).deferred
        assert later.recognised == sum(r.revenue_by_month[6:])

    def test_other_currencies_are_named_not_added(self) -> None:
        """A line in another currency is left out of the figures and named."""
        at = datetime(2026, 3, 3, tzinfo=UTC)
        txs = [ledger.sale(head(at), Money(1000, "USD"), 0, 0), ledger.sale(head(at), Money(900, "EUR"), 0, 0)]
        r = report_of(txs)
        assert (r.sales, r.other_currencies) == (1000, ("EUR",))

    @pytest.mark.parametrize(
        ("first", "last"), [(date(2026, 5, 1), date(2026, 4, 1)), (date(2020, 1, 1), date(2026, 1, 1))]
    )
    def test_ranges_backwards_or_too_long_are_refused(self, first: date, last: date) -> None:
        """A range ending before it starts, or longer than three years, is a validation error."""
        with pytest.raises(ValidationError):
            months_between(first, last)


ZONES = ("America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu", "America/Santiago", "UTC")


class TestMonthsInTheBusinessZone:
    @settings(max_examples=200, deadline=None)
    @given(
        st.sampled_from(ZONES),
        st.integers(0, 11),
        st.integers(0, 59),
        st.booleans(),
    )
    def test_late_and_early_local_times_land_in_their_local_month(
        self, zone: str, month: int, minute: int, last_day: bool
    ) -> None:
        """23:xx on a month's last local day lands in that month, 00:xx on the first in the next, DST included."""
        tz = ZoneInfo(zone)
        start = YEAR[month]
        day = accounting.next_month(start) - timedelta(days=1) if last_day else start
        local = datetime(day.year, day.month, day.day, 23 if last_day else 0, minute, tzinfo=tz)
        tx = ledger.sale(head(local.astimezone(UTC)), Money(500, "USD"), 0, 0)
        r = report_of([tx], zone)
        assert r.revenue_by_month[month] == 500

    def test_half_past_eleven_on_the_last_night_of_october_in_london(self) -> None:
        """31 Oct 23:30 London (after the clocks went back) is October, though it is 1 Nov in UTC+1 terms."""
        at = datetime(2026, 10, 31, 23, 30, tzinfo=ZoneInfo("Europe/London")).astimezone(UTC)
        r = report_of([ledger.sale(head(at), Money(500, "USD"), 0, 0)], "Europe/London")
        assert r.revenue_by_month[9] == 500


class TestJournal:
    @settings(max_examples=100, deadline=None)
    @given(books())
    def test_debits_equal_credits_in_every_transaction(self, txs: list[LedgerTransaction]) -> None:
        """Each transaction's CSV rows: debits sum to credits, as decimal strings with the currency's places."""
        for tx in txs:
            rows = list(accounting.journal_rows(tx, ZoneInfo("America/New_York"), "Jordan Lee"))
            assert len(rows) == len(tx.entries)
            debit = sum(Decimal(r[4]) for r in rows if r[4])
            credit = sum(Decimal(r[5]) for r in rows if r[5])
            assert debit == credit > 0
            assert all(r[1] == tx.key and r[6] == "USD" for r in rows)
            assert all(bool(r[4]) != bool(r[5]) for r in rows)

    @pytest.mark.parametrize(
        ("minor", "currency", "text"),
        [(12345, "USD", "123.45"), (5, "USD", "0.05"), (1500, "JPY", "1500"), (1, "BHD", "0.001"), (0, "EUR", "0.00")],
    )
    def test_amounts_are_decimals_by_the_currencys_exponent(self, minor: int, currency: str, text: str) -> None:
        """Minor units become decimal text with the currency's own number of places."""
        assert accounting.decimal_text(minor, currency) == text

    @pytest.mark.parametrize("cell", ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "\tx"])
    def test_cells_that_start_like_formulas_are_made_inert(self, cell: str) -> None:
        """A cell starting with = + - @ or a tab gets a leading apostrophe; plain text is left alone."""
        assert accounting.safe_cell(cell) == "'" + cell
        assert accounting.safe_cell("Jordan") == "Jordan"

    def test_a_client_named_like_a_formula_is_inert_and_the_date_is_local(self) -> None:
        """The date is the local one (New York, the evening before in UTC terms), the name is defused."""
        at = datetime(2026, 3, 3, 2, 30, tzinfo=UTC)
        tx = ledger.sale(head(at, item="Ten pack"), Money(10_000, "USD"), 320, 250)
        rows = list(accounting.journal_rows(tx, ZoneInfo("America/New_York"), "=cmd|'/c calc'!A1"))
        assert {r[0] for r in rows} == {"2026-03-02"}
        assert {r[3] for r in rows} == {"Sale · Ten pack · =cmd|'/c calc'!A1"}
        name_first = list(accounting.journal_rows(tx, ZoneInfo("UTC"), None))
        assert {r[3] for r in name_first} == {"Sale · Ten pack"}


def payout_event(kind: str, account: str, po: str, amount: int = 12_345, *, created: int = 1_772_400_000) -> str:
    obj = {"id": po, "object": "payout", "amount": amount, "currency": "usd", "status": kind.split(".")[1]}
    return event_body(kind, account=account, created=created, obj=obj)


def money_of(app: CoachOS, world: World) -> dict[Account, int]:
    with app.deps.uow() as uow:
        return {a: n for a, n in uow.ledger.balances(world.org.id, "USD").items() if n}


def keys_of(app: CoachOS, world: World) -> list[str]:
    with app.deps.uow() as uow:
        return [tx.key for tx in uow.ledger.transactions(world.org.id)]


class TestPayouts:
    @pytest.fixture
    def account(self, app: CoachOS, world: World, clock: FixedClock) -> str:
        acct = fresh_account()
        link(app, world, acct, clock)
        return acct

    def test_a_paid_payout_moves_money_to_the_bank_once(self, app: CoachOS, world: World, account: str) -> None:
        """payout.paid three times (distinct event ids): one transaction Stripe balance → bank."""
        po = "po_" + uuid.uuid4().hex[:14]
        for _ in range(3):
            receive(app, payout_event("payout.paid", account, po))
        assert keys_of(app, world) == [f"payout:{po}"]
        assert money_of(app, world) == {Account.BANK: 12_345, Account.STRIPE_BALANCE: -12_345}
        with app.deps.uow() as uow:
            tx = uow.ledger.by_key(world.org.id, f"payout:{po}")
        assert tx is not None
        assert tx.source_kind is ledger.SourceKind.PAYOUT
        assert tx.source_id == po

    @pytest.mark.parametrize("order", [("payout.paid", "payout.failed"), ("payout.failed", "payout.paid")])
    def test_a_failed_payout_nets_to_nothing_in_either_order(
        self, app: CoachOS, world: World, account: str, order: tuple[str, str]
    ) -> None:
        """Paid then failed, or failed delivered first: the payout and its reversal, the bank back at zero."""
        po = "po_" + uuid.uuid4().hex[:14]
        for kind in order * 2:
            receive(app, payout_event(kind, account, po))
        assert sorted(keys_of(app, world)) == [f"payout-failed:{po}", f"payout:{po}"]
        assert money_of(app, world) == {}

    def test_payouts_of_unknown_accounts_and_the_platform_are_only_kept(self, app: CoachOS, world: World) -> None:
        """No business owns them: the events are kept, nothing is booked."""
        done = receive(app, payout_event("payout.paid", fresh_account(), "po_unknown1"))
        receive(app, event_body("payout.paid", obj={"id": "po_platform1", "object": "payout", "amount": 5}))
        assert done.new
        assert done.handled
        assert keys_of(app, world) == []

    @pytest.mark.parametrize("amount", [0, -5, "12", True, None])
    def test_a_payout_without_a_usable_amount_books_nothing(
        self, app: CoachOS, world: World, account: str, amount: object
    ) -> None:
        """Zero, negative, text or missing amounts are kept as events and book nothing."""
        obj = {"id": "po_odd1", "object": "payout", "amount": amount, "currency": "usd"}
        receive(app, event_body("payout.paid", account=account, obj=obj))
        assert keys_of(app, world) == []


class TestUseCases:
    def test_the_report_reads_local_months_of_the_business(self, app: CoachOS, world: World) -> None:
        """A sale at 23:30 New York time on 31 March is March's, though it is April in UTC."""
        at = datetime(2026, 3, 31, 23, 30, tzinfo=world.org.tz).astimezone(UTC)
        with app.deps.uow() as uow:
            uow.ledger.record(ledger.sale(head(at, org=world.org.id, item="PT"), Money(8000, "USD"), 262, 200))
            uow.commit()
        r = app.execute(AccountingReport(org_id=world.org.id, first=date(2026, 3, 1), last=date(2026, 4, 30)))
        assert r.revenue_by_month == (8000, 0)
        assert (r.sales, r.stripe_fees, r.platform_fees, r.net) == (8000, 262, 200, 7538)
        assert r.by_item[0][0] == "PT"

    def test_outstanding_payments_are_pending_and_failed_packages(self, app: CoachOS, world: World) -> None:
        """Only packages waiting for money (pending or failed) are listed, as typed rows."""
        with app.deps.uow() as uow:
            for state in (PaymentState.PENDING, PaymentState.FAILED, PaymentState.PAID):
                package = attrs.evolve(
                    world.package, id=PackageId(uuid4()), payment_state=state, price=Money(4500, "USD")
                )
                uow.packages.add(package)
            uow.commit()
        rows = app.execute(OutstandingPayments(org_id=world.org.id))
        assert sorted(r.state for r in rows) == ["failed", "pending"]
        assert all(r.source is accounting.PaymentSource.PACKAGE and r.amount == Money(4500, "USD") for r in rows)


def member(
    app: CoachOS, world: World, status: MembershipStatus, since: datetime, *, plan_name: str = "Gold"
) -> Membership:
    """A membership of the world's client in `status` since `since` (grace of three days when past due)."""
    plan = MembershipPlan(
        id=uuid4(), org_id=world.org.id, name=plan_name, price=Money(12_000, "USD"), interval="month", sessions=8
    )
    grace = since + timedelta(days=3) if status in (MembershipStatus.PAST_DUE, MembershipStatus.PAUSED) else None
    found = Membership(
        id=uuid4(),
        org_id=world.org.id,
        client_id=world.client.id,
        plan_id=plan.id,
        status=status,
        created_at=since - timedelta(days=30),
        subscription_id=f"sub_{uuid4().hex[:12]}",
        grace_until=grace,
        status_at=since,
    )
    with app.deps.uow() as uow:
        uow.memberships.add_plan(plan)
        uow.memberships.add(found)
        uow.commit()
    return found


def owe(
    app: CoachOS, world: World, day: int, state: FeeState, at: datetime, kind: FeeKind = FeeKind.NO_SHOW
) -> Booking:
    """A PT booking on March `day` whose policy fee of 25.00 was recorded at `at` and then left in `state`."""
    booking = app.execute(
        BookSession(
            org_id=world.org.id,
            coach_id=world.coach.id,
            service_id=world.pt.id,
            client_id=world.client.id,
            start=local(world, day, 10),
            actor=world.me,
        )
    )
    with app.deps.uow() as uow:
        fee = FeeCharge(kind=kind, amount=Money(2_500, "USD"), state=FeeState.PENDING, at=at)
        assert uow.bookings.start_fee(world.org.id, booking.id, fee)
        if state is not FeeState.PENDING:
            error = "The card was declined." if state is FeeState.FAILED else None
            ref = "pi_x" if state is FeeState.CHARGED else None
            assert uow.bookings.finish_fee(world.org.id, booking.id, state=state, at=at, ref=ref, error=error)
        uow.commit()
    return booking


class TestOutstanding:
    def test_past_due_and_paused_memberships_are_owed_per_period(self, app: CoachOS, world: World) -> None:
        """Past-due and paused memberships are listed at the plan's price, since falling due; others are not."""
        due = member(app, world, MembershipStatus.PAST_DUE, WHEN)
        paused = member(app, world, MembershipStatus.PAUSED, WHEN - timedelta(days=5))
        for status in (MembershipStatus.ACTIVE, MembershipStatus.CANCELLED, MembershipStatus.PENDING):
            member(app, world, status, WHEN)
        rows = [r for r in app.execute(OutstandingPayments(org_id=world.org.id)) if r.source.value == "membership"]
        assert [(r.source_id, r.state, r.since) for r in rows] == [
            (paused.id, "paused", paused.status_at),
            (due.id, "past_due", WHEN),
        ]
        assert rows[1].until == WHEN + timedelta(days=3)
        assert rows[0].until is None
        assert all(r.amount == Money(12_000, "USD") and r.item == "Gold · per month" for r in rows)
        assert rows[1].state_label == "past due"

    def test_pending_and_failed_fees_are_owed_charged_ones_are_not(self, app: CoachOS, world: World) -> None:
        """Fees waiting for the worker and fees whose charge failed are listed (with why); charged ones are not."""
        pending = owe(app, world, 3, FeeState.PENDING, WHEN, FeeKind.LATE_CANCEL)
        failed = owe(app, world, 4, FeeState.FAILED, WHEN + timedelta(hours=1))
        owe(app, world, 5, FeeState.CHARGED, WHEN)
        rows = [r for r in app.execute(OutstandingPayments(org_id=world.org.id)) if r.source.value == "fee"]
        assert [(r.source_id, r.state, r.item, r.note) for r in rows] == [
            (pending.id, "pending", "Late cancellation fee", None),
            (failed.id, "failed", "No-show fee", "The card was declined."),
        ]
        assert all(r.amount == Money(2_500, "USD") and r.client_id == world.client.id for r in rows)

    def test_every_source_in_one_list_oldest_first(self, app: CoachOS, world: World) -> None:
        """Packages, memberships and fees interleave by how long they have been owed."""
        package = attrs.evolve(
            world.package, id=PackageId(uuid4()), payment_state=PaymentState.PENDING, purchased_at=WHEN
        )
        with app.deps.uow() as uow:
            uow.packages.add(package)
            uow.commit()
        fee = owe(app, world, 3, FeeState.FAILED, WHEN - timedelta(days=1))
        due = member(app, world, MembershipStatus.PAST_DUE, WHEN + timedelta(days=1))
        paused = member(app, world, MembershipStatus.PAUSED, WHEN - timedelta(days=2))
        rows = app.execute(OutstandingPayments(org_id=world.org.id))
        assert [r.source_id for r in rows] == [paused.id, fee.id, package.id, due.id]
        assert rows.capped == ()

    def test_each_source_is_capped_and_says_so(self, app: CoachOS, world: World) -> None:
        """With a limit of one, each source gives its oldest row and a source with more is named."""
        first = owe(app, world, 3, FeeState.PENDING, WHEN)
        owe(app, world, 4, FeeState.PENDING, WHEN + timedelta(hours=1))
        due = member(app, world, MembershipStatus.PAST_DUE, WHEN)
        rows = app.execute(OutstandingPayments(org_id=world.org.id, limit=1))
        assert [r.source_id for r in rows if r.source is not accounting.PaymentSource.PACKAGE] == [first.id, due.id]
        assert rows.capped == (accounting.PaymentSource.FEE,)
        assert rows.limit == 1

    def test_a_membership_whose_plan_cannot_be_read_is_named_not_priced(self, app: CoachOS, world: World) -> None:
        """Without its plan a membership has no price: it is left out and named as unreadable; the rest shows."""
        shown = member(app, world, MembershipStatus.PAST_DUE, WHEN)
        orphan = attrs.evolve(shown, id=uuid4(), plan_id=uuid4())
        with app.deps.uow() as uow:
            uow.memberships.add(orphan)
            uow.commit()
        rows = app.execute(OutstandingPayments(org_id=world.org.id))
        assert [r.source_id for r in rows] == [shown.id]
        assert [(u.table, u.row_id) for u in rows.unreadable] == [("memberships", str(orphan.id))]

    def test_another_businesss_memberships_and_fees_never_show(self, app: CoachOS, world: World) -> None:
        """What another business is owed stays out of this business's list."""
        other = make_world(app)
        member(app, other, MembershipStatus.PAST_DUE, WHEN)
        owe(app, other, 3, FeeState.FAILED, WHEN)
        mine = member(app, world, MembershipStatus.PAUSED, WHEN)
        rows = app.execute(OutstandingPayments(org_id=world.org.id))
        assert [r.source_id for r in rows if r.source is not accounting.PaymentSource.PACKAGE] == [mine.id]


def sums_equal(a: Sequence[LedgerSum], b: Sequence[LedgerSum]) -> bool:
    def key(s: LedgerSum) -> tuple[object, ...]:
        return (s.period, s.source_kind, s.account, s.currency, s.item, str(s.client_id), s.amount_minor)

    return sorted(a, key=key) == sorted(b, key=key)


class TestMoneyEvents:
    def test_a_sale_shows_gross_fees_and_net(self) -> None:
        """A card sale: what the client paid, both fees, and the net left at Stripe."""
        e = accounting.MoneyEvent.of(ledger.sale(head(WHEN), Money(10_000, "USD"), 320, 250))
        assert (e.label, e.gross, e.stripe_fee, e.platform_fee, e.net) == ("Sale", 10_000, 320, 250, 9_430)

    def test_a_refund_shows_money_going_back(self) -> None:
        """A full refund is the sale negated: negative gross and net, fees given back."""
        sale = ledger.sale(head(WHEN), Money(10_000, "USD"), 320, 250)
        e = accounting.MoneyEvent.of(ledger.refund(head(WHEN), sale, 10_000))
        assert (e.label, e.gross, e.stripe_fee, e.platform_fee, e.net) == ("Refund", -10_000, -320, -250, -9_430)

    @pytest.mark.parametrize(("amount", "label"), [(5_000, "Payout"), (-5_000, "Payout failed")])
    def test_payouts_and_their_reversals(self, amount: int, label: str) -> None:
        """A payout shows what reached the bank; its reversal, what came back."""
        e = accounting.MoneyEvent.of(ledger.payout(head(WHEN), Money(amount, "USD")))
        assert (e.label, e.gross, e.net) == (label, amount, amount)

    def test_cash_sales_are_named(self) -> None:
        """Money taken by hand reads 'Sale (cash)'."""
        tx = ledger.sale(head(WHEN), Money(2_000, "USD"), 0, 0, received_in=Account.CASH)
        assert accounting.MoneyEvent.of(tx).label == "Sale (cash)"
