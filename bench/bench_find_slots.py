"""The FindSlots use case end to end on PostgreSQL: 90 days, a coach with 300 bookings.

Unlike `bench_slots` (the pure function), this includes the queries for hours, overrides and the
calendar, and the conversion of rows. It also counts SQL statements per call, which must not grow
with the number of bookings.
"""

from __future__ import annotations

import statistics
import time as clock
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from bench._pg import temp_postgres
from coachos import (
    AddDateOverride,
    BookingPolicy,
    BookSession,
    FindSlots,
    Settings,
    SetWeeklyHours,
    bootstrap,
)
from coachos.adapters.clock import FixedClock
from coachos.adapters.sql.uow import SqlUnitOfWork
from tests.helpers import add_client, make_world

START = datetime(2026, 2, 16, 5, 0, tzinfo=UTC)  # 90 days from here cross 8 March (New York)


def _count_statements(engine: sa.Engine) -> list[int]:
    counter = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        counter[0] += 1

    return counter


def run(iterations: int = 60) -> dict[str, Any]:
    """Median and p95 of a 90-day FindSlots call, and SQL statements per call at 0 and 300 bookings."""
    with temp_postgres() as engine:
        clock_ = FixedClock(START)
        with bootstrap(Settings(database_url="memory://"), uow=lambda: SqlUnitOfWork(engine), clock=clock_) as app:
            w = make_world(
                app, sessions=1000, policy=BookingPolicy(min_notice=timedelta(hours=1), horizon=timedelta(days=120))
            )
            hours = [(d, time(h), time(h + 2)) for d in range(5) for h in (6, 9, 12, 15)] + [(5, time(8), time(12))]
            app.execute(SetWeeklyHours(org_id=w.org.id, coach_id=w.coach.id, hours=hours[:20], actor=w.me))
            first_day = START.astimezone(w.org.tz).date()
            for n in range(10):
                app.execute(
                    AddDateOverride(
                        org_id=w.org.id,
                        coach_id=w.coach.id,
                        on=first_day + timedelta(days=7 * n + 2),
                        available=n % 2 == 0,
                        start=time(18) if n % 2 == 0 else None,
                        end=time(20) if n % 2 == 0 else None,
                        actor=w.me,
                    )
                )
            query = FindSlots(
                org_id=w.org.id, coach_id=w.coach.id, service_id=w.pt.id, start=START, end=START + timedelta(days=90)
            )
            counter = _count_statements(engine)
            counter[0] = 0
            app.execute(query)
            statements_empty = counter[0]
            slots = app.execute(query)
            client = add_client(app, w, "Bench client", sessions=1000)
            for slot in slots[:: max(1, len(slots) // 300)][:300]:
                app.execute(
                    BookSession(
                        org_id=w.org.id,
                        coach_id=w.coach.id,
                        service_id=w.pt.id,
                        client_id=client.id,
                        start=slot.start,
                        actor=w.me,
                    )
                )
            counter[0] = 0
            found = app.execute(query)
            statements_busy = counter[0]
            timings = []
            for _ in range(iterations):
                t0 = clock.perf_counter()
                app.execute(query)
                timings.append((clock.perf_counter() - t0) * 1000)
            timings.sort()
    return {
        "name": "find_slots_90_days_postgres_300_bookings",
        "median_ms": statistics.median(timings),
        "p95_ms": timings[max(0, int(len(timings) * 0.95) - 1)],
        "slots": len(found),
        "statements_per_call_0_bookings": statements_empty,
        "statements_per_call_300_bookings": statements_busy,
        "iterations": iterations,
    }


if __name__ == "__main__":
    print(run())
