"""The client portal's routes again on PostgreSQL (a fresh migrated database per test, as the app role):
row-level security holds the portal's tables to the business in the address."""

import pytest

from tests.web.test_portal_routes import (  # noqa: F401  # collected again with this folder's `core`
    TestBookingAsClient,
    TestLinks,
    TestPortalPages,
    TestTenancy,
    logs,
    person,
    world,
)

pytestmark = pytest.mark.postgres
