"""The client's side connected, on SQLite and PostgreSQL: above all, approving an account deletion works
while the database's triggers keep signatures and submissions unchangeable (they stay, untouched)."""

from __future__ import annotations

from tests.unit.test_client_side import (  # noqa: F401  # collected again with this folder's `app`
    TestDeletionKeepsRecords,
    TestExport,
    TestPortalTodo,
    TestReminderLink,
)
