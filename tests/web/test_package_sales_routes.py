"""Packages sold for money on the web: the portal's card purchase and its return page, the signed webhook that
pays it, the coach's sale form and Record payment, Setup's offers and the public page's packages."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS, CreateClient, Money, SellPackage, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.payments import MemoryPayments
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.domain.catalog import PackageOffer, PaymentMethod, PaymentState, SessionPackage
from coachos.domain.clients import Client as Person
from coachos.domain.ledger import Account
from coachos.domain.usecases import CreatePackageOffer
from tests.helpers import World, make_world
from tests.unit.test_package_sales import book, checkout_event, connect
from tests.web.support import csrf, serving
from tests.web.test_client_routes import open_business
from tests.web.test_log_privacy import logs  # noqa: F401  # the JSON-lines log buffer
from tests.web.test_portal_routes import EMAIL, signed_in_browser
from tests.web.test_stripe_webhook import SECRET, post, sign


@pytest.fixture
def payments() -> MemoryPayments:
    """The recording payments fake (its Checkout page is the success address: the client pays at once)."""
    return MemoryPayments()


@pytest.fixture
def core(clock: FixedClock, mail: MemoryEmail, payments: MemoryPayments) -> Iterator[CoachOS]:
    """Coach OS on fakes with card payments on."""
    with bootstrap(
        Settings(database_url="memory://"),
        uow=MemoryStore().unit_of_work,
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
        payments=payments,
    ) as built:
        yield built


@pytest.fixture
async def web(core: CoachOS) -> AsyncIterator[Quart]:
    """The web app with Stripe's webhook secret."""
    async with serving(core, stripe_webhook_secret=SECRET) as app:
        yield app


@pytest.fixture
def world(core: CoachOS) -> World:
    return make_world(core, slug="peak")


@pytest.fixture
def person(core: CoachOS, world: World) -> Person:
    """A client of Peak with an email on file (to sign in to the portal) and no package."""
    return core.execute(CreateClient(org_id=world.org.id, name="Riley Quinn", email=EMAIL, actor=world.me))


@pytest.fixture
def offer(core: CoachOS, world: World) -> PackageOffer:
    return core.execute(
        CreatePackageOffer(org_id=world.org.id, name="Five pack", sessions=5, price=Money(10000, "USD"), actor=world.me)
    )


def owned(core: CoachOS, world: World, person: Person) -> list[SessionPackage]:
    return list(core.read(lambda uow: uow.packages.for_client(world.org.id, person.id)))


async def page(browser: Client, path: str) -> tuple[int, str]:
    response = await browser.get(path)
    return response.status_code, await response.get_data(as_text=True)


