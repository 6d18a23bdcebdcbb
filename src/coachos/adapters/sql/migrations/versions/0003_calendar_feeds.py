"""Calendar feeds: one secret iCal address per coach, stored as a SHA-256 digest.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 23:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_feeds",
        sa.Column("coach_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "coach_id"], ["coaches.org_id", "coaches.id"], name="fk_coaches_coach_id_same_org"
        ),
        sa.PrimaryKeyConstraint("coach_id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_calendar_feeds_token_digest")),
    )


def downgrade() -> None:
    op.drop_table("calendar_feeds")
