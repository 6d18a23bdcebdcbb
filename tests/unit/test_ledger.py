"""The ledger: transactions balance per currency, fee rounding, refunds and recognition; the store (on the fakes)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from itertools import count
from uuid import UUID, uuid4

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachos import CoachOS
from coachos.domain import ledger
from coachos.domain.errors import ValidationError
from coachos.domain.ids import OrgId
from coachos.domain.ledger import Account, Entry, Header, LedgerTransaction, SourceKind
from coachos.domain.money import Money
from tests.helpers import World

WHEN = datetime(2026, 3, 2, 12, tzinfo=UTC)
ORG = OrgId(UUID(int=1))
_serial = count()


def header(org: OrgId = ORG, key: str | None = None) -> Header:
    return Header(id=uuid4(), org_id=org, key=key or f"k{next(_serial)}-{uuid4()}", occurred_at=WHEN, source_id="ch_1")


def a_sale(
    gross: int = 10_000, fee: int = 320, cut: int = 250, *, currency: str = "USD", deferred: bool = False
) -> LedgerTransaction:
    return ledger.sale(header(), Money(gross, currency), fee, cut, deferred=deferred)


def by_account(*txs: LedgerTransaction) -> dict[Account, int]:
    sums: dict[Account, int] = {}
    for tx in txs:
        for e in tx.entries:
            sums[e.account] = sums.get(e.account, 0) + e.amount_minor
    return sums


class TestTransactions:
    def test_a_transaction_that_does_not_balance_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="does not balance"):
            header().transaction(SourceKind.SALE, [Entry("revenue", -100, "USD"), Entry("stripe_balance", 99, "USD")])

    def test_balancing_across_currencies_is_not_balancing(self) -> None:
        """100 USD against 100 EUR sums to zero as numbers but balances in neither currency."""
        with pytest.raises(ValidationError, match="USD lines sum to -100"):
            header().transaction(SourceKind.SALE, [Entry("revenue", -100, "USD"), Entry("stripe_balance", 100, "EUR")])

    def test_two_currencies_each_balanced_are_fine(self) -> None:
        tx = header().transaction(
            SourceKind.SALE,
            [
                Entry("revenue", -100, "USD"),
                Entry("stripe_balance", 100, "USD"),
                Entry("revenue", -15, "JPY"),
                Entry("stripe_balance", 15, "jpy"),
            ],
        )
        assert ledger.totals_by_currency(tx.entries) == {"USD": 0, "JPY": 0}

    @pytest.mark.parametrize("amount", [1.5, 100.0, True, "100", Decimal(100)])
    def test_amounts_are_whole_minor_units(self, amount: object) -> None:
        with pytest.raises(ValidationError, match="whole minor units"):
            Entry("revenue", amount, "USD")  # type: ignore[arg-type]

    def test_lines_of_zero_and_unknown_currencies_and_accounts_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="zero"):
            Entry("revenue", 0, "USD")
        with pytest.raises(ValidationError, match="currency"):
            Entry("revenue", 1, "ABC")
        with pytest.raises(ValidationError, match="not a ledger account"):
            Entry("cash_under_mattress", 1, "USD")  # type: ignore[arg-type]

    def test_times_need_a_zone_and_keys_text(self) -> None:
        with pytest.raises(ValidationError, match="zone"):
            ledger.sale(
                Header(id=uuid4(), org_id=ORG, key="k", occurred_at=datetime(2026, 3, 2), source_id="s"),  # noqa: DTZ001
                Money(100, "USD"),
                0,
                0,
            )
        with pytest.raises(ValidationError, match="key"):
            ledger.sale(header(key=" "), Money(100, "USD"), 0, 0)


class TestPlatformFee:
    @pytest.mark.parametrize(
        ("gross", "percent", "fee"),
        [
            (20, "2.5", 1),  # 0.5 cent: half up
            (19, "2.5", 0),  # 0.475 cent
            (100, "2.5", 3),  # 2.5 cents
            (60, "2.5", 2),  # 1.5 cents
            (10_000, "2.5", 250),
            (10_000, "0", 0),
            (999, "100", 999),
        ],
    )
    def test_rounded_half_up_to_the_cent(self, gross: int, percent: str, fee: int) -> None:
        assert ledger.platform_fee(Money(gross, "USD"), percent) == Money(fee, "USD")

    def test_yen_have_no_cents_so_half_a_yen_rounds_to_a_yen(self) -> None:
        assert ledger.platform_fee(Money(20, "JPY"), "2.5") == Money(1, "JPY")  # ¥0.5
        assert ledger.platform_fee(Money(1001, "JPY"), Decimal("2.5")) == Money(25, "JPY")  # ¥25.025

    def test_three_decimal_currencies_round_to_their_own_minor_unit(self) -> None:
        assert ledger.platform_fee(Money(20, "BHD"), "2.5") == Money(1, "BHD")  # 0.0005 BHD → 0.001

    @pytest.mark.parametrize("percent", [2.5, True, "-1", "101", "NaN", "lots"])
    def test_float_and_nonsense_percentages_are_refused(self, percent: object) -> None:
        with pytest.raises(ValidationError):
            ledger.platform_fee(Money(100, "USD"), percent)  # type: ignore[arg-type]


class TestBuilders:
    def test_a_sale_splits_its_gross(self) -> None:
        tx = a_sale(10_000, 320, 250)
        assert by_account(tx) == {
            Account.STRIPE_BALANCE: 9_430,
            Account.STRIPE_FEES: 320,
            Account.PLATFORM_FEES: 250,
            Account.REVENUE: -10_000,
        }

    def test_a_package_sale_is_deferred(self) -> None:
        assert by_account(a_sale(deferred=True))[Account.DEFERRED_REVENUE] == -10_000

    def test_fees_above_the_sale_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="no more than the sale"):
            a_sale(100, 60, 41)
        with pytest.raises(ValidationError):
            a_sale(100, 1.5, 0)  # type: ignore[arg-type]

    def test_half_a_sale_refunded_rounds_each_fee_half_up(self) -> None:
        sale = a_sale(1_000, 59, 25)  # half: 29.5 → 30, 12.5 → 13
        back = ledger.refund(header(), sale, 500)
        assert by_account(back) == {
            Account.STRIPE_FEES: -30,
            Account.PLATFORM_FEES: -13,
            Account.REVENUE: 500,
            Account.STRIPE_BALANCE: -457,
        }
        assert back.source_kind is SourceKind.REFUND

    def test_two_half_refunds_give_back_the_fees_exactly(self) -> None:
        """Fee 1 on a sale of 2: refunding 1 then 1 gives back 1 then 0, not 1 and 1."""
        sale = a_sale(2, 1, 0)
        first = ledger.refund(header(), sale, 1)
        second = ledger.refund(header(), sale, 1, refunded_before=1)
        assert by_account(first)[Account.STRIPE_FEES] == -1
        assert Account.STRIPE_FEES not in by_account(second)
        assert set(by_account(sale, first, second).values()) == {0}

    def test_a_lost_dispute_reverses_like_a_refund(self) -> None:
        sale = a_sale(1_000, 59, 25)
        lost = ledger.refund(header(), sale, 1_000, kind=SourceKind.DISPUTE)
        assert lost.source_kind is SourceKind.DISPUTE
        assert set(by_account(sale, lost).values()) == {0}

    def test_refunds_beyond_the_sale_or_of_a_refund_are_refused(self) -> None:
        sale = a_sale(1_000)
        with pytest.raises(ValidationError, match="at most"):
            ledger.refund(header(), sale, 1_001)
        with pytest.raises(ValidationError, match="at most the 400"):
            ledger.refund(header(), sale, 401, refunded_before=600)
        with pytest.raises(ValidationError, match="Only a sale"):
            ledger.refund(header(), ledger.refund(header(), sale, 10), 5)

    def test_recognising_moves_deferred_to_revenue(self) -> None:
        tx = ledger.recognise(header(), Money(2_500, "USD"))
        assert by_account(tx) == {Account.DEFERRED_REVENUE: 2_500, Account.REVENUE: -2_500}


CURRENCIES = st.sampled_from(["USD", "EUR", "JPY", "GBP", "BHD"])


@st.composite
def sales(draw: st.DrawFn) -> tuple[LedgerTransaction, int, int, int]:
    """A sale with a platform fee by percentage and a Stripe fee that fits; the sale, gross and both fees."""
    gross = draw(st.integers(1, 10**12))
    currency = draw(CURRENCIES)
    cut = ledger.platform_fee(Money(gross, currency), draw(st.decimals(0, 100, places=2))).amount_minor
    fee = draw(st.integers(0, gross - cut))
    tx = ledger.sale(header(), Money(gross, currency), fee, cut, deferred=draw(st.booleans()))
    return tx, gross, fee, cut


class TestProperties:
    @given(sales())
    def test_fee_splits_always_sum_to_gross(self, drawn: tuple[LedgerTransaction, int, int, int]) -> None:
        tx, gross, fee, cut = drawn
        sums = by_account(tx)
        assert sums.get(Account.STRIPE_FEES, 0) == fee
        assert sums.get(Account.PLATFORM_FEES, 0) == cut
        assert sums.get(Account.STRIPE_BALANCE, 0) + fee + cut == gross
        assert -sum(sums.get(a, 0) for a in ledger.INCOME) == gross

    @given(sales(), st.data())
    def test_every_transaction_balances_to_zero_per_currency(
        self, drawn: tuple[LedgerTransaction, int, int, int], data: st.DataObject
    ) -> None:
        sale, gross, _, _ = drawn
        back = ledger.refund(header(), sale, data.draw(st.integers(1, gross)))
        used = ledger.recognise(header(), Money(data.draw(st.integers(1, gross)), sale.entries[0].currency))
        for tx in (sale, back, used):
            assert set(ledger.totals_by_currency(tx.entries).values()) == {0}

    @given(sales())
    def test_a_full_refund_undoes_the_sale_in_every_account(
        self, drawn: tuple[LedgerTransaction, int, int, int]
    ) -> None:
        sale, gross, _, _ = drawn
        back = ledger.refund(header(), sale, gross)
        assert set(by_account(sale, back).values()) == {0}

    @given(sales(), st.integers(1, 10**12))
    def test_a_partial_refund_gives_back_exactly_its_amount(
        self, drawn: tuple[LedgerTransaction, int, int, int], wanted: int
    ) -> None:
        sale, gross, fee, cut = drawn
        amount = min(wanted, gross)
        back = by_account(ledger.refund(header(), sale, amount))
        assert sum(back.get(a, 0) for a in ledger.INCOME) == amount
        assert -back.get(Account.STRIPE_FEES, 0) <= fee
        assert -back.get(Account.PLATFORM_FEES, 0) <= cut

    @given(sales(), st.lists(st.integers(1, 10**12), max_size=6))
    def test_partial_refunds_adding_up_to_the_sale_undo_it(
        self, drawn: tuple[LedgerTransaction, int, int, int], cuts: list[int]
    ) -> None:
        """Any split of the sale into partial refunds leaves every account where it was before the sale."""
        sale, gross, _, _ = drawn
        points = sorted({c % gross for c in cuts if c % gross} | {gross})
        txs, before = [sale], 0
        for point in points:
            txs.append(ledger.refund(header(), sale, point - before, refunded_before=before))
            before = point
        assert set(by_account(*txs).values()) == {0}

    @given(st.lists(st.tuples(st.integers(1, 20), st.integers(1, 100_000), st.integers(0, 25)), min_size=1, max_size=8))
    def test_deferred_revenue_is_unused_credits_times_unit_price(self, packages: list[tuple[int, int, int]]) -> None:
        """Packages of n credits at a unit price are sold, then some sessions used in turn; the books agree."""
        txs: list[LedgerTransaction] = []
        unused = 0
        for credits, unit, uses in packages:
            txs.append(ledger.sale(header(), Money(credits * unit, "USD"), 0, 0, deferred=True))
            left = credits
            for _ in range(min(uses, credits)):
                txs.append(ledger.recognise(header(), Money(unit, "USD")))
                left -= 1
            unused += left * unit
        assert -ledger.balances(txs, "USD").get(Account.DEFERRED_REVENUE, 0) == unused


def record(app: CoachOS, tx: LedgerTransaction) -> bool:
    with app.deps.uow() as uow:
        stored = uow.ledger.record(tx)
        uow.commit()
    return stored


class TestStore:
    def test_recording_a_key_twice_keeps_the_first(self, app: CoachOS, world: World) -> None:
        first = ledger.sale(header(world.org.id, "sale:ch_1"), Money(10_000, "USD"), 320, 250)
        again = ledger.sale(header(world.org.id, "sale:ch_1"), Money(99, "USD"), 0, 0)
        assert record(app, first) is True
        assert record(app, again) is False
        with app.deps.uow() as uow:
            assert uow.ledger.by_key(world.org.id, "sale:ch_1") == first
            assert uow.ledger.transactions(world.org.id) == [first]
            assert uow.ledger.balances(world.org.id, "usd")[Account.REVENUE] == -10_000
            assert uow.ledger.by_key(world.org.id, "nothing") is None

    def test_a_rolled_back_transaction_records_nothing(self, app: CoachOS, world: World) -> None:
        with app.deps.uow() as uow:
            uow.ledger.record(ledger.sale(header(world.org.id, "gone"), Money(100, "USD"), 0, 0))
        with app.deps.uow() as uow:
            assert uow.ledger.by_key(world.org.id, "gone") is None

    def test_balances_are_per_currency(self, app: CoachOS, world: World) -> None:
        record(app, ledger.sale(header(world.org.id), Money(100, "USD"), 3, 2))
        record(app, ledger.sale(header(world.org.id), Money(500, "JPY"), 0, 13))
        with app.deps.uow() as uow:
            assert uow.ledger.balances(world.org.id, "JPY") == {
                Account.STRIPE_BALANCE: 487,
                Account.PLATFORM_FEES: 13,
                Account.REVENUE: -500,
            }
            assert uow.ledger.balances(world.org.id, "EUR") == {}

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(sales(), min_size=1, max_size=4), st.data())
    def test_a_report_totals_equal_the_ledger_sums(
        self, app: CoachOS, world: World, drawn: list[tuple[LedgerTransaction, int, int, int]], data: st.DataObject
    ) -> None:
        """The store's SUMs equal the lines added up one by one, per currency (the ledger grows across examples)."""
        for sale, gross, _, _ in drawn:
            mine = attrs.evolve(sale, org_id=world.org.id)
            record(app, mine)
            if data.draw(st.booleans()):
                record(app, ledger.refund(header(world.org.id), mine, data.draw(st.integers(1, gross))))
        with app.deps.uow() as uow:
            everything = uow.ledger.transactions(world.org.id)
            for currency in ("USD", "EUR", "JPY", "GBP", "BHD"):
                report = ledger.balances(everything, currency)
                assert uow.ledger.balances(world.org.id, currency) == report
                assert sum(report.values()) == 0
