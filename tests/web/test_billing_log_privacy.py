"""The whole billing flow's logs hold no personal data: names, emails, phones, amounts, card data, links, secrets.

One test walks offer → portal purchase → signed webhook → a credit used → a membership's invoice paid,
then failed (the client is told) → a booking held for payment, paid, another released → a late-cancellation
fee charged to the kept card, with the worker's jobs run in between. Production logging (JSON lines,
redaction on, DEBUG) is captured, which carries the standard library's records too (the stripe SDK and other
libraries log there), and pytest's own capture of those records is checked as well.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from datetime import timedelta

import pytest
from quart import Quart

from coachos import CoachOS, CreateService, Money
from coachos.adapters.clock import FixedClock
from coachos.adapters.payments import MemoryPayments
from coachos.domain.catalog import PackageOffer, PaymentState
from coachos.domain.clients import Client as Person
from coachos.domain.ids import Actor
from coachos.domain.usecases import CancelBooking, ChargeDueFees, ReleaseExpiredHolds
from coachos.entrypoints.worker import relay_outbox, send_due_messages
from tests.helpers import World
from tests.unit.test_booking_fees import FEES, paid_with_card
from tests.unit.test_booking_holds import book as book_paid_session
from tests.unit.test_booking_holds import paying_on
from tests.unit.test_memberships import join
from tests.unit.test_package_sales import book, checkout_event, connect
from tests.web.support import csrf
from tests.web.test_booking_hold_routes import completed
from tests.web.test_log_privacy import logs  # noqa: F401  # the JSON-lines log buffer
from tests.web.test_package_sales_routes import core, offer, owned, payments, person, web, world  # noqa: F401
from tests.web.test_portal_routes import EMAIL, signed_in_browser
from tests.web.test_public_routes import open_form, submit
from tests.web.test_stripe_webhook import SECRET, post, sign

#: What must never be logged: the people's names, emails and phones, amounts paid, card and customer ids,
#: Checkout and portal addresses, secrets.
PRIVATE = (
    "Riley Quinn",
    EMAIL,
    "Casey Morgan",
    "casey@example.com",
    "casey",
    "646 555 0199",
    "6465550199",
    "100.00",
    "10000",
    "120.00",
    "12000",
    "50.00",
    "5000",
    "25.00",
    "2500",
    "cus_test_kept",
    "pm_test_kept",
    "checkout.test",
    "/c/peak/sign-in/",
    SECRET,
)


async def signed(app: Quart, event: str) -> None:
    """Deliver `event` signed with the platform's secret; it must be accepted."""
    response = await post(app, event, sign(event))
    assert response.status_code == 200


def invoice_event(kind: str, member: object, invoice_id: str, *, attempt: int = 1) -> str:
    """A membership invoice event as Stripe sends it, with the customer's email on it as Stripe includes."""
    invoice = member.invoice(invoice_id, attempt=attempt)  # type: ignore[attr-defined]
    return json.dumps(
        {
            "id": "evt_" + uuid.uuid4().hex,
            "object": "event",
            "type": kind,
            "account": None,
            "created": 1772460000 + attempt,
            "livemode": False,
            "data": {"object": invoice | {"customer_email": EMAIL, "customer_name": "Riley Quinn"}},
        }
    )


class TestBillingFlowLogs:
    async def test_the_whole_billing_flow_logs_no_personal_data(
        self,
        web: Quart,  # noqa: F811  # the imported fixture, requested by name
        core: CoachOS,  # noqa: F811  # the imported fixture, requested by name
        world: World,  # noqa: F811  # the imported fixture, requested by name
        person: Person,  # noqa: F811  # the imported fixture, requested by name
        offer: PackageOffer,  # noqa: F811  # the imported fixture, requested by name
        clock: FixedClock,
        payments: MemoryPayments,  # noqa: F811  # the imported fixture, requested by name
        logs: io.StringIO,  # noqa: F811  # the imported fixture, requested by name
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Buying, webhooks, credits, memberships, holds, fees and the worker's jobs log ids and counts only."""
        caplog.set_level(logging.DEBUG)

        # A package from the portal, paid by a signed webhook, then a credit used.
        connect(core, world)
        browser = await signed_in_browser(web, core, world, person, clock)
        token = await csrf(browser, "/c/peak/packages")
        answer = await browser.post("/c/peak/packages/buy", form={"csrf_token": token, "offer_id": str(offer.id)})
        assert answer.status_code == 303
        (bought,) = owned(core, world, person)
        await browser.get(f"/c/peak/packages/{bought.id}/paid")
        await signed(web, checkout_event("checkout.session.completed", bought.id, world))
        assert owned(core, world, person)[0].payment_state is PaymentState.PAID
        assert book(core, world, person.id, 4, 10, unpaid=True).package_id == bought.id
        relay_outbox(core)

        # A membership: an invoice paid, the next one failed (the client is told, by the worker).
        member = join(core, world, clock, client_id=person.id)
        await signed(web, invoice_event("invoice.paid", member, "in_ok"))
        await signed(web, invoice_event("invoice.payment_failed", member, "in_bad"))
        relay_outbox(core)
        send_due_messages(core)

        # A session paid when booked: held, paid by webhook; another held and released when its hold ends.
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
        answer = await submit(guest, world.org, service, await open_form(guest, world.org, service))
        assert answer.status_code == 303
        start = clock.now()
        (first,) = [
            b
            for b in core.read(lambda uow: uow.bookings.between(world.org.id, start, start + timedelta(days=31)))
            if b.service_id == service.id
        ]
        await signed(web, completed(world, first))
        other = web.test_client()
        later = "2026-03-03T15:00:00Z"
        answer = await submit(other, world.org, service, await open_form(other, world.org, service, later), later)
        assert answer.status_code == 303
        clock.advance(timedelta(minutes=36))
        assert core.execute(ReleaseExpiredHolds())

        # A late-cancellation fee the client agreed to, charged to the kept card by the worker.
        with paying_on(core, clock, FEES) as fees:
            booking = book_paid_session(fees, agree=True)
            paid_with_card(fees, booking)
            clock.set(booking.start - timedelta(hours=2))
            fees.app.execute(
                CancelBooking(org_id=fees.world.org.id, booking_id=booking.id, actor=Actor("client", booking.client_id))
            )
            fees.app.execute(ChargeDueFees())
            assert [c.method for c in fees.payments.calls] == ["charge_saved_card"]

        written = logs.getvalue() + "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
        assert "stripe_webhook" in written  # the flow was logged at all
        found = [private for private in PRIVATE if private in written]
        assert not found, f"the logs hold {found}"
