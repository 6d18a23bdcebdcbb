"""Memberships on the web: Setup → Memberships, the portal's join (to Checkout), the client page, signed webhooks."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS, CreateClient, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.payments import MemoryPayments
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.domain.clients import Client as Person
from coachos.domain.errors import CoachOSError, PaymentRefused, PaymentUnavailable
from coachos.domain.memberships import MembershipStatus
from coachos.domain.usecases import PauseLapsedMemberships, ReceiveStripeEvent
from tests.helpers import World, make_world
from tests.unit.test_memberships import can_charge, event, join, make_plan, membership, period_packages
from tests.web.support import csrf, serving
from tests.web.test_client_routes import open_business
from tests.web.test_log_privacy import logs  # noqa: F401  # the JSON-lines log buffer
from tests.web.test_portal_routes import EMAIL, signed_in_browser
from tests.web.test_stripe_webhook import SECRET, post, sign


@pytest.fixture
def payments() -> MemoryPayments:
    """The recording payments fake (its Checkout page is the success address)."""
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
    """The web app with the Stripe webhook secret."""
    async with serving(core, stripe_webhook_secret=SECRET) as app:
        yield app


@pytest.fixture
def world(core: CoachOS) -> World:
    return make_world(core, slug="peak")


@pytest.fixture
def person(core: CoachOS, world: World) -> Person:
    """A client of Peak with an email on file (how they sign in to the portal)."""
    return core.execute(CreateClient(org_id=world.org.id, name="Riley Quinn", email=EMAIL, actor=world.me))


class TestPortal:
    async def test_joining_redirects_to_checkout(
        self,
        web: Quart,
        core: CoachOS,
        world: World,
        person: Person,
        clock: FixedClock,
        payments: MemoryPayments,
    ) -> None:
        """A signed-in client sees the plan, presses Join and is sent (303) to Stripe Checkout's page."""
        can_charge(core, world, clock)
        plan = make_plan(core, world)
        browser = await signed_in_browser(web, core, world, person, clock)
        page = await (await browser.get("/c/peak/memberships")).get_data(as_text=True)
        assert "Monthly 8" in page
        token = await csrf(browser, "/c/peak/memberships")
        response = await browser.post(f"/c/peak/memberships/{plan.id}/join", form={"csrf_token": token})
        assert response.status_code == 303
        assert response.headers["Location"].endswith("/c/peak/memberships?joined=1")
        [call] = [c for c in payments.calls if c.method == "subscription_checkout"]
        assert call.params["metadata"]["client_id"] == str(person.id)

    async def test_a_business_without_charges_answers_409_with_the_reason(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock, payments: MemoryPayments
    ) -> None:
        """Joining where the business's Stripe account cannot take charges is a 409 saying so; Stripe is not called."""
        plan = make_plan(core, world)
        browser = await signed_in_browser(web, core, world, person, clock)
        token = await csrf(browser, "/c/peak/memberships")
        response = await browser.post(f"/c/peak/memberships/{plan.id}/join", form={"csrf_token": token})
        assert response.status_code == 409
        assert "cannot take card payments" in await response.get_data(as_text=True)
        assert payments.calls == []

    async def test_the_clients_membership_shows_its_renewal_in_the_business_zone(
        self, web: Quart, core: CoachOS, world: World, person: Person, clock: FixedClock
    ) -> None:
        """After a paid invoice the portal shows the membership active with its renewal time and zone label."""
        member = join(core, world, clock, client_id=person.id)
        body = event("invoice.paid", member.invoice("in_p"))
        response = await post(web, body, sign(body))
        assert response.status_code == 200
        browser = await signed_in_browser(web, core, world, person, clock)
        page = await (await browser.get("/c/peak/memberships")).get_data(as_text=True)
        assert "active" in page
        assert "renews Wed 1 Apr 2026, 08:00 EDT" in page
        assert "Times are in America/New_York" in page


