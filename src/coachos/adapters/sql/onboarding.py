"""Onboarding flows and starts in SQL; a start and each reminder count are claimed by one conditional write."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from coachos.adapters.sql.repos import _Repo
from coachos.adapters.sql.tables import onboarding_flow_services, onboarding_flows, onboarding_starts
from coachos.adapters.sql.tenancy import read_onboarding_across_orgs
from coachos.domain.errors import NotFound
from coachos.domain.ids import ClientId, OrgId, ServiceId
from coachos.domain.onboarding import LAST_REMINDER, OnboardingFlow, OnboardingStart, Step
from coachos.domain.rows import Rows


def flow_from(row: Any) -> OnboardingFlow:
    return OnboardingFlow(
        id=row.id,
        org_id=OrgId(row.org_id),
        name=row.name,
        steps=tuple(Step(s["kind"], UUID(s["target"])) for s in row.steps),
        all_services=row.all_services,
        created_at=row.created_at,
    )


def start_from(row: Any) -> OnboardingStart:
    return OnboardingStart(
        org_id=OrgId(row.org_id),
        flow_id=row.flow_id,
        client_id=ClientId(row.client_id),
        started_at=row.started_at,
        reminders_sent=row.reminders_sent,
    )


def _flow_values(flow: OnboardingFlow) -> dict[str, Any]:
    return {
        "name": flow.name,
        "steps": [{"kind": s.kind.value, "target": str(s.target)} for s in flow.steps],
        "all_services": flow.all_services,
    }


class SqlOnboarding(_Repo):
    """Flows, the services they hold, and clients' starts, in SQL."""

    def add(self, flow: OnboardingFlow) -> None:
        """Store a new flow."""
        self._c.execute(
            onboarding_flows.insert().values(
                id=flow.id, org_id=flow.org_id, created_at=flow.created_at, **_flow_values(flow)
            )
        )
        self._set_services(flow)

    def get(self, org_id: OrgId, flow_id: UUID) -> OnboardingFlow:
        """The flow."""
        q = sa.select(onboarding_flows).where(onboarding_flows.c.org_id == org_id, onboarding_flows.c.id == flow_id)
        flow = self._get(onboarding_flows, q, flow_from, "onboarding flow")
        return attrs.evolve(flow, services=frozenset(self._services(org_id).get(flow.id, ())))

    def flows(self, org_id: OrgId) -> Rows[OnboardingFlow]:
        """Every flow, by name."""
        q = (
            sa.select(onboarding_flows)
            .where(onboarding_flows.c.org_id == org_id)
            .order_by(onboarding_flows.c.name, onboarding_flows.c.id)
        )
        flows = self._all(onboarding_flows, q, flow_from)
        services = self._services(org_id)
        return Rows(
            [attrs.evolve(f, services=frozenset(services.get(f.id, ()))) for f in flows],
            flows.unreadable,
        )

    def update(self, flow: OnboardingFlow) -> None:
        """Replace the stored flow."""
        done = self._c.execute(
            onboarding_flows.update()
            .where(onboarding_flows.c.org_id == flow.org_id, onboarding_flows.c.id == flow.id)
            .values(**_flow_values(flow))
        )
        if done.rowcount != 1:
            raise NotFound("No such onboarding flow in this business.")
        self._set_services(flow)

    def delete(self, org_id: OrgId, flow_id: UUID) -> None:
        """Remove the flow with its services and starts."""
        for child in (onboarding_starts, onboarding_flow_services):
            self._c.execute(child.delete().where(child.c.org_id == org_id, child.c.flow_id == flow_id))
        done = self._c.execute(
            onboarding_flows.delete().where(onboarding_flows.c.org_id == org_id, onboarding_flows.c.id == flow_id)
        )
        if done.rowcount != 1:
            raise NotFound("No such onboarding flow in this business.")

    def start(self, start: OnboardingStart) -> bool:
        """Insert the start unless the (flow, client) has one; whether this call inserted it."""
        insert = postgresql.insert if self._c.dialect.name == "postgresql" else sqlite.insert
        stmt = (
            insert(onboarding_starts)
            .values(
                flow_id=start.flow_id,
                client_id=start.client_id,
                org_id=start.org_id,
                started_at=start.started_at,
                reminders_sent=start.reminders_sent,
            )
            .on_conflict_do_nothing(index_elements=["flow_id", "client_id"])
            .returning(onboarding_starts.c.flow_id)
        )
        return self._c.execute(stmt).first() is not None

    def starts_for(self, org_id: OrgId, client_id: ClientId) -> Sequence[OnboardingStart]:
        """The client's starts."""
        q = sa.select(onboarding_starts).where(
            onboarding_starts.c.org_id == org_id, onboarding_starts.c.client_id == client_id
        )
        return [start_from(r) for r in self._c.execute(q)]

    def orgs_with_due_reminders(self, started_before: datetime) -> Sequence[OrgId]:
        """Businesses with a start still owed a reminder (read across businesses)."""
        with read_onboarding_across_orgs(self._c):
            q = (
                sa.select(onboarding_starts.c.org_id)
                .where(*_owed(started_before))
                .distinct()
                .order_by(onboarding_starts.c.org_id)
            )
            return [OrgId(o) for o in self._c.execute(q).scalars()]

    def due_reminders(self, org_id: OrgId, started_before: datetime) -> Sequence[OnboardingStart]:
        """The business's starts still owed a reminder, oldest first."""
        q = (
            sa.select(onboarding_starts)
            .where(onboarding_starts.c.org_id == org_id, *_owed(started_before))
            .order_by(onboarding_starts.c.started_at, onboarding_starts.c.flow_id, onboarding_starts.c.client_id)
        )
        return [start_from(r) for r in self._c.execute(q)]

    def mark_reminded(self, start: OnboardingStart, reminders_sent: int) -> bool:
        """One conditional update: raise the count unless it is already there."""
        done = self._c.execute(
            onboarding_starts.update()
            .where(
                onboarding_starts.c.org_id == start.org_id,
                onboarding_starts.c.flow_id == start.flow_id,
                onboarding_starts.c.client_id == start.client_id,
                onboarding_starts.c.reminders_sent < reminders_sent,
            )
            .values(reminders_sent=reminders_sent)
        )
        return done.rowcount == 1

    def _services(self, org_id: OrgId) -> dict[UUID, list[ServiceId]]:
        q = sa.select(onboarding_flow_services.c.flow_id, onboarding_flow_services.c.service_id).where(
            onboarding_flow_services.c.org_id == org_id
        )
        found: dict[UUID, list[ServiceId]] = {}
        for flow_id, service_id in self._c.execute(q):
            found.setdefault(flow_id, []).append(ServiceId(service_id))
        return found

    def _set_services(self, flow: OnboardingFlow) -> None:
        t = onboarding_flow_services
        self._c.execute(t.delete().where(t.c.org_id == flow.org_id, t.c.flow_id == flow.id))
        if flow.services:
            self._c.execute(
                t.insert(),
                [{"flow_id": flow.id, "service_id": s, "org_id": flow.org_id} for s in sorted(flow.services, key=str)],
            )


def _owed(started_before: datetime) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        onboarding_starts.c.reminders_sent < LAST_REMINDER,
        onboarding_starts.c.started_at <= started_before,
    )
