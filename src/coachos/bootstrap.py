"""The composition root: the one place adapters are chosen and wired to the use cases."""

from __future__ import annotations

from collections.abc import Callable

from coachos._app import CoachOS
from coachos.adapters.clock import RandomIds, SystemClock
from coachos.adapters.memory import MemoryStore
from coachos.adapters.security import Argon2Hasher, SecretsTokens, email_from_url
from coachos.domain.usecases import Deps
from coachos.ports.clock import Clock, IdSource
from coachos.ports.security import EmailSender, PasswordHasher, TokenSource
from coachos.ports.storage import UnitOfWork
from coachos.settings import Settings

MEMORY_URL = "memory://"


def bootstrap(
    settings: Settings | None = None,
    *,
    uow: Callable[[], UnitOfWork] | None = None,
    clock: Clock | None = None,
    ids: IdSource | None = None,
    hasher: PasswordHasher | None = None,
    tokens: TokenSource | None = None,
    email: EmailSender | None = None,
    upgrade_schema: bool = False,
) -> CoachOS:
    """Build Coach OS from `settings` (default: the environment), with any adapter swapped in.

    Nothing connects before this is called. With `upgrade_schema`, the database's schema is
    migrated to the newest revision first (handy for embedded use and tests; production runs
    `coachos db upgrade` once per deploy instead).
    """
    settings = Settings.from_env() if settings is None else settings
    on_close: Callable[[], None] | None = None
    if uow is None:
        if settings.database_url == MEMORY_URL:
            uow = MemoryStore().unit_of_work
        else:
            from coachos.adapters.sql import migrate
            from coachos.adapters.sql.engine import make_engine
            from coachos.adapters.sql.uow import SqlUnitOfWork

            if upgrade_schema:
                # As the connecting user (the owner); the app's engine below works as the app role.
                owner = make_engine(settings.database_url)
                try:
                    migrate.upgrade(owner)
                finally:
                    owner.dispose()
            engine = make_engine(settings.database_url, pool_size=settings.db_pool_size, role=settings.database_role)

            def uow() -> UnitOfWork:
                return SqlUnitOfWork(engine)

            on_close = engine.dispose
    deps = Deps(
        uow=uow,
        clock=clock or SystemClock(),
        ids=ids or RandomIds(),
        hasher=hasher or Argon2Hasher(),
        tokens=tokens or SecretsTokens(),
        email=email or email_from_url(settings.email_url),
    )
    return CoachOS(deps, worker_threads=settings.worker_threads, on_close=on_close)
