"""Onboarding flows in memory, and a fake of the step checks that tests tell which steps are done."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import attrs

from coachos.adapters.memory._repos import _Repo, _scoped
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.onboarding import LAST_REMINDER, OnboardingFlow, OnboardingStart, Step, StepKind
from coachos.domain.rows import Rows
from coachos.ports.onboarding import StepChoice
from coachos.ports.storage import UnitOfWork


class MemoryOnboarding(_Repo):
    """Flows and starts in memory."""

    def add(self, flow: OnboardingFlow) -> None:
        """Store a new flow."""
        self._t.onboarding_flows[flow.id] = flow

    def get(self, org_id: OrgId, flow_id: UUID) -> OnboardingFlow:
        """The flow."""
        self._check_readable("onboarding_flows", org_id, flow_id)
        return _scoped(self._t.onboarding_flows, org_id, flow_id, "onboarding flow")

    def flows(self, org_id: OrgId) -> Rows[OnboardingFlow]:
        """Every flow, by name."""
        found = [f for f in self._t.onboarding_flows.values() if f.org_id == org_id]
        return self._rows("onboarding_flows", org_id, sorted(found, key=lambda f: (f.name, str(f.id))))

    def update(self, flow: OnboardingFlow) -> None:
        """Replace the stored flow."""
        self.get(flow.org_id, flow.id)
        self._t.onboarding_flows[flow.id] = flow

    def delete(self, org_id: OrgId, flow_id: UUID) -> None:
        """Remove the flow and its starts."""
        self.get(org_id, flow_id)
        del self._t.onboarding_flows[flow_id]
        self._t.onboarding_starts = {k: v for k, v in self._t.onboarding_starts.items() if k[0] != flow_id}

    def start(self, start: OnboardingStart) -> bool:
        """Record the start unless there is one."""
        self.get(start.org_id, start.flow_id)
        key = (start.flow_id, start.client_id)
        if key in self._t.onboarding_starts:
            return False
        self._t.onboarding_starts[key] = start
        return True

    def starts_for(self, org_id: OrgId, client_id: ClientId) -> Sequence[OnboardingStart]:
        """The client's starts."""
        return [s for s in self._t.onboarding_starts.values() if s.org_id == org_id and s.client_id == client_id]

    def orgs_with_due_reminders(self, started_before: datetime) -> Sequence[OrgId]:
        """Businesses with a start still owed a reminder."""
        return sorted({s.org_id for s in self._owed(started_before)}, key=str)

    def due_reminders(self, org_id: OrgId, started_before: datetime) -> Sequence[OnboardingStart]:
        """The business's starts still owed a reminder."""
        return sorted(
            (s for s in self._owed(started_before) if s.org_id == org_id),
            key=lambda s: (s.started_at, str(s.flow_id), str(s.client_id)),
        )

    def mark_reminded(self, start: OnboardingStart, reminders_sent: int) -> bool:
        """Raise the count unless it is already there."""
        key = (start.flow_id, start.client_id)
        stored = self._t.onboarding_starts.get(key)
        if stored is None or stored.org_id != start.org_id or stored.reminders_sent >= reminders_sent:
            return False
        self._t.onboarding_starts[key] = attrs.evolve(stored, reminders_sent=reminders_sent)
        return True

    def _owed(self, started_before: datetime) -> list[OnboardingStart]:
        return [
            s
            for s in self._t.onboarding_starts.values()
            if s.reminders_sent < LAST_REMINDER and s.started_at <= started_before
        ]


@attrs.define
class FakeSteps:
    """Step checks for tests and for a Coach OS without waivers or forms: tests say what exists and what is done.

    `offer` makes a waiver or form choosable in a business; `complete` marks a client's step done.
    """

    offered: dict[tuple[OrgId, StepKind], list[StepChoice]] = attrs.Factory(dict)
    completed: set[tuple[OrgId, ClientId, Step]] = attrs.Factory(set)

    def offer(self, org_id: OrgId, kind: StepKind, target: UUID, title: str) -> Step:
        """Make `target` a waiver or form steps of `kind` can point at; the step that would."""
        self.offered.setdefault((org_id, kind), []).append(StepChoice(target, title))
        return Step(kind, target)

    def complete(self, org_id: OrgId, client_id: ClientId, step: Step) -> None:
        """Mark the client's step done."""
        self.completed.add((org_id, client_id, step))

    def undo(self, org_id: OrgId, client_id: ClientId, step: Step) -> None:
        """Mark the step not done again (a new waiver version the client has not signed)."""
        self.completed.discard((org_id, client_id, step))

    def done(self, uow: UnitOfWork, org_id: OrgId, client_id: ClientId, step: Step) -> bool:
        """Whether the test marked it done."""
        return (org_id, client_id, step) in self.completed

    def choices(self, uow: UnitOfWork, org_id: OrgId, kind: StepKind) -> Sequence[StepChoice]:
        """What the test offered."""
        return list(self.offered.get((org_id, kind), []))

    def source(self, kind: StepKind) -> FakeStepSource:
        """This fake as the source of one kind of step, to register in a `StepRegistry`."""
        return FakeStepSource(self, kind)


@attrs.frozen
class FakeStepSource:
    """One step kind of a FakeSteps, shaped as the registry's per-kind source."""

    fake: FakeSteps
    kind: StepKind

    def done(self, uow: UnitOfWork, org_id: OrgId, client_id: ClientId, target: UUID) -> bool:
        """Whether the test marked it done."""
        return self.fake.done(uow, org_id, client_id, Step(self.kind, target))

    def choices(self, uow: UnitOfWork, org_id: OrgId) -> Sequence[StepChoice]:
        """What the test offered of this kind."""
        return self.fake.choices(uow, org_id, self.kind)
