"""Public booking of a service paid when booked: 303 to Checkout, held, then confirmed or released by the webhook."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from quart import Quart

from coachos import BookingPolicy, BookingStatus, CoachOS, CreateService, Money, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.payments import MemoryPayments
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.domain.bookings import Booking
from coachos.domain.catalog import Service
from coachos.domain.stripe_events import StripeAccount
from coachos.domain.usecases import ReleaseExpiredHolds
from tests.helpers import World, make_world
from tests.web.support import serving
from tests.web.test_log_privacy import logs  # noqa: F401  # the JSON-lines log buffer
from tests.web.test_public_routes import open_form, submit, text
from tests.web.test_stripe_webhook import CONNECT_SECRET, SECRET, post, sign

#: The status line of the booking's page, which names the status for scripts and browser tests.
_STATUS = 'id="booking-status" data-status="'


@pytest.fixture
def payments() -> MemoryPayments:
    """The recording payments fake: its Checkout "page" is the success URL."""
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
    """The web app with the platform's webhook secret."""
    async with serving(core, stripe_webhook_secret=SECRET, stripe_connect_webhook_secret=CONNECT_SECRET) as app:
        yield app


@pytest.fixture
def setup(core: CoachOS, clock: FixedClock) -> tuple[World, Service]:
    """A business whose connected account can take charges, with a $50 drop-in paid when booked."""
    world = make_world(core, slug="peak")
    service = core.execute(
        CreateService(
            org_id=world.org.id,
            name="Drop-in session",
            duration=timedelta(minutes=60),
            price=Money(5000, "USD"),
            uses_credit=False,
            pay_at_booking=True,
            actor=world.me,
        )
    )
    with core.deps.uow() as uow:
        uow.stripe.link_account(world.org.id, "acct_web0000000001", clock.now())
        uow.stripe.update_account(
            StripeAccount(
                org_id=world.org.id,
                account_id="acct_web0000000001",
                charges_enabled=True,
                details_submitted=True,
                status_at=clock.now(),
                updated_at=clock.now(),
            )
        )
        uow.commit()
    return world, service


def only_booking(core: CoachOS, world: World) -> Booking:
    """The business's one booking in March."""
    (booking,) = _all(core, world)
    return booking


def _all(core: CoachOS, world: World) -> list[Booking]:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    return list(core.read(lambda uow: uow.bookings.between(world.org.id, start, start + timedelta(days=31))))


def completed(
    world: World, booking: Booking, kind: str = "checkout.session.completed", *, account: str = "acct_web0000000001"
) -> str:
    """A Checkout Session event about the booking's payment, as Stripe sends it: a direct charge, so a
    Connect event from the business's connected account (unless `account` says another)."""
    obj: dict[str, Any] = {
        "id": "cs_test_web",
        "object": "checkout.session",
        "payment_status": "paid" if kind.endswith("completed") else "unpaid",
        "payment_intent": "pi_test_web",
        "amount_total": 5000,
        "currency": "usd",
        "metadata": {"coachos_kind": "booking", "org_id": str(world.org.id), "booking_id": str(booking.id)},
    }
    return json.dumps(
        {
            "id": "evt_" + uuid.uuid4().hex,
            "object": "event",
            "type": kind,
            "account": account,
            "created": 1772442000,
            "livemode": False,
            "data": {"object": obj},
        }
    )


async def book_held(web: Quart, core: CoachOS, world: World, service: Service) -> tuple[Any, Any, Booking]:
    """A guest fills in and posts the form: their client, the answer, and the booking made."""
    guest = web.test_client()
    response = await submit(guest, world.org, service, await open_form(guest, world.org, service))
    return guest, response, only_booking(core, world)


