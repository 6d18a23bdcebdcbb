"""Row-level security: PostgreSQL itself keeps each organisation's rows to that organisation.

Every table with an `org_id` column (found in the catalogue, so tables added by earlier
migrations are covered without being named here) gets one policy, `tenant_isolation`, that
compares `org_id` with the transaction-local setting `app.org_id` (see `adapters/sql/tenancy.py`).
A query that forgets its `org_id` filter therefore sees nothing of another organisation, and an
INSERT or UPDATE that would put a row in another organisation is refused (WITH CHECK).

The application works as the NOLOGIN role `coachos_app`, made here, which the policies bind; the
owner that runs migrations is exempt (no FORCE), so migrations may still move data freely. The
role is shared by the whole PostgreSQL cluster, so downgrading leaves it (without privileges here).

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-29 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ROLE = "coachos_app"
POLICY = "tenant_isolation"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"
#: Found by email or a secret's digest before the organisation is known (log-in, authentication,
#: password reset, calendar feeds, pruning): reachable by a transaction that names no organisation,
#: and only the named organisation's rows once a transaction names one.
CREDENTIALS = frozenset({"logins", "web_sessions", "api_tokens", "calendar_feeds"})
#: The relay reads every organisation's outbox, saying so with `app.outbox_relay`; pruning deletes
#: old security events of every organisation, saying so with `app.prune`.
ACROSS_ORGS = {
    "outbox": "current_setting('app.outbox_relay', true) = 'on'",
    "security_events": "current_setting('app.prune', true) = 'on'",
}


def _rule(table: str) -> str:
    rule = f"org_id = {_ORG}"
    if table in CREDENTIALS:
        return f"{rule} OR {_ORG} IS NULL"
    if table in ACROSS_ORGS:
        return f"{rule} OR {ACROSS_ORGS[table]}"
    return rule


def _tables_with_org_id(conn: sa.Connection) -> list[str]:
    return list(
        conn.execute(
            sa.text(
                """
                SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
                WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
                  AND a.attname = 'org_id' AND NOT a.attisdropped
                ORDER BY c.relname
                """
            )
        ).scalars()
    )


def _schema(conn: sa.Connection) -> str:
    return conn.dialect.identifier_preparer.quote(conn.execute(sa.text("SELECT current_schema()")).scalar_one())


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return  # SQLite has no row-level security, and no roles.
    q = conn.dialect.identifier_preparer.quote
    schema = _schema(conn)
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
                CREATE ROLE {ROLE} NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- another database's migration made it at the same moment
        END $$
        """
    )
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}' AND (rolsuper OR rolbypassrls)) THEN
                RAISE EXCEPTION 'Role {ROLE} bypasses row-level security (superuser or BYPASSRLS); '
                    'make it NOSUPERUSER NOBYPASSRLS before migrating.';
            END IF;
            -- The owner switches to the role on connect (SET ROLE), so it must be a member.
            IF NOT pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN
                GRANT {ROLE} TO CURRENT_USER;
            END IF;
        END $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {ROLE}")
    op.execute(f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {ROLE}")
    # Tables and sequences later migrations create (run by the same owner) are granted as they appear.
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {ROLE}")
    for table in _tables_with_org_id(conn):
        rule = _rule(table)
        op.execute(f"ALTER TABLE {q(table)} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON {q(table)} USING ({rule}) WITH CHECK ({rule})")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    q = conn.dialect.identifier_preparer.quote
    schema = _schema(conn)
    tables = conn.execute(
        sa.text("SELECT tablename FROM pg_policies WHERE schemaname = current_schema() AND policyname = :p"),
        {"p": POLICY},
    ).scalars()
    for table in list(tables):
        op.execute(f"DROP POLICY {POLICY} ON {q(table)}")
        op.execute(f"ALTER TABLE {q(table)} DISABLE ROW LEVEL SECURITY")
    if conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": ROLE}).first() is None:
        return
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON TABLES FROM {ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON SEQUENCES FROM {ROLE}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA {schema} FROM {ROLE}")
