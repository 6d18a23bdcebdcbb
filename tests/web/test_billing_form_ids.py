"""Ids carried in billing forms and webhook metadata (not in the address, so the url_map tenancy walks do not
see them): another business's or another client's record answers 404 (forms) or is acknowledged and left
alone (Stripe events), and nothing is written, charged or paid."""

from __future__ import annotations

import json
from typing import Any

import pytest
from quart import Quart

from coachos import CoachOS, CreateClient, Money, SellPackage
from coachos.adapters.clock import FixedClock
from coachos.adapters.payments import MemoryPayments
from coachos.domain.catalog import PaymentMethod, PaymentState
from coachos.domain.clients import Client as Person
from coachos.domain.usecases import CreateMembershipPlan, CreatePackageOffer
from tests.helpers import World, make_world
from tests.unit.test_package_sales import checkout_event, connect
from tests.unit.test_stripe_events import event_body
from tests.web import test_package_sales_routes as sales
from tests.web.support import csrf
from tests.web.test_client_routes import open_business
from tests.web.test_package_sales_routes import owned
from tests.web.test_portal_routes import signed_in_browser
from tests.web.test_stripe_webhook import post, sign

# The package sales tests' fixtures: Coach OS on fakes with card payments on, 'peak' and a portal client.
payments = sales.payments
core = sales.core
web = sales.web
world = sales.world
person = sales.person


class TestPortalForms:
    async def test_buying_another_businesss_offer_is_404(
        self,
        web: Quart,
        core: CoachOS,
        world: World,
        person: Person,
        clock: FixedClock,
        payments: MemoryPayments,
    ) -> None:
        """A client posting another business's offer id gets a 404: no package, no Checkout."""
        other = make_world(core)
        connect(core, world)
        connect(core, other)
        theirs = core.execute(
            CreatePackageOffer(org_id=other.org.id, name="Theirs", sessions=5, price=Money(100, "USD"), actor=other.me)
        )
        browser = await signed_in_browser(web, core, world, person, clock)
        token = await csrf(browser, "/c/peak/packages")
        response = await browser.post("/c/peak/packages/buy", form={"csrf_token": token, "offer_id": str(theirs.id)})
        assert response.status_code == 404
        assert owned(core, world, person) == []
        assert payments.calls == []

    async def test_paying_another_clients_package_is_404(
        self,
        web: Quart,
        core: CoachOS,
        world: World,
        person: Person,
        clock: FixedClock,
        payments: MemoryPayments,
    ) -> None:
        """A client cannot open Checkout for (or see the state of) another client's pending card package."""
        connect(core, world)
        someone = core.execute(CreateClient(org_id=world.org.id, name="Sam Other", actor=world.me))
        theirs = core.execute(
            SellPackage(
                org_id=world.org.id,
                client_id=someone.id,
                name="Ten",
                sessions=10,
                price=Money(50000, "USD"),
                actor=world.me,
                paid_by=PaymentMethod.CARD,
            )
        )
        browser = await signed_in_browser(web, core, world, person, clock)
        token = await csrf(browser, "/c/peak/packages")
        response = await browser.post(f"/c/peak/packages/{theirs.id}/pay", form={"csrf_token": token})
        assert response.status_code == 404
        assert (await browser.get(f"/c/peak/packages/{theirs.id}/paid")).status_code == 404
        assert payments.calls == []
        assert core.read(lambda uow: uow.packages.get(world.org.id, theirs.id)).payment_state is PaymentState.PENDING


class TestCoachForms:
    async def test_retiring_another_businesss_plan_is_404(self, web: Quart, core: CoachOS) -> None:
        """Setup → Memberships with another business's plan id answers 404 and that plan stays offered."""
        other = make_world(core)
        theirs = core.execute(
            CreateMembershipPlan(
                org_id=other.org.id, actor=other.me, name="Theirs", price=Money(9000, "USD"), sessions=4
            )
        )
        browser = web.test_client()
        await open_business(browser, core, slug="mine")
        token = await csrf(browser, "/setup/memberships")
        for action in ("retire", "offer"):
            response = await browser.post(
                "/setup/memberships", form={"csrf_token": token, "action": action, "plan_id": str(theirs.id)}
            )
            assert response.status_code == 404, action
        assert core.read(lambda uow: uow.memberships.plan(other.org.id, theirs.id)).active


class TestSignedHostileWebhooks:
    async def test_another_accounts_checkout_naming_our_package_is_acknowledged_and_pays_nothing(
        self, web: Quart, core: CoachOS, world: World, person: Person
    ) -> None:
        """A signed Connect event from another business's account naming our package answers 200, changes nothing."""
        other = make_world(core)
        connect(core, world)
        theirs = connect(core, other)
        package = core.execute(
            SellPackage(
                org_id=world.org.id,
                client_id=person.id,
                name="Ten",
                sessions=10,
                price=Money(50000, "USD"),
                actor=world.me,
                paid_by=PaymentMethod.CARD,
            )
        )
        payload = json.loads(checkout_event("checkout.session.completed", package.id, world))
        payload["account"] = theirs
        body = json.dumps(payload)
        response = await post(web, body, sign(body))
        assert response.status_code == 200
        assert core.read(lambda uow: uow.packages.get(world.org.id, package.id)).payment_state is PaymentState.PENDING

    @pytest.mark.parametrize("obj", [{}, {"metadata": {"coachos_kind": "membership"}}, {"id": 5, "metadata": []}])
    async def test_odd_objects_are_acknowledged(self, web: Quart, obj: dict[str, Any]) -> None:
        """Signed subscription and invoice events whose object has an unknown shape answer 200, not a retry."""
        for kind in ("customer.subscription.updated", "invoice.paid", "checkout.session.completed"):
            body = event_body(kind, obj=obj)
            response = await post(web, body, sign(body))
            assert response.status_code == 200, (kind, await response.get_data(as_text=True))
