"""The route suites, run through `app.test_app()` on PostgreSQL instead of the fakes.

Each test gets a fresh migrated database (see conftest.py). Suites whose point is a fake that
misbehaves on purpose (the failing-panel tests) stay on the fakes only.
"""

import pytest

from tests.web.test_account_routes import (  # noqa: F401  # collected again with this folder's `core`
    TestCsrf,
    TestLogIn,
    TestReset,
    TestSignUp,
)
from tests.web.test_api import (  # noqa: F401
    TestAuth,
    TestAvailability,
    TestBookings,
    TestClients,
    TestErrors,
    TestMe,
    TestPackages,
    TestServices,
    TestSlots,
    account,
)
from tests.web.test_bad_input import TestAimedValues, TestEveryRoute, biz  # noqa: F401
from tests.web.test_calendar_routes import TestCalendarPage, TestEvents, TestForms  # noqa: F401
from tests.web.test_client_routes import (  # noqa: F401
    TestAddClient,
    TestClientList,
    TestClientPage,
    TestEditing,
    TestOtherOrganisations,
)
from tests.web.test_ical import TestCalendarFeedPage, TestFeed  # noqa: F401
from tests.web.test_public_routes import (  # noqa: F401
    TestBookingForm,
    TestManageLink,
    TestServicesPage,
    TestSlotsPage,
)
from tests.web.test_public_slots_json import TestPublicSlotsJson  # noqa: F401
from tests.web.test_setup_routes import (  # noqa: F401
    TestApiTokens,
    TestPages,
    TestSettings,
)
from tests.web.test_setup_routes import TestAvailability as TestSetupAvailability  # noqa: F401
from tests.web.test_tenancy import TestTenancy  # noqa: F401

pytestmark = pytest.mark.postgres
