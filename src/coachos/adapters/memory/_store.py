"""In-memory storage with the same guarantees as the database: all-or-nothing, one writer at a time."""

from __future__ import annotations

import copy
import threading
from types import TracebackType
from typing import Any, Self
from uuid import UUID, uuid4

import attrs

from coachos.adapters.memory._accounts import MemoryAccounts
from coachos.adapters.memory._forms import MemoryForms
from coachos.adapters.memory._ledger import MemoryLedger
from coachos.adapters.memory._memberships import MemoryMemberships
from coachos.adapters.memory._messages import MemoryMessages
from coachos.adapters.memory._numbers import MemoryPhoneNumbers
from coachos.adapters.memory._onboarding import MemoryOnboarding
from coachos.adapters.memory._platform import MemoryPlatform
from coachos.adapters.memory._portal import MemoryPortal
from coachos.adapters.memory._refunds import MemoryRefunds
from coachos.adapters.memory._repos import (
    MemoryAutomations,
    MemoryAvailability,
    MemoryBookings,
    MemoryCalendar,
    MemoryClients,
    MemoryCoaches,
    MemoryOrganizations,
    MemoryOutbox,
    MemoryPackages,
    MemoryServices,
    MemoryTodos,
    Tables,
    UnreadableRow,
)
from coachos.adapters.memory._stripe import MemoryStripe
from coachos.adapters.memory._templates import MemoryMessageTemplates
from coachos.adapters.memory._waivers import MemoryWaivers
from coachos.domain.events import Event
from coachos.domain.ids import OrgId
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

#: Which of the fake's tables holds the records of each SQL table, by id.
_RECORDS = {
    "coaches": "coaches",
    "clients": "clients",
    "services": "services",
    "appointments": "appointments",
    "bookings": "bookings",
    "packages": "packages",
    "package_offers": "package_offers",
    "membership_plans": "membership_plans",
    "memberships": "memberships",
    "automations": "automations",
    "messages": "messages",
    "phone_numbers": "phone_numbers",
    "todos": "todos",
    "onboarding_flows": "onboarding_flows",
}


@attrs.define
class MemoryStore:
    """Every organisation's data, held in dicts; a unit of work holds the lock for its whole life.

    Holding one lock per transaction makes the fake serializable, like SQLite's write
    transactions, so the use cases' all-or-nothing behaviour can be tested without a database.
    """

    tables: Tables = attrs.Factory(Tables)
    lock: threading.RLock = attrs.Factory(threading.RLock)

    def unit_of_work(self) -> MemoryUnitOfWork:
        """A new unit of work over this store."""
        return MemoryUnitOfWork(self)

    def add_unreadable(self, table: str, row_id: UUID, org_id: OrgId, **keys: object) -> None:
        """Make row `row_id` of `table` one that cannot be read, found by list reads filtering on `keys` (tests only).

        It stands for what a faulty migration or a manual SQL fix leaves behind: reading it by id
        raises CorruptRecord and list reads leave it out, naming it, exactly as the SQL adapter does.
        A readable record stored under that id is replaced.
        """
        with self.lock:
            held = getattr(self.tables, _RECORDS.get(table, ""), {})
            held.pop(row_id, None)
            self.tables.unreadable[row_id] = UnreadableRow(table, row_id, org_id, keys)


class MemoryUnitOfWork:
    """A transaction over a MemoryStore: changes are undone unless committed."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._snapshot: dict[str, Any] | None = None
        self._events: list[Event] = []
        self.committed = False
        t = store.tables
        self.orgs: OrganizationRepository = MemoryOrganizations(t)
        self.coaches: CoachRepository = MemoryCoaches(t)
        self.clients: ClientRepository = MemoryClients(t)
        self.services: ServiceRepository = MemoryServices(t)
        self.availability: AvailabilityRepository = MemoryAvailability(t)
        self.calendar: CalendarRepository = MemoryCalendar(t)
        self.bookings: BookingRepository = MemoryBookings(t)
        self.packages: PackageRepository = MemoryPackages(t)
        self.outbox: Outbox = MemoryOutbox(t)
        self.accounts: AccountRepository = MemoryAccounts(t)
        self.automations: AutomationRepository = MemoryAutomations(t)
        self.messages: MessageRepository = MemoryMessages(t)
        self.templates: MessageTemplateRepository = MemoryMessageTemplates(t)
        self.phone_numbers: PhoneNumberRepository = MemoryPhoneNumbers(t)
        self.todos: TodoRepository = MemoryTodos(t)
        self.portal: PortalRepository = MemoryPortal(t)
        self.forms: FormRepository = MemoryForms(t)
        self.waivers: WaiverRepository = MemoryWaivers(t)
        self.onboarding: OnboardingRepository = MemoryOnboarding(t)
        self.ledger: LedgerRepository = MemoryLedger(t)
        self.stripe: StripeRepository = MemoryStripe(t)
        self.memberships: MembershipRepository = MemoryMemberships(t)
        self.platform: PlatformRepository = MemoryPlatform(t)
        self.refunds: RefundRepository = MemoryRefunds(t)

    def __enter__(self) -> Self:
        self._store.lock.acquire()
        # Values are frozen objects, so copying the containers is enough to roll back.
        self._snapshot = {k: copy.copy(v) for k, v in attrs.asdict(self._store.tables, recurse=False).items()}
        self._events = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self._snapshot = None
            self._store.lock.release()

    def emit(self, event: Event) -> None:
        """Record an event to store at commit."""
        self._events.append(event)

    def commit(self) -> None:
        """Keep every change made so far, with the emitted events."""
        self._store.tables.outbox.extend(self._events)
        self._store.tables.event_ids.extend(uuid4() for _ in self._events)
        self._events = []
        self._snapshot = {k: copy.copy(v) for k, v in attrs.asdict(self._store.tables, recurse=False).items()}
        self.committed = True

    def rollback(self) -> None:
        """Undo every change since the last commit."""
        if self._snapshot is not None:
            for name, value in self._snapshot.items():
                setattr(self._store.tables, name, copy.copy(value))
        self._events = []
