"""Billing pages with a stored row that cannot be read show the rest with a marker, never silently less."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from quart import Quart

from coachos import CoachOS, CreateClient, Money, SellPackage, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.payments import MemoryPayments
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.domain.catalog import PaymentMethod
from coachos.domain.usecases import CreatePackageOffer
from tests.helpers import make_world
from tests.unit.test_package_sales import connect
from tests.web import test_unreadable_rows as unreadable
from tests.web.test_portal_routes import EMAIL, signed_in_browser

logs = unreadable.logs
_ERROR_ID = re.compile(r"error id ([0-9a-f]{12})")


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def core(store: MemoryStore, clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on the fake `store` with card payments on."""
    with bootstrap(
        Settings(database_url="memory://"),
        uow=store.unit_of_work,
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
        payments=MemoryPayments(),
    ) as built:
        yield built


class TestPortalPackages:
    async def test_an_unreadable_package_or_offer_is_marked_and_the_rest_shown(
        self, web: Quart, core: CoachOS, store: MemoryStore, clock: FixedClock, logs: io.StringIO
    ) -> None:
        """The portal's Packages page shows the readable package and offer and names the ones it could not read."""
        world = make_world(core, slug="peak")
        connect(core, world)
        me = core.execute(CreateClient(org_id=world.org.id, name="Riley Quinn", email=EMAIL, actor=world.me))
        for name in ("Good pack", "Bad pack"):
            sold = core.execute(
                SellPackage(
                    org_id=world.org.id,
                    client_id=me.id,
                    name=name,
                    sessions=5,
                    price=Money(100, "USD"),
                    actor=world.me,
                    paid_by=PaymentMethod.CASH,
                )
            )
        store.add_unreadable("packages", sold.id, world.org.id, client_id=me.id)
        for name in ("Good offer", "Bad offer"):
            offer = core.execute(
                CreatePackageOffer(org_id=world.org.id, name=name, sessions=5, price=Money(100, "USD"), actor=world.me)
            )
        store.add_unreadable("package_offers", offer.id, world.org.id)
        browser = await signed_in_browser(web, core, world, me, clock)
        response = await browser.get("/c/peak/packages")
        html = await response.get_data(as_text=True)
        assert response.status_code == 200
        assert "Good pack" in html
        assert "Good offer" in html
        assert "Bad" not in html
        assert "1 package and 1 package offer could not be read" in html
        found = _ERROR_ID.search(html)
        assert found
        assert found.group(1) in logs.getvalue()
