"""The SQL unit of work: one connection, one transaction, every repository on it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos.adapters.sql.accounts import SqlAccounts
from coachos.adapters.sql.atomic import SqlCalendar, SqlPackages
from coachos.adapters.sql.automations import SqlAutomations, SqlTodos
from coachos.adapters.sql.errors import at_the_edge
from coachos.adapters.sql.forms import SqlForms
from coachos.adapters.sql.ledger import SqlLedger
from coachos.adapters.sql.memberships import SqlMemberships
from coachos.adapters.sql.messages import SqlMessages
from coachos.adapters.sql.onboarding import SqlOnboarding
from coachos.adapters.sql.outbox import SqlOutbox, event_row
from coachos.adapters.sql.phone_numbers import SqlPhoneNumbers
from coachos.adapters.sql.platform import SqlPlatform
from coachos.adapters.sql.portal import SqlPortal
from coachos.adapters.sql.refunds import SqlRefunds
from coachos.adapters.sql.repos import (
    SqlAvailability,
    SqlBookings,
    SqlClients,
    SqlCoaches,
    SqlOrganizations,
    SqlServices,
)
from coachos.adapters.sql.stripe_events import SqlStripe
from coachos.adapters.sql.tables import outbox
from coachos.adapters.sql.templates import SqlMessageTemplates
from coachos.adapters.sql.tenancy import scope_to
from coachos.adapters.sql.waivers import SqlWaivers
from coachos.domain.events import Event
from coachos.ports.memberships import MembershipRepository
from coachos.ports.onboarding import OnboardingRepository
from coachos.ports.platform import PlatformRepository
from coachos.ports.refunds import RefundRepository
from coachos.ports.storage import (
    AccountRepository,
    AutomationRepository,
    AvailabilityRepository,
    BookingRepository,
    CalendarRepository,
    ClientRepository,
    CoachRepository,
    FormRepository,
    LedgerRepository,
    MessageRepository,
    MessageTemplateRepository,
    OrganizationRepository,
    Outbox,
    PackageRepository,
    PhoneNumberRepository,
    PortalRepository,
    ServiceRepository,
    TodoRepository,
    WaiverRepository,
)
from coachos.ports.stripe_events import StripeRepository


class SqlUnitOfWork:
    """A transaction on `engine`; what is not committed is rolled back when the block ends.

    Database errors do not leave the block as they are: waits that ran out (connect, pool,
    statement, lock, SQLite's busy timeout) become `Unavailable`, and any other driver error a
    `DatabaseFailure` that leaves out the rows and parameters the driver's message quoted.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: sa.Connection | None = None
        self._events: list[Event] = []

    def __enter__(self) -> Self:
        try:
            conn = self._conn = self._engine.connect()
            conn.begin()
        except Exception as exc:
            self._release()
            _raise_at_the_edge(exc)
            raise
        self.orgs: OrganizationRepository = SqlOrganizations(conn)
        self.coaches: CoachRepository = SqlCoaches(conn)
        self.clients: ClientRepository = SqlClients(conn)
        self.services: ServiceRepository = SqlServices(conn)
        self.availability: AvailabilityRepository = SqlAvailability(conn)
        self.calendar: CalendarRepository = SqlCalendar(conn)
        self.bookings: BookingRepository = SqlBookings(conn)
        self.packages: PackageRepository = SqlPackages(conn)
        self.outbox: Outbox = SqlOutbox(conn)
        self.accounts: AccountRepository = SqlAccounts(conn)
        self.automations: AutomationRepository = SqlAutomations(conn)
        self.messages: MessageRepository = SqlMessages(conn)
        self.templates: MessageTemplateRepository = SqlMessageTemplates(conn)
        self.phone_numbers: PhoneNumberRepository = SqlPhoneNumbers(conn)
        self.todos: TodoRepository = SqlTodos(conn)
        self.portal: PortalRepository = SqlPortal(conn)
        self.forms: FormRepository = SqlForms(conn)
        self.waivers: WaiverRepository = SqlWaivers(conn)
        self.onboarding: OnboardingRepository = SqlOnboarding(conn)
        self.ledger: LedgerRepository = SqlLedger(conn)
        self.stripe: StripeRepository = SqlStripe(conn)
        self.memberships: MembershipRepository = SqlMemberships(conn)
        self.platform: PlatformRepository = SqlPlatform(conn)
        self.refunds: RefundRepository = SqlRefunds(conn)
        self._events = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._release()
        except Exception as cleanup:
            if exc is None:
                _raise_at_the_edge(cleanup)
                raise
            # Otherwise the block's own error says more than the failed clean-up after it.
        if isinstance(exc, Exception):
            _raise_at_the_edge(exc)

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                if conn.in_transaction():
                    conn.rollback()
            finally:
                conn.close()

    @property
    def connection(self) -> sa.Connection:
        """The open connection (for read models that need SQL the repositories do not offer).

        On PostgreSQL, call `tenancy.scope_to(connection, org_id)` before reading tenant tables:
        row-level security shows a transaction that names no organisation none of their rows.
        """
        if self._conn is None:
            raise RuntimeError("The unit of work is not open; use it in a `with` block.")
        return self._conn

    def emit(self, event: Event) -> None:
        """Record an event to store with this transaction."""
        self._events.append(event)

    def commit(self) -> None:
        """Store the emitted events and commit everything together."""
        conn = self.connection
        # Each event is written under its own organisation: row-level security checks the outbox too.
        for org_id in dict.fromkeys(e.org_id for e in self._events):
            scope_to(conn, org_id)
            conn.execute(outbox.insert(), [event_row(e) for e in self._events if e.org_id == org_id])
        self._events = []
        conn.commit()

    def rollback(self) -> None:
        """Discard every change and emitted event."""
        self._events = []
        self.connection.rollback()


def _raise_at_the_edge(exc: Exception) -> None:
    """Raise what `exc` becomes outside the adapter, keeping its traceback but not its vendor message."""
    replacement = at_the_edge(exc)
    if replacement is not None:
        raise replacement.with_traceback(exc.__traceback__) from None
