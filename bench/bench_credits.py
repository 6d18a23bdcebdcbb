"""Credit-use contention on PostgreSQL: 32 workers against one package, and against 32 packages.

Each use is the full `UseCredit` use case on its own pooled connection. Bookings are inserted in
bulk beforehand so only credit use is timed. After each run the stored counters are checked
against the number of successful uses: any over-count fails the benchmark.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bench._pg import temp_postgres
from coachos import Actor, CoachOS, NoCreditsLeft, Settings, UseCredit, bootstrap
from coachos.adapters.sql.tables import appointments, bookings
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.ids import BookingId, PackageId
from tests.helpers import World, add_client, make_world

WORKERS = 32


def _bulk_bookings(engine: sa.Engine, w: World, client_ids: list[Any], per_client: int) -> dict[Any, list[BookingId]]:
    """`per_client` bookings for each client, in one big appointment row per client, inserted directly."""
    now = datetime.now(UTC)
    start = now + timedelta(days=1)
    made: dict[Any, list[BookingId]] = {}
    with engine.begin() as conn:
        for i, client_id in enumerate(client_ids):
            appt = uuid.uuid4()
            begins = start + timedelta(hours=2 * i)
            conn.execute(
                appointments.insert().values(
                    id=appt,
                    org_id=w.org.id,
                    coach_id=w.coach.id,
                    service_id=w.group.id,
                    starts_at=begins,
                    ends_at=begins + timedelta(hours=1),
                    blocks_until=begins + timedelta(hours=1),
                    capacity=per_client,
                    seats_taken=per_client,
                )
            )
            ids = [BookingId(uuid.uuid4()) for _ in range(per_client)]
            conn.execute(
                bookings.insert(),
                [
                    {
                        "id": b,
                        "org_id": w.org.id,
                        "appointment_id": appt,
                        "coach_id": w.coach.id,
                        "service_id": w.group.id,
                        "client_id": client_id,
                        "starts_at": begins,
                        "ends_at": begins + timedelta(hours=1),
                        "status": "confirmed",
                        "note": "",
                        "created_at": now,
                        "created_by": str(w.me),
                        "updated_at": now,
                        "updated_by": str(w.me),
                    }
                    for b in ids
                ],
            )
            made[client_id] = ids
    return made


def _hammer(app: CoachOS, w: World, jobs: list[list[tuple[BookingId, PackageId]]], actor: Actor) -> dict[str, Any]:
    barrier = threading.Barrier(len(jobs) + 1)
    ok = [0] * len(jobs)
    refused = [0] * len(jobs)
    latencies: list[list[float]] = [[] for _ in jobs]

    def worker(n: int) -> None:
        barrier.wait()
        for booking_id, package_id in jobs[n]:
            t0 = time.perf_counter()
            try:
                change = app.execute(
                    UseCredit(org_id=w.org.id, booking_id=booking_id, package_id=package_id, actor=actor)
                )
                ok[n] += int(change.applied)
            except NoCreditsLeft:
                refused[n] += 1
            latencies[n].append(time.perf_counter() - t0)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(jobs))]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    flat = sorted(x for xs in latencies for x in xs)
    return {
        "succeeded": sum(ok),
        "refused": sum(refused),
        "seconds": elapsed,
        "uses_per_second": sum(ok) / elapsed,
        "attempts_per_second": len(flat) / elapsed,
        "median_ms": statistics.median(flat) * 1000,
        "p95_ms": flat[int(len(flat) * 0.95) - 1] * 1000,
    }


def run(per_worker: int = 40) -> list[dict[str, Any]]:
    """Both contention cases; raises if any counter was over-counted."""
    with (
        temp_postgres(pool_size=WORKERS + 4) as engine,
        bootstrap(Settings(database_url="memory://"), uow=lambda: SqlUnitOfWork(engine)) as app,
    ):
        return [_one_package(app, engine, per_worker), _many_packages(app, engine, per_worker)]


def _one_package(app: CoachOS, engine: sa.Engine, per_worker: int) -> dict[str, Any]:
    attempts = WORKERS * per_worker
    total = min(1000, attempts * 3 // 4)  # a quarter of the attempts must be refused
    w = make_world(app, sessions=total)
    made = _bulk_bookings(engine, w, [w.client.id], attempts)[w.client.id]
    jobs = [[(b, w.package.id) for b in made[n::WORKERS]] for n in range(WORKERS)]
    result = _hammer(app, w, jobs, w.me)
    with app.unit_of_work() as uow:
        used = uow.packages.get(w.org.id, w.package.id).used
    assert used == total == result["succeeded"], f"over/under-count: used={used} total={total} {result}"
    return {"name": "credits_32_workers_1_package", "workers": WORKERS, "total_credits": total, **result}


def _many_packages(app: CoachOS, engine: sa.Engine, per_worker: int) -> dict[str, Any]:
    w = make_world(app, sessions=1)
    clients = [add_client(app, w, f"Client {n}", sessions=per_worker) for n in range(WORKERS)]
    made = _bulk_bookings(engine, w, [c.id for c in clients], per_worker)
    with app.unit_of_work() as uow:
        packages = [uow.packages.for_client(w.org.id, c.id)[0].id for c in clients]
    jobs = [[(b, packages[n]) for b in made[c.id]] for n, c in enumerate(clients)]
    result = _hammer(app, w, jobs, w.me)
    with app.unit_of_work() as uow:
        used = [uow.packages.get(w.org.id, p).used for p in packages]
    assert used == [per_worker] * WORKERS, f"miscount: {used}"
    assert result["succeeded"] == per_worker * WORKERS
    return {
        "name": "credits_32_workers_32_packages",
        "workers": WORKERS,
        "total_credits": per_worker * WORKERS,
        **result,
    }


if __name__ == "__main__":
    for row in run():
        print(row)
