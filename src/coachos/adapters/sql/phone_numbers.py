"""The businesses' phone numbers in SQL: one row per number, whichever business it is in."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from coachos.adapters.sql.repos import _Repo, constraint_hit
from coachos.adapters.sql.tables import phone_numbers
from coachos.adapters.sql.tenancy import read_numbers_across_orgs
from coachos.domain.errors import Conflict, NotFound
from coachos.domain.ids import OrgId
from coachos.domain.numbers import NUMBER_TAKEN, PhoneNumber
from coachos.domain.rows import Rows


def number_values(n: PhoneNumber) -> dict[str, Any]:
    """The row for `n`."""
    return {"id": n.id, "org_id": n.org_id, "number": n.number, "label": n.label, "created_at": n.created_at}


def number_from(row: Any) -> PhoneNumber:
    """The number a row holds."""
    return PhoneNumber(
        id=row.id, org_id=OrgId(row.org_id), number=row.number, label=row.label, created_at=row.created_at
    )


class SqlPhoneNumbers(_Repo):
    """Phone numbers in SQL."""

    def add(self, number: PhoneNumber) -> None:
        """Insert; the unique number decides, even against a business this transaction cannot see."""
        try:
            with self._c.begin_nested():
                self._c.execute(phone_numbers.insert().values(**number_values(number)))
        except IntegrityError as exc:
            # PostgreSQL names the constraint; SQLite names the column.
            if constraint_hit(exc, "uq_phone_numbers_number") or constraint_hit(exc, "phone_numbers.number"):
                raise Conflict(NUMBER_TAKEN) from exc
            raise

    def remove(self, org_id: OrgId, number_id: UUID) -> PhoneNumber:
        """Delete one of the organisation's numbers."""
        q = (
            phone_numbers.delete()
            .where(phone_numbers.c.org_id == org_id, phone_numbers.c.id == number_id)
            .returning(*phone_numbers.c)
        )
        found = self._maybe(phone_numbers, q, number_from, row_id=number_id)
        if found is None:
            raise NotFound("No such phone number in this business.")
        return found

    def list(self, org_id: OrgId) -> Rows[PhoneNumber]:
        """The organisation's numbers, oldest first."""
        q = (
            sa.select(phone_numbers)
            .where(phone_numbers.c.org_id == org_id)
            .order_by(phone_numbers.c.created_at, phone_numbers.c.id)
        )
        return self._all(phone_numbers, q, number_from)

    def owner(self, number: str) -> PhoneNumber | None:
        """The number's record in whichever organisation has it."""
        q = sa.select(phone_numbers).where(phone_numbers.c.number == number)
        with read_numbers_across_orgs(self._c):
            return self._maybe(phone_numbers, q, number_from)

    def hold_sender(self, org_id: OrgId, sender: str) -> None:
        """A transaction-level advisory lock on (organisation, sender) on PostgreSQL.

        SQLite needs none: every transaction there takes the write lock as it begins.
        """
        if self._c.dialect.name != "postgresql":
            return
        key = f"inbound-sender:{org_id}:{sender}"
        self._c.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(key, 0))))
