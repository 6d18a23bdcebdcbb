"""The client page's Forms panel: submissions by version (without answers), screening, clearances, access log.

The panel never shows answers: opening them is a separate page that records the view first (see
views/client_forms.py), so every coach view of health answers is in the access log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from coachos.domain.forms import ScreeningState
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.usecases.forms import client_forms
from coachos.ports.storage import UnitOfWork

#: The screening state in words for the coach.
STATE_WORDS = {
    ScreeningState.NONE: ("No screening yet", "The client has not filled in a health screening."),
    ScreeningState.CLEAR: ("Clear", "The newest screening answered “no” throughout."),
    ScreeningState.CLEARANCE_REQUIRED: (
        "Clearance required",
        "The newest screening answered “yes” at least once: booking is on hold until you record clearance.",
    ),
    ScreeningState.CLEARED: ("Cleared", "You recorded clearance after the newest screening."),
    ScreeningState.EXPIRED: (
        "Screening expired",
        "The newest screening is more than 12 months old: booking is on hold until the client fills in a new one.",
    ),
}


def forms_panel(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, now: datetime) -> dict[str, Any]:
    """The Forms panel's context (NotFound for another organisation's client)."""
    client = uow.clients.get(org_id, client_id)
    data = client_forms(uow, org_id, client_id, now)
    coaches = {c.id: c.name for c in uow.coaches.list(org_id)}
    subs = {s.id: s for s in data.submissions}
    title, why = STATE_WORDS[data.state]
    return {
        "client": client,
        "forms": data,
        "state_title": title,
        "state_why": why,
        "coach_names": coaches,
        "subs": subs,
    }
