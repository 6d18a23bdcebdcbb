"""Money through a real browser: a client buys a package from the portal, a visitor pays for a booking when booking.

The live server talks to Stripe through the real stripe SDK pointed at the loopback stub
(tests/integration/fake_stripe.py), whose Checkout and onboarding "pages" are plain pages with a Pay (or
Continue) link back to the success URL. Stripe's side of the story arrives as webhooks signed exactly as
Stripe signs them (HMAC-SHA256 over "<t>.<body>" with the endpoint's secret), posted by the test with the
metadata the stub recorded when Checkout was created. The server does not run the worker: the test runs
the worker's jobs itself against the same database (the Stripe-fee consumer, and the hold release with
the clock moved past the hold's end), exactly as `coachos worker` would.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from coachos import CoachOS, CreateClient, CreateService, Money, Settings, bootstrap
from coachos.adapters.clock import FixedClock, SystemClock
from coachos.domain.ids import Actor
from coachos.domain.usecases import CreateMembershipPlan
from coachos.entrypoints.worker import relay_outbox, release_expired_holds
from tests.integration.browser.conftest import (
    PASSWORD,
    PHONE,
    Browse,
    LiveServer,
    require_chromium,
    run_live_server,
    sign_up,
)
from tests.integration.fake_stripe import FakeStripe, fake_stripe

pytestmark = pytest.mark.browser

SLUG = "harbour-pay"
BUSINESS = "Harbour Pay Studio"
CLIENT_NAME = "Morgan Buyer"
CLIENT_EMAIL = "morgan.buyer@example.test"
OWNER_EMAIL = "owner@harbourpay.test"
WEBHOOK_SECRET = "whsec_browser_platform"
CONNECT_SECRET = "whsec_browser_connect"
NEW_YORK = ZoneInfo("America/New_York")
WALK = Path(__file__).resolve().parents[3] / "test-artifacts" / "billing-phone-walk"
SCREENS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def stripe_stub() -> Iterator[FakeStripe]:
    """The loopback Stripe, serving its own Checkout and onboarding pages."""
    with fake_stripe(serve_pages=True) as stub:
        yield stub


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, stripe_stub: FakeStripe) -> Iterator[LiveServer]:
    """`coachos serve` with Stripe configured against the stub and both webhook secrets set."""
    require_chromium()
    env = {
        "COACHOS_STRIPE_SECRET_KEY": "sk_test_stub",
        "COACHOS_STRIPE_API_URL": stripe_stub.url,
        "COACHOS_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "COACHOS_STRIPE_CONNECT_WEBHOOK_SECRET": CONNECT_SECRET,
    }
    with run_live_server(tmp_path_factory.mktemp("billing-server"), env) as server:
        yield server


def settings_for(live_server: LiveServer, stripe_stub: FakeStripe) -> Settings:
    """Settings for Coach OS on the live server's database, with the same Stripe (the worker's view)."""
    return Settings(
        database_url=f"sqlite:///{live_server.mail.parent / 'coachos.db'}",
        public_url=live_server.url,
        stripe_secret_key="sk_test_stub",
        stripe_api_url=stripe_stub.url,
    )


@pytest.fixture
def core(live_server: LiveServer, stripe_stub: FakeStripe) -> Iterator[CoachOS]:
    """Coach OS on the live server's database (setting up records, running the worker's jobs)."""
    with bootstrap(settings_for(live_server, stripe_stub)) as built:
        yield built


def deliver(live_server: LiveServer, event: dict[str, Any], secret: str = WEBHOOK_SECRET) -> None:
    """POST the event to /webhooks/stripe signed as Stripe signs it; it must be answered 200."""
    body = json.dumps(event).encode()
    t = int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(  # noqa: S310  # our own loopback server
        f"{live_server.url}/webhooks/stripe",
        data=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": f"t={t},v1={mac}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310  # our own loopback server
            assert answer.status == 200
    except urllib.error.HTTPError as refused:
        text = re.sub(r"<[^>]+>", " ", refused.read().decode(errors="replace"))
        pytest.fail(f"{event['type']} answered {refused.code}: {' '.join(text.split())[-400:]}")


def event(kind: str, obj: dict[str, Any], account: str | None = None) -> dict[str, Any]:
    """A Stripe event envelope around `obj`."""
    return {
        "id": "evt_" + uuid.uuid4().hex,
        "object": "event",
        "type": kind,
        "account": account,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }


def coach_account(stub: FakeStripe) -> str:
    """The coach's connected account: clients pay by direct charges there, so their events name it."""
    return str([o for o in stub.objects if o["object"] == "account"][-1]["id"])


