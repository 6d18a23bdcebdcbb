"""Setup → Payments again on PostgreSQL (a fresh migrated database per test, as the app role)."""

from __future__ import annotations

import pytest

from tests.web.test_payments_routes import (  # noqa: F401  # collected again with this folder's `core`
    TestLogs,
    TestPaymentsPage,
    TestPlatformWebhooks,
    logs,
    paid_web,
    payments,
)

pytestmark = pytest.mark.postgres
