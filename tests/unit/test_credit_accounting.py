"""Credit accounting as a property: whatever clients and coaches do, counters never drift."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from coachos import (
    Actor,
    BookingPolicy,
    BookSession,
    CancelBooking,
    CoachOSError,
    CompleteBooking,
    MarkNoShow,
    Settings,
    UseCredit,
    bootstrap,
)
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.adapters.memory import MemoryStore
from coachos.domain.bookings import Booking, CreditEventKind
from tests.helpers import MONDAY_NOON_UTC, World, make_world

TOTAL = 4


class CreditMachine(RuleBasedStateMachine):
    """Random bookings, cancellations, charges and completions against one small package."""

    @initialize()
    def setup(self) -> None:
        self.clock = FixedClock(MONDAY_NOON_UTC)
        self.app = bootstrap(
            Settings(database_url="memory://"), uow=MemoryStore().unit_of_work, clock=self.clock, ids=SequentialIds()
        )
        policy = BookingPolicy(min_notice=timedelta(0), cancellation_window=timedelta(hours=24))
        self.w: World = make_world(self.app, sessions=TOTAL, policy=policy)
        self.bookings: list[Booking] = []
        self.refusals: Counter[str] = Counter()

    def teardown(self) -> None:
        if hasattr(self, "app"):
            self.app.close()

    def _try(self, command: object) -> object | None:
        try:
            return self.app.execute(command)  # type: ignore[arg-type]
        except CoachOSError as exc:
            self.refusals[type(exc).__name__] += 1
            return None

    @rule(day=st.integers(0, 20), hour=st.integers(9, 16), group=st.booleans())
    def book(self, day: int, hour: int, group: bool) -> None:
        service = self.w.group if group else self.w.pt
        start = (MONDAY_NOON_UTC + timedelta(days=day)).astimezone(self.w.org.tz).replace(hour=hour, minute=0)
        made = self._try(
            BookSession(
                org_id=self.w.org.id,
                coach_id=self.w.coach.id,
                service_id=service.id,
                client_id=self.w.client.id,
                start=start,
                actor=self.w.me,
            )
        )
        if isinstance(made, Booking):
            self.bookings.append(made)

    @precondition(lambda self: self.bookings)
    @rule(pick=st.integers(0, 10_000), by_client=st.booleans(), decide=st.sampled_from([None, True, False]))
    def cancel(self, pick: int, by_client: bool, decide: bool | None) -> None:
        booking = self.bookings[pick % len(self.bookings)]
        actor = Actor("client", self.w.client.id) if by_client else self.w.me
        self._try(
            CancelBooking(
                org_id=self.w.org.id, booking_id=booking.id, actor=actor, return_credit=None if by_client else decide
            )
        )

    @precondition(lambda self: self.bookings)
    @rule(pick=st.integers(0, 10_000))
    def charge(self, pick: int) -> None:
        booking = self.bookings[pick % len(self.bookings)]
        self._try(UseCredit(org_id=self.w.org.id, booking_id=booking.id, actor=self.w.me))

    @precondition(lambda self: self.bookings)
    @rule(pick=st.integers(0, 10_000), no_show=st.booleans())
    def close(self, pick: int, no_show: bool) -> None:
        booking = self.bookings[pick % len(self.bookings)]
        command = MarkNoShow if no_show else CompleteBooking
        self._try(command(org_id=self.w.org.id, booking_id=booking.id, actor=self.w.me))

    @rule(hours=st.integers(1, 72))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))

    @invariant()
    def counters_match_history(self) -> None:
        if not hasattr(self, "app"):
            return
        with self.app.unit_of_work() as uow:
            package = uow.packages.get(self.w.org.id, self.w.package.id)
            history = uow.packages.credit_events(self.w.org.id, self.w.package.id)
        uses = sum(e.kind is CreditEventKind.USE for e in history)
        returns = sum(e.kind is CreditEventKind.RETURN for e in history)
        assert 0 <= package.used <= package.total
        assert package.used == uses - returns
        per_booking = Counter((e.booking_id, e.kind) for e in history)
        assert all(n == 1 for n in per_booking.values()), "a booking used or returned twice"
        assert all((b, CreditEventKind.USE) in per_booking for b, k in per_booking if k is CreditEventKind.RETURN)


CreditMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestCreditAccounting = CreditMachine.TestCase
