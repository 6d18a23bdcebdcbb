"""The step checks the composition root wires: one source per step kind (waivers, forms, later billing).

A kind with no source registered offers nothing to pick and is never done, so a flow can only be
built from what this Coach OS can check. The waivers and forms parts register their sources here
(see `bootstrap.step_checks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

import attrs

from coachos.domain.ids import ClientId, OrgId, WaiverId
from coachos.domain.onboarding import Step, StepKind
from coachos.ports.onboarding import StepChoice
from coachos.ports.storage import UnitOfWork


class StepSource(Protocol):
    """Knows one kind of step target: what exists in a business and whether a client has done it."""

    def done(self, uow: UnitOfWork, org_id: OrgId, client_id: ClientId, target: UUID) -> bool:
        """Whether the client has done it as it stands now."""
        ...

    def choices(self, uow: UnitOfWork, org_id: OrgId) -> Sequence[StepChoice]:
        """What the business has of this kind."""
        ...


@attrs.define
class StepRegistry:
    """Step checks answered by the source registered for each step's kind."""

    sources: dict[StepKind, StepSource] = attrs.Factory(dict)

    def register(self, kind: StepKind, source: StepSource) -> None:
        """Answer steps of `kind` from `source`."""
        self.sources[kind] = source

    def done(self, uow: UnitOfWork, org_id: OrgId, client_id: ClientId, step: Step) -> bool:
        """What the kind's source says; never done without one."""
        source = self.sources.get(step.kind)
        return source is not None and source.done(uow, org_id, client_id, step.target)

    def choices(self, uow: UnitOfWork, org_id: OrgId, kind: StepKind) -> Sequence[StepChoice]:
        """What the kind's source offers; nothing without one."""
        source = self.sources.get(kind)
        return [] if source is None else source.choices(uow, org_id)


class WaiverSteps:
    """ "Sign waiver X": done once the client signed its latest material version (or a later one)."""

    def done(self, uow: UnitOfWork, org_id: OrgId, client_id: ClientId, target: UUID) -> bool:
        """Whether the client's signature covers the waiver as it stands."""
        return uow.waivers.signed_current(org_id, client_id, WaiverId(target))

    def choices(self, uow: UnitOfWork, org_id: OrgId) -> Sequence[StepChoice]:
        """Every waiver of the business (writing one publishes its first version)."""
        return [StepChoice(w.id, w.title) for w in uow.waivers.list(org_id)]


class FormSteps:
    """ "Fill form Y": done once the client answered its newest published version."""

    def done(self, uow: UnitOfWork, org_id: OrgId, client_id: ClientId, target: UUID) -> bool:
        """Whether the client answered the form's newest published version."""
        return uow.forms.completed_current(org_id, client_id, target)

    def choices(self, uow: UnitOfWork, org_id: OrgId) -> Sequence[StepChoice]:
        """The business's forms that have a published version (a draft cannot be filled in)."""
        return [StepChoice(f.id, f.name) for f in uow.forms.list(org_id) if f.published > 0]


def standard_steps() -> StepRegistry:
    """The step sources this Coach OS has: waivers and forms (billing's steps come with billing)."""
    registry = StepRegistry()
    registry.register(StepKind.SIGN_WAIVER, WaiverSteps())
    registry.register(StepKind.FILL_FORM, FormSteps())
    return registry
