"""The composition root: the one place adapters are chosen and wired to the use cases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from coachos._app import CoachOS
from coachos._limits import Limits
from coachos.adapters.clock import RandomIds, SystemClock
from coachos.adapters.email import email_from_url
from coachos.adapters.links import SignedLinks
from coachos.adapters.memory import ImmediateTasks, MemoryStore
from coachos.adapters.onboarding_steps import standard_steps
from coachos.adapters.payments import payments_from_settings
from coachos.adapters.security import Argon2Hasher, SecretsTokens
from coachos.adapters.sms import sms_from_settings
from coachos.domain.sending import SendingOptions
from coachos.domain.usecases import Deps, subscribe_automations
from coachos.domain.usecases.memberships import subscribe_memberships
from coachos.domain.usecases.notifications import subscribe_messaging
from coachos.domain.usecases.platform import subscribe_platform
from coachos.domain.usecases.stripe_fees import subscribe_stripe_fees
from coachos.ports.clock import Clock, IdSource
from coachos.ports.links import Links
from coachos.ports.messaging import EmailSender, SmsSender
from coachos.ports.onboarding import StepChecks
from coachos.ports.payments import Payments
from coachos.ports.security import PasswordHasher, TokenSource
from coachos.ports.storage import UnitOfWork
from coachos.ports.tasks import TaskQueue
from coachos.settings import Settings

if TYPE_CHECKING:
    from huey import Huey

MEMORY_URL = "memory://"
#: The number texts written to files or memory (no real provider) come from when COACHOS_SMS_FROM is unset:
#: Twilio's documented test number, so the embedded default sends without any setup.
PRETEND_FROM = "+15005550006"
#: Where Twilio posts delivery reports (the web app's route; the URL it signs starts with the public URL).
STATUS_CALLBACK_PATH = "/webhooks/twilio/status"
#: Seconds a readiness check gives the database to answer (its own connection, not the pool's).
READY_TIMEOUT = 2.0


def bootstrap(
    settings: Settings | None = None,
    *,
    uow: Callable[[], UnitOfWork] | None = None,
    clock: Clock | None = None,
    ids: IdSource | None = None,
    hasher: PasswordHasher | None = None,
    tokens: TokenSource | None = None,
    email: EmailSender | None = None,
    sms: SmsSender | None = None,
    huey: Huey | None = None,
    links: Links | None = None,
    sending: SendingOptions | None = None,
    steps: StepChecks | None = None,
    payments: Payments | None = None,
    upgrade_schema: bool = False,
) -> CoachOS:
    """Build Coach OS from `settings` (default: the environment), with any adapter swapped in.

    Nothing connects before this is called. With `upgrade_schema`, the database's schema is
    migrated to the newest revision first (handy for embedded use and tests; production runs
    `coachos db upgrade` once per deploy instead). `huey` is the worker's own queue, so the tasks it
    runs use this app's adapters; without it the queue comes from the settings.
    """
    settings = Settings.from_env() if settings is None else settings
    on_close: Callable[[], None] | None = None
    probe: Callable[[], None] | None = None
    if uow is None:
        if settings.database_url == MEMORY_URL:
            uow = MemoryStore().unit_of_work
        else:
            from coachos.adapters.sql import migrate
            from coachos.adapters.sql.engine import Timeouts, make_engine, ping, probe_engine
            from coachos.adapters.sql.uow import SqlUnitOfWork

            timeouts = Timeouts.from_settings(settings)
            if upgrade_schema:
                # As the connecting user (the owner); the app's engine below works as the app role.
                owner = make_engine(settings.database_url, pool_size=1, timeouts=timeouts.for_migrations())
                try:
                    migrate.upgrade(owner)
                finally:
                    owner.dispose()
            engine = make_engine(
                settings.database_url, pool_size=settings.db_pool_size, role=settings.database_role, timeouts=timeouts
            )
            prober = probe_engine(settings.database_url, timeout=READY_TIMEOUT)

            def uow() -> UnitOfWork:
                return SqlUnitOfWork(engine)

            def probe() -> None:
                ping(prober)

            def on_close() -> None:
                engine.dispose()
                prober.dispose()

    email = email or email_from_url(settings.email_url)
    clock = clock or SystemClock()
    deps = Deps(
        uow=uow,
        clock=clock,
        ids=ids or RandomIds(),
        hasher=hasher or Argon2Hasher(),
        tokens=tokens or SecretsTokens(),
        email=email,
        sms=sms or sms_from_settings(settings),
        tasks=_task_queue(settings, email, huey),
        links=links or SignedLinks.from_settings(settings, clock),
        steps=steps or step_checks(),
        sending=sending or sending_options(settings),
        payments=payments or payments_from_settings(settings),
    )
    limits = Limits(
        use_case_timeout=settings.use_case_timeout,
        tenant_concurrency=settings.tenant_limit,
        tenant_queue_timeout=settings.tenant_queue_timeout,
    )
    app = CoachOS(deps, worker_threads=settings.worker_threads, limits=limits, probe=probe, on_close=on_close)
    # The outbox's consumers, each subscribed in one call (see the relay in domain/usecases/relay.py).
    subscribe_messaging(app.relay)
    subscribe_automations(app.relay)
    subscribe_stripe_fees(app.relay)
    subscribe_memberships(app.relay)
    subscribe_platform(app.relay)
    return app


def step_checks() -> StepChecks:
    """Whether onboarding steps are done, asked of the part that owns each kind of step.

    A kind without a source (billing's, until billing lands) offers nothing to pick in Setup →
    Onboarding and is never done.
    """
    return standard_steps()


def sending_options(settings: Settings) -> SendingOptions:
    """How the worker sends SMS and email, from the settings; delivery reports come back to the public URL."""
    return SendingOptions(
        rate_per_second=settings.sms_rate_per_second,
        burst=settings.sms_burst,
        lease=timedelta(seconds=settings.send_lease_seconds),
        default_sms_from=settings.sms_from or (None if settings.sms_url.startswith("twilio:") else PRETEND_FROM),
        status_callback_url=f"{settings.public_url}{STATUS_CALLBACK_PATH}",
    )


def _task_queue(settings: Settings, email: EmailSender, huey: Huey | None) -> TaskQueue:
    """Huey when the settings name a queue (or the worker passes its own); otherwise run tasks at once."""
    from coachos.adapters.huey_tasks import HueyTaskQueue, make_huey

    huey = huey or make_huey(settings)
    return ImmediateTasks(email) if huey is None else HueyTaskQueue.on(huey, email)
