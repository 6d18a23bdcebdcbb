"""Platform plans on SQLite and PostgreSQL: the unit tests again, the SDK against the stub, isolation, races."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos.adapters.sql.tables import ledger_entries, org_subscriptions, platform_invoices
from coachos.adapters.sql.tenancy import ACROSS_ORGS_FOR_OPERATOR, ORG_SETTING, read_for_operator_across_orgs
from coachos.adapters.stripe_payments import StripePayments
from coachos.domain import ledger
from coachos.domain.money import Money
from coachos.domain.usecases import GetPaymentsSetup, OperatorRevenue, ReceiveStripeEvent, StripeEventReceived
from coachos.ports.payments import platform_cancel_key, platform_subscription_key
from tests.integration.fake_stripe import SECRET_KEY, FakeStripe, fake_stripe
from tests.integration.test_concurrency import race
from tests.integration.test_stripe_events_on_databases import count
from tests.unit.test_platform import (  # noqa: F401  # collected again with this folder's `app`
    Platform,
    TestConnectStripe,
    TestEndPlatformPlan,
    TestOperatorRevenue,
    TestPlans,
    TestPlatformEvents,
    TestSubscribeToPlan,
    TestSubscriptionOrder,
    invoice_event,
    platform,
    sub_event,
)
from tests.unit.test_stripe_events import CREATED

ORG = uuid.UUID("00000000-0000-4000-8000-000000000001")


@pytest.fixture
def biz(request: pytest.FixtureRequest, engine: Engine) -> Platform:
    """The unit tests' `platform` fixture (payments fake, kept emails, a business) on this test's database."""
    del engine  # named so that every test using this fixture runs on SQLite and on PostgreSQL
    found: Platform = request.getfixturevalue("platform")
    return found


@pytest.fixture
def stripe_stub() -> Iterator[FakeStripe]:
    """Stripe's API on 127.0.0.1."""
    with fake_stripe() as stub:
        yield stub


def _platform_checkout(stub: FakeStripe, key: str, *, timeout: float = 5.0) -> str:
    adapter = StripePayments(SECRET_KEY, api_url=stub.url, timeout=timeout)
    return adapter.create_platform_subscription_checkout(
        idempotency_key=key,
        name="Coach OS Pro",
        price=Money(4900, "USD"),
        customer_email="alex@coach.test",
        success_url="https://coachos.test/setup/payments?saved=subscribed",
        cancel_url="https://coachos.test/setup/payments?saved=cancelled",
        reference=str(ORG),
        metadata={"coachos_kind": "platform", "org_id": str(ORG), "plan": "pro"},
    ).session_id


