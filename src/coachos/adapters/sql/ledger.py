"""The ledger in SQL: rows are inserted, never updated or deleted (the database refuses, migration 0022)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from coachos.adapters.sql.repos import _Repo
from coachos.adapters.sql.tables import ledger_entries, ledger_transactions
from coachos.domain.accounting import LedgerSum, check_boundaries
from coachos.domain.ids import OrgId
from coachos.domain.ledger import Account, Entry, LedgerTransaction, SourceKind
from coachos.domain.money import check_currency

_t, _e = ledger_transactions, ledger_entries


def _beyond(after: tuple[datetime, str], *, newest_first: bool) -> sa.ColumnElement[bool]:
    """Rows past (time, key) in the listing's order (keyset paging: stable while rows are added)."""
    when, key = after
    if newest_first:
        return sa.or_(_t.c.occurred_at < when, sa.and_(_t.c.occurred_at == when, _t.c.key < key))
    return sa.or_(_t.c.occurred_at > when, sa.and_(_t.c.occurred_at == when, _t.c.key > key))


class SqlLedger(_Repo):
    """Ledger transactions and their lines.

    Reads fetch every row (`.all()`) before turning rows into domain values: a line this version
    cannot read raises mid-conversion, and a half-read SQLite cursor kept alive by that traceback
    would hold its read snapshot on the pooled connection, so that connection's next BEGIN IMMEDIATE
    failed with SQLITE_BUSY_SNAPSHOT (found by running the accounting tests in one session).
    """

    def record(self, tx: LedgerTransaction) -> bool:
        """Insert `tx` unless the business has one with its key (ON CONFLICT DO NOTHING); whether it was."""
        insert = postgresql.insert if self._c.dialect.name == "postgresql" else sqlite.insert
        # One statement: writers racing with the same key wait for each other and one row wins.
        stored = self._c.execute(
            insert(_t)
            .values(
                id=tx.id,
                org_id=tx.org_id,
                key=tx.key,
                occurred_at=tx.occurred_at,
                source_kind=tx.source_kind.value,
                source_id=tx.source_id,
                memo=tx.memo,
                client_id=tx.client_id,
                item=tx.item,
            )
            .on_conflict_do_nothing(index_elements=[_t.c.org_id, _t.c.key])
            .returning(_t.c.id)
        ).scalar_one_or_none()
        if stored is None:
            return False
        self._c.execute(
            _e.insert(),
            [
                {
                    "transaction_id": tx.id,
                    "position": n,
                    "org_id": tx.org_id,
                    "account": e.account.value,
                    "amount_minor": e.amount_minor,
                    "currency": e.currency,
                }
                for n, e in enumerate(tx.entries)
            ],
        )
        return True

    def by_key(self, org_id: OrgId, key: str) -> LedgerTransaction | None:
        """The business's transaction recorded under `key`, if any."""
        found = self._read(org_id, sa.select(_t).where(_t.c.org_id == org_id, _t.c.key == key))
        return found[0] if found else None

    def transactions(self, org_id: OrgId) -> Sequence[LedgerTransaction]:
        """The business's transactions, oldest first."""
        return self._read(org_id, sa.select(_t).where(_t.c.org_id == org_id).order_by(_t.c.occurred_at, _t.c.key))

    def balances(self, org_id: OrgId, currency: str) -> Mapping[Account, int]:
        """Each account's balance in `currency`, summed by the database."""
        query = (
            sa.select(_e.c.account, sa.func.sum(_e.c.amount_minor))
            .where(_e.c.org_id == org_id, _e.c.currency == check_currency(currency))
            .group_by(_e.c.account)
        )
        return {Account(account): int(total) for account, total in self._c.execute(query).all()}

    def summary(self, org_id: OrgId, boundaries: Sequence[datetime]) -> Sequence[LedgerSum]:
        """Lines summed by the database per period, kind, account, currency, item and client.

        The period of a transaction is computed in SQL by a CASE over the boundaries (instants the
        business's local months start, computed in Python from its zone), so the database returns
        one row per group, not one per line, and DST and odd offsets need nothing from the database.
        """
        bounds = check_boundaries(boundaries)
        when = _t.c.occurred_at
        period = sa.case(
            (when < bounds[0], -1),
            *((when < b, n) for n, b in enumerate(bounds[1:])),
            else_=None,
        ).label("period")
        query = (
            sa.select(
                period,
                _t.c.source_kind,
                _e.c.account,
                _e.c.currency,
                _t.c.item,
                _t.c.client_id,
                sa.func.sum(_e.c.amount_minor),
            )
            .select_from(_e.join(_t, _t.c.id == _e.c.transaction_id))
            .where(_t.c.org_id == org_id, _e.c.org_id == org_id, when < bounds[-1])
            .group_by(period, _t.c.source_kind, _e.c.account, _e.c.currency, _t.c.item, _t.c.client_id)
        )
        return [
            LedgerSum(int(p), kind, account, currency, item, client, int(total))
            for p, kind, account, currency, item, client, total in self._c.execute(query).all()
            if total
        ]

    def window(
        self,
        org_id: OrgId,
        start: datetime,
        end: datetime,
        *,
        newest_first: bool = False,
        limit: int,
        offset: int = 0,
        kinds: Collection[SourceKind] = (),
        after: tuple[datetime, str] | None = None,
    ) -> Sequence[LedgerTransaction]:
        """Up to `limit` transactions that happened in [start, end) (of `kinds`, if any), by time then key,
        skipping `offset` of them and, if `after` is given, every one up to that (time, key) in this order."""
        order = (_t.c.occurred_at.desc(), _t.c.key.desc()) if newest_first else (_t.c.occurred_at, _t.c.key)
        query = (
            sa.select(_t)
            .where(_t.c.org_id == org_id, _t.c.occurred_at >= start, _t.c.occurred_at < end)
            .where(_t.c.source_kind.in_([k.value for k in kinds]) if kinds else sa.true())
            .where(sa.true() if after is None else _beyond(after, newest_first=newest_first))
            .order_by(*order)
            .limit(limit)
            .offset(offset)
        )
        return self._read(org_id, query)

    def _read(self, org_id: OrgId, query: sa.Select[Any]) -> list[LedgerTransaction]:
        rows = list(self._c.execute(query))
        lines = self._lines(org_id, [row.id for row in rows])
        return [
            LedgerTransaction(
                id=row.id,
                org_id=OrgId(row.org_id),
                key=row.key,
                occurred_at=row.occurred_at,
                source_kind=row.source_kind,
                source_id=row.source_id,
                memo=row.memo,
                entries=lines[row.id],
                client_id=row.client_id,
                item=row.item,
            )
            for row in rows
        ]

    def _lines(self, org_id: OrgId, ids: Iterable[UUID]) -> dict[UUID, list[Entry]]:
        wanted = list(ids)
        lines: dict[UUID, list[Entry]] = defaultdict(list)
        if not wanted:
            return lines
        query = (
            sa.select(_e)
            .where(_e.c.org_id == org_id, _e.c.transaction_id.in_(wanted))
            .order_by(_e.c.transaction_id, _e.c.position)
        )
        for row in self._c.execute(query).all():
            lines[row.transaction_id].append(Entry(row.account, row.amount_minor, row.currency))
        return lines
