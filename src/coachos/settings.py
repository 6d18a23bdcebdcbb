"""Settings, read from the environment with defaults that run Coach OS on an embedded SQLite file."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Literal

import attrs

DEFAULT_DATABASE_URL = "sqlite:///coachos.db"


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not '{raw}'.") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1.")
    return value


def redact_url(url: str) -> str:
    """`url` with any password replaced by ***, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


@attrs.frozen
class Settings:
    """Everything Coach OS needs to know about where it runs."""

    #: `sqlite:///path.db` (the embedded default), `postgresql+psycopg://user:pass@host/db`,
    #: or `memory://` for in-memory fakes (nothing is kept).
    database_url: str = attrs.field(default=DEFAULT_DATABASE_URL, repr=redact_url)
    #: Connections each process keeps open to PostgreSQL (and as many again under load).
    db_pool_size: int = 10
    #: Threads that run use cases for async callers (the web app) so its event loop never blocks.
    worker_threads: int = 16
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from COACHOS_* environment variables; unset ones take the defaults."""
        env = os.environ if env is None else env
        log_format = env.get("COACHOS_LOG_FORMAT", "console").strip() or "console"
        if log_format not in ("console", "json"):
            raise ValueError(f"COACHOS_LOG_FORMAT must be 'console' or 'json', not '{log_format}'.")
        log_level = env.get("COACHOS_LOG_LEVEL", "INFO").strip().upper() or "INFO"
        # An unknown name would only fail later, deep inside configure_logging.
        if not isinstance(logging.getLevelName(log_level), int):
            raise ValueError(
                f"COACHOS_LOG_LEVEL must be a level such as DEBUG, INFO, WARNING or ERROR, not '{log_level}'."
            )
        return cls(
            database_url=env.get("COACHOS_DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL,
            db_pool_size=_positive_int(env, "COACHOS_DB_POOL_SIZE", 10),
            worker_threads=_positive_int(env, "COACHOS_WORKER_THREADS", 16),
            log_format=log_format,  # type: ignore[arg-type]  # checked just above
            log_level=log_level,
        )
