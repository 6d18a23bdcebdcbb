"""The route suites, run through `app.test_app()` on PostgreSQL instead of the fakes."""

import pytest

from tests.web.test_account_routes import (  # noqa: F401  # collected again with this folder's `core`
    TestCsrf,
    TestLogIn,
    TestReset,
    TestSignUp,
)

pytestmark = pytest.mark.postgres
