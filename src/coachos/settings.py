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


def _seconds(env: Mapping[str, str], name: str, default: float, *, most: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not '{raw}'.") from None
    # Written so NaN fails too; a wait without limit is exactly what these settings exist to prevent.
    if not 0 < value <= most:
        raise ValueError(f"{name} must be more than 0 and at most {most:g} seconds, not '{raw}'.")
    return value


def _rate(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of messages per second, such as 1 or 0.5, not '{raw}'.") from None
    if not 0.001 <= value <= 10_000:
        raise ValueError(f"{name} must be between 0.001 and 10000 messages per second, not '{raw}'.")
    return value


def _whole(env: Mapping[str, str], name: str, default: int, *, most: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) > most:
        raise ValueError(f"{name} must be a whole number from 0 to {most}, not '{raw}'.")
    return int(raw)


def redact_url(url: str) -> str:
    """`url` with any password replaced by ***, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def _count(env: Mapping[str, str], name: str) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or int(raw) > 10:
        raise ValueError(f"{name} must be a whole number from 0 to 10, not '{raw}'.")
    return int(raw)


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, not '{raw}'.")


def _role(raw: str) -> str | None:
    return None if raw.lower() == "none" else raw


@attrs.frozen
class Settings:
    """Everything Coach OS needs to know about where it runs."""

    #: `sqlite:///path.db` (the embedded default), `postgresql+psycopg://user:pass@host/db`,
    #: or `memory://` for in-memory fakes (nothing is kept).
    database_url: str = attrs.field(default=DEFAULT_DATABASE_URL, repr=redact_url)
    #: Connections each process keeps open to PostgreSQL (and as many again under load).
    db_pool_size: int = 10
    #: The PostgreSQL role the app works as (`SET ROLE` on connect), which row-level security binds;
    #: migration 0007 creates `coachos_app`. None keeps the connecting user (it must not own the tables).
    database_role: str | None = "coachos_app"
    #: Threads that run use cases for async callers (the web app) so its event loop never blocks.
    worker_threads: int = 16
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    #: Where email goes: file://folder (the embedded default), smtp://user:pass@host:port, memory://.
    email_url: str = attrs.field(default="file://mail", repr=redact_url)
    #: Where SMS goes: file://folder (the embedded default, writes .txt files), twilio://, memory://.
    sms_url: str = "file://sms"
    #: The Twilio account that `twilio://` sends from.
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = attrs.field(default=None, repr=False)
    #: Twilio's REST API; only tests and stubs change it.
    twilio_api_url: str = "https://api.twilio.com"
    #: The platform's Stripe secret key (sk_live_… / sk_test_…); None leaves card payments off.
    stripe_secret_key: str | None = attrs.field(default=None, repr=False)
    #: Stripe's REST API; only tests and stubs change it.
    stripe_api_url: str = "https://api.stripe.com"
    #: Signs the Stripe webhook endpoint that receives the platform's own events (`whsec_…`); the
    #: webhook answers 503 until this or the Connect secret is set.
    stripe_webhook_secret: str | None = attrs.field(default=None, repr=False)
    #: Signs the Stripe webhook endpoint for connected accounts' (Connect) events, when it is a
    #: separate endpoint in Stripe (each endpoint has its own secret, both may point at one URL).
    stripe_connect_webhook_secret: str | None = attrs.field(default=None, repr=False)
    #: How old a Stripe webhook's signed timestamp may be, in seconds (Stripe's libraries use 300),
    #: so a captured request cannot be replayed later.
    stripe_webhook_tolerance: int = 300
    #: The number SMS are sent from when a message names none (E.164), e.g. the account's one number.
    sms_from: str | None = None
    #: SMS per second each sending number may hand to the provider (Twilio's long codes take 1).
    sms_rate_per_second: float = 1.0
    #: SMS a sending number may send back to back after a pause (the token bucket's size).
    sms_burst: int = 1
    #: Seconds a worker's claim on a message holds; past it another worker takes the message over, asking
    #: the provider first whether it already has it. Keep it well above the provider's timeout (10 s).
    send_lease_seconds: float = 300.0
    #: Signs cookies' CSRF tokens and clients' booking links. Required in production; when unset, the
    #: web app makes one and keeps it in `.coachos-secret` beside the working directory.
    secret_key: str | None = attrs.field(default=None, repr=False)
    #: The address people reach the web app at, for links in emails and calendar feeds.
    public_url: str = "http://127.0.0.1:8000"
    #: Send cookies only over HTTPS. Browsers accept Secure cookies from http://localhost too.
    cookie_secure: bool = True
    #: How many reverse proxies in front of the web app add X-Forwarded-For / -Proto; 0 trusts none.
    #: Behind one TLS proxy set 1, so throttling and logs see the client's address, not the proxy's.
    proxy_hops: int = 0
    #: Seconds to wait for a new PostgreSQL connection (libpq counts whole seconds, at least 2).
    db_connect_timeout: float = 5.0
    #: Longest one SQL statement may run on PostgreSQL before the server cancels it.
    db_statement_timeout: float = 10.0
    #: Longest a PostgreSQL statement waits for a lock another transaction holds (a row being booked).
    db_lock_timeout: float = 3.0
    #: A PostgreSQL session idle inside an open transaction this long is ended by the server.
    db_idle_in_transaction_timeout: float = 30.0
    #: Longest a use case waits for a free connection when the pool is exhausted.
    db_pool_timeout: float = 5.0
    #: Longest a SQLite writer waits for the file's write lock.
    sqlite_busy_timeout: float = 5.0
    #: Longest an async caller (the web app) waits for one use case before answering 503. It also
    #: bounds what no database setting can: a server that stops answering on an open connection.
    use_case_timeout: float = 15.0
    #: Use cases one organisation may run at once for async callers; 0 means max(2, worker_threads // 4).
    tenant_concurrency: int = 0
    #: Longest an organisation's use case waits for one of its turns before answering 503.
    tenant_queue_timeout: float = 2.0
    #: The worker's queue on Redis (`redis://host:6379/0`), for production and several worker processes.
    redis_url: str | None = attrs.field(default=None, repr=lambda url: "None" if url is None else redact_url(url))
    #: The worker's queue as a SQLite file when Redis is not set; unset means `coachos-queue.db` beside
    #: a SQLite database, and no queue otherwise (tasks then run at once, in the process that asks).
    queue_path: str | None = None

    @property
    def tenant_limit(self) -> int:
        """How many use cases one organisation may run at once (`tenant_concurrency`, or the default share)."""
        return self.tenant_concurrency or max(2, self.worker_threads // 4)

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
            database_role=_role(env.get("COACHOS_DATABASE_ROLE", "").strip() or "coachos_app"),
            worker_threads=_positive_int(env, "COACHOS_WORKER_THREADS", 16),
            log_format=log_format,  # type: ignore[arg-type]  # checked just above
            log_level=log_level,
            email_url=env.get("COACHOS_EMAIL_URL", "").strip() or "file://mail",
            sms_url=env.get("COACHOS_SMS_URL", "").strip() or "file://sms",
            twilio_account_sid=env.get("COACHOS_TWILIO_ACCOUNT_SID", "").strip() or None,
            twilio_auth_token=env.get("COACHOS_TWILIO_AUTH_TOKEN", "").strip() or None,
            twilio_api_url=(env.get("COACHOS_TWILIO_API_URL", "").strip() or "https://api.twilio.com").rstrip("/"),
            stripe_secret_key=env.get("COACHOS_STRIPE_SECRET_KEY", "").strip() or None,
            stripe_api_url=(env.get("COACHOS_STRIPE_API_URL", "").strip() or "https://api.stripe.com").rstrip("/"),
            sms_from=env.get("COACHOS_SMS_FROM", "").strip() or None,
            stripe_webhook_secret=env.get("COACHOS_STRIPE_WEBHOOK_SECRET", "").strip() or None,
            stripe_connect_webhook_secret=env.get("COACHOS_STRIPE_CONNECT_WEBHOOK_SECRET", "").strip() or None,
            stripe_webhook_tolerance=_positive_int(env, "COACHOS_STRIPE_WEBHOOK_TOLERANCE", 300),
            sms_rate_per_second=_rate(env, "COACHOS_SMS_RATE_PER_SECOND", 1.0),
            sms_burst=_positive_int(env, "COACHOS_SMS_BURST", 1),
            send_lease_seconds=_seconds(env, "COACHOS_SEND_LEASE_SECONDS", 300.0, most=86400),
            secret_key=env.get("COACHOS_SECRET_KEY", "").strip() or None,
            public_url=(env.get("COACHOS_PUBLIC_URL", "").strip() or "http://127.0.0.1:8000").rstrip("/"),
            cookie_secure=_flag(env, "COACHOS_COOKIE_SECURE", default=True),
            proxy_hops=_count(env, "COACHOS_PROXY_HOPS"),
            db_connect_timeout=_seconds(env, "COACHOS_DB_CONNECT_TIMEOUT", 5.0, most=60),
            db_statement_timeout=_seconds(env, "COACHOS_DB_STATEMENT_TIMEOUT", 10.0, most=3600),
            db_lock_timeout=_seconds(env, "COACHOS_DB_LOCK_TIMEOUT", 3.0, most=600),
            db_idle_in_transaction_timeout=_seconds(env, "COACHOS_DB_IDLE_IN_TRANSACTION_TIMEOUT", 30.0, most=3600),
            db_pool_timeout=_seconds(env, "COACHOS_DB_POOL_TIMEOUT", 5.0, most=60),
            sqlite_busy_timeout=_seconds(env, "COACHOS_SQLITE_BUSY_TIMEOUT", 5.0, most=60),
            use_case_timeout=_seconds(env, "COACHOS_USE_CASE_TIMEOUT", 15.0, most=3600),
            tenant_concurrency=_whole(env, "COACHOS_TENANT_CONCURRENCY", 0, most=1000),
            tenant_queue_timeout=_seconds(env, "COACHOS_TENANT_QUEUE_TIMEOUT", 2.0, most=60),
            redis_url=env.get("COACHOS_REDIS_URL", "").strip() or None,
            queue_path=env.get("COACHOS_QUEUE_PATH", "").strip() or None,
        )
