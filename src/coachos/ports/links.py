"""Links port: the addresses messages point people to."""

from __future__ import annotations

from typing import Protocol

from coachos.domain.ids import BookingId, ClientId, OrgId


class Links(Protocol):
    """Builds absolute links into the web app for messages."""

    def manage_booking(self, org_id: OrgId, booking_id: BookingId) -> str:
        """The client's signed link to see, cancel or move the booking (no sign-in needed)."""
        ...

    def client_page(self, client_id: ClientId) -> str:
        """The coach's page of the client (signing in is needed)."""
        ...
