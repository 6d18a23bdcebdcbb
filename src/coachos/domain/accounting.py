"""Accounting reports derived from the ledger, and its journal lines as an accountant imports them.

Reports never keep a number of their own: every figure is a sum of ledger lines, so the books and
the reports cannot disagree. The storage adds lines up by *period* (`LedgerSum`), where periods are
given as boundaries (the instants local months start in the business's zone, so a sale at 23:30 on
the last day of a month belongs to that month, whatever the clocks did); the report is built from
those sums alone. Period -1 is everything before the first boundary (it only feeds closing balances
such as deferred revenue); lines at or after the last boundary are left out.

Meanings (amounts in the currency's minor units, positive numbers):

- *Sales (gross)*: what clients paid: credits to revenue or deferred revenue by sales.
- *Refunds*: what was given back (refunds and lost disputes), from the same income accounts.
- *Recognised revenue*: credits to revenue, net of refunds: one-off sales when paid, package sessions as
  they are used (or expire).
- *Fees*: Stripe's and the platform's, net of what refunds gave back.
- *Payouts*: money Stripe moved to the coach's bank.
- *Deferred revenue*: money for package credits not used yet, at the end of the range.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs

from coachos.domain.errors import CorruptRecord, ValidationError
from coachos.domain.ledger import INCOME, Account, LedgerTransaction, SourceKind
from coachos.domain.money import MINOR_DIGITS, Money
from coachos.domain.rows import Rows
from coachos.domain.timezones import day_start

#: The longest range a report covers, in months (the by-month query has one bucket per month).
MAX_MONTHS = 36
#: Characters that make a spreadsheet read a cell as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_REFUNDS = (SourceKind.REFUND, SourceKind.DISPUTE)


@attrs.frozen
class LedgerSum:
    """The sum of the ledger lines of one period, kind of transaction, account, currency, item and client."""

    period: int
    source_kind: SourceKind = attrs.field(converter=SourceKind)
    account: Account = attrs.field(converter=Account)
    currency: str
    item: str
    client_id: UUID | None
    amount_minor: int


def check_boundaries(boundaries: Sequence[datetime]) -> tuple[datetime, ...]:
    """`boundaries` if they are at least two aware instants in increasing order."""
    found = tuple(boundaries)
    if len(found) < 2 or any(b.utcoffset() is None for b in found):
        raise ValidationError("A report needs at least one period between aware instants.", field="boundaries")
    if any(a >= b for a, b in itertools.pairwise(found)):
        raise ValidationError("Report periods must follow each other.", field="boundaries")
    return found


def period_of(instant: datetime, boundaries: Sequence[datetime]) -> int | None:
    """The index of the period `instant` is in; -1 before the first boundary, None at or after the last."""
    if instant >= boundaries[-1]:
        return None
    return bisect.bisect_right(boundaries, instant) - 1


def summarise(transactions: Iterable[LedgerTransaction], boundaries: Sequence[datetime]) -> list[LedgerSum]:
    """What the storage's aggregation returns, computed from transactions (the fakes use it; tests compare)."""
    bounds = check_boundaries(boundaries)
    sums: dict[tuple[int, SourceKind, Account, str, str, UUID | None], int] = defaultdict(int)
    for tx in transactions:
        period = period_of(tx.occurred_at, bounds)
        if period is None:
            continue
        for e in tx.entries:
            sums[(period, tx.source_kind, e.account, e.currency, tx.item, tx.client_id)] += e.amount_minor
    return [LedgerSum(*key, amount) for key, amount in sums.items() if amount != 0]


def month_start(month: date) -> date:
    """The first day of `month`'s month."""
    return month.replace(day=1)


def next_month(month: date) -> date:
    """The first day of the month after `month`'s."""
    return (month_start(month) + timedelta(days=32)).replace(day=1)


def months_between(first: date, last: date) -> list[date]:
    """The first days of the months from `first`'s to `last`'s, both included (at most MAX_MONTHS)."""
    if first > last:
        raise ValidationError("The range starts after it ends.", field="from")
    months = [month_start(first)]
    while months[-1] < month_start(last):
        months.append(next_month(months[-1]))
        if len(months) > MAX_MONTHS:
            raise ValidationError(f"A report covers at most {MAX_MONTHS} months.", field="to")
    return months


def month_boundaries(months: Sequence[date], tz: ZoneInfo) -> list[datetime]:
    """The instants (UTC) each month starts in `tz`, then the instant the last one ends."""
    return [day_start(m, tz) for m in months] + [day_start(next_month(months[-1]), tz)]


@attrs.frozen
class Line:
    """One row of a breakdown: gross sales, refunds and recognised revenue of one item or client."""

    sales: int = 0
    refunds: int = 0
    recognised: int = 0


