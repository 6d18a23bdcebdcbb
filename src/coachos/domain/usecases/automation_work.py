"""Running one automation for one run key: claim it, check the conditions, act, record the run.

Every run (a schedule's due time, a booking's event, a client's birthday on a day, a client's
quiet spell) is claimed by a row unique per (automation, run key) in the same transaction as what
the action writes, so two workers, two relays or a repeated delivery never act twice:
- a failed action (a domain error) is rolled back and recorded as failed, so it is not retried;
- any other error rolls everything back, claim included, and propagates, so the caller (the
  relay, the next tick) tries again;
- a client who does not meet the conditions gets no run row: nothing happened for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

import attrs

from coachos.domain.automation_actions import render
from coachos.domain.automations import (
    Automation,
    AutomationRun,
    AutomationStatus,
    CreateTodo,
    SendMessage,
    TagClients,
    schedule_key,
)
from coachos.domain.clients import Client
from coachos.domain.errors import CoachOSError
from coachos.domain.ids import ClientId, ServiceId
from coachos.domain.messages import MessageChannel, outgoing
from coachos.domain.todos import Todo
from coachos.domain.usecases._base import Deps
from coachos.ports.storage import UnitOfWork

log = logging.getLogger(__name__)

#: What a run does inside its transaction: records written, or None if the conditions do not hold.
Work = Callable[[UnitOfWork], "int | None"]

#: Most clients one scheduled run acts on (the rest are left for the next due time).
MAX_CLIENTS = 5000


def run_scheduled(deps: Deps, automation: Automation, due_at: datetime, now: datetime) -> int:
    """Claim and run a scheduled due time for every client it applies to; 1 if this call ran it, else 0."""
    run = AutomationRun(
        automation_id=automation.id,
        org_id=automation.org_id,
        due_at=due_at,
        started_at=now,
        status=AutomationStatus.RUNNING,
        key=schedule_key(due_at),
    )

    def work(uow: UnitOfWork) -> int | None:
        if isinstance(automation.action, CreateTodo):
            return act(deps, uow, automation, run, None)
        status = automation.action.status if isinstance(automation.action, TagClients) else None
        clients = uow.clients.list(automation.org_id, limit=MAX_CLIENTS, status=status)
        chosen = [c for c in clients if automation.applies_to(c)]
        return sum(act(deps, uow, automation, run, c) for c in chosen)

    return _claimed(deps, automation, run, work, advance=True)


def run_for_client(
    deps: Deps,
    automation: Automation,
    *,
    key: str,
    due_at: datetime,
    client_id: ClientId,
    now: datetime,
    service_id: ServiceId | None = None,
) -> int:
    """Claim and run `key` for one client, if the conditions hold; 1 if this call ran it, else 0."""
    run = AutomationRun(
        automation_id=automation.id,
        org_id=automation.org_id,
        due_at=due_at,
        started_at=now,
        status=AutomationStatus.RUNNING,
        key=key,
        client_id=client_id,
    )

    def work(uow: UnitOfWork) -> int | None:
        client = uow.clients.get(automation.org_id, client_id)
        if not automation.applies_to(client, service_id):
            return None
        return act(deps, uow, automation, run, client)

    return _claimed(deps, automation, run, work, advance=False)


def _claimed(deps: Deps, automation: Automation, run: AutomationRun, work: Work, *, advance: bool) -> int:
    try:
        with deps.uow() as uow:
            if not uow.automations.claim_run(run):
                return 0
            affected = work(uow)
            if affected is None:
                return 0  # the conditions do not hold: rolled back, claim included
            if advance:
                advance_last_due(uow, automation, run.due_at)
            uow.automations.finish_run(automation.org_id, automation.id, run.key, AutomationStatus.DONE, affected)
            uow.commit()
            return 1
    except CoachOSError as exc:
        # Logged by kind only: the message may quote client data.
        log.warning("automation %s failed for run %s: %s", automation.id, run.key, type(exc).__name__)
    with deps.uow() as uow:
        if not uow.automations.claim_run(attrs.evolve(run, status=AutomationStatus.FAILED)):
            return 0
        if advance:
            advance_last_due(uow, automation, run.due_at)
        uow.commit()
    return 1


def advance_last_due(uow: UnitOfWork, automation: Automation, due_at: datetime) -> None:
    """Record `due_at` as the automation's latest due time claimed (never moving it back)."""
    current = uow.automations.get(automation.org_id, automation.id)
    if current.last_due_at is None or current.last_due_at < due_at:
        uow.automations.update(attrs.evolve(current, last_due_at=due_at))


def act(deps: Deps, uow: UnitOfWork, automation: Automation, run: AutomationRun, client: Client | None) -> int:
    """Do the action for `client` (None: a scheduled to-do about nobody) in the open unit of work; how
    many records it wrote."""
    action = automation.action
    if isinstance(action, TagClients):
        if client is None or (action.status is not None and client.status is not action.status):
            return 0
        tag = action.tag.strip().lower()
        if tag in client.tags:
            return 0
        uow.clients.update(attrs.evolve(client, tags=client.tags | {tag}))
        return 1
    business = uow.orgs.get(automation.org_id).name
    suffix = "" if client is None else f":{client.id}"
    key = f"automation:{automation.id}:{run.key}{suffix}"
    now = deps.clock.now()
    if isinstance(action, SendMessage):
        if client is None:
            return 0
        to = client.phone if action.channel is MessageChannel.SMS else client.email
        if not to:
            return 0  # nowhere to send it; the client page shows no number or email
        uow.messages.add(
            outgoing(
                id=deps.ids.new_id(),
                org_id=automation.org_id,
                key=key,
                channel=action.channel,
                purpose=action.purpose,
                to=to,
                body=render(action.body, client=client, business=business),
                subject=None if action.subject is None else render(action.subject, client=client, business=business),
                now=now,
                client_id=client.id,
                template=f"automation:{automation.id}",
                # Automations always wait out quiet hours, even transactional ones.
                quiet_hours=True,
            )
        )
        return 1
    uow.todos.add(
        Todo(
            id=deps.ids.new_id(),
            org_id=automation.org_id,
            title=render(action.title, client=client, business=business)[:200],
            created_at=now,
            client_id=None if client is None else client.id,
            automation_id=automation.id,
            key=key,
        )
    )
    return 1


def run_many(
    deps: Deps, automation: Automation, due_at: datetime, now: datetime, subjects: Sequence[tuple[str, ClientId]]
) -> int:
    """Run each (run key, client) of a daily check; how many runs this call made."""
    return sum(
        run_for_client(deps, automation, key=key, due_at=due_at, client_id=client_id, now=now)
        for key, client_id in subjects
    )
