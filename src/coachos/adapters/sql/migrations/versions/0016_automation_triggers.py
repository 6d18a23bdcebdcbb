"""Automations with event and daily triggers, conditions and new actions; to-dos; clients' birthdays.

- automations: `trigger_kind` (existing rows are schedules), `threshold`, `conditions`;
  `schedule` is NULL for every trigger but the schedule.
- automation_runs: keyed by (automation, run key) instead of (automation, due time), so event and
  daily runs (a booking's event, a client's birthday on a day) are each claimed once too; existing
  runs get the key of their due time (`at:<UTC due time>`), as the runner writes it.
- todos: the coach's to-dos, unique per (business, key); tenant policy of 0007.
- clients.birthday.

Revision ID: 0016
Revises: 0013
Create Date: 2026-11-28 12:00:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0013"
branch_labels = None
depends_on = None

POLICY = "tenant_isolation"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"

_OLD_RUN_COLUMNS = ("automation_id", "due_at", "org_id", "started_at", "status", "affected")


def _runs_table(*extra: sa.ColumnClause[Any]) -> sa.TableClause:
    return sa.table(
        "automation_runs",
        sa.column("automation_id", sa.Uuid()),
        sa.column("due_at", sa.DateTime(timezone=True)),
        sa.column("org_id", sa.Uuid()),
        sa.column("started_at", sa.DateTime(timezone=True)),
        sa.column("status", sa.String()),
        sa.column("affected", sa.Integer()),
        *extra,
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _stored(value: datetime, dialect: str) -> datetime:
    # SQLite keeps naive UTC text (see tables.UTCDateTime); PostgreSQL an aware instant.
    return value.replace(tzinfo=None) if dialect == "sqlite" else value


def _read_runs() -> list[dict[str, Any]]:
    conn = op.get_bind()
    return [dict(r._mapping) for r in conn.execute(sa.select(_runs_table()))]


def _create_runs(*, keyed: bool) -> None:
    columns: list[Any] = [sa.Column("automation_id", sa.Uuid(), nullable=False)]
    if keyed:
        columns.append(sa.Column("run_key", sa.String(length=200), nullable=False))
    columns += [
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("affected", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "automation_id"],
            ["automations.org_id", "automations.id"],
            name="fk_automations_automation_id_same_org",
        ),
    ]
    if keyed:
        columns += [
            sa.Column("client_id", sa.Uuid(), nullable=True),
            sa.ForeignKeyConstraint(
                ["org_id", "client_id"], ["clients.org_id", "clients.id"], name="fk_clients_client_id_same_org"
            ),
            sa.PrimaryKeyConstraint("automation_id", "run_key", name="pk_automation_runs"),
        ]
    else:
        columns.append(sa.PrimaryKeyConstraint("automation_id", "due_at", name="pk_automation_runs"))
    op.create_table("automation_runs", *columns)
    if keyed:
        op.create_index("ix_automation_runs_automation_id_due_at", "automation_runs", ["automation_id", "due_at"])
    if op.get_bind().dialect.name == "postgresql":
        strict = f"org_id = {_ORG}"
        op.execute("ALTER TABLE automation_runs ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON automation_runs USING ({strict}) WITH CHECK ({strict})")


def upgrade() -> None:
    conn = op.get_bind()
    dialect = conn.dialect.name
    # The runs are rebuilt with their new key (the owner running migrations is exempt from the
    # tenant policies); the table holds a few rows per automation and day.
    runs = _read_runs()
    op.drop_table("automation_runs")

    with op.batch_alter_table("automations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trigger_kind", sa.String(length=32), nullable=False, server_default="schedule"))
        batch_op.add_column(sa.Column("threshold", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("conditions", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.alter_column("schedule", existing_type=sa.String(length=200), nullable=True)
        batch_op.create_check_constraint(
            "ck_automations_schedule_iff_scheduled", "(schedule IS NULL) = (trigger_kind <> 'schedule')"
        )

    _create_runs(keyed=True)
    if runs:
        table = _runs_table(sa.column("run_key", sa.String()), sa.column("client_id", sa.Uuid()))
        conn.execute(
            table.insert(),
            [
                {
                    **{k: r[k] for k in _OLD_RUN_COLUMNS},
                    "due_at": _stored(_utc(r["due_at"]), dialect),
                    "started_at": _stored(_utc(r["started_at"]), dialect),
                    "run_key": "at:" + _utc(r["due_at"]).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "client_id": None,
                }
                for r in runs
            ],
        )

    op.create_table(
        "todos",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=True),
        sa.Column("automation_id", sa.Uuid(), nullable=True),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_todos_org_id_organizations")),
        sa.ForeignKeyConstraint(
            ["org_id", "client_id"], ["clients.org_id", "clients.id"], name="fk_clients_client_id_same_org"
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "automation_id"],
            ["automations.org_id", "automations.id"],
            name="fk_automations_automation_id_same_org",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_todos")),
        sa.UniqueConstraint("org_id", "id", name="uq_todos_org_id_id"),
        sa.UniqueConstraint("org_id", "key", name=op.f("uq_todos_org_id_key")),
    )
    op.create_index("ix_todos_org_id_done_at_created_at", "todos", ["org_id", "done_at", "created_at"])

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("birthday", sa.Date(), nullable=True))

    if dialect == "postgresql":
        strict = f"org_id = {_ORG}"
        op.execute("ALTER TABLE todos ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON todos USING ({strict}) WITH CHECK ({strict})")


def downgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("birthday")
    op.drop_index("ix_todos_org_id_done_at_created_at", table_name="todos")
    op.drop_table("todos")

    # Only scheduled automations existed before; their runs keep their due times.
    scheduled = sa.table("automations", sa.column("trigger_kind", sa.String()))
    keyed = _runs_table(sa.column("run_key", sa.String()))
    old_columns = [keyed.c[name] for name in _OLD_RUN_COLUMNS]
    runs = [dict(r._mapping) for r in conn.execute(sa.select(*old_columns).where(keyed.c.run_key.like("at:%")))]
    op.drop_index("ix_automation_runs_automation_id_due_at", table_name="automation_runs")
    op.drop_table("automation_runs")
    conn.execute(scheduled.delete().where(scheduled.c.trigger_kind != "schedule"))
    with op.batch_alter_table("automations", schema=None) as batch_op:
        batch_op.drop_constraint("ck_automations_schedule_iff_scheduled", type_="check")
        batch_op.alter_column("schedule", existing_type=sa.String(length=200), nullable=False)
        batch_op.drop_column("conditions")
        batch_op.drop_column("threshold")
        batch_op.drop_column("trigger_kind")
    _create_runs(keyed=False)
    if runs:
        conn.execute(_runs_table().insert(), runs)