class TestWebhook:
    async def test_a_signed_invoice_paid_grants_once(
        self, web: Quart, core: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """A signed invoice.paid is 200 and grants a package; its redelivery is 200, a duplicate, and grants nothing."""
        member = join(core, world, clock)
        body = event("invoice.paid", member.invoice("in_w"))
        first = await post(web, body, sign(body))
        again = await post(web, body, sign(body))
        assert first.status_code == again.status_code == 200
        assert (await again.get_json())["duplicate"] is True
        assert len(period_packages(core, member)) == 1

    async def test_a_changed_byte_is_refused_and_grants_nothing(
        self, web: Quart, core: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """A body changed after signing is 400 and no credits are granted."""
        member = join(core, world, clock)
        body = event("invoice.paid", member.invoice("in_x"))
        tampered = body.replace('"amount_paid": 12000', '"amount_paid": 12001')
        response = await post(web, tampered, sign(body))
        assert response.status_code == 400
        assert period_packages(core, member) == []


class TestCoachPages:
    async def test_a_plan_is_added_in_setup(self, client: Client, core: CoachOS) -> None:
        """Setup → Memberships adds a plan from the form and lists it."""
        biz = await open_business(client, core)
        token = await csrf(client, "/setup/memberships")
        form = {
            "csrf_token": token,
            "action": "create",
            "name": "Unlimited",
            "price": "199.00",
            "interval": "month",
            "sessions": "20",
            "unlimited": "on",
        }
        response = await client.post("/setup/memberships", form=form)
        assert response.status_code == 303
        page = await (await client.get("/setup/memberships")).get_data(as_text=True)
        assert "Unlimited sessions (up to 20) a month" in page
        assert core.read(lambda uow: [p.name for p in uow.memberships.plans(biz.org.id)]) == ["Unlimited"]

    async def test_a_bad_price_is_a_400_and_stores_nothing(self, client: Client, core: CoachOS) -> None:
        """A price that is not an amount is refused with a message; no plan is stored."""
        biz = await open_business(client, core)
        token = await csrf(client, "/setup/memberships")
        form = {"csrf_token": token, "action": "create", "name": "X", "price": "lots", "sessions": "4"}
        response = await client.post("/setup/memberships", form=form)
        assert response.status_code == 400
        assert core.read(lambda uow: list(uow.memberships.plans(biz.org.id))) == []

    async def test_the_client_page_shows_and_cancels_a_membership(
        self, client: Client, core: CoachOS, clock: FixedClock, payments: MemoryPayments
    ) -> None:
        """The client page's panel shows the membership's status; Cancel cancels it at Stripe and here."""
        biz = await open_business(client, core)
        who = core.execute(CreateClient(org_id=biz.org.id, name="Sam Patel", actor=biz.me))
        world = World(org=biz.org, coach=biz.coach, pt=biz.service, group=biz.service, client=who, package=None)  # type: ignore[arg-type]
        member = join(core, world, clock)
        body = event("invoice.paid", member.invoice("in_c"))
        core.execute(ReceiveStripeEvent(body=body))
        panel = await (await client.get(f"/clients/{who.id}/panels/memberships")).get_data(as_text=True)
        assert "Monthly 8" in panel
        assert "Paid up" in panel
        token = await csrf(client, f"/clients/{who.id}")
        response = await client.post(
            f"/clients/{who.id}/memberships/{member.membership_id}/cancel", form={"csrf_token": token}
        )
        assert response.status_code == 303
        assert membership(core, member).status is MembershipStatus.CANCELLED
        assert [c.method for c in payments.calls if c.method == "cancel_subscription"] == ["cancel_subscription"]
        assert payments.calls[-1].params["subscription"] == member.subscription
        assert payments.calls[-1].params["account_id"].startswith("acct_")  # on the business's connected account

    @pytest.mark.parametrize(
        ("failure", "status"),
        [
            (PaymentUnavailable("Stripe could not be reached; try again in a minute."), 503),
            (PaymentRefused("No."), 422),
        ],
    )
    async def test_a_cancel_stripe_cannot_do_says_so_with_the_right_status(
        self,
        client: Client,
        core: CoachOS,
        clock: FixedClock,
        payments: MemoryPayments,
        failure: CoachOSError,
        status: int,
    ) -> None:
        """Stripe unreachable is a 503 with Retry-After (not a 4xx blaming the coach); refused a 422; both keep it."""
        biz = await open_business(client, core)
        who = core.execute(CreateClient(org_id=biz.org.id, name="Sam Patel", actor=biz.me))
        world = World(org=biz.org, coach=biz.coach, pt=biz.service, group=biz.service, client=who, package=None)  # type: ignore[arg-type]
        member = join(core, world, clock)
        core.execute(ReceiveStripeEvent(body=event("invoice.paid", member.invoice("in_u"))))
        payments.fail_next(failure)
        token = await csrf(client, f"/clients/{who.id}")
        response = await client.post(
            f"/clients/{who.id}/memberships/{member.membership_id}/cancel", form={"csrf_token": token}
        )
        assert response.status_code == status
        assert failure.message in await response.get_data(as_text=True)
        assert ("Retry-After" in response.headers) == (status == 503)
        assert membership(core, member).status is MembershipStatus.ACTIVE


class TestLogs:
    async def test_the_membership_flow_logs_no_personal_data(
        self,
        web: Quart,
        core: CoachOS,
        world: World,
        person: Person,
        clock: FixedClock,
        logs: io.StringIO,  # noqa: F811  # the fixture imported above
    ) -> None:
        """Joining, a paid and a failed invoice, pausing and cancelling log ids, never names, emails or amounts."""
        can_charge(core, world, clock)
        plan = make_plan(core, world)
        browser = await signed_in_browser(web, core, world, person, clock)
        token = await csrf(browser, "/c/peak/memberships")
        await browser.post(f"/c/peak/memberships/{plan.id}/join", form={"csrf_token": token})
        member = join(core, world, clock, client_id=person.id)
        for kind, invoice in (
            ("invoice.paid", member.invoice("in_l", amount=12345)),
            ("invoice.payment_failed", member.invoice("in_m", amount=12345)),
        ):
            body = event(kind, invoice)
            assert (await post(web, body, sign(body))).status_code == 200
        clock.advance(timedelta(days=4))
        core.execute(PauseLapsedMemberships())
        written = logs.getvalue()
        assert "membership" in written  # the flow did log
        for secret in ("Riley", "Quinn", EMAIL, "jordan@private.test", "=12345", ": 12345", "123.45"):
            assert secret not in written, f"personal data in logs: {secret!r}"


class TestWithoutCards:
    async def test_without_card_payments_there_is_no_join_button(self, clock: FixedClock, mail: MemoryEmail) -> None:
        """With no payment provider configured, the portal lists the plans without a Join button and says why."""
        with bootstrap(
            Settings(database_url="memory://"),
            uow=MemoryStore().unit_of_work,
            clock=clock,
            ids=RandomIds(),
            hasher=fast_test_hasher(),
            email=mail,
        ) as plain:
            world = make_world(plain, slug="peak")
            person = plain.execute(CreateClient(org_id=world.org.id, name="Riley Quinn", email=EMAIL, actor=world.me))
            plan = make_plan(plain, world)
            async with serving(plain) as app:
                browser = await signed_in_browser(app, plain, world, person, clock)
                page = await (await browser.get("/c/peak/memberships")).get_data(as_text=True)
        assert plan.name in page
        assert "does not take card payments online yet; ask them how to join" in page
        assert f"/memberships/{plan.id}/join" not in page
