"""The background worker: a huey consumer running queued tasks, a tick every minute and daily upkeep.

`make_worker(settings)` builds the queue and the app together (the composition root picks the
adapters), registers the periodic tasks on that queue, and hands both back; `coachos worker` runs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import structlog
from huey import Huey, crontab

from coachos._app import CoachOS
from coachos.adapters.huey_tasks import make_huey
from coachos.bootstrap import bootstrap
from coachos.domain.usecases import (
    ChargeDueFees,
    PauseLapsedMemberships,
    PruneExpired,
    RecogniseExpiredPackages,
    ReleaseExpiredHolds,
    RetryPendingRefunds,
    RunDueAutomations,
    SendDueMessages,
    SendOnboardingReminders,
    SendReport,
)
from coachos.domain.usecases.sending import THROTTLE_WAIT
from coachos.settings import Settings

log = structlog.get_logger("coachos.worker")

#: A job the tick runs: it gets the app and does its work through `app.execute(...)`.
Job = Callable[[CoachOS], object]


def relay_outbox(app: CoachOS) -> object:
    """Hand up to 500 stored events to their consumers (claims make a repeated tick harmless)."""
    return app.relay.relay_once(500)


def run_due_automations(app: CoachOS) -> object:
    """Run every automation that is due; each (automation, due time) runs once, however often this is called."""
    return app.execute(RunDueAutomations())


def send_onboarding_reminders(app: CoachOS) -> object:
    """Queue the due onboarding reminders (24 h, 72 h, 7 days); each is queued once, however often this runs."""
    return app.execute(SendOnboardingReminders())


def pause_lapsed_memberships(app: CoachOS) -> object:
    """Pause memberships whose renewal failed and whose grace ran out; each pauses once, however often this runs."""
    return app.execute(PauseLapsedMemberships())


def release_expired_holds(app: CoachOS) -> object:
    """Give back the seats of held bookings whose payment did not arrive in time; each is released once."""
    released = app.execute(ReleaseExpiredHolds())
    if released:
        log.info("holds_released", count=len(released))
    return released


def charge_due_fees(app: CoachOS) -> object:
    """Charge pending late-cancellation and no-show fees to the cards clients kept; each is charged once."""
    return app.execute(ChargeDueFees())


def send_due_messages(app: CoachOS) -> SendReport:
    """Send due messages for up to the sending budget; while some wait a second for their number's rate,
    keep going, so one tick sends at each number's full rate instead of one burst a minute."""
    deadline = time.monotonic() + app.deps.sending.budget.total_seconds()
    total = SendReport()
    while True:
        report = app.execute(SendDueMessages(budget_seconds=max(deadline - time.monotonic(), 0.001)))
        total += report
        if not report.throttled or time.monotonic() + THROTTLE_WAIT.total_seconds() >= deadline:
            break
        time.sleep(THROTTLE_WAIT.total_seconds())
    if total.claimed:
        log.info("messages_sent", **attrs.asdict(total))
    return total


#: The jobs run every minute, in order (messages last, so what the others queued goes out this tick).
#: Adding a job is one line here; each
#: must be quick and safe to run again, since a tick can repeat after a crash or on several workers.
def retry_pending_refunds(app: CoachOS) -> object:
    """Ask Stripe again (same idempotency key) for card refunds a crash or an outage left pending."""
    settled = app.execute(RetryPendingRefunds())
    if settled:
        log.info("refunds_settled", count=settled)
    return settled


EVERY_MINUTE: tuple[Job, ...] = (
    relay_outbox,
    release_expired_holds,
    retry_pending_refunds,
    charge_due_fees,
    run_due_automations,
    send_onboarding_reminders,
    pause_lapsed_memberships,
    send_due_messages,
)

#: Daily upkeep runs at 03:17 UTC: off the hour, when businesses are quiet in most zones.
PRUNE_SCHEDULE = crontab(minute="17", hour="3")


def tick(app: CoachOS, jobs: Sequence[Job] = EVERY_MINUTE) -> int:
    """Run each job once; one failing job is logged and does not stop the others. Returns how many failed."""
    failed = 0
    for job in jobs:
        try:
            job(app)
        except Exception:
            failed += 1
            log.exception("tick_job_failed", job=getattr(job, "__name__", repr(job)))
    return failed


def prune(app: CoachOS) -> int:
    """Delete expired sessions, dead reset links, stale throttle counters and old security events."""
    deleted = app.execute(PruneExpired())
    log.info("pruned", rows=deleted)
    return deleted


def recognise_expired_packages(app: CoachOS) -> int:
    """Move what expired packages' unused credits stood for from deferred revenue to revenue, once each."""
    done = app.execute(RecogniseExpiredPackages())
    log.info("expired_packages_recognised", packages=done)
    return done


#: The daily upkeep jobs, in order (each failing alone, like the tick's).
DAILY: tuple[Job, ...] = (prune, recognise_expired_packages)


@attrs.frozen
class Worker:
    """The worker's queue, its app, and the periodic tasks registered on the queue."""

    huey: Huey
    app: CoachOS
    #: huey's task wrappers (huey has no type hints), kept so tests can check their schedules.
    tick_task: Any
    prune_task: Any


def make_worker(settings: Settings, *, jobs: Sequence[Job] = EVERY_MINUTE, **overrides: Any) -> Worker:
    """Build the queue from `settings`, the app on it (with any adapter `overrides`), and the periodic tasks."""
    huey = make_huey(settings)
    if huey is None:
        raise ValueError(
            "There is no queue for a worker to read (only a SQLite database gets one by default): "
            "set COACHOS_REDIS_URL, or COACHOS_QUEUE_PATH (a SQLite file)."
        )
    app = bootstrap(settings, huey=huey, **overrides)

    # Periodic tasks are not retried: the next tick (or tomorrow's prune) does the same work again.
    def every_minute() -> None:
        tick(app, jobs)

    def daily_prune() -> None:
        tick(app, DAILY)

    tick_task = huey.periodic_task(crontab(), name="tick")(every_minute)
    prune_task = huey.periodic_task(PRUNE_SCHEDULE, name="prune")(daily_prune)
    return Worker(huey, app, tick_task, prune_task)


def run_worker(settings: Settings, *, threads: int, periodic: bool = True) -> None:
    """Consume the queue until SIGINT (finish running tasks, then stop) or SIGTERM (stop now).

    With `periodic`, this worker also enqueues the periodic tasks when they are due. Their jobs are
    safe to repeat, so every worker may; `periodic=False` on all but one saves the duplicate work.
    """
    worker = make_worker(settings)
    with worker.app:
        consumer = worker.huey.create_consumer(workers=threads, worker_type="thread", periodic=periodic)
        log.info("worker_started", threads=threads)
        consumer.run()
    log.info("worker_stopped")
