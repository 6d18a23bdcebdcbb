"""The unit suite's use-case tests, run again on SQLite and PostgreSQL through the SQL adapter.

The same assertions holding on the fakes and on both databases is what makes the fakes
trustworthy stand-ins.
"""

from tests.unit.test_accounts import (  # noqa: F401  # collected again with this folder's `app`
    TestAtomicSignUp,
    TestLogInThrottle,
    TestPruneExpired,
)
from tests.unit.test_catalog_usecases import (  # noqa: F401  # collected again with this folder's `app`
    TestRecentPackages,
    TestUpdateService,
)
from tests.unit.test_client_usecases import (  # noqa: F401  # collected again with this folder's `app`
    TestConsent,
    TestConsentLog,
    TestUpdateClient,
)
from tests.unit.test_consent_usecases import (  # noqa: F401  # collected again with this folder's `app`
    TestApplyBookingConsents,
)
from tests.unit.test_public_usecases import TestBookAsGuest  # noqa: F401  # collected again with this folder's `app`
from tests.unit.test_reschedule import (  # noqa: F401  # collected again with this folder's `app`
    TestRescheduleBooking,
    TestRescheduleByClient,
    TestRescheduleRefusals,
)
from tests.unit.test_usecases import (  # noqa: F401  # collected again with this folder's `app`
    TestBookSession,
    TestCancelBooking,
    TestCredits,
    TestFindSlots,
    TestMoves,
    TestOutbox,
    TestSetup,
)
