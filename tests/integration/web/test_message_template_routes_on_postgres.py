"""Setup → Messages again on PostgreSQL (a fresh migrated database per test, as the app role)."""

import pytest

from tests.web.test_message_template_routes import (  # noqa: F401  # collected again with this folder's `core`
    TestBadInput,
    TestEdit,
    TestList,
)
from tests.web.test_message_template_routes import TestSettings as TestNotificationSettings  # noqa: F401

pytestmark = pytest.mark.postgres