def metadata(form: dict[str, str]) -> dict[str, str]:
    """The `metadata[...]` fields of a create call, as the object's metadata."""
    return {k[len("metadata[") : -1]: v for k, v in form.items() if k.startswith("metadata[")}


def paid_session(stub: FakeStripe, session_id: str, amount: int, intent: str) -> dict[str, Any]:
    """The Checkout Session as Stripe reports it once paid, with the metadata our create call gave it."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "status": "complete",
        "payment_intent": intent,
        "amount_total": amount,
        "currency": "usd",
        "metadata": metadata(stub.checkout_forms[session_id]),
    }


def newest_session(stub: FakeStripe) -> str:
    """The id of the Checkout Session created last."""
    return [o for o in stub.objects if o["object"] == "checkout.session"][-1]["id"]


def sign_in_link(live_server: LiveServer) -> str:
    """The link in the newest portal sign-in message queued for the client."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{live_server.mail.parent / 'coachos.db'}")
    try:
        with engine.connect() as conn:
            body = conn.execute(
                sa.text(
                    "SELECT body FROM messages WHERE template = 'portal_sign_in' AND to_address = :to "
                    "ORDER BY created_at DESC LIMIT 1"
                ),
                {"to": CLIENT_EMAIL},
            ).scalar_one()
    finally:
        engine.dispose()
    found = re.search(r"(https?://\S+/c/" + SLUG + r"/sign-in/\S+)", body)
    assert found, "no sign-in link in the queued message"
    return found.group(1)


