"""A double-entry ledger of a business's money, in integer minor units, append-only.

Chart of accounts (the coach's books; debits positive, credits negative, so every transaction sums to
zero in each currency):

- ``stripe_balance`` (asset): what the business holds at Stripe for this money, i.e. the net to the coach.
- ``stripe_fees`` (expense): Stripe's processing fees.
- ``platform_fees`` (expense): Coach OS's fee on the sale (``application_fee_amount``).
- ``revenue`` (income, credit): earned sales: one-off sales, and package sessions as they are used.
- ``deferred_revenue`` (liability, credit): money for package credits not used yet.
- ``cash`` (asset): money the coach took outside Stripe (cash, bank transfer) and recorded by hand.
- ``bank`` (asset): money Stripe paid out of the Stripe balance into the coach's bank account.

A refund reverses the sale it refunds line by line (proportionally for a partial refund), so a full
refund and its sale leave every account where it was; reports tell refunds apart by ``source_kind``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from uuid import UUID

import attrs

from coachos.domain.errors import ValidationError
from coachos.domain.ids import OrgId
from coachos.domain.money import AMOUNT_LIMIT, Money, check_currency


class Account(StrEnum):
    STRIPE_BALANCE = "stripe_balance"
    STRIPE_FEES = "stripe_fees"
    PLATFORM_FEES = "platform_fees"
    REVENUE = "revenue"
    DEFERRED_REVENUE = "deferred_revenue"
    CASH = "cash"
    BANK = "bank"


#: Where a sale's money lands: at Stripe, or in the coach's hand or bank.
ASSETS = (Account.STRIPE_BALANCE, Account.CASH)


class SourceKind(StrEnum):
    SALE = "sale"
    REFUND = "refund"
    DISPUTE = "dispute"
    RECOGNITION = "recognition"
    PAYOUT = "payout"
    #: Stripe's processing fee on a payment, learnt after the sale was recorded (`processing_fee`).
    FEE = "fee"


#: Income accounts: a sale credits one of them with its gross.
INCOME = (Account.REVENUE, Account.DEFERRED_REVENUE)


def _whole(value: object, field: str) -> int:
    # bool is an int subclass and floats lose cents; both would corrupt sums silently.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"Ledger amounts are whole minor units (e.g. 4500 for 45.00), not {type(value).__name__}.", field=field
        )
    if not -AMOUNT_LIMIT < value < AMOUNT_LIMIT:
        raise ValidationError(f"Amounts are limited to {AMOUNT_LIMIT - 1:,} minor units either way.", field=field)
    return value


def _check_amount(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if _whole(value, attribute.name) == 0:
        raise ValidationError("A ledger line moves some money; leave out lines of zero.", field=attribute.name)


def _account(value: object) -> Account:
    try:
        return Account(str(value))
    except ValueError:
        known = ", ".join(a.value for a in Account)
        raise ValidationError(f"'{value}' is not a ledger account; use one of {known}.", field="account") from None


@attrs.frozen
class Entry:
    """One line: `amount_minor` debited (positive) or credited (negative) to `account`."""

    account: Account = attrs.field(converter=_account)
    amount_minor: int = attrs.field(validator=_check_amount)
    currency: str = attrs.field(converter=check_currency)


def _text(limit: int, *, empty: bool = False) -> Callable[[object, attrs.Attribute[str], object], None]:
    def check(_: object, attribute: attrs.Attribute[str], value: object) -> None:
        if not isinstance(value, str) or (not empty and not value.strip()) or len(value) > limit:
            raise ValidationError(
                f"The ledger transaction's {attribute.name} must be text of at most {limit} characters"
                + ("." if empty else ", not empty."),
                field=attribute.name,
            )

    return check


def _aware(_: object, attribute: attrs.Attribute[datetime], value: object) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValidationError("When a ledger transaction happened must be a time with its zone.", field=attribute.name)


def _entries(value: Iterable[Entry]) -> tuple[Entry, ...]:
    return tuple(value)


def _balanced(_: object, __: attrs.Attribute[tuple[Entry, ...]], value: tuple[Entry, ...]) -> None:
    if len(value) < 2 or not all(isinstance(e, Entry) for e in value):
        raise ValidationError("A ledger transaction has at least two lines (Entry).", field="entries")
    for currency, total in totals_by_currency(value).items():
        if total != 0:
            raise ValidationError(
                f"The ledger transaction does not balance: its {currency} lines sum to {total}, not 0.",
                field="entries",
            )


def totals_by_currency(entries: Iterable[Entry]) -> dict[str, int]:
    """The sum of `entries` in each currency."""
    sums: dict[str, int] = defaultdict(int)
    for entry in entries:
        sums[entry.currency] += entry.amount_minor
    return dict(sums)


@attrs.frozen
class LedgerTransaction:
    """Lines that balance to zero in each currency, written once under a `key` unique in the business."""

    id: UUID
    org_id: OrgId
    key: str = attrs.field(validator=_text(200))
    occurred_at: datetime = attrs.field(validator=_aware)
    source_kind: SourceKind = attrs.field(converter=SourceKind)
    #: What this money came from: a Stripe object id, a booking or package id, as text.
    source_id: str = attrs.field(validator=_text(200))
    memo: str = attrs.field(validator=_text(500, empty=True))
    entries: tuple[Entry, ...] = attrs.field(converter=_entries, validator=_balanced)
    #: Who paid (reports group revenue by client); None for money no client is behind.
    client_id: UUID | None = None
    #: What was sold, as the coach named it ("10-session pack", "Monthly membership"); reports group by it.
    item: str = attrs.field(default="", validator=_text(200, empty=True))


def platform_fee(gross: Money, percent: Decimal | str | int) -> Money:
    """`percent` of `gross`, rounded half up to the currency's minor unit (0.5 cent → 1 cent, ¥0.5 → ¥1).

    Exact decimal arithmetic: a float percentage is refused, since 2.675 is not 2.675 as a float.
    """
    if isinstance(percent, (bool, float)) or not isinstance(percent, (Decimal, str, int)):
        raise ValidationError("Give the fee percentage as a decimal string such as '2.5'.", field="percent")
    try:
        pct = Decimal(percent)
    except ArithmeticError:
        raise ValidationError(f"'{percent}' is not a percentage; write it like 2.5.", field="percent") from None
    if not pct.is_finite() or not 0 <= pct <= 100:
        raise ValidationError("A fee percentage is between 0 and 100.", field="percent")
    if gross.amount_minor < 0:
        raise ValidationError("A fee is taken on a sale of zero or more.", field="gross")
    # Amounts are minor units already, so rounding to a whole number is rounding to the currency's
    # minor unit whatever its decimals (cents for USD, yen for JPY, fils for BHD).
    fee = (Decimal(gross.amount_minor) * pct / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return Money(int(fee), gross.currency)


def _lines(*pairs: tuple[Account, int], currency: str) -> tuple[Entry, ...]:
    return tuple(Entry(account, amount, currency) for account, amount in pairs if amount != 0)


@attrs.frozen
class Header:
    """What every transaction carries besides its lines."""

    id: UUID
    org_id: OrgId
    key: str
    occurred_at: datetime
    source_id: str
    memo: str = ""
    client_id: UUID | None = None
    item: str = ""

    def transaction(self, kind: SourceKind, entries: Iterable[Entry]) -> LedgerTransaction:
        return LedgerTransaction(
            id=self.id,
            org_id=self.org_id,
            key=self.key,
            occurred_at=self.occurred_at,
            source_kind=kind,
            source_id=self.source_id,
            memo=self.memo,
            entries=tuple(entries),
            client_id=self.client_id,
            item=self.item,
        )


def sale(
    header: Header,
    gross: Money,
    stripe_fee: int,
    platform_fee: int,
    *,
    deferred: bool = False,
    received_in: Account = Account.STRIPE_BALANCE,
) -> LedgerTransaction:
    """A paid sale: the gross credited to revenue (to deferred revenue for a package's credits), split
    into Stripe's fee, the platform's fee and the net the coach keeps at Stripe (or, for money taken
    by hand, `received_in=Account.CASH` with no fees)."""
    if received_in not in ASSETS:
        raise ValidationError("A sale's money lands at Stripe or in cash.", field="received_in")
    fee, cut = _whole(stripe_fee, "stripe_fee"), _whole(platform_fee, "platform_fee")
    if gross.amount_minor <= 0:
        raise ValidationError("A sale is of more than zero.", field="gross")
    if fee < 0 or cut < 0 or fee + cut > gross.amount_minor:
        raise ValidationError("Fees are zero or more and together no more than the sale.", field="stripe_fee")
    income = Account.DEFERRED_REVENUE if deferred else Account.REVENUE
    entries = _lines(
        (received_in, gross.amount_minor - fee - cut),
        (Account.STRIPE_FEES, fee),
        (Account.PLATFORM_FEES, cut),
        (income, -gross.amount_minor),
        currency=gross.currency,
    )
    return header.transaction(SourceKind.SALE, entries)


def gross_of(sale_tx: LedgerTransaction) -> Money:
    """What the sale's client paid: the credit to its income account."""
    income = [e for e in sale_tx.entries if e.account in INCOME]
    if sale_tx.source_kind is not SourceKind.SALE or len(income) != 1:
        raise ValidationError("Only a sale can be refunded.", field="sale")
    return Money(-income[0].amount_minor, income[0].currency)


def _half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero, in integers (denominator > 0)."""
    magnitude = (2 * abs(numerator) + denominator) // (2 * denominator)
    return magnitude if numerator >= 0 else -magnitude


def refund(
    header: Header,
    sale_tx: LedgerTransaction,
    amount_minor: int,
    *,
    refunded_before: int = 0,
    kind: SourceKind = SourceKind.REFUND,
    from_deferred: int | None = None,
) -> LedgerTransaction:
    """`amount_minor` of `sale_tx` given back: every line of the sale reversed in proportion.

    A fee line gives back its share of everything refunded so far, rounded half away from zero in
    integers, less what earlier refunds gave back (`refunded_before` is the sum of their amounts):
    ``round(fee * (before + amount) / gross) - round(fee * before / gross)``. So partial refunds that
    add up to the sale give back exactly its fees, never a cent more. The income line is exactly the
    amount; what rounding leaves falls on the Stripe balance, so the transaction balances. A full
    refund is the sale negated, line for line. Disputes lost use ``kind=SourceKind.DISPUTE``.

    A package's sale lands in deferred revenue, part of which sessions used since have moved to
    revenue. `from_deferred` then says how much of the income side comes out of deferred revenue
    (what the credits the refund removes still stand for); the rest of the amount comes out of
    revenue (a negative rest puts the difference into revenue: a remainder the removed credits held
    beyond the amount). So deferred revenue never goes below what the remaining credits stand for.
    """
    gross = gross_of(sale_tx)
    amount = _whole(amount_minor, "amount_minor")
    before = _whole(refunded_before, "refunded_before")
    if not 0 <= before < gross.amount_minor:
        raise ValidationError("What was refunded before is zero or more and less than the sale.", field="amount")
    if not 0 < amount <= gross.amount_minor - before:
        raise ValidationError(
            f"A refund is more than zero and at most the {gross.amount_minor - before} not refunded yet.",
            field="amount",
        )

    def share(line: int) -> int:
        g = gross.amount_minor
        return _half_up(line * (before + amount), g) - _half_up(line * before, g)

    assets = [e.account for e in sale_tx.entries if e.account in ASSETS]
    asset = assets[0] if assets else Account.STRIPE_BALANCE
    scaled = [
        (e.account, amount if e.amount_minor < 0 else -share(e.amount_minor))
        for e in sale_tx.entries
        if e.account is not asset
    ]
    if from_deferred is not None and any(e.account is Account.DEFERRED_REVENUE for e in sale_tx.entries):
        deferred = _whole(from_deferred, "from_deferred")
        if deferred < 0:
            raise ValidationError("What comes out of deferred revenue is zero or more.", field="from_deferred")
        scaled = [(a, v) for a, v in scaled if a is not Account.DEFERRED_REVENUE]
        scaled += [(Account.DEFERRED_REVENUE, deferred), (Account.REVENUE, amount - deferred)]
    rest = -sum(a for _, a in scaled)
    return header.transaction(kind, _lines(*scaled, (asset, rest), currency=gross.currency))


def processing_fee(header: Header, fee: Money) -> LedgerTransaction:
    """Stripe's fee on a sale recorded before the fee was known: the coach's Stripe balance pays it."""
    if fee.amount_minor <= 0:
        raise ValidationError("A fee is more than zero.", field="fee")
    entries = _lines(
        (Account.STRIPE_FEES, fee.amount_minor), (Account.STRIPE_BALANCE, -fee.amount_minor), currency=fee.currency
    )
    return header.transaction(SourceKind.FEE, entries)


def recognise(header: Header, amount: Money) -> LedgerTransaction:
    """Deferred revenue earned (sessions used, or credits expired): moved to revenue."""
    if amount.amount_minor <= 0:
        raise ValidationError("Recognise more than zero.", field="amount")
    entries = _lines(
        (Account.DEFERRED_REVENUE, amount.amount_minor),
        (Account.REVENUE, -amount.amount_minor),
        currency=amount.currency,
    )
    return header.transaction(SourceKind.RECOGNITION, entries)


def payout(header: Header, amount: Money) -> LedgerTransaction:
    """Stripe paid `amount` out of the Stripe balance into the coach's bank; a negative amount reverses one
    (a payout that failed after it was recorded paid comes back to the Stripe balance)."""
    if amount.amount_minor == 0:
        raise ValidationError("A payout moves some money.", field="amount")
    entries = _lines(
        (Account.BANK, amount.amount_minor),
        (Account.STRIPE_BALANCE, -amount.amount_minor),
        currency=amount.currency,
    )
    return header.transaction(SourceKind.PAYOUT, entries)


def balances(transactions: Iterable[LedgerTransaction], currency: str) -> Mapping[Account, int]:
    """Each account's balance in `currency` over `transactions` (debits positive); accounts never used left out."""
    code = check_currency(currency)
    sums: dict[Account, int] = defaultdict(int)
    for tx in transactions:
        for entry in tx.entries:
            if entry.currency == code:
                sums[entry.account] += entry.amount_minor
    return dict(sums)
