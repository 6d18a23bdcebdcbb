"""Forms' routes again on PostgreSQL (a fresh migrated database per test, as the app role)."""

import pytest

from tests.web.test_form_routes import (  # noqa: F401  # collected again with this folder's `core`
    TestBookingHold,
    TestFillPage,
    TestFormsPanel,
    TestSetupForms,
)

pytestmark = pytest.mark.postgres
