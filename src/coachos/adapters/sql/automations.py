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
from coachos.adapters.sql.tables import automation_runs, automations
from coachos.adapters.sql.tenancy import read_automations_across_orgs
from coachos.domain.automations import (
    ActionKind,
    Automation,
    AutomationRun,
    AutomationStatus,
    CronSchedule,
    TagClients,
)
from coachos.domain.errors import NotFound
from coachos.domain.ids import OrgId
from coachos.domain.rows import Rows


def _action_values(action: TagClients) -> dict[str, Any]:
    return {
        "kind": action.kind.value,
        "tag": action.tag,
        "status": None if action.status is None else action.status.value,
    }


def _action_from(value: Any) -> TagClients:
    kind = ActionKind(value["kind"])
    if kind is ActionKind.TAG_CLIENTS:
        return TagClients(tag=value["tag"], status=value.get("status"))
    raise ValueError(f"unknown action kind {kind}")  # pragma: no cover  # one kind today


def automation_values(a: Automation) -> dict[str, Any]:
    return {
        "id": a.id,
        "org_id": a.org_id,
        "name": a.name,
        "enabled": a.enabled,
        "schedule": a.schedule.expression,
        "action": _action_values(a.action),
        "created_at": a.created_at,
        "last_due_at": a.last_due_at,
    }


def automation_from(row: Any) -> Automation:
    return Automation(
        id=row.id,
        org_id=OrgId(row.org_id),
        name=row.name,
        enabled=row.enabled,
        schedule=CronSchedule.parse(row.schedule),
        action=_action_from(row.action),
        created_at=row.created_at,
        last_due_at=row.last_due_at,
    )


def run_from(row: Any) -> AutomationRun:
    return AutomationRun(
        automation_id=row.automation_id,
        org_id=OrgId(row.org_id),
        due_at=row.due_at,
        started_at=row.started_at,
        status=AutomationStatus(row.status),
        affected=row.affected,
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
        """Insert the run unless its (automation, due time) has one; whether this call inserted it.

        A second claimer waits for the first one's transaction: if it commits, the claim is refused;
        if it rolls back, the second claim succeeds, so a failed attempt never blocks the due time.
        """
        self.get(run.org_id, run.automation_id)
        insert = postgresql.insert if self._c.dialect.name == "postgresql" else sqlite.insert
        stmt = (
            insert(automation_runs)
            .values(
                automation_id=run.automation_id,
                due_at=run.due_at,
                org_id=run.org_id,
                started_at=run.started_at,
                status=run.status.value,
                affected=run.affected,
            )
            .on_conflict_do_nothing(index_elements=["automation_id", "due_at"])
            .returning(automation_runs.c.automation_id)
        )
        return self._c.execute(stmt).first() is not None

    def finish_run(
        self, org_id: OrgId, automation_id: UUID, due_at: datetime, status: AutomationStatus, affected: int
    ) -> None:
        """Set how the run ended."""
        result = self._c.execute(
            automation_runs.update()
            .where(
                automation_runs.c.org_id == org_id,
                automation_runs.c.automation_id == automation_id,
                automation_runs.c.due_at == due_at,
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
            .order_by(automation_runs.c.due_at.desc())
            .limit(limit)
        )
        return list(cv.read_all(automation_runs, self._c.execute(q).all(), run_from, key="automation_id"))