@attrs.frozen
class Report:
    """A business's accounting report for a range of local months, in one currency."""

    currency: str
    months: tuple[date, ...]
    #: Recognised revenue in each month, in the order of `months`.
    revenue_by_month: tuple[int, ...]
    sales: int
    refunds: int
    recognised: int
    stripe_fees: int
    platform_fees: int
    payouts: int
    #: Money for credits not used yet, at the end of the range.
    deferred: int
    by_item: tuple[tuple[str, Line], ...]
    by_client: tuple[tuple[UUID | None, Line], ...]
    #: Currencies other than `currency` the ledger has lines in over the range (not in these figures).
    other_currencies: tuple[str, ...] = ()

    @property
    def net(self) -> int:
        """What the coach kept of the range's sales: gross less refunds and both fees."""
        return self.sales - self.refunds - self.stripe_fees - self.platform_fees

    def money(self, amount: int) -> Money:
        """`amount` in the report's currency."""
        return Money(amount, self.currency)


def _add(lines: dict[object, list[int]], key: object, s: LedgerSum) -> None:
    row = lines.setdefault(key, [0, 0, 0])
    if s.account in INCOME and s.source_kind is SourceKind.SALE:
        row[0] -= s.amount_minor
    if s.account in INCOME and s.source_kind in _REFUNDS:
        row[1] += s.amount_minor
    if s.account is Account.REVENUE:
        row[2] -= s.amount_minor


def build_report(sums: Iterable[LedgerSum], months: Sequence[date], currency: str) -> Report:
    """The report for `months` (period i is months[i]) from the storage's sums, in `currency`."""
    by_month = [0] * len(months)
    totals: dict[str, int] = defaultdict(int)
    items: dict[object, list[int]] = {}
    clients: dict[object, list[int]] = {}
    others: set[str] = set()
    for s in sums:
        if s.currency != currency:
            others.add(s.currency)
            continue
        if s.account is Account.DEFERRED_REVENUE:
            totals["deferred"] -= s.amount_minor
        if s.period < 0:
            continue
        if s.account is Account.REVENUE:
            by_month[s.period] -= s.amount_minor
        if s.account is Account.STRIPE_FEES:
            totals["stripe_fees"] += s.amount_minor
        if s.account is Account.PLATFORM_FEES:
            totals["platform_fees"] += s.amount_minor
        if s.account is Account.BANK:
            totals["payouts"] += s.amount_minor
        _add(items, s.item, s)
        _add(clients, s.client_id, s)
    item_lines = _lines(items)
    return Report(
        currency=currency,
        months=tuple(months),
        revenue_by_month=tuple(by_month),
        sales=sum(line.sales for _, line in item_lines),
        refunds=sum(line.refunds for _, line in item_lines),
        recognised=sum(by_month),
        stripe_fees=totals["stripe_fees"],
        platform_fees=totals["platform_fees"],
        payouts=totals["payouts"],
        deferred=totals["deferred"],
        by_item=tuple((str(k), line) for k, line in item_lines),
        by_client=tuple((k if isinstance(k, UUID) else None, line) for k, line in _lines(clients)),
        other_currencies=tuple(sorted(others)),
    )


def _lines(found: dict[object, list[int]]) -> list[tuple[object, Line]]:
    """Rows with something in them, the biggest sales first."""
    rows = [(key, Line(*values)) for key, values in found.items() if any(values)]
    return sorted(rows, key=lambda kv: (-kv[1].sales, -kv[1].recognised, str(kv[0])))


class PaymentSource(StrEnum):
    """What an outstanding or failed payment is for."""

    PACKAGE = "package"
    #: A membership whose renewal failed (past due, or paused once its grace ran out).
    MEMBERSHIP = "membership"
    #: A late-cancellation or no-show fee not charged yet, or whose charge failed.
    FEE = "fee"

    @property
    def label(self) -> str:
        """The kind for people: 'Package', 'Membership', 'Policy fee'."""
        return {PaymentSource.FEE: "Policy fee"}.get(self, self.value.capitalize())


#: How many rows of each source the outstanding list reads at most (the oldest).
OUTSTANDING_PER_SOURCE = 100


@attrs.frozen(kw_only=True)
class OutstandingPayment:
    """A payment a client still owes, or one that failed."""

    source: PaymentSource
    source_id: UUID
    client_id: UUID
    item: str
    amount: Money
    #: 'pending' or 'failed' (packages, fees), 'past_due' or 'paused' (memberships).
    state: str
    #: Since when it is owed: the package's sale, the fee's recording or failure, the membership's falling due.
    since: datetime
    #: A past-due membership's end of grace (its credits pause then), else None.
    until: datetime | None = None
    #: Why a charge failed, in words a coach can act on (fees), else None.
    note: str | None = None

    @property
    def state_label(self) -> str:
        """The state for people ('past due')."""
        return self.state.replace("_", " ")


