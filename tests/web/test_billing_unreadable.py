"""Billing pages with a stored row that cannot be read show the rest with a marker, never silently less."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator

import attrs
import pytest
from quart import Quart

from coachos import Actor, CoachOS, CreateClient, Money, SellPackage, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.payments import MemoryPayments
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.domain.catalog import PaymentMethod
from coachos.domain.memberships import Membership, MembershipStatus
from coachos.domain.usecases import CreateMembershipPlan, CreatePackageOffer
from tests.helpers import make_world
from tests.unit.test_package_sales import connect
from tests.web import test_unreadable_rows as unreadable
from tests.web.support import sign_up
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


class TestMemberships:
    async def test_unreadable_plans_and_memberships_are_marked_on_every_page(
        self, web: Quart, core: CoachOS, store: MemoryStore, clock: FixedClock, logs: io.StringIO
    ) -> None:
        """Setup → Memberships, the client's Memberships panel and the portal name what they could not read."""
        coach = web.test_client()
        await sign_up(coach)
        org = core.read(lambda uow: uow.orgs.by_slug("peak"))
        (owner,) = core.read(lambda uow: uow.coaches.list(org.id))
        me = Actor("coach", owner.id)
        person = core.execute(CreateClient(org_id=org.id, name="Riley Quinn", email=EMAIL, actor=me))
        plans = [
            core.execute(CreateMembershipPlan(org_id=org.id, actor=me, name=n, price=Money(9000, "USD"), sessions=4))
            for n in ("Good plan", "Bad plan")
        ]
        made = []
        for plan in plans:
            m = Membership(
                id=uuid.uuid4(),
                org_id=org.id,
                client_id=person.id,
                plan_id=plan.id,
                status=MembershipStatus.ACTIVE,
                created_at=clock.now(),
            )
            made.append(m)
            with core.deps.uow() as uow:
                uow.memberships.add(m)
                uow.commit()
        store.add_unreadable("membership_plans", plans[1].id, org.id)
        # A third membership whose own row cannot be read.
        store.add_unreadable("memberships", uuid.uuid4(), org.id, client_id=person.id)

        setup = await (await coach.get("/setup/memberships")).get_data(as_text=True)
        assert "Good plan" in setup
        assert setup.count("1 membership plan could not be read") == 1

        panel = await (await coach.get(f"/clients/{person.id}/panels/memberships")).get_data(as_text=True)
        assert "Good plan" in panel
        assert "1 membership plan and 1 membership could not be read" in panel

        world = attrs.evolve(make_world(core), org=org)
        portal = await signed_in_browser(web, core, world, person, clock)
        page = await portal.get("/c/peak/memberships")
        html = await page.get_data(as_text=True)
        assert page.status_code == 200
        assert "Good plan" in html
        assert "Bad plan" not in html
        assert "could not be read" in html
        for found in _ERROR_ID.findall(setup + panel + html):
            assert found in logs.getvalue()