class TestPayAtBookingRoutes:
    async def test_booking_sends_the_client_to_checkout_and_holds_the_seat(
        self, web: Quart, core: CoachOS, setup: tuple[World, Service], payments: MemoryPayments
    ) -> None:
        """Posting the form answers 303 to the Checkout page and leaves the booking HELD."""
        world, service = setup
        _, response, booking = await book_held(web, core, world, service)
        assert response.status_code == 303
        (created,) = payments.created.values()
        assert response.headers["Location"] == created.url
        assert booking.status is BookingStatus.HELD
        assert booking.payment_ref == created.session_id

    async def test_the_page_says_held_until_then_confirmed_after_the_signed_webhook(
        self, web: Quart, core: CoachOS, setup: tuple[World, Service]
    ) -> None:
        """The page shows the hold's end in the business's zone, and 'Confirmed' once the signed webhook arrives."""
        world, service = setup
        guest, response, booking = await book_held(web, core, world, service)
        page = await text(await guest.get(response.headers["Location"]))
        assert _STATUS + "held-confirming" in page
        assert "Held for you until Mon 2 Mar 2026, 07:35 EST (America/New_York time)" in page
        body = completed(world, booking)
        hook = await post(web, body, sign(body, CONNECT_SECRET))
        assert hook.status_code == 200
        page = await text(await guest.get(response.headers["Location"]))
        assert _STATUS + "confirmed" in page
        assert only_booking(core, world).status is BookingStatus.CONFIRMED

    async def test_an_expired_checkout_releases_the_booking(
        self, web: Quart, core: CoachOS, setup: tuple[World, Service]
    ) -> None:
        """checkout.session.expired, signed like Stripe, releases the held booking and the page says so."""
        world, service = setup
        guest, response, booking = await book_held(web, core, world, service)
        body = completed(world, booking, "checkout.session.expired")
        assert (await post(web, body, sign(body, CONNECT_SECRET))).status_code == 200
        assert only_booking(core, world).status is BookingStatus.CANCELLED
        page = await text(await guest.get(response.headers["Location"]))
        assert _STATUS + "released" in page

    async def test_a_payment_on_another_account_does_not_confirm_the_booking(
        self,
        web: Quart,
        core: CoachOS,
        setup: tuple[World, Service],
        logs: io.StringIO,  # noqa: F811  # the imported fixture, requested by name
    ) -> None:
        """A Connect event, validly signed, from an account that is not this business's (a coach making a
        Checkout on their own account naming someone else's booking) is acknowledged and changes nothing."""
        world, service = setup
        guest, response, booking = await book_held(web, core, world, service)
        body = completed(world, booking, account="acct_forger00000001")
        assert (await post(web, body, sign(body, CONNECT_SECRET))).status_code == 200
        assert only_booking(core, world).status is BookingStatus.HELD
        with core.deps.uow() as uow:
            assert uow.ledger.by_key(world.org.id, f"sale:booking:{booking.id}") is None
        assert "acct_forger00000001" in logs.getvalue()  # logged with ids only
        page = await text(await guest.get(response.headers["Location"]))
        assert _STATUS + "confirmed" not in page

    async def test_a_business_without_charges_refuses_with_a_clear_message(
        self, web: Quart, core: CoachOS, clock: FixedClock
    ) -> None:
        """Without a connected account that takes charges the form answers 4xx with the reason, and holds nothing."""
        world = make_world(core, slug="peak")
        service = core.execute(
            CreateService(
                org_id=world.org.id,
                name="Drop-in session",
                duration=timedelta(minutes=60),
                price=Money(5000, "USD"),
                uses_credit=False,
                pay_at_booking=True,
                actor=world.me,
            )
        )
        guest = web.test_client()
        response = await submit(guest, world.org, service, await open_form(guest, world.org, service))
        assert 400 <= response.status_code < 500
        assert "cannot take card payments" in await text(response)
        assert _all(core, world) == []


class TestFeePolicyOnTheForm:
    async def test_the_form_shows_the_fees_and_needs_i_agree(
        self, web: Quart, core: CoachOS, clock: FixedClock
    ) -> None:
        """With a fee policy the form shows its words and an "I agree" box; unticked is a 400 that holds nothing."""
        world = make_world(core, slug="peak", policy=FEE_POLICY)
        service = _chargeable_drop_in(core, world, clock)
        guest = web.test_client()
        page = await text(await guest.get(f"/book/peak/{service.id}/book?start=2026-03-03T14:00:00Z"))
        assert 'id="agree-to-fees"' in page
        assert "not showing up costs 40.00 USD" in page
        refused = await submit(guest, world.org, service, await open_form(guest, world.org, service))
        assert refused.status_code == 400
        assert "I agree" in await text(refused)
        assert _all(core, world) == []
        agreed = await submit(
            guest, world.org, service, await open_form(guest, world.org, service), agree_to_fees="yes"
        )
        assert agreed.status_code == 303
        agreement = only_booking(core, world).fee_agreement
        assert agreement is not None
        assert agreement.no_show == Money(4000, "USD")


FEE_POLICY = BookingPolicy(
    min_notice=timedelta(hours=1),
    horizon=timedelta(days=120),
    late_cancel_fee=Money(2500, "USD"),
    no_show_fee=Money(4000, "USD"),
)


def _chargeable_drop_in(core: CoachOS, world: World, clock: FixedClock) -> Service:
    """A $50 drop-in paid when booked, on an account that can take charges."""
    service = core.execute(
        CreateService(
            org_id=world.org.id,
            name="Drop-in session",
            duration=timedelta(minutes=60),
            price=Money(5000, "USD"),
            uses_credit=False,
            pay_at_booking=True,
            actor=world.me,
        )
    )
    with core.deps.uow() as uow:
        uow.stripe.link_account(world.org.id, "acct_web0000000002", clock.now())
        uow.stripe.update_account(
            StripeAccount(
                org_id=world.org.id,
                account_id="acct_web0000000002",
                charges_enabled=True,
                details_submitted=True,
                status_at=clock.now(),
                updated_at=clock.now(),
            )
        )
        uow.commit()
    return service


class TestLogsOfTheFlow:
    async def test_booking_paying_and_releasing_log_no_personal_data(
        self,
        web: Quart,
        core: CoachOS,
        setup: tuple[World, Service],
        logs: io.StringIO,  # noqa: F811  # the imported fixture, requested by name
    ) -> None:
        """Booking, Checkout, the payment webhook and the expiry job log ids and counts, never names or amounts."""
        world, service = setup
        guest, response, booking = await book_held(web, core, world, service)
        await guest.get(response.headers["Location"])
        body = completed(world, booking)
        await post(web, body, sign(body))
        core.execute(ReleaseExpiredHolds())
        written = logs.getvalue()
        assert written  # the flow was logged at all
        for private in ("Casey Morgan", "casey@example.com", "646 555 0199", "50.00", "5000", "cus_", "pm_"):
            assert private not in written
