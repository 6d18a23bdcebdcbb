"""The demo business: seeded once, with a believable day whatever day it is."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from coachos import BookingStatus, CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.entrypoints.demo import seed_demo
from coachos.entrypoints.web.views.today import day_bounds

#: 15:00 in New York on each day of the week starting Monday 2 March 2026.
AFTERNOONS = [datetime(2026, 3, 2, 20, 0, tzinfo=UTC) + timedelta(days=n) for n in range(7)]


@pytest.fixture(params=AFTERNOONS, ids=["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
def demo_app(request: pytest.FixtureRequest) -> Iterator[CoachOS]:
    """Coach OS on fakes with the clock at 15:00 New York time on one day of the week."""
    with bootstrap(
        Settings(database_url="memory://"),
        uow=MemoryStore().unit_of_work,
        clock=FixedClock(request.param),
        ids=SequentialIds(),
        hasher=fast_test_hasher(),
        email=MemoryEmail(),
    ) as app:
        yield app


class TestSeedDemo:
    def test_today_has_sessions_and_running_again_changes_nothing(self, demo_app: CoachOS) -> None:
        """Today has finished sessions and one awaiting confirmation (none on Sunday); a second run adds nothing."""
        summary = seed_demo(demo_app)
        assert summary.created
        start, end = day_bounds(summary.org, demo_app.clock.now())
        today = demo_app.read(lambda uow: list(uow.bookings.between(summary.org.id, start, end)))
        if demo_app.clock.now().astimezone(summary.org.tz).weekday() == 6:
            assert today == []
        else:
            assert len(today) == 3
            assert today[-1].status is BookingStatus.REQUESTED
            over = [b for b in today[:-1] if b.end <= demo_app.clock.now()]
            assert all(b.status is BookingStatus.COMPLETED for b in over)
        again = seed_demo(demo_app)
        assert not again.created
        assert demo_app.read(lambda uow: len(uow.bookings.between(summary.org.id, start, end))) == len(today)

    def test_the_inbox_has_one_unread_text_from_a_client(self, demo_app: CoachOS) -> None:
        """The business owns its texting number and a client's text waits, unread, in the inbox."""
        from coachos.entrypoints.demo import DEMO_NUMBER

        summary = seed_demo(demo_app)
        seed_demo(demo_app)
        with demo_app.unit_of_work() as uow:
            assert [n.number for n in uow.phone_numbers.list(summary.org.id)] == [DEMO_NUMBER]
            assert uow.messages.unread_count(summary.org.id) == 1
            [conversation] = uow.messages.conversations(summary.org.id, limit=10)
        assert conversation.client_name == "Jordan Lee"

    def test_billing_shows_without_stripe_offers_a_plan_and_cash_sales(self, demo_app: CoachOS) -> None:
        """Without Stripe the demo lists two offers and a membership plan, and its cash sales are in the ledger."""
        from coachos.domain.ledger import Account
        from coachos.domain.usecases import ListMembershipPlans, ListPackageOffers

        assert demo_app.deps.payments is None
        summary = seed_demo(demo_app)
        org_id = summary.org.id
        offers = demo_app.execute(ListPackageOffers(org_id=org_id))
        assert sorted(o.name for o in offers) == ["10 sessions", "5 sessions"]
        assert [p.name for p in demo_app.execute(ListMembershipPlans(org_id=org_id))] == ["Monthly 4"]
        with demo_app.unit_of_work() as uow:
            balances = uow.ledger.balances(org_id, "USD")
        assert balances[Account.CASH] == 3 * 75000
