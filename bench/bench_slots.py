"""Slot computation for a busy coach: 90 days in New York, across the March change of the clocks.

One coach with 20 weekly rules (some overlapping), 10 date overrides and 300 existing busy blocks
(some of them group classes with places left). The whole 90-day range is computed each time, as a
public booking page asking for three months would.
"""

from __future__ import annotations

import math
import random
import statistics
import time as clock
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from coachos.domain.availability import BusyBlock, DateOverride, WeeklyRule, compute_slots
from coachos.domain.policy import BookingPolicy

TZ = ZoneInfo("America/New_York")
FIRST_DAY = date(2026, 2, 15)  # the clocks go forward on 8 March 2026
DAYS = 90
COACH = uuid.UUID("00000000-0000-4000-8000-0000000000c1")
SERVICE = uuid.UUID("00000000-0000-4000-8000-000000000051")
POLICY = BookingPolicy(
    min_notice=timedelta(hours=12),
    horizon=timedelta(days=120),
    buffer=timedelta(minutes=10),
    slot_interval=timedelta(minutes=30),
)
DURATION = timedelta(minutes=60)


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ).astimezone(UTC)


def _rules() -> list[WeeklyRule]:
    """Three periods Monday to Saturday (the first two overlap) and two on Sunday: 20 rules."""
    rules = [
        WeeklyRule(COACH, weekday, time(start_h, start_m), time(end_h, end_m))
        for weekday in range(6)
        for (start_h, start_m), (end_h, end_m) in (((7, 0), (11, 0)), ((10, 30), (15, 0)), ((16, 0), (20, 0)))
    ]
    rules += [WeeklyRule(COACH, 6, time(9), time(12)), WeeklyRule(COACH, 6, time(13), time(17))]
    return rules


def _overrides() -> list[DateOverride]:
    """Four whole days off, three part days off and three days of extra hours: 10 overrides."""
    on = [FIRST_DAY + timedelta(days=n) for n in (5, 19, 21, 40, 22, 30, 60, 20, 55, 80)]
    ids = (uuid.UUID(int=n + 1) for n in range(10))
    whole = [DateOverride(next(ids), COACH, day, available=False) for day in on[:4]]
    part = [DateOverride(next(ids), COACH, day, False, time(12), time(15)) for day in on[4:7]]
    extra = [DateOverride(next(ids), COACH, day, True, time(20), time(22)) for day in on[7:]]
    return whole + part + extra


def _busy() -> list[BusyBlock]:
    """300 bookings of an hour plus buffer on the half hour; every tenth a class with places left."""
    rng = random.Random(20260215)
    blocks = []
    for n in range(300):
        start = _local(FIRST_DAY + timedelta(days=rng.randrange(DAYS)), rng.randrange(7, 20), rng.choice((0, 30)))
        group = n % 10 == 0
        blocks.append(
            BusyBlock(
                start,
                start + DURATION + POLICY.buffer,
                SERVICE if group else uuid.UUID(int=1000 + n),
                seats_left=rng.randint(1, 5) if group else 0,
            )
        )
    return blocks


def run(iterations: int = 200) -> dict[str, Any]:
    """Time `iterations` computations of 90 days of slots; median and 95th percentile in ms."""
    rules, overrides, busy = _rules(), _overrides(), _busy()
    now = _local(FIRST_DAY, 0)
    start, end = now, _local(FIRST_DAY + timedelta(days=DAYS), 0)

    def once() -> int:
        return len(
            compute_slots(
                coach_id=COACH,
                service_id=SERVICE,
                duration=DURATION,
                capacity=6,
                rules=rules,
                overrides=overrides,
                busy=busy,
                policy=POLICY,
                tz=TZ,
                now=now,
                start=start,
                end=end,
            )
        )

    slots = once()  # warm-up, and the count to report
    assert slots > 0, "the benchmark data leaves no slots; it measures nothing"
    timings = []
    for _ in range(iterations):
        began = clock.perf_counter()
        once()
        timings.append((clock.perf_counter() - began) * 1000)
    timings.sort()
    return {
        "name": "slots_90_days",
        "median_ms": statistics.median(timings),
        "p95_ms": timings[max(0, math.ceil(len(timings) * 0.95) - 1)],
        "slots": slots,
        "iterations": iterations,
    }


if __name__ == "__main__":
    print(run())
