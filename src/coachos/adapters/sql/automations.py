"""Automations and their runs in SQL; a run is claimed by an insert that does nothing on a repeat."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from coachos.adapters.sql import _convert as cv
from coachos.adapters.sql.repos import _Repo
from coachos.adapters.sql.tables import UTCDateTime, automation_runs, automations, bookings, clients, todos
from coachos.adapters.sql.tenancy import read_automations_across_orgs
from coachos.domain.automations import (
    Action,
    ActionKind,
    Automation,
    AutomationRun,
    AutomationStatus,
    Condition,
    CreateTodo,
    CronSchedule,
    SendMessage,
    TagClients,
)
from coachos.domain.errors import NotFound
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.rows import Rows
from coachos.domain.todos import Todo


def _action_values(action: Action) -> dict[str, Any]:
    if isinstance(action, TagClients):
        return {
            "kind": action.kind.value,
            "tag": action.tag,
            "status": None if action.status is None else action.status.value,
        }
    if isinstance(action, SendMessage):
        return {
            "kind": action.kind.value,
            "channel": action.channel.value,
            "subject": action.subject,
            "body": action.body,
            "transactional": action.transactional,
        }
    return {"kind": action.kind.value, "title": action.title}


def _action_from(value: Any) -> Action:
    kind = ActionKind(value["kind"])
    if kind is ActionKind.TAG_CLIENTS:
        return TagClients(tag=value["tag"], status=value.get("status"))
    if kind is ActionKind.SEND_MESSAGE:
        return SendMessage(
            channel=value["channel"],
            subject=value.get("subject"),
            body=value["body"],
            transactional=bool(value.get("transactional", False)),
        )
    return CreateTodo(title=value["title"])


def automation_values(a: Automation) -> dict[str, Any]:
    return {
        "id": a.id,
        "org_id": a.org_id,
        "name": a.name,
        "enabled": a.enabled,
        "schedule": None if a.schedule is None else a.schedule.expression,
        "action": _action_values(a.action),
        "created_at": a.created_at,
        "last_due_at": a.last_due_at,
        "trigger_kind": a.trigger.value,
        "threshold": a.threshold,
        "conditions": [{"kind": c.kind.value, "value": c.value} for c in a.conditions],
    }


def automation_from(row: Any) -> Automation:
    return Automation(
        id=row.id,
        org_id=OrgId(row.org_id),
        name=row.name,
        enabled=row.enabled,
        schedule=None if row.schedule is None else CronSchedule.parse(row.schedule),
        action=_action_from(row.action),
        created_at=row.created_at,
        last_due_at=row.last_due_at,
        trigger=row.trigger_kind,
        threshold=row.threshold,
        conditions=tuple(Condition(c["kind"], c["value"]) for c in row.conditions),
    )


def run_from(row: Any) -> AutomationRun:
    return AutomationRun(
        automation_id=row.automation_id,
        org_id=OrgId(row.org_id),
        due_at=row.due_at,
        started_at=row.started_at,
        status=AutomationStatus(row.status),
        affected=row.affected,
        key=row.run_key,
        client_id=None if row.client_id is None else ClientId(row.client_id),
    )


class SqlAutomations(_Repo):
    """Automations and their runs in SQL."""

    def add(self, automation: Automation) -> None:
        """Store a new automation."""
        self._c.execute(automations.insert().values(**automation_values(automation)))

    def get(self, org_id: OrgId, automation_id: UUID) -> Automation:
        """The automation."""
        q = sa.select(automations).where(automations.c.org_id == org_id, automations.c.id == automation_id)
        return self._get(automations, q, automation_from, "automation")

    def list(self, org_id: OrgId) -> Rows[Automation]:
        """All automations, by name."""
        q = sa.select(automations).where(automations.c.org_id == org_id).order_by(automations.c.name, automations.c.id)
        return self._all(automations, q, automation_from)

    def update(self, automation: Automation) -> None:
        """Replace the stored automation."""
        values = automation_values(automation)
        del values["id"], values["org_id"]
        result = self._c.execute(
            automations.update()
            .where(automations.c.org_id == automation.org_id, automations.c.id == automation.id)
            .values(**values)
        )
        if result.rowcount != 1:
            raise NotFound("No such automation in this business.")

    def org_ids(self) -> Sequence[OrgId]:
        """The organisations that have an enabled automation (the others have nothing to run)."""
        with read_automations_across_orgs(self._c):
            q = sa.select(automations.c.org_id).where(automations.c.enabled).distinct().order_by(automations.c.org_id)
            return [OrgId(o) for o in self._c.execute(q).scalars()]

    def claim_run(self, run: AutomationRun) -> bool:
        """Insert the run unless its (automation, run key) has one; whether this call inserted it.

        A second claimer waits for the first one's transaction: if it commits, the claim is refused;
        if it rolls back, the second claim succeeds, so a failed attempt never blocks the due time.
        """
        self.get(run.org_id, run.automation_id)
        insert = postgresql.insert if self._c.dialect.name == "postgresql" else sqlite.insert
        stmt = (
            insert(automation_runs)
            .values(
                automation_id=run.automation_id,
                run_key=run.key,
                client_id=run.client_id,
                due_at=run.due_at,
                org_id=run.org_id,
                started_at=run.started_at,
                status=run.status.value,
                affected=run.affected,
            )
            .on_conflict_do_nothing(index_elements=["automation_id", "run_key"])
            .returning(automation_runs.c.automation_id)
        )
        return self._c.execute(stmt).first() is not None

    def finish_run(self, org_id: OrgId, automation_id: UUID, key: str, status: AutomationStatus, affected: int) -> None:
        """Set how the run ended."""
        result = self._c.execute(
            automation_runs.update()
            .where(
                automation_runs.c.org_id == org_id,
                automation_runs.c.automation_id == automation_id,
                automation_runs.c.run_key == key,
            )
            .values(status=status.value, affected=affected)
        )
        if result.rowcount != 1:
            raise NotFound("No such automation run in this business.")

    def runs(self, org_id: OrgId, automation_id: UUID, limit: int = 20) -> Sequence[AutomationRun]:
        """The latest runs, newest due time first."""
        q = (
            sa.select(automation_runs)
            .where(automation_runs.c.org_id == org_id, automation_runs.c.automation_id == automation_id)
            .order_by(
                automation_runs.c.due_at.desc(), automation_runs.c.started_at.desc(), automation_runs.c.run_key.desc()
            )
            .limit(limit)
        )
        return list(cv.read_all(automation_runs, self._c.execute(q).all(), run_from, key="automation_id"))

    def last_active_between(
        self, org_id: OrgId, after: datetime, until: datetime
    ) -> Sequence[tuple[ClientId, datetime]]:
        """Clients whose last activity (latest booking not cancelled, else when added) is in (after, until]."""
        latest = (
            sa.select(bookings.c.client_id, sa.func.max(bookings.c.starts_at).label("last"))
            .where(bookings.c.org_id == org_id, bookings.c.status != "cancelled")
            .group_by(bookings.c.client_id)
            .subquery()
        )
        last = sa.type_coerce(sa.func.coalesce(latest.c.last, clients.c.created_at), UTCDateTime())
        q = (
            sa.select(clients.c.id, last.label("last"))
            .select_from(clients.outerjoin(latest, latest.c.client_id == clients.c.id))
            .where(clients.c.org_id == org_id, last > after, last <= until)
            .order_by(last, clients.c.id)
        )
        return [(ClientId(r.id), r.last) for r in self._c.execute(q)]

    def birthdays(self, org_id: OrgId, days: Sequence[tuple[int, int]]) -> Sequence[ClientId]:
        """Clients whose birthday falls on one of the (month, day) pairs."""
        if not days:
            return []
        month, day = sa.extract("month", clients.c.birthday), sa.extract("day", clients.c.birthday)
        q = (
            sa.select(clients.c.id)
            .where(clients.c.org_id == org_id, clients.c.birthday.is_not(None))
            .where(sa.or_(*(sa.and_(month == m, day == d) for m, d in days)))
            .order_by(clients.c.id)
        )
        return [ClientId(i) for i in self._c.execute(q).scalars()]


class SqlTodos(_Repo):
    """The coach's to-dos in SQL; a repeated key keeps the first to-do."""

    def add(self, todo: Todo) -> Todo:
        """Store the to-do unless one has its key; the stored one."""
        values = {
            "id": todo.id,
            "org_id": todo.org_id,
            "title": todo.title,
            "created_at": todo.created_at,
            "client_id": todo.client_id,
            "automation_id": todo.automation_id,
            "key": todo.key,
            "done_at": todo.done_at,
        }
        if todo.key is None:
            self._c.execute(todos.insert().values(**values))
            return todo
        insert = postgresql.insert if self._c.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(todos).values(**values).on_conflict_do_nothing(index_elements=["org_id", "key"])
        if self._c.execute(stmt.returning(todos.c.id)).first() is not None:
            return todo
        q = sa.select(todos).where(todos.c.org_id == todo.org_id, todos.c.key == todo.key)
        return self._get(todos, q, todo_from, "to-do")

    def get(self, org_id: OrgId, todo_id: UUID) -> Todo:
        """The to-do."""
        q = sa.select(todos).where(todos.c.org_id == org_id, todos.c.id == todo_id)
        return self._get(todos, q, todo_from, "to-do")

    def open(self, org_id: OrgId, limit: int = 50) -> Rows[Todo]:
        """To-dos not yet done, oldest first."""
        q = (
            sa.select(todos)
            .where(todos.c.org_id == org_id, todos.c.done_at.is_(None))
            .order_by(todos.c.created_at, todos.c.id)
            .limit(limit)
        )
        return self._all(todos, q, todo_from)

    def mark_done(self, org_id: OrgId, todo_id: UUID, at: datetime) -> Todo:
        """Tick it off (keeping the first time)."""
        self._c.execute(
            todos.update()
            .where(todos.c.org_id == org_id, todos.c.id == todo_id, todos.c.done_at.is_(None))
            .values(done_at=at)
        )
        return self.get(org_id, todo_id)


def todo_from(row: Any) -> Todo:
    return Todo(
        id=row.id,
        org_id=OrgId(row.org_id),
        title=row.title,
        created_at=row.created_at,
        client_id=None if row.client_id is None else ClientId(row.client_id),
        automation_id=row.automation_id,
        key=row.key,
        done_at=row.done_at,
    )
