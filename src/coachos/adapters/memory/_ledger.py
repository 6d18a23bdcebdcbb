"""The ledger in memory: transactions are only ever added, once per (business, key), as in the database."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from coachos.adapters.memory._repos import _Repo
from coachos.domain import ledger
from coachos.domain.accounting import LedgerSum, summarise
from coachos.domain.ids import OrgId
from coachos.domain.ledger import Account, LedgerTransaction, SourceKind


class MemoryLedger(_Repo):
    """Ledger transactions in memory, keyed by (org id, key)."""

    def record(self, tx: LedgerTransaction) -> bool:
        """Store `tx` unless the business has one with its key; whether it was stored."""
        if (tx.org_id, tx.key) in self._t.ledger:
            return False
        self._t.ledger[(tx.org_id, tx.key)] = tx
        return True

    def by_key(self, org_id: OrgId, key: str) -> LedgerTransaction | None:
        """The business's transaction recorded under `key`, if any."""
        return self._t.ledger.get((org_id, key))

    def transactions(self, org_id: OrgId) -> Sequence[LedgerTransaction]:
        """The business's transactions, oldest first."""
        mine = (tx for (org, _), tx in self._t.ledger.items() if org == org_id)
        return sorted(mine, key=lambda tx: (tx.occurred_at, tx.key))

    def balances(self, org_id: OrgId, currency: str) -> Mapping[Account, int]:
        """Each account's balance in `currency`."""
        return ledger.balances(self.transactions(org_id), currency)

    def summary(self, org_id: OrgId, boundaries: Sequence[datetime]) -> Sequence[LedgerSum]:
        """Lines summed per period, kind, account, currency, item and client."""
        return summarise(self.transactions(org_id), boundaries)

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
        found = [
            tx
            for tx in self.transactions(org_id)
            if start <= tx.occurred_at < end and (not kinds or tx.source_kind in kinds)
        ]
        if newest_first:
            found.reverse()
        if after is not None:
            found = [
                tx
                for tx in found
                if ((tx.occurred_at, tx.key) < after if newest_first else (tx.occurred_at, tx.key) > after)
            ]
        return found[offset : offset + limit]
