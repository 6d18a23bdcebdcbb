"""Waivers, their published versions and clients' signatures, the last two permanent.

- waivers: a business's waivers (title); tenant policy of 0007.
- waiver_versions: published texts (Markdown and the HTML shown), unique per (waiver, number).
- waiver_signatures: one per (client, version), pointing at the version with its waiver and number.

Versions and signatures are evidence, so the database itself refuses to change or remove them:
on PostgreSQL a trigger raises on UPDATE, DELETE and TRUNCATE, and the app role loses those
privileges; on SQLite BEFORE UPDATE/DELETE triggers abort.

Revision ID: 0018
Revises: 0019
Create Date: 2026-11-28 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0019"
branch_labels = None
depends_on = None

POLICY = "tenant_isolation"
ROLE = "coachos_app"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"
PERMANENT = ("waiver_versions", "waiver_signatures")
# Its own name: forms (0019) has a function of the same purpose with its own message.
_FUNCTION = "coachos_refuse_waiver_change"


def _create_tables() -> None:
    op.create_table(
        "waivers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_waivers_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waivers")),
        sa.UniqueConstraint("org_id", "id", name="uq_waivers_org_id_id"),
    )
    op.create_index("ix_waivers_org_id_title", "waivers", ["org_id", "title"], unique=False)
    op.create_table(
        "waiver_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("waiver_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("material", sa.Boolean(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint("number >= 1", name=op.f("ck_waiver_versions_number_positive")),
        sa.ForeignKeyConstraint(
            ["org_id", "waiver_id"], ["waivers.org_id", "waivers.id"], name="fk_waivers_waiver_id_same_org"
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_waiver_versions_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waiver_versions")),
        sa.UniqueConstraint("org_id", "id", name="uq_waiver_versions_org_id_id"),
        sa.UniqueConstraint("org_id", "id", "waiver_id", "number", name="uq_waiver_versions_signable"),
        sa.UniqueConstraint("waiver_id", "number", name=op.f("uq_waiver_versions_waiver_id_number")),
    )
    op.create_table(
        "waiver_signatures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("waiver_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("typed_name", sa.String(length=200), nullable=False),
        sa.Column("drawing", sa.Text(), nullable=True),
        sa.Column("consent_wording", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("guardian_name", sa.String(length=200), nullable=True),
        sa.Column("guardian_relationship", sa.String(length=100), nullable=True),
        sa.Column("guardian_drawing", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id", "client_id"], ["clients.org_id", "clients.id"], name="fk_clients_client_id_same_org"
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "version_id", "waiver_id", "version_number"],
            ["waiver_versions.org_id", "waiver_versions.id", "waiver_versions.waiver_id", "waiver_versions.number"],
            name="fk_waiver_versions_version_id_same_org",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_waiver_signatures_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waiver_signatures")),
        sa.UniqueConstraint(
            "org_id", "client_id", "version_id", name=op.f("uq_waiver_signatures_org_id_client_id_version_id")
        ),
        sa.UniqueConstraint("org_id", "id", name="uq_waiver_signatures_org_id_id"),
    )
    op.create_index(
        "ix_waiver_signatures_org_id_client_id_signed_at",
        "waiver_signatures",
        ["org_id", "client_id", "signed_at"],
        unique=False,
    )


def upgrade() -> None:
    _create_tables()
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for table in PERMANENT:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} are permanent: {action} refused'); END"
                )
        return
    if conn.dialect.name != "postgresql":
        return
    strict = f"org_id = {_ORG}"
    for table in ("waivers", *PERMANENT):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON {table} USING ({strict}) WITH CHECK ({strict})")
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% are permanent: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'integrity_constraint_violation';
        END $$
        """
    )
    for table in PERMANENT:
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {ROLE}")
        op.execute(
            f"CREATE TRIGGER {table}_permanent BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {_FUNCTION}()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"
        )


def downgrade() -> None:
    op.drop_index("ix_waiver_signatures_org_id_client_id_signed_at", table_name="waiver_signatures")
    op.drop_table("waiver_signatures")
    op.drop_table("waiver_versions")
    op.drop_index("ix_waivers_org_id_title", table_name="waivers")
    op.drop_table("waivers")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {_FUNCTION}()")