class TestPlatformCheckoutOnTheSdk:
    def test_the_plan_checkout_is_on_the_platform_account(self, stripe_stub: FakeStripe) -> None:
        """Monthly, in minor units, our metadata on session and subscription, no transfer, no fee, no Connect header."""
        key = platform_subscription_key(ORG, "pro", uuid.uuid4())  # type: ignore[arg-type]
        _platform_checkout(stripe_stub, key)
        (request,) = stripe_stub.requests
        form = request.form
        assert request.path == "/v1/checkout/sessions"
        assert request.idempotency_key == key
        assert form["mode"] == "subscription"
        assert form["line_items[0][price_data][unit_amount]"] == "4900"
        assert form["line_items[0][price_data][currency]"] == "usd"
        assert form["line_items[0][price_data][recurring][interval]"] == "month"
        assert form["metadata[coachos_kind]"] == "platform"
        assert form["subscription_data[metadata][coachos_kind]"] == "platform"
        assert form["subscription_data[metadata][plan]"] == "pro"
        assert form["subscription_data[metadata][org_id]"] == str(ORG)
        assert form["customer_email"] == "alex@coach.test"
        assert not [k for k in form if "application_fee" in k or "transfer_data" in k or "on_behalf_of" in k]

    def test_a_timed_out_plan_checkout_makes_one_session(self, stripe_stub: FakeStripe) -> None:
        """The answer lost once, the SDK's retry with the same key gets the session Stripe made."""
        stripe_stub.hold_next()
        key = platform_subscription_key(ORG, "pro", uuid.uuid4())  # type: ignore[arg-type]
        session_id = _platform_checkout(stripe_stub, key, timeout=0.5)
        assert len(stripe_stub.objects) == 1
        assert session_id == stripe_stub.objects[0]["id"]

    def test_a_subscription_is_fetched_as_stripe_holds_it(self, stripe_stub: FakeStripe) -> None:
        """GET /v1/subscriptions/<id> gives its status and period end (from its item); an unknown id is None."""
        end = 1_780_000_000
        stripe_stub.subscriptions["sub_fetched1"] = {
            "id": "sub_fetched1",
            "object": "subscription",
            "status": "past_due",
            "items": {
                "object": "list",
                "data": [{"id": "si_1", "object": "subscription_item", "current_period_end": end}],
            },
        }
        adapter = StripePayments(SECRET_KEY, api_url=stripe_stub.url)
        found = adapter.platform_subscription("sub_fetched1")
        assert found is not None
        assert (found.status, found.current_period_end) == ("past_due", end)  # Unix time, as SubscriptionState holds it
        assert stripe_stub.requests[-1].path == "/v1/subscriptions/sub_fetched1"
        assert adapter.platform_subscription("sub_nothere1") is None

    def test_ending_a_plan_sets_cancel_at_period_end(self, stripe_stub: FakeStripe) -> None:
        """POST /v1/subscriptions/<id> with cancel_at_period_end=true under our key; the answer is the subscription."""
        stripe_stub.subscriptions["sub_ending1"] = {"id": "sub_ending1", "object": "subscription", "status": "active"}
        adapter = StripePayments(SECRET_KEY, api_url=stripe_stub.url)
        key = platform_cancel_key(ORG, "sub_ending1")  # type: ignore[arg-type]
        state = adapter.cancel_platform_subscription(idempotency_key=key, subscription_id="sub_ending1")
        (request,) = stripe_stub.requests
        assert (request.path, request.idempotency_key) == ("/v1/subscriptions/sub_ending1", key)
        assert request.form == {"cancel_at_period_end": "true"}
        assert state.status == "active"
        assert stripe_stub.subscriptions["sub_ending1"]["cancel_at_period_end"] is True


class TestOnTheDatabase:
    def test_fifty_racing_copies_of_an_invoice_keep_one_row(self, biz: Platform, engine: Engine) -> None:
        """The same invoice.paid delivered 50 times at once (and payment_succeeded too) is one platform invoice."""
        invoice_id = "in_race" + uuid.uuid4().hex[:12]
        paid = invoice_event(biz, "invoice.paid", invoice_id=invoice_id)
        bodies = [paid] * 25 + [paid.replace("invoice.paid", "invoice.payment_succeeded", 1)] * 25
        race([lambda b=b: biz.app.execute(ReceiveStripeEvent(body=b)) for b in bodies])  # type: ignore[misc]
        assert count(engine, platform_invoices, platform_invoices.c.invoice_id == invoice_id) == 1

    def test_racing_subscription_events_end_on_the_newest(self, biz: Platform) -> None:
        """Updates of one subscription racing in any order leave the newest; deleted among them leaves it cancelled."""
        bodies = [sub_event(biz, "updated", "active", created=CREATED + n) for n in range(10)]
        bodies.append(sub_event(biz, "deleted", "canceled", created=CREATED + 5))
        results = race([lambda b=b: biz.app.execute(ReceiveStripeEvent(body=b)) for b in bodies])  # type: ignore[misc]
        assert all(isinstance(r, StripeEventReceived) and r.new for r in results), results
        with biz.app.deps.uow() as uow:
            found = uow.platform.subscription(biz.world.org.id)
        assert found is not None
        assert found.status == "canceled"

    def test_the_report_equals_the_ledgers_sums(self, biz: Platform, engine: Engine) -> None:
        """Fee income per month and currency in the operator's report equals the platform_fees lines in every ledger."""
        for n, (gross, pct) in enumerate(((2525, "2"), (1010, "5"), (99999, "2"))):
            cut = ledger.platform_fee(Money(gross, "EUR"), pct).amount_minor
            header = ledger.Header(
                id=uuid.uuid4(),
                org_id=biz.world.org.id,
                key=f"sale:test:{uuid.uuid4()}",
                occurred_at=datetime(2031, 1 + n, 28, 23, 30, tzinfo=UTC),
                source_id="test",
            )
            with biz.app.deps.uow() as uow:
                uow.ledger.record(ledger.sale(header, Money(gross, "EUR"), 0, cut))
                uow.commit()
        report = biz.app.execute(OperatorRevenue())
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SET LOCAL ROLE NONE"))
            total = conn.execute(
                sa.select(sa.func.sum(ledger_entries.c.amount_minor)).where(
                    ledger_entries.c.account == "platform_fees", ledger_entries.c.currency == "EUR"
                )
            ).scalar_one()
        assert sum(f.amount.amount_minor for f in report.fees if f.amount.currency == "EUR") == total
        eur = {f.month: f.amount.amount_minor for f in report.fees if f.amount.currency == "EUR"}
        assert (eur["2031-01"], eur["2031-02"], eur["2031-03"]) == (51, 51, 2000)


