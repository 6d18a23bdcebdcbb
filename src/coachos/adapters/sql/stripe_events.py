"""Stripe events and connected accounts in SQL; each guarantee is one conditional statement.

- An event is kept once: `INSERT … ON CONFLICT (id) DO NOTHING`. A second transaction inserting an
  id the first has inserted but not committed waits on the primary key; it then inserts nothing if
  the first committed, and inserts it itself if the first rolled back.
- An account's status is replaced only by a newer event: one `UPDATE … WHERE status_at < :created`,
  which on PostgreSQL re-checks its condition against a row a racing transaction just changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from coachos.adapters.sql.repos import _Repo
from coachos.adapters.sql.tables import stripe_accounts, stripe_events
from coachos.adapters.sql.tenancy import read_stripe_accounts_across_orgs
from coachos.domain.errors import Conflict
from coachos.domain.ids import OrgId
from coachos.domain.stripe_events import StripeAccount, StripeEvent

ACCOUNT_TAKEN = "This Stripe account is already connected to a business."


def event_from(row: Any) -> StripeEvent:
    """The event a row holds."""
    return StripeEvent(
        id=row.id,
        type=row.type,
        account=row.account,
        created=row.created,
        livemode=row.livemode,
        payload=row.payload,
        received_at=row.received_at,
    )


def account_from(row: Any) -> StripeAccount:
    """The account a row holds."""
    return StripeAccount(
        org_id=OrgId(row.org_id),
        account_id=row.account_id,
        charges_enabled=row.charges_enabled,
        details_submitted=row.details_submitted,
        status_at=row.status_at,
        updated_at=row.updated_at,
    )


class SqlStripe(_Repo):
    """Stripe events and connected accounts in SQL."""

    def record(self, event: StripeEvent) -> bool:
        """Insert unless the id is kept; True if this statement inserted it."""
        insert = postgresql.insert if self._c.dialect.name == "postgresql" else sqlite.insert
        stmt = (
            insert(stripe_events)
            .values(
                id=event.id,
                type=event.type,
                account=event.account,
                created=event.created,
                received_at=event.received_at,
                livemode=event.livemode,
                payload=dict(event.payload),
            )
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(stripe_events.c.id)
        )
        return self._c.execute(stmt).first() is not None

    def event(self, event_id: str) -> StripeEvent | None:
        """The kept event."""
        return self._maybe(stripe_events, sa.select(stripe_events).where(stripe_events.c.id == event_id), event_from)

    def link_account(self, org_id: OrgId, account_id: str, at: datetime) -> None:
        """Insert the account, not yet able to take charges; the primary key refuses one already connected."""
        values = {
            "account_id": account_id,
            "org_id": org_id,
            "charges_enabled": False,
            "details_submitted": False,
            "status_at": None,
            "updated_at": at,
        }
        try:
            with self._c.begin_nested():
                self._c.execute(stripe_accounts.insert().values(**values))
        except IntegrityError as exc:
            raise Conflict(ACCOUNT_TAKEN) from exc

    def account_owner(self, account_id: str) -> OrgId | None:
        """The organisation that connected the account, looked up across organisations."""
        q = sa.select(stripe_accounts.c.org_id).where(stripe_accounts.c.account_id == account_id)
        with read_stripe_accounts_across_orgs(self._c):
            found = self._c.execute(q).scalar_one_or_none()
        return None if found is None else OrgId(found)

    def account(self, org_id: OrgId) -> StripeAccount | None:
        """The organisation's connected account (the first connected, should there be several)."""
        q = (
            sa.select(stripe_accounts)
            .where(stripe_accounts.c.org_id == org_id)
            .order_by(stripe_accounts.c.updated_at, stripe_accounts.c.account_id)
            .limit(1)
        )
        return self._maybe(stripe_accounts, q, account_from, key="account_id")

    def update_account(self, status: StripeAccount) -> bool:
        """One conditional UPDATE: only a row this organisation holds, and only from a newer event."""
        c = stripe_accounts.c
        newer = sa.or_(c.status_at.is_(None), c.status_at < status.status_at)
        stmt = (
            stripe_accounts.update()
            .where(c.account_id == status.account_id, c.org_id == status.org_id, newer)
            .values(
                charges_enabled=status.charges_enabled,
                details_submitted=status.details_submitted,
                status_at=status.status_at,
                updated_at=status.updated_at,
            )
        )
        return self._c.execute(stmt).rowcount == 1

    def charge_account(self, org_id: OrgId) -> str | None:
        """The first connected account of the organisation that can take charges."""
        c = stripe_accounts.c
        q = (
            sa.select(c.account_id)
            .where(c.org_id == org_id, c.charges_enabled.is_(True))
            .order_by(c.updated_at, c.account_id)
            .limit(1)
        )
        found = self._c.execute(q).scalar_one_or_none()
        return None if found is None else str(found)
