"""The client page's Memberships panel: each membership, its plan, status and current period."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from coachos.domain.ids import ClientId, OrgId
from coachos.domain.rows import unreadable_in
from coachos.domain.timezones import label
from coachos.ports.storage import UnitOfWork

#: What each status means, for the coach.
STATUS_WORDS = {
    "pending": "Checkout started, not paid yet",
    "active": "Paid up",
    "past_due": "Renewal failed; Stripe is retrying",
    "paused": "Paused: renewal unpaid after the grace period; its credits cannot be used",
    "cancelled": "Cancelled",
}


def memberships_panel(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, now: datetime) -> dict[str, Any]:
    """The Memberships panel's context (NotFound for another organisation's client)."""
    del now
    org = uow.orgs.get(org_id)
    client = uow.clients.get(org_id, client_id)
    read = uow.memberships.plans(org_id)
    plans = {p.id: p for p in read}
    mine = uow.memberships.for_client(org_id, client_id)
    rows = []
    for m in mine:
        plan = plans.get(m.plan_id)
        if plan is None:
            continue  # its plan could not be read: named by the marker
        rows.append(
            {
                "membership": m,
                "plan": plan,
                "status": STATUS_WORDS[m.status.value],
                "period_end": label(m.current_period_end, org.tz) if m.current_period_end else None,
                "grace_until": label(m.grace_until, org.tz) if m.grace_until else None,
            }
        )
    return {"client": client, "memberships": rows, "unreadable_rows": unreadable_in(read, mine)}