def coach_signs_in(page: Page) -> None:
    """Sign in as the business's owner (signed up by the first journey); ends on Today."""
    page.goto("/login")
    page.get_by_label("Email").fill(OWNER_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Sign in|Log in")).click()
    page.wait_for_url(re.compile(r"/today"))


def client_signs_in(phone: Page, live_server: LiveServer) -> None:
    """The client asks for a sign-in link, opens it and signs in; ends on the portal's home."""
    phone.goto(f"/c/{SLUG}/sign-in")
    phone.get_by_label("Email or phone number").fill(CLIENT_EMAIL)
    phone.get_by_role("button", name="Send me a sign-in link").click()
    expect(phone.get_by_role("heading", name="Check your messages")).to_be_visible()
    phone.goto(sign_in_link(live_server))
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", name=f"Hello, {CLIENT_NAME}")).to_be_visible()


def overflow(page: Page) -> str | None:
    """None if the page fits the phone's width, else its width and the widest elements that stick out."""
    width = page.evaluate("document.documentElement.scrollWidth")
    if width <= PHONE["width"]:
        return None
    culprits = page.evaluate(
        """(limit) => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > limit + 1)
            .slice(-4)
            .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + ' '
                 + Math.round(e.getBoundingClientRect().right) + 'px')""",
        PHONE["width"],
    )
    return f"{page.url}: {width}px wide ({', '.join(culprits)})"


def no_sideways_scroll(page: Page, what: str) -> None:
    """The page is no wider than the phone's screen."""
    page.wait_for_load_state()  # a click may still be navigating
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{what} scrolls sideways on a phone ({width}px)"


def shoot(page: Page, name: str) -> None:
    """Save the README's picture of this page."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def connect_stripe(coach: Page, live_server: LiveServer, stub: FakeStripe) -> str:
    """The coach connects Stripe (stub onboarding), and a signed account.updated says it can take charges."""
    coach.goto("/setup")
    coach.get_by_role("link", name="Stripe & plan").first.click()  # not "Payments": that is money received
    expect(coach.get_by_role("heading", name=re.compile("^Stripe & plan"))).to_be_visible()
    coach.get_by_role("button", name="Connect Stripe").click()
    coach.locator("#stub-go").click()
    coach.wait_for_url(re.compile(r"/setup/payments\?saved=connected"))
    account = [o for o in stub.objects if o["object"] == "account"][-1]["id"]
    obj = {"id": account, "object": "account", "charges_enabled": True, "details_submitted": True}
    deliver(live_server, event("account.updated", obj, account=account), CONNECT_SECRET)
    coach.reload()
    expect(coach.locator("main")).to_contain_text("can take card payments")
    return str(account)


class TestBillingJourneys:
    def test_a_client_buys_a_package_from_the_portal_and_the_coach_sees_it_paid_and_split(
        self, browse: Browse, live_server: LiveServer, stripe_stub: FakeStripe, core: CoachOS
    ) -> None:
        """Portal Buy → stub Checkout → waiting → signed webhook → paid; client page and accounting show the sale."""
        coach = browse.page()
        sign_up(coach, slug=SLUG, email=OWNER_EMAIL, business=BUSINESS)
        connect_stripe(coach, live_server, stripe_stub)

        coach.goto("/setup/packages")
        coach.get_by_text("Add a package clients can buy").click()
        offer_form = coach.locator("form", has=coach.get_by_role("button", name="Add offer"))
        offer_form.get_by_label("Package name").fill("Ten sessions")
        offer_form.get_by_label("Sessions").fill("10")
        offer_form.get_by_label("Price (USD)").fill("120.00")
        offer_form.get_by_role("button", name="Add offer").click()
        expect(coach.locator("main")).to_contain_text("Ten sessions")

        org = core.read(lambda uow: uow.orgs.by_slug(SLUG))
        (owner,) = core.read(lambda uow: uow.coaches.list(org.id))
        person = core.execute(
            CreateClient(org_id=org.id, name=CLIENT_NAME, email=CLIENT_EMAIL, actor=Actor("coach", owner.id))
        )

        phone = browse.page(viewport=PHONE, is_mobile=True, has_touch=True)
        client_signs_in(phone, live_server)

        phone.goto(f"/c/{SLUG}/packages")
        expect(phone.locator("ul.offers")).to_contain_text("Ten sessions: 10 sessions for 120.00 USD")
        no_sideways_scroll(phone, "portal Packages")
        shoot(phone, "billing-portal-packages-phone")
        phone.get_by_role("button", name="Buy by card").click()
        expect(phone.locator("#stub-go")).to_have_text("Pay")
        session_id = newest_session(stripe_stub)
        phone.locator("#stub-go").click()
        phone.wait_for_url(re.compile(rf"/c/{SLUG}/packages/[0-9a-f-]{{36}}/paid"))
        expect(phone.get_by_role("status")).to_contain_text("Waiting for your payment to be confirmed")
        no_sideways_scroll(phone, "portal payment waiting page")

        intent = "pi_browser_package_1"
        deliver(
            live_server,
            event(
                "checkout.session.completed",
                paid_session(stripe_stub, session_id, 12000, intent),
                account=coach_account(stripe_stub),
            ),
            CONNECT_SECRET,
        )
        expect(phone.get_by_role("status")).to_contain_text("Payment received", timeout=10_000)
        expect(phone.get_by_role("status")).to_contain_text("10 sessions are ready to book")
        shoot(phone, "billing-portal-paid-phone")

        coach.goto(f"/clients/{person.id}")
        payments = coach.locator("#panel-payments")
        expect(payments.locator("tbody tr")).to_contain_text("Ten sessions")
        expect(payments.locator("tbody tr")).to_contain_text("120.00 USD")
        expect(payments.locator("tbody tr .badge")).to_have_text(re.compile("Paid", re.IGNORECASE))
        expect(coach.locator("#panel-packages")).to_contain_text("10 of 10")

        # Before the worker reads Stripe's fee: gross 120.00, platform fee 5 % (Starter) = 6.00, Stripe fee 0.
        coach.goto("/accounting")
        totals = coach.locator("dl.totals")
        expect(totals.locator("div", has_text="Sales (gross)").locator("dd")).to_have_text("120.00 USD")
        expect(totals.locator("div", has_text="Platform fees").locator("dd")).to_have_text("6.00 USD")
        expect(totals.locator("div", has_text="Stripe fees").locator("dd")).to_have_text("0.00 USD")
        expect(totals.locator("div", has_text="Net to you").locator("dd")).to_have_text("114.00 USD")

        # The worker's stripe_fees consumer reads the PaymentIntent's balance transaction: Stripe kept 3.78.
        stripe_stub.fees[intent] = (378, "usd")
        relay_outbox(core)
        coach.reload()
        expect(totals.locator("div", has_text="Stripe fees").locator("dd")).to_have_text("3.78 USD")
        expect(totals.locator("div", has_text="Platform fees").locator("dd")).to_have_text("6.00 USD")
        expect(totals.locator("div", has_text="Net to you").locator("dd")).to_have_text("110.22 USD")
        shoot(coach, "billing-accounting")
        assert not browse.problems, browse.problems

    def test_a_pay_at_booking_session_is_held_until_paid_and_released_when_the_hold_ends(
        self, browse: Browse, live_server: LiveServer, stripe_stub: FakeStripe, core: CoachOS
    ) -> None:
        """Held, not confirmed, until the signed webhook confirms it; an unpaid hold ends and frees the slot."""
        org = core.read(lambda uow: uow.orgs.by_slug(SLUG))
        (owner,) = core.read(lambda uow: uow.coaches.list(org.id))
        core.execute(
            CreateService(
                org_id=org.id,
                name="Paid drop-in",
                duration=timedelta(minutes=60),
                price=Money(4500, "USD"),
                uses_credit=False,
                pay_at_booking=True,
                actor=Actor("coach", owner.id),
            )
        )
        coach = browse.page()
        coach_signs_in(coach)

        visitor = browse.page(viewport=PHONE, is_mobile=True, has_touch=True, timezone_id="Europe/London")
        slot_at = open_paid_week(visitor)
        visitor.locator("ul.slots a").first.click()
        expect(visitor.locator("main")).to_contain_text("You pay 45.00 USD by card on the next page")
        no_sideways_scroll(visitor, "public booking form (pay at booking)")
        visitor.get_by_label("Your name").fill("Riley Visitor")
        visitor.get_by_label("Email", exact=True).fill("riley@visitor.test")
        visitor.get_by_role("button", name="Book and pay").click()
        expect(visitor.locator("#stub-go")).to_have_text("Pay")
        session_id = newest_session(stripe_stub)

        # Back without paying: the page says held, until when, in the business's zone with its label.
        visitor.locator("#stub-back").click()
        status = visitor.locator("#booking-status")
        expect(status).to_have_attribute("data-status", "held")
        expect(status).to_contain_text(re.compile(r"Held for you until \w{3} \d+ \w{3} \d{4}, \d\d:\d\d E[SD]T"))
        no_sideways_scroll(visitor, "held booking page")
        shoot(visitor, "billing-booking-held-phone")

        day = datetime.fromisoformat(slot_at.replace("Z", "+00:00")).astimezone(NEW_YORK).date()
        coach.goto(f"/calendar?view=week&date={day.isoformat()}")
        on_calendar = coach.locator(".cal-event", has_text="Riley Visitor")
        expect(on_calendar.locator("[data-field=status_label]")).to_have_text(re.compile("held", re.IGNORECASE))
        expect(on_calendar).not_to_have_class(re.compile("status-confirmed"))

        visitor.locator("#pay-now").click()
        visitor.locator("#stub-go").click()
        expect(status).to_have_attribute("data-status", "held-confirming")
        deliver(
            live_server,
            event(
                "checkout.session.completed",
                paid_session(stripe_stub, session_id, 4500, "pi_b1"),
                account=coach_account(stripe_stub),
            ),
            CONNECT_SECRET,
        )
        expect(status).to_have_attribute("data-status", "confirmed", timeout=10_000)
        expect(status).to_contain_text("Confirmed")
        shoot(visitor, "billing-booking-confirmed-phone")

        # A second visitor holds the next free time and never pays.
        second = browse.page(viewport=PHONE, is_mobile=True, has_touch=True, timezone_id="Europe/London")
        open_paid_week(second)
        slot = second.locator("ul.slots a").first
        held_at = slot.locator("time").get_attribute("datetime")
        slot.click()
        second.get_by_label("Your name").fill("Sam Nopay")
        second.get_by_label("Email", exact=True).fill("sam@visitor.test")
        second.get_by_role("button", name="Book and pay").click()
        second.locator("#stub-back").click()
        status2 = second.locator("#booking-status")
        expect(status2).to_have_attribute("data-status", "held")
        booking_page = second.url

        open_paid_week(second)
        assert second.locator(f'ul.slots time[datetime="{held_at}"]').count() == 0, "a held time is offered"

        # The worker's release job, run with the clock 36 minutes on (the hold lasts 35).
        later = FixedClock(SystemClock().now() + timedelta(minutes=36))
        with bootstrap(settings_for(live_server, stripe_stub), clock=later) as worker:
            assert release_expired_holds(worker)
        second.goto(booking_page)
        expect(status2).to_have_attribute("data-status", "released")
        open_paid_week(second)
        expect(second.locator(f'ul.slots time[datetime="{held_at}"]')).to_have_count(1)
        assert not browse.problems, browse.problems

    def test_a_membership_joined_on_a_phone_and_every_billing_page_fits_a_phone(
        self, browse: Browse, live_server: LiveServer, stripe_stub: FakeStripe, core: CoachOS
    ) -> None:
        """Join a plan (stub Checkout, signed events) and walk each billing page at 390 px: none scrolls sideways."""
        org = core.read(lambda uow: uow.orgs.by_slug(SLUG))
        (owner,) = core.read(lambda uow: uow.coaches.list(org.id))
        core.execute(
            CreateMembershipPlan(
                org_id=org.id, actor=Actor("coach", owner.id), name="Monthly four", price=Money(9900, "USD"), sessions=4
            )
        )
        phone = browse.page(viewport=PHONE, is_mobile=True, has_touch=True)
        client_signs_in(phone, live_server)
        phone.goto(f"/c/{SLUG}/memberships")
        phone.get_by_role("button", name=re.compile("Join")).click()
        session_id = newest_session(stripe_stub)
        phone.locator("#stub-go").click()
        phone.wait_for_url(re.compile(r"joined=1"))
        form = stripe_stub.checkout_forms[session_id]
        meta = metadata(form)
        sub = "sub_Browser1"
        session = {"id": session_id, "object": "checkout.session", "mode": "subscription", "subscription": sub}
        deliver(
            live_server,
            event("checkout.session.completed", session | {"metadata": meta}, account=coach_account(stripe_stub)),
            CONNECT_SECRET,
        )
        start = int(time.time())
        invoice = {
            "id": "in_Browser1",
            "object": "invoice",
            "amount_paid": 9900,
            "amount_due": 9900,
            "currency": "usd",
            "attempt_count": 1,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": sub, "metadata": meta},
            },
            "lines": {"data": [{"period": {"start": start, "end": start + 30 * 86400}}]},
            "status_transitions": {"paid_at": start},
        }
        deliver(live_server, event("invoice.paid", invoice, account=coach_account(stripe_stub)), CONNECT_SECRET)
        phone.goto(f"/c/{SLUG}/memberships")
        expect(phone.locator("main")).to_contain_text(re.compile(r"renews .*E[SD]T"))
        expect(phone.locator("main")).to_contain_text(f"You are a member of every plan {BUSINESS} offers.")
        shoot(phone, "billing-portal-memberships-phone")

        person = core.read(lambda uow: uow.clients.by_contact(org.id, email=CLIENT_EMAIL, phone=None))
        client_pages = [f"/c/{SLUG}/", f"/c/{SLUG}/packages", f"/c/{SLUG}/memberships", f"/book/{SLUG}"]
        problems = [found for path in client_pages if (found := visit(phone, path))]

        coach = browse.page(viewport=PHONE, is_mobile=True, has_touch=True)
        coach_signs_in(coach)
        coach_pages = [
            "/today",
            "/setup",
            "/setup/packages",
            "/setup/memberships",
            "/setup/payments",
            "/accounting",
            "/payments",
            f"/clients/{person.id}",
        ]
        problems += [found for path in coach_pages if (found := visit(coach, path))]
        expect(coach.locator("#panel-memberships")).to_contain_text("Monthly four")
        expect(coach.locator("#panel-payments")).to_contain_text("Ten sessions")
        assert not problems, "\n".join(problems)
        assert not browse.problems, browse.problems

    def test_the_servers_log_of_these_journeys_holds_no_personal_data(
        self, live_server: LiveServer, stripe_stub: FakeStripe
    ) -> None:
        """After the journeys (real stripe SDK and all), the server's log names no one and holds no amount or secret."""
        logged = live_server.log.read_text(errors="replace")
        assert "stripe_webhook" in logged, "the journeys did not run first (this test reads their log)"
        words = [CLIENT_NAME, CLIENT_EMAIL, OWNER_EMAIL, "Riley Visitor", "riley@visitor.test", "Sam Nopay"]
        words += ["sam@visitor.test", "sk_test_stub", "whsec_"]
        patterns = [re.escape(w) for w in words] + [
            r"/pages/(c/pay|setup)/",  # Checkout and onboarding URLs
            r"/sign-in/[^<\s]",  # a one-time sign-in link (the route's template, /sign-in/<token>, is fine)
            r"/manage/[^<\s]",  # a booking's manage link
            r"(?<!ms=)\b(120\.00|12000|45\.00|4500|99\.00|9900|6\.00|3\.78|378)\b",  # amounts these people paid
        ]
        forbidden = re.compile("|".join(patterns))
        found = [line[:300] for line in logged.splitlines() if forbidden.search(line)]
        assert not found, "the server's log holds personal data or secrets:\n" + "\n".join(found)


def visit(page: Page, path: str) -> str | None:
    """Open `path`, wait for its panels and sections to load, and say if it is wider than the phone."""
    page.goto(path)
    page.wait_for_load_state("networkidle")
    WALK.mkdir(parents=True, exist_ok=True)  # pictures for a reviewer; test-artifacts/ is not committed
    page.screenshot(path=str(WALK / (re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") + ".png")), full_page=True)
    return overflow(page)


def open_paid_week(page: Page) -> str:
    """Open the pay-at-booking service's first week with a free time; the first free time's instant."""
    page.goto(f"/book/{SLUG}")
    page.get_by_role("link", name="Paid drop-in").click()
    page.wait_for_url(re.compile(r"[?&]tz="))
    for _ in range(3):
        if page.locator("ul.slots a").count():
            return page.locator("ul.slots a time").first.get_attribute("datetime") or ""
        page.get_by_role("link", name="Next week →").click()
        page.wait_for_load_state()
    pytest.fail("no free time in the next 3 weeks")
