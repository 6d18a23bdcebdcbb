"""Links port: the addresses messages point people to."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from coachos.domain.ids import BookingId, ClientId, OrgId, WaiverId


class Links(Protocol):
    """Builds absolute links into the web app for messages."""

    def manage_booking(self, org_id: OrgId, booking_id: BookingId) -> str:
        """The client's signed link to see, cancel or move the booking (no sign-in needed)."""
        ...

    def client_page(self, client_id: ClientId) -> str:
        """The coach's page of the client (signing in is needed)."""
        ...

    def portal_sign_in(self, slug: str) -> str:
        """The business's client portal sign-in page, `/c/<slug>/sign-in` (no secret in it: safe in any message)."""
        ...

    # Forms (issue 8, engineer "forms"): kept apart from the waiver link on purpose.
    def fill_form(self, org_id: OrgId, client_id: ClientId, form_id: UUID, *, slug: str) -> str:
        """The client's signed link to fill in the form (no sign-in needed): `/c/<slug>/forms/<token>`."""

    def sign_waiver(self, org_id: OrgId, client_id: ClientId, waiver_id: WaiverId, *, slug: str) -> str:
        """The client's signed link to read and sign the waiver's current version (no sign-in; valid 7 days).

        `slug` is the organisation's, for the branded address `/c/<slug>/waivers/<token>`.
        """
        ...
