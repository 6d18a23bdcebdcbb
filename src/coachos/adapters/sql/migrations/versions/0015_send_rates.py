"""Send rates: one token bucket per sending number, shared by every worker process.

Keyed by the number alone (no `org_id`, so no tenant policy): a number belongs to one business,
the row holds no personal data, and the worker takes tokens for every business's numbers.

Revision ID: 0015
Revises: 0011
Create Date: 2026-11-28 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_rates",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("micro_tokens", sa.BigInteger(), nullable=False),
        sa.Column("refilled_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_send_rates")),
    )
    # The app's role may use it through 0007's default privileges.


def downgrade() -> None:
    op.drop_table("send_rates")
