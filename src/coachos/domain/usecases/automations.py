"""Use cases for scheduled automations: set them up, list them with their runs, and run the due ones.

`RunDueAutomations` is what the worker calls every minute. Each (automation, due time) runs at
most once, ever: the run is claimed (a row unique per automation and due time) in the same
transaction as the action and the automation's new last due time, so two workers on the same
tick, or a worker restarted mid-tick, cannot run it twice; one whose action failed is rolled back
and recorded as failed, so it is not retried every minute.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import attrs

from coachos.domain.automations import (
    Action,
    Automation,
    AutomationRun,
    AutomationStatus,
    CronSchedule,
    TagClients,
)
from coachos.domain.errors import CoachOSError
from coachos.domain.ids import Actor, OrgId
from coachos.domain.timezones import zone
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.ports.storage import UnitOfWork

log = logging.getLogger(__name__)

#: Most clients one run of `tag_clients` changes (the rest are tagged by the next run).
MAX_TAGGED = 5000
#: Runs shown with each automation.
HISTORY = 20


@attrs.frozen(kw_only=True)
class CreateAutomation(Command[Automation]):
    """Set up an automation: a name, a cron schedule read on the organisation's clock, and an action."""

    org_id: OrgId
    actor: Actor
    name: str
    schedule: str
    action: Action
    enabled: bool = True


@handles(CreateAutomation)
def create_automation(cmd: CreateAutomation, deps: Deps) -> Automation:
    """Store the automation; it is first due after the moment it was made."""
    automation = Automation(
        id=deps.ids.new_id(),
        org_id=cmd.org_id,
        name=cmd.name,
        enabled=cmd.enabled,
        schedule=CronSchedule.parse(cmd.schedule),
        action=cmd.action,
        created_at=deps.clock.now(),
    )
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        uow.automations.add(automation)
        uow.commit()
    return automation


@attrs.frozen(kw_only=True)
class SetAutomationEnabled(Command[Automation]):
    """Turn an automation on or off.

    Turning one back on does not run what it missed while off: it is next due after now.
    """

    org_id: OrgId
    automation_id: UUID
    actor: Actor
    enabled: bool


@handles(SetAutomationEnabled)
def set_automation_enabled(cmd: SetAutomationEnabled, deps: Deps) -> Automation:
    """Store the new state (unchanged state writes nothing)."""
    with deps.uow() as uow:
        current = uow.automations.get(cmd.org_id, cmd.automation_id)
        if current.enabled == cmd.enabled:
            return current
        updated = attrs.evolve(current, enabled=cmd.enabled)
        if cmd.enabled:
            updated = attrs.evolve(updated, last_due_at=deps.clock.now())
        uow.automations.update(updated)
        uow.commit()
    return updated


@attrs.frozen
class AutomationWithRuns:
    """An automation and its latest runs, newest first."""

    automation: Automation
    runs: Sequence[AutomationRun]


@attrs.frozen(kw_only=True)
class ListAutomations(Command[list[AutomationWithRuns]]):
    """The organisation's automations, by name, each with its latest runs."""

    org_id: OrgId


@handles(ListAutomations)
def list_automations(cmd: ListAutomations, deps: Deps) -> list[AutomationWithRuns]:
    """Read the automations and their run history."""
    with deps.uow() as uow:
        return [
            AutomationWithRuns(a, uow.automations.runs(cmd.org_id, a.id, HISTORY))
            for a in uow.automations.list(cmd.org_id)
        ]


@attrs.frozen(kw_only=True)
class RunDueAutomations(Command[int]):
    """Run every enabled automation of every organisation that is due now (the worker's tick); the runs made."""


@handles(RunDueAutomations)
def run_due_automations(cmd: RunDueAutomations, deps: Deps) -> int:
    """For each organisation, run each automation's latest due time once, if it has one not yet run."""
    now = deps.clock.now()
    with deps.uow() as uow:
        org_ids = list(uow.automations.org_ids())
    ran = 0
    for org_id in org_ids:
        with deps.uow() as uow:
            tz = zone(uow.orgs.get(org_id).timezone)
            due = [(a, at) for a in uow.automations.list(org_id) if (at := a.due(tz, now)) is not None]
        for automation, due_at in due:
            ran += _run_once(deps, automation, due_at, now)
    return ran


def _run_once(deps: Deps, automation: Automation, due_at: datetime, now: datetime) -> int:
    """Claim and run one due time; 1 if this call ran it, 0 if another runner had."""
    run = AutomationRun(
        automation_id=automation.id,
        org_id=automation.org_id,
        due_at=due_at,
        started_at=now,
        status=AutomationStatus.RUNNING,
    )
    try:
        with deps.uow() as uow:
            if not uow.automations.claim_run(run):
                return 0
            affected = _perform(uow, automation.org_id, automation.action)
            _advance(uow, automation, due_at)
            uow.automations.finish_run(automation.org_id, automation.id, due_at, AutomationStatus.DONE, affected)
            uow.commit()
            return 1
    except CoachOSError as exc:
        # Logged by kind only: the message may quote client data.
        log.warning("automation %s failed for %s: %s", automation.id, due_at.isoformat(), type(exc).__name__)
    with deps.uow() as uow:
        if not uow.automations.claim_run(attrs.evolve(run, status=AutomationStatus.FAILED)):
            return 0
        _advance(uow, automation, due_at)
        uow.commit()
    return 1


def _advance(uow: UnitOfWork, automation: Automation, due_at: datetime) -> None:
    current = uow.automations.get(automation.org_id, automation.id)
    if current.last_due_at is None or current.last_due_at < due_at:
        uow.automations.update(attrs.evolve(current, last_due_at=due_at))


def _perform(uow: UnitOfWork, org_id: OrgId, action: Action) -> int:
    """Do what `action` says inside the open unit of work; how many records it changed."""
    if isinstance(action, TagClients):
        tag = action.tag.strip().lower()
        changed = 0
        for client in uow.clients.list(org_id, limit=MAX_TAGGED, status=action.status):
            if tag not in client.tags:
                uow.clients.update(attrs.evolve(client, tags=client.tags | {tag}))
                changed += 1
        return changed
    raise NotImplementedError(f"No runner for action {type(action).__name__}")  # pragma: no cover
