"""Setup → Onboarding, the client panel and Today again on PostgreSQL (a fresh database per test, as the app role)."""

import pytest

from tests.web.test_onboarding_routes import (  # noqa: F401  # collected again with this folder's `core`
    TestOnboardingSetup,
    TestWhereTheCoachSeesIt,
    fake_steps,
)

pytestmark = pytest.mark.postgres
