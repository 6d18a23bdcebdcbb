"""Initial schema: tenants, clients, services, availability, appointments, bookings, packages, credits, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 22:02:58.461798
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from coachos.adapters.sql import ddl

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("min_notice_s", sa.Integer(), nullable=False),
        sa.Column("horizon_s", sa.Integer(), nullable=False),
        sa.Column("cancellation_window_s", sa.Integer(), nullable=False),
        sa.Column("buffer_s", sa.Integer(), nullable=False),
        sa.Column("slot_interval_s", sa.Integer(), nullable=False),
        sa.Column("quiet_start", sa.Time(), nullable=False),
        sa.Column("quiet_end", sa.Time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("slug", name=op.f("uq_organizations_slug")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_published_at_id", ["published_at", "id"], unique=False)

    op.create_table(
        "clients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("consents", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_clients_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
        sa.UniqueConstraint("org_id", "id", name="uq_clients_org_id_id"),
    )
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.create_index("ix_clients_org_id_name", ["org_id", "name"], unique=False)

    op.create_table(
        "coaches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_coaches_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coaches")),
        sa.UniqueConstraint("org_id", "email", name=op.f("uq_coaches_org_id_email")),
        sa.UniqueConstraint("org_id", "id", name="uq_coaches_org_id_id"),
    )
    op.create_table(
        "services",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("uses_credit", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("capacity >= 1", name=op.f("ck_services_capacity_positive")),
        sa.CheckConstraint("price_minor >= 0", name=op.f("ck_services_price_not_negative")),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_services_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
        sa.UniqueConstraint("org_id", "id", name="uq_services_org_id_id"),
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("coach_id", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocks_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("seats_taken", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "seats_taken >= 0 AND seats_taken <= capacity", name=op.f("ck_appointments_seats_within_capacity")
        ),
        sa.CheckConstraint(
            "starts_at < ends_at AND ends_at <= blocks_until", name=op.f("ck_appointments_times_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "coach_id"], ["coaches.org_id", "coaches.id"], name="fk_coaches_coach_id_same_org"
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "service_id"], ["services.org_id", "services.id"], name="fk_services_service_id_same_org"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint("org_id", "id", name="uq_appointments_org_id_id"),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index("ix_appointments_coach_id_starts_at", ["coach_id", "starts_at"], unique=False)

    op.create_table(
        "date_overrides",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("coach_id", sa.Uuid(), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("start", sa.Time(), nullable=True),
        sa.Column("end", sa.Time(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id", "coach_id"], ["coaches.org_id", "coaches.id"], name="fk_coaches_coach_id_same_org"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_date_overrides")),
    )
    with op.batch_alter_table("date_overrides", schema=None) as batch_op:
        batch_op.create_index("ix_date_overrides_org_id_coach_id_on", ["org_id", "coach_id", "on"], unique=False)

    op.create_table(
        "packages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("purchased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("used >= 0 AND used <= total", name=op.f("ck_packages_used_within_total")),
        sa.ForeignKeyConstraint(
            ["org_id", "client_id"], ["clients.org_id", "clients.id"], name="fk_clients_client_id_same_org"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_packages")),
        sa.UniqueConstraint("org_id", "id", name="uq_packages_org_id_id"),
    )
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.create_index("ix_packages_org_id_client_id", ["org_id", "client_id"], unique=False)

    op.create_table(
        "weekly_rules",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("coach_id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start", sa.Time(), nullable=False),
        sa.Column("end", sa.Time(), nullable=False),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_weekly_rules_weekday_range")),
        sa.ForeignKeyConstraint(
            ["org_id", "coach_id"], ["coaches.org_id", "coaches.id"], name="fk_coaches_coach_id_same_org"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weekly_rules")),
    )
    with op.batch_alter_table("weekly_rules", schema=None) as batch_op:
        batch_op.create_index("ix_weekly_rules_org_id_coach_id", ["org_id", "coach_id"], unique=False)

    op.create_table(
        "bookings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("coach_id", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("package_id", sa.Uuid(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "status IN ('requested', 'confirmed', 'completed', 'cancelled', 'no_show')",
            name=op.f("ck_bookings_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "appointment_id"],
            ["appointments.org_id", "appointments.id"],
            name="fk_appointments_appointment_id_same_org",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "client_id"], ["clients.org_id", "clients.id"], name="fk_clients_client_id_same_org"
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "coach_id"], ["coaches.org_id", "coaches.id"], name="fk_coaches_coach_id_same_org"
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "package_id"], ["packages.org_id", "packages.id"], name="fk_packages_package_id_same_org"
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "service_id"], ["services.org_id", "services.id"], name="fk_services_service_id_same_org"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("org_id", "id", name="uq_bookings_org_id_id"),
        sa.UniqueConstraint("org_id", "idempotency_key", name=op.f("uq_bookings_org_id_idempotency_key")),
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index("ix_bookings_org_id_client_id", ["org_id", "client_id"], unique=False)
        batch_op.create_index("ix_bookings_org_id_starts_at", ["org_id", "starts_at"], unique=False)

    op.create_table(
        "credit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("package_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.CheckConstraint("kind IN ('use', 'return')", name=op.f("ck_credit_events_kind_known")),
        sa.ForeignKeyConstraint(
            ["org_id", "booking_id"], ["bookings.org_id", "bookings.id"], name="fk_bookings_booking_id_same_org"
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "package_id"], ["packages.org_id", "packages.id"], name="fk_packages_package_id_same_org"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_events")),
        sa.UniqueConstraint("booking_id", "kind", name=op.f("uq_credit_events_booking_id_kind")),
    )
    with op.batch_alter_table("credit_events", schema=None) as batch_op:
        batch_op.create_index("ix_credit_events_org_id_package_id", ["org_id", "package_id"], unique=False)

    _guarantees(ddl.POSTGRES_UP, ddl.SQLITE_UP)


def downgrade() -> None:
    _guarantees(ddl.POSTGRES_DOWN, ddl.SQLITE_DOWN)
    with op.batch_alter_table("credit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_events_org_id_package_id")

    op.drop_table("credit_events")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_bookings_org_id_starts_at")
        batch_op.drop_index("ix_bookings_org_id_client_id")

    op.drop_table("bookings")
    with op.batch_alter_table("weekly_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_weekly_rules_org_id_coach_id")

    op.drop_table("weekly_rules")
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.drop_index("ix_packages_org_id_client_id")

    op.drop_table("packages")
    with op.batch_alter_table("date_overrides", schema=None) as batch_op:
        batch_op.drop_index("ix_date_overrides_org_id_coach_id_on")

    op.drop_table("date_overrides")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_appointments_coach_id_starts_at")

    op.drop_table("appointments")
    op.drop_table("services")
    op.drop_table("coaches")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index("ix_clients_org_id_name")

    op.drop_table("clients")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_published_at_id")

    op.drop_table("outbox")
    op.drop_table("organizations")


def _guarantees(postgres: list[str], sqlite: list[str]) -> None:
    """Run the overlap guarantee's DDL for the database at hand."""
    for statement in postgres if op.get_bind().dialect.name == "postgresql" else sqlite:
        op.execute(statement)
