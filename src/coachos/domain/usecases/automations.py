"""Use cases for automations: set them up, list them with their runs, and run the due ones.

`RunDueAutomations` is what the worker calls every minute: it runs scheduled automations' latest
due time and the daily checks (birthdays, inactive clients). Event-triggered automations run from
the outbox relay (`automation_events`). Each run is claimed once, ever (see `automation_work`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs

from coachos.domain.automations import (
    Action,
    Automation,
    AutomationRun,
    Condition,
    ConditionKind,
    CreateTodo,
    CronSchedule,
    SendMessage,
    TagClients,
    TriggerKind,
    birthdays_on,
    trigger_kind,
)
from coachos.domain.errors import NotFound, ValidationError
from coachos.domain.ids import Actor, OrgId, ServiceId
from coachos.domain.timezones import zone
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases.automation_work import MAX_CLIENTS, advance_last_due, run_many, run_scheduled

#: Runs shown with each automation.
HISTORY = 20


@attrs.frozen(kw_only=True)
class CreateAutomation(Command[Automation]):
    """Set up an automation: a name, a trigger (a cron schedule read on the organisation's clock, an
    event, or a daily check), optional conditions, and an action."""

    org_id: OrgId
    actor: Actor
    name: str
    action: Action
    schedule: str | None = None
    trigger: TriggerKind | str = TriggerKind.SCHEDULE
    #: Credits left (credits low) or days without a booking (client inactive).
    threshold: int | None = None
    conditions: Sequence[Condition] = ()
    enabled: bool = True


@handles(CreateAutomation)
def create_automation(cmd: CreateAutomation, deps: Deps) -> Automation:
    """Store the automation; it is first due (or triggered) after the moment it was made."""
    trigger = trigger_kind(cmd.trigger)
    if not isinstance(cmd.action, TagClients | SendMessage | CreateTodo):
        raise ValidationError("Choose what the automation does.", field="action")
    if trigger is not TriggerKind.SCHEDULE and cmd.schedule not in (None, ""):
        raise ValidationError("Only a scheduled automation has a schedule; leave it empty.", field="schedule")
    automation = Automation(
        id=deps.ids.new_id(),
        org_id=cmd.org_id,
        name=cmd.name,
        enabled=cmd.enabled,
        schedule=CronSchedule.parse(cmd.schedule) if trigger is TriggerKind.SCHEDULE else None,
        action=cmd.action,
        created_at=deps.clock.now(),
        trigger=trigger,
        threshold=cmd.threshold,
        conditions=tuple(cmd.conditions),
    )
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        for c in automation.conditions:
            if c.kind is ConditionKind.SERVICE_IS:
                try:
                    uow.services.get(cmd.org_id, ServiceId(UUID(c.value)))
                except NotFound:
                    raise ValidationError("That service is not one of this business's.", field="conditions") from None
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
            if automation.trigger is TriggerKind.SCHEDULE:
                ran += run_scheduled(deps, automation, due_at, now)
            else:
                ran += _run_daily(deps, automation, due_at, tz, now)
    return ran


def _run_daily(deps: Deps, automation: Automation, due_at: datetime, tz: ZoneInfo, now: datetime) -> int:
    """Run a daily check's runs for every client it finds, then mark the day checked.

    A check cut short (a crash) is picked up again by the next tick: the clients already run are
    refused by their claims, the others run.
    """
    org_id = automation.org_id
    with deps.uow() as uow:
        if automation.trigger is TriggerKind.BIRTHDAY:
            day = due_at.astimezone(tz).date()
            found = uow.automations.birthdays(org_id, birthdays_on(day))
            subjects = [(f"birthday:{c}:{day.isoformat()}", c) for c in found]
        else:
            # A quiet spell is found on the day it reaches the threshold (or the first check after),
            # once; spells that reached it before the automation existed are not.
            span = timedelta(days=automation.threshold or 0)
            pairs = uow.automations.last_active_between(org_id, automation.created_at - span, due_at - span)
            subjects = [(f"inactive:{c}:{last.astimezone(UTC):%Y%m%dT%H%M%SZ}", c) for c, last in pairs]
    ran = run_many(deps, automation, due_at, now, subjects[:MAX_CLIENTS])
    with deps.uow() as uow:
        advance_last_due(uow, automation, due_at)
        uow.commit()
    return ran