def oldest_first(*sources: Iterable[OutstandingPayment]) -> list[OutstandingPayment]:
    """All sources' rows in one list, the longest owed first (ties by kind and id, so the order is stable)."""
    rows = itertools.chain.from_iterable(sources)
    return sorted(rows, key=lambda r: (r.since, r.source.value, str(r.source_id)))


class Outstanding(Rows[OutstandingPayment]):
    """The outstanding list, plus which sources had more rows than were read (`capped`)."""

    def __init__(
        self,
        items: Iterable[OutstandingPayment] = (),
        unreadable: Iterable[CorruptRecord] = (),
        capped: Iterable[PaymentSource] = (),
        limit: int = OUTSTANDING_PER_SOURCE,
    ) -> None:
        super().__init__(items, unreadable)
        #: The sources of which only the oldest `limit` rows are listed.
        self.capped: tuple[PaymentSource, ...] = tuple(capped)
        #: How many rows of each source were read at most.
        self.limit = limit


#: The kinds of transaction the payments page lists (money that moved, not revenue recognised).
MONEY_EVENTS = (SourceKind.SALE, SourceKind.REFUND, SourceKind.DISPUTE, SourceKind.PAYOUT)


@attrs.frozen
class MoneyEvent:
    """A ledger transaction as a payments list shows it: what the client paid (negative when given back),
    the fees, and what reached the coach's balance, at Stripe, in cash or in the bank."""

    tx: LedgerTransaction
    currency: str
    gross: int
    stripe_fee: int
    platform_fee: int
    net: int

    @property
    def label(self) -> str:
        """What happened, for people: 'Sale', 'Sale (cash)', 'Refund', 'Dispute lost', 'Payout', 'Payout failed'."""
        kind = self.tx.source_kind
        if kind is SourceKind.PAYOUT:
            return "Payout" if self.gross > 0 else "Payout failed"
        if kind is SourceKind.SALE and any(e.account is Account.CASH for e in self.tx.entries):
            return "Sale (cash)"
        return {SourceKind.DISPUTE: "Dispute lost"}.get(kind, kind.value.capitalize())

    @classmethod
    def of(cls, tx: LedgerTransaction) -> MoneyEvent:
        """The figures of `tx` in its first line's currency."""
        currency = tx.entries[0].currency

        def total(*accounts: Account) -> int:
            return sum(e.amount_minor for e in tx.entries if e.account in accounts and e.currency == currency)

        if tx.source_kind is SourceKind.PAYOUT:
            moved = total(Account.BANK)
            return cls(tx, currency, moved, 0, 0, moved)
        return cls(
            tx,
            currency,
            gross=-total(*INCOME),
            stripe_fee=total(Account.STRIPE_FEES),
            platform_fee=total(Account.PLATFORM_FEES),
            net=total(Account.STRIPE_BALANCE, Account.CASH),
        )


# ---- Journal export ---------------------------------------------------------------------------------

#: The journal CSV's columns, in the manual-journal shape Xero and QuickBooks import.
JOURNAL_COLUMNS = ("Date", "Reference", "Account", "Description", "Debit", "Credit", "Currency")

#: How each ledger account is named in the export (the accountant maps them to their chart once).
ACCOUNT_NAMES = {
    Account.STRIPE_BALANCE: "Stripe balance",
    Account.STRIPE_FEES: "Stripe fees",
    Account.PLATFORM_FEES: "Platform fees",
    Account.REVENUE: "Sales revenue",
    Account.DEFERRED_REVENUE: "Deferred revenue (unused credits)",
    Account.CASH: "Cash and bank (recorded by hand)",
    Account.BANK: "Bank (Stripe payouts)",
}


def decimal_text(amount_minor: int, currency: str) -> str:
    """`amount_minor` as a decimal string with the currency's decimals (12345 USD → "123.45"); no floats."""
    digits = MINOR_DIGITS[currency]
    return str(Decimal(amount_minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits)))


def safe_cell(text: str) -> str:
    """`text` made inert for spreadsheets: a cell starting like a formula gets a leading apostrophe."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def journal_rows(tx: LedgerTransaction, tz: ZoneInfo, client_name: str | None) -> Iterator[tuple[str, ...]]:
    """The CSV rows of one transaction: one per line, debits and credits in their own columns.

    The description is what the coach's books need: the item, the memo and the client's name (the
    coach's own bookkeeping data, in the coach's own export; never logged).
    """
    local_date = tx.occurred_at.astimezone(tz).date().isoformat()
    words = [w for w in (tx.source_kind.value.capitalize(), tx.item, tx.memo, client_name) if w]
    description = " · ".join(words)
    for e in tx.entries:
        amount = decimal_text(abs(e.amount_minor), e.currency)
        debit, credit = (amount, "") if e.amount_minor > 0 else ("", amount)
        yield tuple(
            safe_cell(cell)
            for cell in (local_date, tx.key, ACCOUNT_NAMES[e.account], description, debit, credit, e.currency)
        )
