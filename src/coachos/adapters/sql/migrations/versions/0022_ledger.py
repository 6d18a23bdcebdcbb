"""The ledger: transactions and their lines, append-only.

- ledger_transactions: one per (org, key), so a retried webhook or job writes it once.
- ledger_entries: its lines (account, amount in minor units, currency), debits positive.

Both are the books, so the database itself refuses to change or remove them: on PostgreSQL a
trigger raises on UPDATE, DELETE and TRUNCATE, and the app role loses those privileges; on SQLite
BEFORE UPDATE/DELETE triggers abort. Both carry the tenant policy of 0007.

Revision ID: 0022
Revises: 0020
Create Date: 2026-11-28 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None

POLICY = "tenant_isolation"
ROLE = "coachos_app"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"
TABLES = ("ledger_transactions", "ledger_entries")
# Its own name: waivers (0018) and forms (0019) have functions of the same purpose with their own messages.
_FUNCTION = "coachos_refuse_ledger_change"


def _create_tables() -> None:
    op.create_table(
        "ledger_transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_kind", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("memo", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_ledger_transactions_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transactions")),
        sa.UniqueConstraint("org_id", "id", name="uq_ledger_transactions_org_id_id"),
        sa.UniqueConstraint("org_id", "key", name=op.f("uq_ledger_transactions_org_id_key")),
    )
    op.create_index(
        "ix_ledger_transactions_org_id_occurred_at", "ledger_transactions", ["org_id", "occurred_at"], unique=False
    )
    op.create_table(
        "ledger_entries",
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("account", sa.String(length=30), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.CheckConstraint("amount_minor <> 0", name=op.f("ck_ledger_entries_amount_minor_not_zero")),
        sa.ForeignKeyConstraint(
            ["org_id", "transaction_id"],
            ["ledger_transactions.org_id", "ledger_transactions.id"],
            name="fk_ledger_transactions_transaction_id_same_org",
        ),
        sa.PrimaryKeyConstraint("transaction_id", "position", name=op.f("pk_ledger_entries")),
    )
    op.create_index(
        "ix_ledger_entries_org_id_currency_account",
        "ledger_entries",
        ["org_id", "currency", "account"],
        unique=False,
    )


def upgrade() -> None:
    _create_tables()
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for table in TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: {action} of {table} refused'); END"
                )
        return
    if conn.dialect.name != "postgresql":
        return
    strict = f"org_id = {_ORG}"
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON {table} USING ({strict}) WITH CHECK ({strict})")
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the ledger is append-only: % of % refused; record a reversing transaction instead',
                TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END $$
        """
    )
    for table in TABLES:
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {ROLE}")
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {_FUNCTION}()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"
        )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_org_id_currency_account", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index("ix_ledger_transactions_org_id_occurred_at", table_name="ledger_transactions")
    op.drop_table("ledger_transactions")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {_FUNCTION}()")
