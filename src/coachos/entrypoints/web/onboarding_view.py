"""What the client page's Onboarding panel shows: progress through each flow, held sessions and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from coachos.domain.ids import ClientId, OrgId
from coachos.domain.onboarding import Progress, StepKind
from coachos.domain.usecases.onboarding import HeldBooking, client_progress, held_among
from coachos.entrypoints.web.context import core
from coachos.ports.storage import UnitOfWork


@attrs.frozen
class StepLine:
    """One step as the coach reads it."""

    label: str
    title: str
    done: bool


@attrs.frozen
class FlowLine:
    """One flow's progress for the client, and whether the coach can send it."""

    progress: Progress
    steps: list[StepLine]
    started_at: datetime | None


def onboarding_panel(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, now: datetime) -> dict[str, Any]:
    """The panel's data, read in the panel's own unit of work (a failure shows on this panel only)."""
    deps = core().deps
    client = uow.clients.get(org_id, client_id)
    flows = [f for f in uow.onboarding.flows(org_id) if f.steps]
    titles: dict[UUID, str] = {
        c.id: c.title for kind in StepKind if kind.available for c in deps.steps.choices(uow, org_id, kind)
    }
    started = {s.flow_id: s.started_at for s in uow.onboarding.starts_for(org_id, client_id)}
    lines = []
    for flow in flows:
        p = client_progress(uow, deps, flow, client_id)
        steps = [
            StepLine(s.kind.label, titles.get(s.target, "an item no longer offered"), d)
            for s, d in zip(flow.steps, p.done, strict=True)
        ]
        lines.append(FlowLine(p, steps, started.get(flow.id)))
    upcoming = [b for b in uow.bookings.for_client(org_id, client_id) if b.start >= now]
    held: list[HeldBooking] = held_among(uow, deps, flows, upcoming)
    return {"client": client, "flows": lines, "held": held}
