"""Clients' own side: sign-in links and codes, client sessions, account deletion requests.

- client_sign_ins: one live sign-in (link and code digests) per client, overwritten by a new one.
- client_sessions: signed-in clients, by the digest of their cookie's secret.
- client_contact_changes: a signed-in client's new email or phone, waiting for the code sent to it.
- client_deletion_requests: clients who asked to delete their account, until a coach approves.
Each is found within its organisation only (the portal's URL names it), so each gets the strict
tenant policy of 0007 on PostgreSQL; pruning may also delete dead sessions and sign-ins of every
organisation, saying so with `app.prune` (as for security events).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-28 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

POLICY = "tenant_isolation"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"
_TABLES = ("client_sign_ins", "client_sessions", "client_contact_changes", "client_deletion_requests")
_PRUNED = frozenset({"client_sign_ins", "client_sessions", "client_contact_changes"})
_PRUNE = "current_setting('app.prune', true) = 'on'"


def _client_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id", "client_id"], ["clients.org_id", "clients.id"], name="fk_clients_client_id_same_org"
    )


def upgrade() -> None:
    op.create_table(
        "client_sign_ins",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("link_digest", sa.String(length=64), nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.CheckConstraint("failures >= 0", name=op.f("ck_client_sign_ins_failures_not_negative")),
        _client_fk(),
        sa.PrimaryKeyConstraint("org_id", "client_id", name=op.f("pk_client_sign_ins")),
        sa.UniqueConstraint("link_digest", name=op.f("uq_client_sign_ins_link_digest")),
    )
    op.create_table(
        "client_sessions",
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        _client_fk(),
        sa.PrimaryKeyConstraint("token_digest", name=op.f("pk_client_sessions")),
    )
    op.create_index("ix_client_sessions_org_id_client_id", "client_sessions", ["org_id", "client_id"])
    op.create_table(
        "client_contact_changes",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.CheckConstraint("(email IS NULL) <> (phone IS NULL)", name=op.f("ck_client_contact_changes_one_contact")),
        _client_fk(),
        sa.PrimaryKeyConstraint("org_id", "client_id", name=op.f("pk_client_contact_changes")),
    )
    op.create_table(
        "client_deletion_requests",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        _client_fk(),
        sa.PrimaryKeyConstraint("org_id", "client_id", name=op.f("pk_client_deletion_requests")),
    )
    if op.get_bind().dialect.name == "postgresql":
        strict = f"org_id = {_ORG}"
        for table in _TABLES:
            rule = strict if table not in _PRUNED else f"{strict} OR {_PRUNE}"
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY {POLICY} ON {table} USING ({rule}) WITH CHECK ({strict})")


def downgrade() -> None:
    op.drop_table("client_deletion_requests")
    op.drop_table("client_contact_changes")
    op.drop_index("ix_client_sessions_org_id_client_id", table_name="client_sessions")
    op.drop_table("client_sessions")
    op.drop_table("client_sign_ins")
