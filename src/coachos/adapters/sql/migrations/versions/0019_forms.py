"""Forms: drafts, published versions, clients' submissions, clearances and the access log of answers.

- forms, form_versions, form_submissions, form_clearances, form_answer_views: each with the tenant
  policy of 0007 on PostgreSQL;
- published versions, submissions, clearances and the access log are never updated or deleted:
  triggers refuse it on both databases, even for the app's role with raw SQL (answers and the
  record of who saw them are evidence, and a version is what the answers are read against).

Revision ID: 0019
Revises: 0017
Create Date: 2026-11-28 12:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None

POLICY = "tenant_isolation"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"
#: The tables whose rows are only ever added.
APPEND_ONLY = ("form_versions", "form_submissions", "form_clearances", "form_answer_views")


def _fk(column: str, parent: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id", column], [f"{parent}.org_id", f"{parent}.id"], name=f"fk_{parent}_{column}_same_org"
    )


def _common(table: str) -> list[SchemaItem]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
    ]


def _keys(table: str) -> list[SchemaItem]:
    return [
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("org_id", "id", name=f"uq_{table}_org_id_id"),
    ]


def upgrade() -> None:
    op.create_table(
        "forms",
        *_common("forms"),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("screening", sa.Boolean(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published", sa.Integer(), nullable=False),
        sa.CheckConstraint("published >= 0", name=op.f("ck_forms_published_not_negative")),
        *_keys("forms"),
    )
    op.create_table(
        "form_versions",
        *_common("form_versions"),
        sa.Column("form_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("screening", sa.Boolean(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint("number >= 1", name=op.f("ck_form_versions_number_positive")),
        _fk("form_id", "forms"),
        _fk("published_by", "coaches"),
        sa.UniqueConstraint("form_id", "number", name=op.f("uq_form_versions_form_id_number")),
        *_keys("form_versions"),
    )
    op.create_table(
        "form_submissions",
        *_common("form_submissions"),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("form_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("screening", sa.Boolean(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        _fk("client_id", "clients"),
        _fk("form_id", "forms"),
        _fk("version_id", "form_versions"),
        sa.UniqueConstraint("org_id", "key", name=op.f("uq_form_submissions_org_id_key")),
        *_keys("form_submissions"),
    )
    op.create_index(
        "ix_form_submissions_org_id_client_id_submitted_at",
        "form_submissions",
        ["org_id", "client_id", "submitted_at"],
    )
    op.create_table(
        "form_clearances",
        *_common("form_clearances"),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("coach_id", sa.Uuid(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document_name", sa.String(length=100), nullable=True),
        sa.Column("document_type", sa.String(length=40), nullable=True),
        sa.Column("document", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint(
            "(document IS NULL) = (document_type IS NULL)", name=op.f("ck_form_clearances_document_has_type")
        ),
        _fk("client_id", "clients"),
        _fk("coach_id", "coaches"),
        *_keys("form_clearances"),
    )
    op.create_index(
        "ix_form_clearances_org_id_client_id_recorded_at", "form_clearances", ["org_id", "client_id", "recorded_at"]
    )
    op.create_table(
        "form_answer_views",
        *_common("form_answer_views"),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("coach_id", sa.Uuid(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=True),
        sa.Column("clearance_id", sa.Uuid(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(submission_id IS NULL) <> (clearance_id IS NULL)", name=op.f("ck_form_answer_views_one_subject")
        ),
        _fk("clearance_id", "form_clearances"),
        _fk("client_id", "clients"),
        _fk("coach_id", "coaches"),
        _fk("submission_id", "form_submissions"),
        *_keys("form_answer_views"),
    )
    op.create_index("ix_form_answer_views_org_id_client_id_at", "form_answer_views", ["org_id", "client_id", "at"])

    if op.get_bind().dialect.name == "postgresql":
        strict = f"org_id = {_ORG}"
        for table in ("forms", *APPEND_ONLY):
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY {POLICY} ON {table} USING ({strict}) WITH CHECK ({strict})")
        op.execute(
            """
            CREATE FUNCTION coachos_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% rows are never changed or deleted', TG_TABLE_NAME
                    USING ERRCODE = 'integrity_constraint_violation';
            END $$
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION coachos_refuse_change()"
            )
            # TRUNCATE skips row triggers; the app's role is refused it too.
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION coachos_refuse_change()"
            )
    else:
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} rows are never changed or deleted'); END"
                )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in reversed(APPEND_ONLY):
        op.drop_table(table)
    op.drop_table("forms")
    if postgres:
        op.execute("DROP FUNCTION coachos_refuse_change()")
