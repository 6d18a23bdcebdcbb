"""The businesses' phone numbers in memory, unique across businesses as the SQL table's number is."""

from __future__ import annotations

from uuid import UUID

from coachos.adapters.memory._repos import _Repo, _scoped
from coachos.domain.errors import Conflict
from coachos.domain.ids import OrgId
from coachos.domain.numbers import NUMBER_TAKEN, PhoneNumber
from coachos.domain.rows import Rows


class MemoryPhoneNumbers(_Repo):
    """Phone numbers in memory."""

    def add(self, number: PhoneNumber) -> None:
        """Store unless any business has the number."""
        if any(n.number == number.number for n in self._t.phone_numbers.values()):
            raise Conflict(NUMBER_TAKEN)
        self._t.phone_numbers[number.id] = number

    def remove(self, org_id: OrgId, number_id: UUID) -> PhoneNumber:
        """Delete one of the organisation's numbers."""
        self._check_readable("phone_numbers", org_id, number_id)
        found = _scoped(self._t.phone_numbers, org_id, number_id, "phone number")
        del self._t.phone_numbers[number_id]
        return found

    def list(self, org_id: OrgId) -> Rows[PhoneNumber]:
        """The organisation's numbers, oldest first."""
        mine = sorted(
            (n for n in self._t.phone_numbers.values() if n.org_id == org_id), key=lambda n: (n.created_at, str(n.id))
        )
        return self._rows("phone_numbers", org_id, mine)

    def owner(self, number: str) -> PhoneNumber | None:
        """The number's record in whichever business has it."""
        return next((n for n in self._t.phone_numbers.values() if n.number == number), None)

    def hold_sender(self, org_id: OrgId, sender: str) -> None:
        """Nothing to do: a unit of work on the fake holds the store's one lock for its whole life."""
