"""Refund pages and the signed charge.refunded again on PostgreSQL (a fresh migrated database, as the app role)."""

from __future__ import annotations

import pytest

from tests.web.test_refund_routes import (  # noqa: F401  # collected again with this folder's `core`
    TestCardRefunds,
    TestRefundForm,
    TestStripeWebhook,
    biz,
    browser,
    core,
    payments,
    web,
)

pytestmark = pytest.mark.postgres
