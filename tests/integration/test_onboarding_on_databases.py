"""Onboarding flows on SQLite and PostgreSQL: the unit scenarios again, racing reminder ticks, tenancy."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.adapters.memory import FakeSteps
from coachos.adapters.sql.tables import onboarding_starts
from coachos.adapters.sql.tenancy import scope_to
from coachos.domain.usecases import SendOnboardingReminders
from tests.helpers import World, later
from tests.integration.test_concurrency import race
from tests.unit.test_onboarding import (  # noqa: F401  # collected again with this folder's `app`
    TestProgressAndHolds,
    TestReminders,
    TestSetup,
    book,
    fake_steps,
    flow_with,
    onboarding_messages,
)


class TestOnTheDatabase:
    def test_racing_ticks_queue_each_reminder_once(
        self, app: CoachOS, world: World, steps: FakeSteps, clock: FixedClock
    ) -> None:
        """Eight workers ticking at once at 24 h queue the reminder once."""
        flow = flow_with(app, world, steps)
        started = clock.now()
        book(app, world, day=20)
        clock.set(later(started, hours=24))
        race([lambda: app.execute(SendOnboardingReminders()) for _ in range(8)])
        assert [m.key for m in onboarding_messages(app, world)] == [f"onboarding:{flow.id}:{world.client.id}:24h:sms"]

    @pytest.mark.postgres
    def test_another_business_sees_no_starts(
        self, postgres_engine: Engine, app: CoachOS, world: World, steps: FakeSteps
    ) -> None:
        """Row-level security hides a business's onboarding starts from a transaction scoped to another."""
        flow_with(app, world, steps)
        book(app, world, day=20)
        with postgres_engine.connect() as conn, conn.begin():
            scope_to(conn, uuid.uuid4())
            assert (
                conn.execute(
                    sa.select(onboarding_starts.c.client_id).where(onboarding_starts.c.org_id == world.org.id)
                ).all()
                == []
            )
