"""Consent per channel and purpose: "marketing" becomes "email_marketing", and every change is kept.

- Each client's stored consents (JSON on `clients.consents`) that still say "marketing" — email
  marketing's name before SMS marketing became a consent of its own — say "email_marketing".
  Only those entries change, so running the rewrite again changes nothing; the code also still
  reads "marketing" as email marketing.
- `consent_events` keeps every consent given or withdrawn (when, how, by whom, in which words),
  with the tenant policy of 0007. It starts with one "given" row per consent already on file, so
  the log of every client is complete from the start.
- `bookings.guest_marketing` keeps the marketing boxes a public visitor ticked, with their words.

Downgrading renames "email_marketing" back and drops the log (its withdrawals with it).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 12:00:00.000000
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

POLICY = "tenant_isolation"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"

_clients = sa.table(
    "clients",
    sa.column("id", sa.Uuid()),
    sa.column("org_id", sa.Uuid()),
    sa.column("consents", sa.JSON()),
)
_events = sa.table(
    "consent_events",
    sa.column("id", sa.Uuid()),
    sa.column("org_id", sa.Uuid()),
    sa.column("client_id", sa.Uuid()),
    sa.column("channel", sa.String()),
    sa.column("action", sa.String()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("method", sa.String()),
    sa.column("actor", sa.String()),
    sa.column("wording", sa.Text()),
)


def _rename(conn: sa.Connection, old: str, new: str) -> list[tuple[Any, Any, list[dict[str, Any]]]]:
    """Rename channel `old` to `new` in every client's consents; every client's (id, org, consents) after."""
    rows = conn.execute(sa.select(_clients.c.id, _clients.c.org_id, _clients.c.consents)).all()
    after = []
    for client_id, org_id, consents in rows:
        renamed = [c | {"channel": new} if c.get("channel") == old else c for c in consents or []]
        if renamed != (consents or []):
            conn.execute(_clients.update().where(_clients.c.id == client_id).values(consents=renamed))
        after.append((client_id, org_id, renamed))
    return after


def _instant(conn: sa.Connection) -> Callable[[str], datetime]:
    sqlite = conn.dialect.name == "sqlite"

    def parse(text: str) -> datetime:
        at = datetime.fromisoformat(text).astimezone(UTC)
        # The application's UTCDateTime keeps naive UTC on SQLite; write the same.
        return at.replace(tzinfo=None) if sqlite else at

    return parse


def upgrade() -> None:
    op.create_table(
        "consent_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("wording", sa.Text(), nullable=True),
        sa.CheckConstraint("action IN ('given', 'withdrawn')", name=op.f("ck_consent_events_action_known")),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_consent_events_org_id_organizations")),
        sa.ForeignKeyConstraint(
            ["org_id", "client_id"], ["clients.org_id", "clients.id"], name="fk_clients_client_id_same_org"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
        sa.UniqueConstraint("org_id", "id", name="uq_consent_events_org_id_id"),
    )
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index("ix_consent_events_org_id_client_id_at", ["org_id", "client_id", "at"], unique=False)
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("guest_marketing", sa.JSON(), nullable=True))

    conn = op.get_bind()
    instant = _instant(conn)
    given = [
        {
            "id": uuid.uuid4(),
            "org_id": org_id,
            "client_id": client_id,
            "channel": c["channel"],
            "action": "given",
            "at": instant(c["granted_at"]),
            "method": c["method"],
            "actor": "system",
            "wording": c.get("wording"),
        }
        for client_id, org_id, consents in _rename(conn, "marketing", "email_marketing")
        for c in consents
    ]
    if given:
        conn.execute(_events.insert(), given)

    if conn.dialect.name == "postgresql":
        strict = f"org_id = {_ORG}"
        op.execute("ALTER TABLE consent_events ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON consent_events USING ({strict}) WITH CHECK ({strict})")


def downgrade() -> None:
    _rename(op.get_bind(), "email_marketing", "marketing")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_column("guest_marketing")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_events_org_id_client_id_at")
    op.drop_table("consent_events")
