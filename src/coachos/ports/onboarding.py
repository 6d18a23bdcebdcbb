"""Onboarding ports: where flows are stored, and how a step is known to be done.

Whether a step is done belongs to the part of Coach OS that owns its target (a waiver's
signatures, a form's answers), so the onboarding use cases ask `StepChecks` rather than reading
those tables themselves; the composition root chooses the implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

import attrs

from coachos.domain.ids import ClientId, OrgId
from coachos.domain.onboarding import OnboardingFlow, OnboardingStart, Step, StepKind
from coachos.domain.rows import Rows

if TYPE_CHECKING:
    from coachos.ports.storage import UnitOfWork


@attrs.frozen
class StepChoice:
    """A waiver or form a step can point at, as the coach picks it in Setup."""

    id: UUID
    title: str


class StepChecks(Protocol):
    """Answers, inside the caller's unit of work, what the onboarding steps point at and whether they are done."""

    def done(self, uow: UnitOfWork, org_id: OrgId, client_id: ClientId, step: Step) -> bool:
        """Whether the client has done `step` as it stands now (signed the current waiver version, ...)."""
        ...

    def choices(self, uow: UnitOfWork, org_id: OrgId, kind: StepKind) -> Sequence[StepChoice]:
        """What a step of `kind` can point at in the business (its published waivers, its forms)."""
        ...


class OnboardingRepository(Protocol):
    """A business's onboarding flows, and when each client's onboarding started."""

    def add(self, flow: OnboardingFlow) -> None:
        """Store a new flow."""
        ...

    def get(self, org_id: OrgId, flow_id: UUID) -> OnboardingFlow:
        """The flow, or NotFound."""
        ...

    def flows(self, org_id: OrgId) -> Rows[OnboardingFlow]:
        """Every flow of the business, by name."""
        ...

    def update(self, flow: OnboardingFlow) -> None:
        """Replace the stored flow (name, steps, services), or NotFound."""
        ...

    def delete(self, org_id: OrgId, flow_id: UUID) -> None:
        """Remove the flow and its clients' starts, or NotFound."""
        ...

    def start(self, start: OnboardingStart) -> bool:
        """Record that the client's onboarding in the flow started, unless it already had; whether this did."""
        ...

    def starts_for(self, org_id: OrgId, client_id: ClientId) -> Sequence[OnboardingStart]:
        """When the client's onboarding started, per flow."""
        ...

    def orgs_with_due_reminders(self, started_before: datetime) -> Sequence[OrgId]:
        """Businesses (across all) with a start before `started_before` still owed a reminder."""
        ...

    def due_reminders(self, org_id: OrgId, started_before: datetime) -> Sequence[OnboardingStart]:
        """The business's starts before `started_before` still owed a reminder."""
        ...

    def mark_reminded(self, start: OnboardingStart, reminders_sent: int) -> bool:
        """Move the start's count of reminders sent up to `reminders_sent` unless it is already there;
        whether this call moved it (a racing worker's second try does nothing)."""
        ...