class TestPortalPurchase:
    async def test_buy_pay_and_use(
        self,
        web: Quart,
        core: CoachOS,
        world: World,
        person: Person,
        offer: PackageOffer,
        clock: FixedClock,
        payments: MemoryPayments,
    ) -> None:
        """Buy → Checkout; the return page waits until the signed webhook arrives, then says paid; the credits work."""
        connect(core, world)
        browser = await signed_in_browser(web, core, world, person, clock)
        token = await csrf(browser, "/c/peak/packages")
        response = await browser.post("/c/peak/packages/buy", form={"csrf_token": token, "offer_id": str(offer.id)})
        assert response.status_code == 303
        (pending,) = owned(core, world, person)
        assert pending.payment_state is PaymentState.PENDING
        checkout_url = response.headers["Location"]
        assert checkout_url == f"http://coachos.test/c/peak/packages/{pending.id}/paid"
        assert [c.method for c in payments.calls] == ["checkout"]

        status, waiting = await page(browser, f"/c/peak/packages/{pending.id}/paid")
        assert status == 200
        assert "Waiting for your payment to be confirmed" in waiting
        assert 'http-equiv="refresh"' in waiting

        body = checkout_event("checkout.session.completed", pending.id, world)
        assert (await post(web, body, sign(body))).status_code == 200
        assert (await post(web, body, sign(body))).status_code == 200  # a redelivery

        status, paid = await page(browser, f"/c/peak/packages/{pending.id}/paid")
        assert "Payment received" in paid
        assert 'http-equiv="refresh"' not in paid
        booking = book(core, world, person.id, 4, 10, unpaid=True)
        assert booking.package_id == pending.id
        with core.unit_of_work() as uow:
            assert uow.ledger.balances(world.org.id, "USD")[Account.PLATFORM_FEES] == 500
        _, mine = await page(browser, "/c/peak/packages")
        assert "4 of 5 left" in mine

    async def test_the_return_address_alone_proves_nothing(
        self, web: Quart, core: CoachOS, world: World, person: Person, offer: PackageOffer, clock: FixedClock
    ) -> None:
        """Visiting the success page without a webhook leaves the package pending and its credits unusable."""
        connect(core, world)
        browser = await signed_in_browser(web, core, world, person, clock)
        token = await csrf(browser, "/c/peak/packages")
        await browser.post("/c/peak/packages/buy", form={"csrf_token": token, "offer_id": str(offer.id)})
        (pending,) = owned(core, world, person)
        for _ in range(3):
            await browser.get(f"/c/peak/packages/{pending.id}/paid")
        assert owned(core, world, person)[0].payment_state is PaymentState.PENDING
        booking = book(core, world, person.id, 4, 10, unpaid=True)
        assert booking.package_id is None

    @pytest.mark.parametrize("offer_id", ["", "not-a-uuid", "00000000-0000-4000-8000-000000000000"])
    async def test_an_unknown_offer_is_404_and_writes_nothing(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock, offer_id: str
    ) -> None:
        """A missing, malformed or unknown offer id answers 404 and no package is made."""
        connect(core, world)
        browser = await signed_in_browser(web, core, world, person, clock)
        token = await csrf(browser, "/c/peak/packages")
        response = await browser.post("/c/peak/packages/buy", form={"csrf_token": token, "offer_id": offer_id})
        assert response.status_code == 404
        assert owned(core, world, person) == []

    async def test_a_business_that_cannot_take_cards_explains(
        self, web: Quart, core: CoachOS, world: World, person: Person, offer: PackageOffer, clock: FixedClock
    ) -> None:
        """Without a connected account there is no Buy button, and a forced POST is a 422 with the reason."""
        browser = await signed_in_browser(web, core, world, person, clock)
        _, shown = await page(browser, "/c/peak/packages")
        assert "Five pack" in shown
        assert "Buy by card" not in shown
        assert "does not take card payments online yet" in shown
        token = await csrf(browser, "/c/peak/packages")
        response = await browser.post("/c/peak/packages/buy", form={"csrf_token": token, "offer_id": str(offer.id)})
        assert response.status_code == 422
        assert "cannot take card payments" in await response.get_data(as_text=True)
        assert owned(core, world, person) == []

    async def test_signed_out_visitors_are_sent_to_sign_in(self, web: Quart, world: World) -> None:
        """The packages page needs the portal's sign-in."""
        response = await web.test_client().get("/c/peak/packages")
        assert response.status_code == 303
        assert response.headers["Location"].endswith("/c/peak/sign-in")

    async def test_a_package_the_coach_sold_for_card_can_be_paid_from_the_portal(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock, payments: MemoryPayments
    ) -> None:
        """A pending card package shows Pay by card, which goes to Checkout for that very package."""
        connect(core, world)
        sold = core.execute(
            SellPackage(
                org_id=world.org.id,
                client_id=person.id,
                name="Ten pack",
                sessions=10,
                price=Money(45000, "USD"),
                actor=world.me,
                paid_by=PaymentMethod.CARD,
            )
        )
        browser = await signed_in_browser(web, core, world, person, clock)
        _, shown = await page(browser, "/c/peak/packages")
        assert "awaiting payment" in shown
        token = await csrf(browser, "/c/peak/packages")
        response = await browser.post(f"/c/peak/packages/{sold.id}/pay", form={"csrf_token": token})
        assert response.status_code == 303
        assert payments.calls[-1].params["metadata"]["package_id"] == str(sold.id)


class TestLogPrivacy:
    async def test_buying_paying_and_recording_log_no_personal_data(
        self,
        web: Quart,
        core: CoachOS,
        world: World,
        person: Person,
        offer: PackageOffer,
        clock: FixedClock,
        logs: io.StringIO,  # noqa: F811  # the fixture imported above
    ) -> None:
        """The whole card flow (buy, webhook, return page, packages page) logs no name, email, amount or card data."""
        connect(core, world)
        browser = await signed_in_browser(web, core, world, person, clock)
        token = await csrf(browser, "/c/peak/packages")
        await browser.post("/c/peak/packages/buy", form={"csrf_token": token, "offer_id": str(offer.id)})
        (pending,) = owned(core, world, person)
        body = checkout_event("checkout.session.completed", pending.id, world)
        assert (await post(web, body, sign(body))).status_code == 200
        await browser.get(f"/c/peak/packages/{pending.id}/paid")
        await browser.get("/c/peak/packages")
        text = logs.getvalue()
        assert "request" in text
        for secret in (EMAIL, "Riley", "Quinn", "client@private.test", "10000", "100.00", "pi_", "cs_"):
            assert secret not in text, secret


class TestPublicPage:
    async def test_guests_are_sent_to_sign_in_to_buy(self, web: Quart, core: CoachOS, world: World, offer: Any) -> None:
        """The public page lists packages on sale and asks a guest to sign in first (a typed email proves nothing)."""
        connect(core, world)
        _, shown = await page(web.test_client(), "/book/peak")
        assert "Five pack" in shown
        assert "Sign in to buy a package" in shown
        assert "Buy by card" not in shown