class TestUnreadable:
    def test_an_unreadable_invoice_is_named_and_the_rest_shown(self, biz: Platform, engine: Engine) -> None:
        """An invoice whose stored currency is no ISO code is left out and named; the good one is listed."""
        for kind in ("good", "bad"):
            body = invoice_event(biz, "invoice.paid", invoice_id=f"in_{kind}{biz.world.org.id.hex}")
            biz.app.execute(ReceiveStripeEvent(body=body))
        with engine.begin() as conn:
            if _pg(conn):
                conn.execute(sa.text("SET LOCAL ROLE NONE"))
            bad = platform_invoices.c.invoice_id == f"in_bad{biz.world.org.id.hex}"
            conn.execute(platform_invoices.update().where(bad).values(currency="ZZZ"))
        setup = biz.app.execute(GetPaymentsSetup(org_id=biz.world.org.id))
        assert [i.invoice_id for i in setup.invoices] == [f"in_good{biz.world.org.id.hex}"]
        assert [(r.table, r.row_id) for r in setup.unreadable] == [
            ("platform_invoices", f"in_bad{biz.world.org.id.hex}")
        ]
        assert "payment to Coach OS" in setup.unreadable[0].message


class TestIsolation:
    def test_subscriptions_are_read_across_businesses_only_under_the_flag(self, biz: Platform, engine: Engine) -> None:
        """As the app role another business's subscription is hidden unless the operator flag is on; never writable.

        SQLite has no row-level security: there the flag changes nothing and every row is visible.
        """
        biz.app.execute(ReceiveStripeEvent(body=sub_event(biz, "created", "active")))
        mine = org_subscriptions.c.org_id == biz.world.org.id
        with engine.connect() as conn:
            conn.execute(
                sa.select(sa.func.set_config(ORG_SETTING, str(uuid.uuid4()), True))
                if _pg(conn)
                else sa.text("SELECT 1")
            )
            hidden = conn.execute(sa.select(sa.func.count()).select_from(org_subscriptions).where(mine)).scalar_one()
            assert hidden == (0 if _pg(conn) else 1)
            with read_for_operator_across_orgs(conn):
                seen = conn.execute(sa.select(sa.func.count()).select_from(org_subscriptions).where(mine)).scalar_one()
            assert seen == 1
            if _pg(conn):
                conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_OPERATOR, "on", True)))
                with pytest.raises(sa.exc.DBAPIError):
                    conn.execute(org_subscriptions.update().where(mine).values(status="canceled"))
            conn.rollback()


def _pg(conn: sa.Connection) -> bool:
    return conn.dialect.name == "postgresql"
