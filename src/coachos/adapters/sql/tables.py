"""The schema, as SQLAlchemy Core tables shared by PostgreSQL and SQLite.

Guarantees that must hold under concurrency live here, not in application code:
- every child row points at its parent through (org_id, id), so no row can reference another
  organisation's records;
- credits: CHECK 0 <= used <= total, and one credit event of each kind per booking (the
  idempotency key that makes a retried use or return count once);
- seats: CHECK 0 <= seats_taken <= capacity;
- no overlapping appointments for a coach: an exclusion constraint on PostgreSQL and triggers
  on SQLite, both created by the migrations (see `ddl.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on both databases.

    SQLite has no zone-aware type; values are stored as naive UTC text in one fixed format, so
    comparing them as text orders them in time.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _id() -> sa.Column[Any]:
    return sa.Column("id", sa.Uuid(), primary_key=True)


def _org() -> sa.Column[Any]:
    return sa.Column("org_id", sa.Uuid(), sa.ForeignKey("organizations.id"), nullable=False)


def _tenant_key(table: str) -> sa.UniqueConstraint:
    """(org_id, id) is unique so that children can reference both together."""
    return sa.UniqueConstraint("org_id", "id", name=f"uq_{table}_org_id_id")


def _tenant_fk(column: str, parent: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id", column], [f"{parent}.org_id", f"{parent}.id"], name=f"fk_{parent}_{column}_same_org"
    )


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

organizations = sa.Table(
    "organizations",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("slug", sa.String(40), nullable=False, unique=True),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("min_notice_s", sa.Integer(), nullable=False),
    sa.Column("horizon_s", sa.Integer(), nullable=False),
    sa.Column("cancellation_window_s", sa.Integer(), nullable=False),
    sa.Column("buffer_s", sa.Integer(), nullable=False),
    sa.Column("slot_interval_s", sa.Integer(), nullable=False),
    sa.Column("quiet_start", sa.Time(), nullable=False),
    sa.Column("quiet_end", sa.Time(), nullable=False),
    sa.Column("reminder_24h", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("reminder_2h", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("notice_email", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("notice_sms", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("notice_phone", sa.String(16)),
    # Policy fees in the org's currency (0027): charged only to clients who agreed when booking.
    sa.Column("late_cancel_fee_minor", sa.BigInteger()),
    sa.Column("no_show_fee_minor", sa.BigInteger()),
)

coaches = sa.Table(
    "coaches",
    metadata,
    _id(),
    _org(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    _tenant_key("coaches"),
    sa.UniqueConstraint("org_id", "email"),
)

clients = sa.Table(
    "clients",
    metadata,
    _id(),
    _org(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("phone", sa.String(16)),
    sa.Column("email", sa.String(254)),
    sa.Column("timezone", sa.String(64)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("consents", sa.JSON(), nullable=False),
    sa.Column("notes", sa.Text(), nullable=False),
    sa.Column("tags", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # For birthday automations (month and day are what they match on).
    sa.Column("birthday", sa.Date()),
    _tenant_key("clients"),
    sa.Index("ix_clients_org_id_name", "org_id", "name"),
    # The public booking form finds a returning client by email, then phone.
    sa.Index("ix_clients_org_id_email", "org_id", "email"),
    sa.Index("ix_clients_org_id_phone", "org_id", "phone"),
)

services = sa.Table(
    "services",
    metadata,
    _id(),
    _org(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("duration_s", sa.Integer(), nullable=False),
    sa.Column("price_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("capacity", sa.Integer(), nullable=False),
    sa.Column("uses_credit", sa.Boolean(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    # Migration 0027: clients booking it online pay by card at once (the booking is held until paid).
    sa.Column("pay_at_booking", sa.Boolean(), nullable=False, server_default=sa.false()),
    _tenant_key("services"),
    sa.CheckConstraint("price_minor >= 0", name="price_not_negative"),
    sa.CheckConstraint("capacity >= 1", name="capacity_positive"),
)

weekly_rules = sa.Table(
    "weekly_rules",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    sa.Column("coach_id", sa.Uuid(), nullable=False),
    sa.Column("weekday", sa.SmallInteger(), nullable=False),
    sa.Column("start", sa.Time(), nullable=False),
    sa.Column("end", sa.Time(), nullable=False),
    _tenant_fk("coach_id", "coaches"),
    sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
    sa.Index("ix_weekly_rules_org_id_coach_id", "org_id", "coach_id"),
)

date_overrides = sa.Table(
    "date_overrides",
    metadata,
    _id(),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    sa.Column("coach_id", sa.Uuid(), nullable=False),
    sa.Column("on", sa.Date(), nullable=False),
    sa.Column("available", sa.Boolean(), nullable=False),
    sa.Column("start", sa.Time()),
    sa.Column("end", sa.Time()),
    _tenant_fk("coach_id", "coaches"),
    sa.Index("ix_date_overrides_org_id_coach_id_on", "org_id", "coach_id", "on"),
)

appointments = sa.Table(
    "appointments",
    metadata,
    _id(),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    sa.Column("coach_id", sa.Uuid(), nullable=False),
    sa.Column("service_id", sa.Uuid(), nullable=False),
    sa.Column("starts_at", UTCDateTime(), nullable=False),
    sa.Column("ends_at", UTCDateTime(), nullable=False),
    sa.Column("blocks_until", UTCDateTime(), nullable=False),
    sa.Column("capacity", sa.Integer(), nullable=False),
    sa.Column("seats_taken", sa.Integer(), nullable=False),
    _tenant_key("appointments"),
    _tenant_fk("coach_id", "coaches"),
    _tenant_fk("service_id", "services"),
    sa.CheckConstraint("seats_taken >= 0 AND seats_taken <= capacity", name="seats_within_capacity"),
    sa.CheckConstraint("starts_at < ends_at AND ends_at <= blocks_until", name="times_ordered"),
    sa.Index("ix_appointments_coach_id_starts_at", "coach_id", "starts_at"),
)

packages = sa.Table(
    "packages",
    metadata,
    _id(),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    sa.Column("client_id", sa.Uuid(), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("total", sa.Integer(), nullable=False),
    sa.Column("used", sa.Integer(), nullable=False),
    sa.Column("price_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("purchased_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime()),
    # Migration 0023: credits are usable only while payment_state is 'paid' (checked in the UPDATE).
    sa.Column("payment_state", sa.String(20), nullable=False, server_default="paid"),
    sa.Column("payment_method", sa.String(20), nullable=False, server_default="unrecorded"),
    sa.Column("paid_at", UTCDateTime()),
    sa.Column("payment_ref", sa.String(255)),
    _tenant_key("packages"),
    _tenant_fk("client_id", "clients"),
    sa.CheckConstraint("used >= 0 AND used <= total", name="used_within_total"),
    sa.Index("ix_packages_org_id_client_id", "org_id", "client_id"),
)

#: Migration 0024: the packages a coach lists for clients to buy themselves.
package_offers = sa.Table(
    "package_offers",
    metadata,
    _id(),
    _org(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("sessions", sa.Integer(), nullable=False),
    sa.Column("price_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("validity_days", sa.Integer()),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    _tenant_key("package_offers"),
    sa.CheckConstraint("sessions >= 1 AND sessions <= 1000", name="sessions_in_range"),
    sa.CheckConstraint("price_minor >= 0", name="price_not_negative"),
    sa.Index("ix_package_offers_org_id", "org_id"),
)

bookings = sa.Table(
    "bookings",
    metadata,
    _id(),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    sa.Column("appointment_id", sa.Uuid(), nullable=False),
    sa.Column("coach_id", sa.Uuid(), nullable=False),
    sa.Column("service_id", sa.Uuid(), nullable=False),
    sa.Column("client_id", sa.Uuid(), nullable=False),
    sa.Column("package_id", sa.Uuid()),
    sa.Column("starts_at", UTCDateTime(), nullable=False),
    sa.Column("ends_at", UTCDateTime(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("idempotency_key", sa.String(200)),
    sa.Column("note", sa.Text(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=False),
    # Whose idempotency key it is (an actor, a public visitor's digest, "reschedule").
    sa.Column("idempotency_scope", sa.String(100)),
    # What a visitor typed on the public form, apart from the client on file (personal data: never logged).
    sa.Column("guest_name", sa.String(200)),
    sa.Column("guest_email", sa.String(254)),
    sa.Column("guest_phone", sa.String(16)),
    sa.Column("guest_sms_consent", sa.Boolean()),
    sa.Column("guest_consent_wording", sa.Text()),
    sa.Column("guest_timezone", sa.String(64)),
    sa.Column("guest_matched", sa.Boolean()),
    # The marketing boxes the visitor ticked, with their words: [{"channel": ..., "wording": ...}] (0013).
    sa.Column("guest_marketing", sa.JSON()),
    # Pay-at-booking (0027): a held booking's expiry, Stripe's payment reference, when paid, any issue.
    sa.Column("hold_expires_at", UTCDateTime()),
    sa.Column("payment_ref", sa.String(255)),
    sa.Column("paid_at", UTCDateTime()),
    sa.Column("payment_issue", sa.String(32)),
    # The fee policy agreed to when booking (amounts in fee_currency), the card kept for fees, the fee owed.
    sa.Column("fees_agreed_at", UTCDateTime()),
    sa.Column("agreed_late_cancel_minor", sa.BigInteger()),
    sa.Column("agreed_no_show_minor", sa.BigInteger()),
    sa.Column("fee_currency", sa.String(3)),
    sa.Column("fee_wording", sa.Text()),
    sa.Column("card_customer", sa.String(255)),
    sa.Column("card_payment_method", sa.String(255)),
    sa.Column("fee_kind", sa.String(16)),
    sa.Column("fee_state", sa.String(16)),
    sa.Column("fee_amount_minor", sa.BigInteger()),
    sa.Column("fee_at", UTCDateTime()),
    sa.Column("fee_ref", sa.String(255)),
    sa.Column("fee_error", sa.String(300)),
    _tenant_key("bookings"),
    _tenant_fk("appointment_id", "appointments"),
    _tenant_fk("coach_id", "coaches"),
    _tenant_fk("service_id", "services"),
    _tenant_fk("client_id", "clients"),
    _tenant_fk("package_id", "packages"),
    # A key answers only its own scope: the same key from two callers is two keys.
    sa.UniqueConstraint("org_id", "idempotency_scope", "idempotency_key"),
    sa.CheckConstraint("(idempotency_key IS NULL) = (idempotency_scope IS NULL)", name="key_has_scope"),
    sa.CheckConstraint(
        "(guest_name IS NULL) = (guest_matched IS NULL) AND (guest_name IS NULL) = (guest_sms_consent IS NULL)",
        name="guest_complete",
    ),
    sa.CheckConstraint(
        "status IN ('held', 'requested', 'confirmed', 'completed', 'cancelled', 'no_show')", name="status_known"
    ),
    sa.CheckConstraint("status <> 'held' OR hold_expires_at IS NOT NULL", name="held_has_expiry"),
    sa.Index("ix_bookings_org_id_starts_at", "org_id", "starts_at"),
    sa.Index("ix_bookings_status_hold_expires_at", "status", "hold_expires_at"),
    sa.Index("ix_bookings_fee_state", "fee_state"),
    sa.Index("ix_bookings_org_id_client_id", "org_id", "client_id"),
)

credit_events = sa.Table(
    "credit_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    sa.Column("package_id", sa.Uuid(), nullable=False),
    sa.Column("booking_id", sa.Uuid(), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    _tenant_fk("package_id", "packages"),
    _tenant_fk("booking_id", "bookings"),
    # The idempotency key: a booking uses at most one credit and returns it at most once.
    sa.UniqueConstraint("booking_id", "kind"),
    sa.CheckConstraint("kind IN ('use', 'return')", name="kind_known"),
    sa.Index("ix_credit_events_org_id_package_id", "org_id", "package_id"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    # The event's stable id: what deliveries, dead letters and consumers' idempotency keys name.
    sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    # When the relay gave the event its deliveries (one per consumer); NULL until then.
    sa.Column("published_at", UTCDateTime()),
    sa.Index("ix_outbox_published_at_id", "published_at", "id"),
)

#: Each consumer's progress with each event, so one failing consumer neither blocks nor repeats
#: the others. Keyed by event id with no org_id of its own: row-level security guards the outbox
#: rows the payloads live in, and these rows hold only ids, counters and an error's class name.
outbox_deliveries = sa.Table(
    "outbox_deliveries",
    metadata,
    sa.Column("event_id", sa.Uuid(), sa.ForeignKey("outbox.event_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("consumer", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("last_error", sa.String(200)),
    sa.Column("claimed_until", UTCDateTime()),
    sa.CheckConstraint("status IN ('pending', 'done', 'dead')", name="status_known"),
    sa.Index("ix_outbox_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
)

logins = sa.Table(
    "logins",
    metadata,
    sa.Column("coach_id", sa.Uuid(), primary_key=True),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    _tenant_fk("coach_id", "coaches"),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    # Only the SHA-256 digest of the cookie's secret is stored.
    sa.Column("token_digest", sa.String(64), primary_key=True),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    sa.Column("coach_id", sa.Uuid(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    _tenant_fk("coach_id", "coaches"),
    sa.Index("ix_web_sessions_coach_id", "coach_id"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    _id(),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    sa.Column("coach_id", sa.Uuid(), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime()),
    sa.Column("last_used_at", UTCDateTime()),
    _tenant_fk("coach_id", "coaches"),
    sa.Index("ix_api_tokens_org_id_coach_id", "org_id", "coach_id"),
)

password_resets = sa.Table(
    "password_resets",
    metadata,
    sa.Column("token_digest", sa.String(64), primary_key=True),
    sa.Column("coach_id", sa.Uuid(), sa.ForeignKey("coaches.id"), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime()),
)

login_attempts = sa.Table(
    "login_attempts",
    metadata,
    # Attempts since the last success for one account (the SHA-256 of its email) from one address;
    # each attempt is counted before its password is checked, by one conditional upsert.
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("address", sa.String(64), primary_key=True),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("last_at", UTCDateTime(), nullable=False),
    sa.Column("retry_at", UTCDateTime()),
    sa.Index("ix_login_attempts_last_at", "last_at"),
)

throttle_counters = sa.Table(
    "throttle_counters",
    metadata,
    # Fixed-window counts: wrong passwords per account or address, reset emails per email or address.
    sa.Column("scope", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("count", sa.Integer(), nullable=False),
    sa.Column("window_start", UTCDateTime(), nullable=False),
    sa.Index("ix_throttle_counters_window_start", "window_start"),
)

security_events = sa.Table(
    "security_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    sa.Column("coach_id", sa.Uuid(), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    # Masked (203.0.113.*): the coach sees roughly where, storage never keeps the full address.
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("failures", sa.Integer(), nullable=False),
    sa.Column("until", UTCDateTime()),
    _tenant_fk("coach_id", "coaches"),
    sa.Index("ix_security_events_org_id_coach_id_at", "org_id", "coach_id", "at"),
)

calendar_feeds = sa.Table(
    "calendar_feeds",
    metadata,
    # One feed per coach; only the SHA-256 digest of the secret in its URL is stored.
    sa.Column("coach_id", sa.Uuid(), primary_key=True),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    _tenant_fk("coach_id", "coaches"),
)

automations = sa.Table(
    "automations",
    metadata,
    _id(),
    _org(),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    # A cron expression for the schedule trigger; NULL for the others.
    sa.Column("schedule", sa.String(200)),
    # {"kind": "tag_clients", ...}: the action's own fields, so new kinds need no new columns.
    sa.Column("action", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_due_at", UTCDateTime()),
    sa.Column("trigger_kind", sa.String(32), nullable=False, server_default="schedule"),
    sa.Column("threshold", sa.Integer()),
    # [{"kind": "has_tag", "value": "vip"}, ...]; all must hold.
    sa.Column("conditions", sa.JSON(), nullable=False),
    _tenant_key("automations"),
    sa.Index("ix_automations_org_id_name", "org_id", "name"),
    sa.CheckConstraint("(schedule IS NULL) = (trigger_kind <> 'schedule')", name="schedule_iff_scheduled"),
)

automation_runs = sa.Table(
    "automation_runs",
    metadata,
    # The key is the promise: one run per automation and run key (a due time, a booking's event,
    # a client's birthday on a day, ...), whoever claims it first.
    sa.Column("automation_id", sa.Uuid(), primary_key=True),
    sa.Column("run_key", sa.String(200), primary_key=True),
    sa.Column("due_at", UTCDateTime(), nullable=False),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("affected", sa.Integer(), nullable=False),
    sa.Column("client_id", sa.Uuid()),
    _tenant_fk("automation_id", "automations"),
    _tenant_fk("client_id", "clients"),
    sa.Index("ix_automation_runs_automation_id_due_at", "automation_id", "due_at"),
)

todos = sa.Table(
    "todos",
    metadata,
    _id(),
    _org(),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("client_id", sa.Uuid()),
    sa.Column("automation_id", sa.Uuid()),
    # An automation's to-do is made once per run and client, however often the run is retried.
    sa.Column("key", sa.String(200)),
    sa.Column("done_at", UTCDateTime()),
    _tenant_key("todos"),
    sa.UniqueConstraint("org_id", "key"),
    _tenant_fk("client_id", "clients"),
    _tenant_fk("automation_id", "automations"),
    sa.Index("ix_todos_org_id_done_at_created_at", "org_id", "done_at", "created_at"),
)

client_sign_ins = sa.Table(
    "client_sign_ins",
    metadata,
    # One live sign-in per client: asking again overwrites the row, so the old link and code stop
    # working. Only SHA-256 digests are stored; a link is used by one conditional UPDATE.
    sa.Column("org_id", sa.Uuid(), primary_key=True),
    sa.Column("client_id", sa.Uuid(), primary_key=True),
    sa.Column("link_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("code_digest", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime()),
    sa.Column("failures", sa.Integer(), nullable=False),
    _tenant_fk("client_id", "clients"),
    sa.CheckConstraint("failures >= 0", name="failures_not_negative"),
)

client_sessions = sa.Table(
    "client_sessions",
    metadata,
    # Only the SHA-256 digest of the client cookie's secret is stored.
    sa.Column("token_digest", sa.String(64), primary_key=True),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    sa.Column("client_id", sa.Uuid(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    _tenant_fk("client_id", "clients"),
    sa.Index("ix_client_sessions_org_id_client_id", "org_id", "client_id"),
)

client_contact_changes = sa.Table(
    "client_contact_changes",
    metadata,
    # A new email or phone waiting for the code sent to it; asking again overwrites the row.
    sa.Column("org_id", sa.Uuid(), primary_key=True),
    sa.Column("client_id", sa.Uuid(), primary_key=True),
    sa.Column("email", sa.String(254)),
    sa.Column("phone", sa.String(32)),
    sa.Column("code_digest", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime()),
    sa.Column("failures", sa.Integer(), nullable=False),
    _tenant_fk("client_id", "clients"),
    sa.CheckConstraint("(email IS NULL) <> (phone IS NULL)", name="one_contact"),
)

client_deletion_requests = sa.Table(
    "client_deletion_requests",
    metadata,
    sa.Column("org_id", sa.Uuid(), primary_key=True),
    sa.Column("client_id", sa.Uuid(), primary_key=True),
    sa.Column("requested_at", UTCDateTime(), nullable=False),
    _tenant_fk("client_id", "clients"),
)

#: The rows of ix_messages_unread: incoming messages no coach has read.
UNREAD_MESSAGES = "direction = 'in' AND read_at IS NULL"

messages = sa.Table(
    "messages",
    metadata,
    _id(),
    _org(),
    sa.Column("direction", sa.String(3), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("to_address", sa.String(320), nullable=False),
    sa.Column("from_address", sa.String(320)),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("not_before", UTCDateTime(), nullable=False),
    sa.Column("key", sa.String(200)),
    sa.Column("client_id", sa.Uuid()),
    sa.Column("coach_id", sa.Uuid()),
    sa.Column("template", sa.String(100)),
    sa.Column("subject", sa.String(300)),
    sa.Column("html", sa.Text()),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("provider_id", sa.String(100)),
    sa.Column("last_error", sa.String(500)),
    sa.Column("status_at", UTCDateTime()),
    sa.Column("read_at", UTCDateTime()),
    sa.Column("quiet_hours", sa.Boolean(), nullable=False),
    # A worker's claim on a message it is sending; past it, another worker may take the message over.
    sa.Column("lease_until", UTCDateTime()),
    _tenant_key("messages"),
    # The idempotency promise: one outgoing message per key per business (NULL keys never collide).
    sa.UniqueConstraint("org_id", "key"),
    # A provider's retry of the same incoming message (same MessageSid) is stored once.
    sa.UniqueConstraint("channel", "provider_id"),
    _tenant_fk("client_id", "clients"),
    _tenant_fk("coach_id", "coaches"),
    sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    sa.Index("ix_messages_status_not_before", "status", "not_before"),
    sa.Index("ix_messages_org_id_client_id_created_at", "org_id", "client_id", "created_at"),
    # The unread count on every coach page (and each conversation's) reads only the few unread rows.
    sa.Index(
        "ix_messages_unread",
        "org_id",
        "client_id",
        postgresql_where=sa.text(UNREAD_MESSAGES),
        sqlite_where=sa.text(UNREAD_MESSAGES),
    ),
)

message_templates = sa.Table(
    "message_templates",
    metadata,
    _org(),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("subject", sa.String(200)),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # One wording per kind and channel per business; saving again replaces it.
    sa.PrimaryKeyConstraint("org_id", "kind", "channel"),
)

#: Each sending number's token bucket, shared by every worker process (see `SqlMessages.take_send_token`).
#: Keyed by the number alone: a number belongs to one business, and the row holds no personal data.
send_rates = sa.Table(
    "send_rates",
    metadata,
    sa.Column("number", sa.String(32), primary_key=True),
    # Millionths of a token, so refilling and taking stay whole numbers on both databases.
    sa.Column("micro_tokens", sa.BigInteger(), nullable=False),
    # When the bucket was last refilled, in microseconds since the epoch (UTC).
    sa.Column("refilled_at_us", sa.BigInteger(), nullable=False),
)

phone_numbers = sa.Table(
    "phone_numbers",
    metadata,
    _id(),
    _org(),
    # Unique across every business: an incoming text finds its business by the number it was sent to.
    sa.Column("number", sa.String(16), nullable=False, unique=True),
    sa.Column("label", sa.String(100), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    _tenant_key("phone_numbers"),
    sa.Index("ix_phone_numbers_org_id_created_at", "org_id", "created_at"),
)

# Every consent given or withdrawn, kept for good: the evidence that outlives the consent on the client.
consent_events = sa.Table(
    "consent_events",
    metadata,
    _id(),
    _org(),
    sa.Column("client_id", sa.Uuid(), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("action", sa.String(10), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("method", sa.String(100), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("wording", sa.Text()),
    _tenant_key("consent_events"),
    _tenant_fk("client_id", "clients"),
    sa.CheckConstraint("action IN ('given', 'withdrawn')", name="action_known"),
    sa.Index("ix_consent_events_org_id_client_id_at", "org_id", "client_id", "at"),
)

# ---- forms (issue 8) --------------------------------------------------------------------------------------------

#: A form's draft, which the coach edits; `published` counts its versions.
forms = sa.Table(
    "forms",
    metadata,
    _id(),
    _org(),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("screening", sa.Boolean(), nullable=False),
    sa.Column("questions", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("published", sa.Integer(), nullable=False),
    _tenant_key("forms"),
    sa.CheckConstraint("published >= 0", name="published_not_negative"),
)

#: Published versions: the triggers of migration 0019 refuse every update and delete.
form_versions = sa.Table(
    "form_versions",
    metadata,
    _id(),
    _org(),
    sa.Column("form_id", sa.Uuid(), nullable=False),
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("screening", sa.Boolean(), nullable=False),
    sa.Column("questions", sa.JSON(), nullable=False),
    sa.Column("published_at", UTCDateTime(), nullable=False),
    sa.Column("published_by", sa.Uuid()),
    _tenant_key("form_versions"),
    # Two coaches publishing at once cannot both make version n+1.
    sa.UniqueConstraint("form_id", "number"),
    _tenant_fk("form_id", "forms"),
    _tenant_fk("published_by", "coaches"),
    sa.CheckConstraint("number >= 1", name="number_positive"),
)

#: Clients' answers (special-category data): never updated or deleted (triggers of 0019).
form_submissions = sa.Table(
    "form_submissions",
    metadata,
    _id(),
    _org(),
    sa.Column("client_id", sa.Uuid(), nullable=False),
    sa.Column("form_id", sa.Uuid(), nullable=False),
    sa.Column("version_id", sa.Uuid(), nullable=False),
    sa.Column("version_number", sa.Integer(), nullable=False),
    sa.Column("screening", sa.Boolean(), nullable=False),
    sa.Column("answers", sa.JSON(), nullable=False),
    sa.Column("flagged", sa.Boolean(), nullable=False),
    sa.Column("submitted_at", UTCDateTime(), nullable=False),
    sa.Column("key", sa.String(100), nullable=False),
    _tenant_key("form_submissions"),
    # A double submit of one link (two tabs, a retried POST) stores one submission.
    sa.UniqueConstraint("org_id", "key"),
    _tenant_fk("client_id", "clients"),
    _tenant_fk("form_id", "forms"),
    _tenant_fk("version_id", "form_versions"),
    sa.Index("ix_form_submissions_org_id_client_id_submitted_at", "org_id", "client_id", "submitted_at"),
)

#: Coaches' clearances after a "yes" on a screening: only ever added to.
form_clearances = sa.Table(
    "form_clearances",
    metadata,
    _id(),
    _org(),
    sa.Column("client_id", sa.Uuid(), nullable=False),
    sa.Column("coach_id", sa.Uuid(), nullable=False),
    sa.Column("note", sa.Text(), nullable=False),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    # An optional scanned letter (PDF, PNG or JPEG, at most 512 KB), checked by the domain.
    sa.Column("document_name", sa.String(100)),
    sa.Column("document_type", sa.String(40)),
    sa.Column("document", sa.LargeBinary()),
    _tenant_key("form_clearances"),
    sa.CheckConstraint("(document IS NULL) = (document_type IS NULL)", name="document_has_type"),
    _tenant_fk("client_id", "clients"),
    _tenant_fk("coach_id", "coaches"),
    sa.Index("ix_form_clearances_org_id_client_id_recorded_at", "org_id", "client_id", "recorded_at"),
)

#: The access log of health answers: which coach opened which submission, when. Only ever added to.
form_answer_views = sa.Table(
    "form_answer_views",
    metadata,
    _id(),
    _org(),
    sa.Column("client_id", sa.Uuid(), nullable=False),
    sa.Column("coach_id", sa.Uuid(), nullable=False),
    sa.Column("submission_id", sa.Uuid()),
    sa.Column("clearance_id", sa.Uuid()),
    sa.Column("at", UTCDateTime(), nullable=False),
    _tenant_key("form_answer_views"),
    # Each line is about one thing: a submission's answers or a clearance's document.
    sa.CheckConstraint("(submission_id IS NULL) <> (clearance_id IS NULL)", name="one_subject"),
    _tenant_fk("clearance_id", "form_clearances"),
    _tenant_fk("client_id", "clients"),
    _tenant_fk("coach_id", "coaches"),
    _tenant_fk("submission_id", "form_submissions"),
    sa.Index("ix_form_answer_views_org_id_client_id_at", "org_id", "client_id", "at"),
)

# A business's waivers; the words are in their versions.
waivers = sa.Table(
    "waivers",
    metadata,
    _id(),
    _org(),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    _tenant_key("waivers"),
    sa.Index("ix_waivers_org_id_title", "org_id", "title"),
)

# Published waiver texts: the database refuses UPDATE and DELETE of these rows (migration 0018).
waiver_versions = sa.Table(
    "waiver_versions",
    metadata,
    _id(),
    _org(),
    sa.Column("waiver_id", sa.Uuid(), nullable=False),
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("html", sa.Text(), nullable=False),
    sa.Column("material", sa.Boolean(), nullable=False),
    sa.Column("published_at", UTCDateTime(), nullable=False),
    sa.Column("published_by", sa.Uuid()),
    _tenant_key("waiver_versions"),
    # Two coaches publishing at once cannot both make version n+1.
    sa.UniqueConstraint("waiver_id", "number"),
    # What a signature points at: its version, with that version's waiver and number (kept consistent by the FK).
    sa.UniqueConstraint("org_id", "id", "waiver_id", "number", name="uq_waiver_versions_signable"),
    _tenant_fk("waiver_id", "waivers"),
    sa.CheckConstraint("number >= 1", name="number_positive"),
)

# Clients' signatures, kept for good: the database refuses UPDATE and DELETE of these rows (migration 0018).
waiver_signatures = sa.Table(
    "waiver_signatures",
    metadata,
    _id(),
    _org(),
    sa.Column("client_id", sa.Uuid(), nullable=False),
    sa.Column("waiver_id", sa.Uuid(), nullable=False),
    sa.Column("version_id", sa.Uuid(), nullable=False),
    sa.Column("version_number", sa.Integer(), nullable=False),
    sa.Column("text_sha256", sa.String(64), nullable=False),
    sa.Column("typed_name", sa.String(200), nullable=False),
    sa.Column("drawing", sa.Text()),
    sa.Column("consent_wording", sa.Text(), nullable=False),
    sa.Column("signed_at", UTCDateTime(), nullable=False),
    sa.Column("ip", sa.String(45)),
    sa.Column("user_agent", sa.String(500)),
    sa.Column("date_of_birth", sa.Date()),
    sa.Column("guardian_name", sa.String(200)),
    sa.Column("guardian_relationship", sa.String(100)),
    sa.Column("guardian_drawing", sa.Text()),
    _tenant_key("waiver_signatures"),
    # A client signs a version once: a second submit finds the first signature.
    sa.UniqueConstraint("org_id", "client_id", "version_id"),
    _tenant_fk("client_id", "clients"),
    sa.ForeignKeyConstraint(
        ["org_id", "version_id", "waiver_id", "version_number"],
        ["waiver_versions.org_id", "waiver_versions.id", "waiver_versions.waiver_id", "waiver_versions.number"],
        name="fk_waiver_versions_version_id_same_org",
    ),
    sa.Index("ix_waiver_signatures_org_id_client_id_signed_at", "org_id", "client_id", "signed_at"),
)

# A business's onboarding checklists; the steps are an ordered JSON list [{"kind", "target"}], so a
# reorder is one write and steps may point at waivers and forms without this table knowing theirs.
onboarding_flows = sa.Table(
    "onboarding_flows",
    metadata,
    _id(),
    _org(),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("steps", sa.JSON(), nullable=False),
    sa.Column("all_services", sa.Boolean(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    _tenant_key("onboarding_flows"),
    sa.Index("ix_onboarding_flows_org_id_name", "org_id", "name"),
)

# The services a flow holds bookings of until the client completes it.
onboarding_flow_services = sa.Table(
    "onboarding_flow_services",
    metadata,
    sa.Column("flow_id", sa.Uuid(), primary_key=True),
    sa.Column("service_id", sa.Uuid(), primary_key=True),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    _tenant_fk("flow_id", "onboarding_flows"),
    _tenant_fk("service_id", "services"),
)

# When each client's onboarding in a flow started; the reminders are counted here and each is also
# queued under its own message key, so a repeated or racing tick queues it once.
onboarding_starts = sa.Table(
    "onboarding_starts",
    metadata,
    sa.Column("flow_id", sa.Uuid(), primary_key=True),
    sa.Column("client_id", sa.Uuid(), primary_key=True),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("reminders_sent", sa.SmallInteger(), nullable=False),
    _tenant_fk("flow_id", "onboarding_flows"),
    _tenant_fk("client_id", "clients"),
    sa.CheckConstraint("reminders_sent BETWEEN 0 AND 3", name="reminders_sent_known"),
    sa.Index("ix_onboarding_starts_reminders_sent_started_at", "reminders_sent", "started_at"),
    sa.Index("ix_onboarding_starts_org_id_client_id", "org_id", "client_id"),
)

# The ledger (domain/ledger.py): append-only, the database refuses UPDATE and DELETE (migration 0022).
# A transaction is written once per (business, key), however often its cause is retried.
ledger_transactions = sa.Table(
    "ledger_transactions",
    metadata,
    _id(),
    _org(),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("source_kind", sa.String(20), nullable=False),
    sa.Column("source_id", sa.String(200), nullable=False),
    sa.Column("memo", sa.String(500), nullable=False),
    # Migration 0023: who paid and what for, so reports group revenue by client and by item sold.
    sa.Column("client_id", sa.Uuid()),
    sa.Column("item", sa.String(200), nullable=False, server_default=""),
    _tenant_key("ledger_transactions"),
    sa.UniqueConstraint("org_id", "key"),
    sa.Index("ix_ledger_transactions_org_id_occurred_at", "org_id", "occurred_at"),
)

# A transaction's lines, debits positive; they sum to zero per currency (checked by the domain).
ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("transaction_id", sa.Uuid(), primary_key=True),
    sa.Column("position", sa.SmallInteger(), primary_key=True),
    sa.Column("org_id", sa.Uuid(), nullable=False),
    sa.Column("account", sa.String(30), nullable=False),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    _tenant_fk("transaction_id", "ledger_transactions"),
    sa.CheckConstraint("amount_minor <> 0", name="amount_minor_not_zero"),
    sa.Index("ix_ledger_entries_org_id_currency_account", "org_id", "currency", "account"),
)

# Every Stripe webhook event taken in, once each: the primary key is Stripe's event id, so a
# redelivery (or a racing second delivery) inserts nothing. Events name no organisation (a platform
# event concerns none; a Connect event names the account, whose business may be unknown), so the
# table has no org_id and no row-level security; only the webhook's use case reads or writes it.
stripe_events = sa.Table(
    "stripe_events",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("type", sa.String(255), nullable=False),
    sa.Column("account", sa.String(255)),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("livemode", sa.Boolean(), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
)

# Each business's connected Stripe account and whether it can take charges; `status_at` is the
# `created` of the newest account.updated applied, so an older one delivered late changes nothing.
stripe_accounts = sa.Table(
    "stripe_accounts",
    metadata,
    sa.Column("account_id", sa.String(255), primary_key=True),
    _org(),
    sa.Column("charges_enabled", sa.Boolean(), nullable=False),
    sa.Column("details_submitted", sa.Boolean(), nullable=False),
    sa.Column("status_at", UTCDateTime()),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_stripe_accounts_org_id", "org_id"),
)

# Migration 0025: membership plans a coach offers (price per week or month, sessions per period or an
# unlimited plan's cap per period).
membership_plans = sa.Table(
    "membership_plans",
    metadata,
    _id(),
    _org(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("price_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("interval", sa.String(10), nullable=False),
    sa.Column("sessions", sa.Integer(), nullable=False),
    sa.Column("unlimited", sa.Boolean(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    _tenant_key("membership_plans"),
)

# A client's subscription to a plan; `status_at` is the `created` of the newest Stripe event applied,
# so an older event delivered late changes nothing; the subscription id is unique across businesses.
memberships = sa.Table(
    "memberships",
    metadata,
    _id(),
    _org(),
    sa.Column("client_id", sa.Uuid(), nullable=False),
    sa.Column("plan_id", sa.Uuid(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("subscription_id", sa.String(255), unique=True),
    sa.Column("current_period_start", UTCDateTime()),
    sa.Column("current_period_end", UTCDateTime()),
    sa.Column("grace_until", UTCDateTime()),
    sa.Column("status_at", UTCDateTime()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    _tenant_key("memberships"),
    _tenant_fk("client_id", "clients"),
    _tenant_fk("plan_id", "membership_plans"),
    sa.Index("ix_memberships_org_id_client_id", "org_id", "client_id"),
    sa.Index("ix_memberships_status_grace_until", "status", "grace_until"),
)

# The package each paid invoice granted: the invoice id is unique, so a redelivered or twin event
# (invoice.paid and invoice.payment_succeeded) grants nothing more.
membership_periods = sa.Table(
    "membership_periods",
    metadata,
    sa.Column("invoice_id", sa.String(255), primary_key=True),
    _org(),
    sa.Column("membership_id", sa.Uuid(), nullable=False),
    sa.Column("package_id", sa.Uuid(), nullable=False),
    sa.Column("period_start", UTCDateTime(), nullable=False),
    sa.Column("period_end", UTCDateTime(), nullable=False),
    _tenant_fk("membership_id", "memberships"),
    sa.Index("ix_membership_periods_org_id_membership_id", "org_id", "membership_id"),
)

# The plans coaches subscribe to (migration 0026): monthly price, and the platform fee on each client
# sale in basis points (500 = 5 %). Platform-wide, so no org_id and no row-level security.
platform_plans = sa.Table(
    "platform_plans",
    metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("price_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("fee_bps", sa.Integer(), nullable=False),
    sa.CheckConstraint("price_minor >= 0", name="price_minor_not_negative"),
    sa.CheckConstraint("fee_bps >= 0 AND fee_bps <= 10000", name="fee_bps_in_range"),
)

# Each business's subscription to a plan, as the newest Stripe event said (`status_at` its `created`);
# one row per business, replaced by one conditional upsert (adapters/sql/platform.py).
org_subscriptions = sa.Table(
    "org_subscriptions",
    metadata,
    sa.Column("org_id", sa.Uuid(), sa.ForeignKey("organizations.id"), primary_key=True),
    sa.Column("plan_key", sa.String(40), sa.ForeignKey("platform_plans.key"), nullable=False),
    sa.Column("subscription_id", sa.String(255), nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("current_period_end", UTCDateTime()),
    sa.Column("status_at", UTCDateTime(), nullable=False),
)

# What each business paid the platform, one row per Stripe invoice (paid or failed); `paid_at` is set
# once, and `failure_noticed_at` marks that the coach was told of a failed payment, once.
platform_invoices = sa.Table(
    "platform_invoices",
    metadata,
    sa.Column("invoice_id", sa.String(255), primary_key=True),
    _org(),
    sa.Column("subscription_id", sa.String(255)),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("paid_at", UTCDateTime()),
    sa.Column("failure_noticed_at", UTCDateTime()),
    sa.Index("ix_platform_invoices_org_id", "org_id"),
)

# Migration 0028: money given back on a sale (ledger key `sale_key`), by the coach from Coach OS or in
# Stripe's dashboard. `stripe_refund_id` is unique when set, so a Stripe refund is recorded once.
refunds = sa.Table(
    "refunds",
    metadata,
    _id(),
    _org(),
    sa.Column("sale_key", sa.String(200), nullable=False),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("stripe_refund_id", sa.String(255), unique=True),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("failure", sa.String(500)),
    sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
    sa.CheckConstraint("state IN ('pending', 'succeeded', 'failed')", name="state_known"),
    sa.Index("ix_refunds_org_id_sale_key", "org_id", "sale_key"),
    sa.Index("ix_refunds_org_id_state", "org_id", "state"),
)

# One row per refunded sale: the lock every refund of that sale takes, and its running sums.
# `reserved` counts pending and succeeded refunds and never exceeds `gross` (one conditional upsert);
# `booked` is what the ledger holds; `credits_value` what the removed credits stood for.
refund_totals = sa.Table(
    "refund_totals",
    metadata,
    sa.Column("org_id", sa.Uuid(), sa.ForeignKey("organizations.id"), primary_key=True),
    sa.Column("sale_key", sa.String(200), primary_key=True),
    sa.Column("gross_minor", sa.BigInteger(), nullable=False),
    sa.Column("reserved_minor", sa.BigInteger(), nullable=False),
    sa.Column("booked_minor", sa.BigInteger(), nullable=False),
    sa.Column("credits_value_minor", sa.BigInteger(), nullable=False),
    sa.CheckConstraint("reserved_minor >= 0 AND reserved_minor <= gross_minor", name="reserved_within_gross"),
    sa.CheckConstraint("booked_minor >= 0 AND booked_minor <= reserved_minor", name="booked_within_reserved"),
)