class TestCoachSide:
    async def test_sell_for_card_then_record_a_cash_payment(self, client: Client, core: CoachOS) -> None:
        """Selling for "client pays by card" leaves it pending; Record payment pays it once; again is refused."""
        biz = await open_business(client, core)
        who = core.execute(CreateClient(org_id=biz.org.id, name="Jo Bloggs", actor=biz.me))
        token = await csrf(client, f"/clients/{who.id}")
        form = {"csrf_token": token, "name": "Ten", "sessions": "10", "price": "450", "paid_by": "card"}
        assert (await client.post(f"/clients/{who.id}/packages", form=form)).status_code == 303
        (sold,) = core.read(lambda uow: list(uow.packages.for_client(biz.org.id, who.id)))
        assert sold.payment_state is PaymentState.PENDING
        _, panel = await page(client, f"/clients/{who.id}/panels/payments")
        assert "Awaiting payment" in panel
        assert "Record payment" in panel
        assert "/c/peak/sign-in" in panel

        path = f"/clients/{who.id}/packages/{sold.id}/payment"
        assert (await client.post(path, form={"csrf_token": token, "method": "cash"})).status_code == 303
        paid = core.read(lambda uow: uow.packages.get(biz.org.id, sold.id))
        assert (paid.payment_state, paid.payment_method) == (PaymentState.PAID, PaymentMethod.CASH)
        again = await client.post(path, form={"csrf_token": token, "method": "bank"})
        assert again.status_code == 400
        assert "not waiting for payment" in await again.get_data(as_text=True)
        with core.unit_of_work() as uow:
            assert uow.ledger.balances(biz.org.id, "USD")[Account.CASH] == 45000
        _, panel = await page(client, f"/clients/{who.id}/panels/payments")
        assert "Paid" in panel
        assert "in cash" in panel

    @pytest.mark.parametrize("paid_by", ["gold", "CARD "])
    async def test_an_unknown_payment_method_is_refused(self, client: Client, core: CoachOS, paid_by: str) -> None:
        """A sale whose payment method is not one of ours is a 400 and sells nothing."""
        biz = await open_business(client, core)
        who = core.execute(CreateClient(org_id=biz.org.id, name="Jo Bloggs", actor=biz.me))
        token = await csrf(client, f"/clients/{who.id}")
        form = {"csrf_token": token, "name": "Ten", "sessions": "10", "price": "450", "paid_by": paid_by}
        assert (await client.post(f"/clients/{who.id}/packages", form=form)).status_code == 400
        assert core.read(lambda uow: list(uow.packages.for_client(biz.org.id, who.id))) == []

    async def test_record_payment_for_another_clients_package_is_404(self, client: Client, core: CoachOS) -> None:
        """A package id under another client's address is not found and nothing changes."""
        biz = await open_business(client, core)
        one = core.execute(CreateClient(org_id=biz.org.id, name="One", actor=biz.me))
        two = core.execute(CreateClient(org_id=biz.org.id, name="Two", actor=biz.me))
        sold = core.execute(
            SellPackage(
                org_id=biz.org.id,
                client_id=one.id,
                name="Ten",
                sessions=10,
                price=Money(100, "USD"),
                actor=biz.me,
                paid_by="card",
            )
        )
        token = await csrf(client, f"/clients/{two.id}")
        response = await client.post(
            f"/clients/{two.id}/packages/{sold.id}/payment", form={"csrf_token": token, "method": "cash"}
        )
        assert response.status_code == 404
        assert core.read(lambda uow: uow.packages.get(biz.org.id, sold.id)).payment_state is PaymentState.PENDING

    async def test_setup_offers_add_refuse_and_withdraw(self, client: Client, core: CoachOS) -> None:
        """An offer is added from Setup → Packages, bad input is a 400 that writes nothing, and it can be withdrawn."""
        biz = await open_business(client, core)
        token = await csrf(client, "/setup/packages")
        bad = {"csrf_token": token, "name": "Five", "sessions": "0", "price": "100", "validity_days": ""}
        assert (await client.post("/setup/packages/offers", form=bad)).status_code == 400
        assert list(core.read(lambda uow: uow.packages.offers(biz.org.id))) == []
        good = bad | {"sessions": "5", "validity_days": "90"}
        assert (await client.post("/setup/packages/offers", form=good)).status_code == 303
        (made,) = core.read(lambda uow: list(uow.packages.offers(biz.org.id)))
        assert (made.sessions, made.validity_days, made.price) == (5, 90, Money(10000, "USD"))
        path = f"/setup/packages/offers/{made.id}"
        assert (await client.post(path, form={"csrf_token": token, "active": "off"})).status_code == 303
        assert not core.read(lambda uow: uow.packages.offer(biz.org.id, made.id)).active
        _, shown = await page(client, "/setup/packages")
        assert "Put back on sale" in shown
