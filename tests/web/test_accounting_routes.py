"""The accounting and payments pages: sections with charts, the journal CSV, money events, bad input."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import Actor, CoachOS, CreateClient, SellPackage, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.domain import ledger
from coachos.domain.accounting import OUTSTANDING_PER_SOURCE
from coachos.domain.bookings import Booking, BookingStatus, FeeCharge, FeeKind, FeeState
from coachos.domain.catalog import PaymentState
from coachos.domain.ids import AppointmentId, BookingId, ClientId, CoachId, OrgId, PackageId, ServiceId
from coachos.domain.ledger import Header, LedgerTransaction
from coachos.domain.memberships import Membership, MembershipPlan, MembershipStatus
from coachos.domain.money import Money
from coachos.entrypoints.web.views.accounting import EXPORT_CHUNK
from coachos.logs import configure_logging, reset_logging
from tests.web.support import sign_up


@pytest.fixture
def store() -> MemoryStore:
    """The fake's storage, so a test can plant unreadable rows."""
    return MemoryStore()


@pytest.fixture
def core(store: MemoryStore, clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on the fake `store`."""
    with bootstrap(
        Settings(database_url="memory://"),
        uow=store.unit_of_work,
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
    ) as built:
        yield built


@attrs.frozen
class Books:
    """A signed-in coach's business with a client, sales, a refund, a recognition and a payout in March 2026."""

    coach: Client
    org_id: OrgId
    client_id: uuid.UUID
    me: Actor


def at(day: int, hour: int = 12, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def record(core: CoachOS, *txs: LedgerTransaction) -> None:
    with core.deps.uow() as uow:
        for tx in txs:
            assert uow.ledger.record(tx)
        uow.commit()


def head(org: OrgId, when: datetime, *, item: str = "", client: uuid.UUID | None = None, memo: str = "") -> Header:
    return Header(
        id=uuid.uuid4(),
        org_id=org,
        key=f"test:{uuid.uuid4()}",
        occurred_at=when,
        source_id="ch_test",
        item=item,
        client_id=client,
        memo=memo,
    )


async def open_books(web: Quart, core: CoachOS, *, with_money: bool = True) -> Books:
    slug = f"peak-{uuid.uuid4().hex[:8]}"
    coach = web.test_client()
    await sign_up(coach, slug=slug, email=f"alex@{slug}.test")
    org = core.read(lambda uow: uow.orgs.by_slug(slug))
    (me,) = core.read(lambda uow: uow.coaches.list(org.id))
    actor = Actor("coach", me.id)
    client = core.execute(CreateClient(org_id=org.id, name="Jordan Lee", actor=actor))
    if with_money:
        sale = ledger.sale(
            head(org.id, at(2), item="Ten pack", client=client.id), Money(45_000, "USD"), 1_335, 2_250, deferred=True
        )
        one_off = ledger.sale(head(org.id, at(3), item="PT session", client=client.id), Money(8_550, "USD"), 278, 428)
        record(
            core,
            sale,
            one_off,
            ledger.refund(head(org.id, at(4), item="PT session", client=client.id), one_off, 8_550),
            ledger.sale(
                head(org.id, at(5), item='=HYPERLINK("http://x")', client=client.id),
                Money(2_000, "USD"),
                0,
                0,
                deferred=True,
                received_in=ledger.Account.CASH,
            ),
            ledger.recognise(head(org.id, at(6), item="Ten pack", client=client.id), Money(4_500, "USD")),
            ledger.payout(head(org.id, at(7), memo="Stripe payout to the bank"), Money(30_000, "USD")),
        )
    return Books(coach=coach, org_id=org.id, client_id=client.id, me=actor)


async def text(client: Client, url: str, status: int = 200) -> str:
    response = await client.get(url)
    body = await response.get_data(as_text=True)
    assert response.status_code == status, body[:500]
    return body


MARCH = "from=2026-03&to=2026-03"


class TestAccountingPage:
    async def test_the_shell_offers_presets_sections_and_the_export(self, web: Quart, core: CoachOS) -> None:
        """The page names the range and the zone, links the month presets, each section and the CSV export."""
        books = await open_books(web, core, with_money=False)
        html = await text(books.coach, "/accounting")
        assert "Oct 2025 to Mar 2026" in html
        assert "America/New_York" in html
        for preset in ("This month", "Last month", "Last 12 months"):
            assert preset in html
        for name in ("summary", "months", "items", "clients", "outstanding"):
            assert f"/accounting/sections/{name}?from=2025-10&amp;to=2026-03" in html
        assert "/accounting/export.csv?from=2025-10&amp;to=2026-03" in html
        assert 'href="/accounting"' in html
        assert 'href="/payments"' in html

    async def test_the_summary_shows_totals_and_the_fees_chart(self, web: Quart, core: CoachOS) -> None:
        """Totals are the ledger's sums for March; the fees split is an SVG with its figures in words."""
        books = await open_books(web, core)
        html = await text(books.coach, f"/accounting/sections/summary?{MARCH}")
        for figure in ("555.50 USD", "85.50 USD", "45.00 USD", "13.35 USD", "22.50 USD", "434.15 USD", "300.00 USD"):
            assert figure in html, figure
        assert "deferred" in html.lower()
        assert "425.00 USD" in html  # 450 + 20 deferred, less 45 recognised
        assert '<svg class="chart" role="img"' in html
        assert "<desc" in html
        assert "Stripe fees: 13.35 USD" in html

    async def test_months_draw_a_bar_per_month_with_a_table(self, web: Quart, core: CoachOS) -> None:
        """Recognised revenue by month: a bar chart with a title, a description and the same numbers in a table."""
        books = await open_books(web, core)
        html = await text(books.coach, "/accounting/sections/months?from=2026-02&to=2026-04")
        assert html.count('<rect class="bar') == 3
        assert "Mar 26: 45.00 USD" in html
        assert "Recognised revenue by month, USD" in html
        assert "February 2026" in html

    async def test_items_and_clients_break_the_range_down(self, web: Quart, core: CoachOS) -> None:
        """By item shows each item's sales, refunds and recognised revenue; by client links the client's page."""
        books = await open_books(web, core)
        items = await text(books.coach, f"/accounting/sections/items?{MARCH}")
        assert "Ten pack" in items
        assert "PT session" in items
        clients = await text(books.coach, f"/accounting/sections/clients?{MARCH}")
        assert f'href="/clients/{books.client_id}"' in clients
        assert "Jordan Lee" in clients

    async def test_an_empty_range_says_so(self, web: Quart, core: CoachOS) -> None:
        """No money in the range: zero totals, and the breakdowns say there was nothing."""
        books = await open_books(web, core, with_money=False)
        assert "0.00 USD" in await text(books.coach, f"/accounting/sections/summary?{MARCH}")
        assert "Nothing sold or earned" in await text(books.coach, f"/accounting/sections/items?{MARCH}")
        assert "No client paid" in await text(books.coach, f"/accounting/sections/clients?{MARCH}")
        assert "Nothing is owed" in await text(books.coach, f"/accounting/sections/outstanding?{MARCH}")

    async def test_outstanding_lists_pending_and_failed_packages(self, web: Quart, core: CoachOS) -> None:
        """Pending and failed packages are listed with client, item, amount and state; a paid one is not."""
        books = await open_books(web, core)
        package = core.execute(
            SellPackage(
                org_id=books.org_id,
                client_id=ClientId(books.client_id),
                name="Paid pack",
                sessions=5,
                price=Money(20_000, "USD"),
                actor=books.me,
            )
        )
        with core.deps.uow() as uow:
            for state, name in ((PaymentState.PENDING, "Card pack"), (PaymentState.FAILED, "Failed pack")):
                uow.packages.add(attrs.evolve(package, id=PackageId(uuid.uuid4()), payment_state=state, name=name))
            uow.commit()
        html = await text(books.coach, f"/accounting/sections/outstanding?{MARCH}")
        assert "Card pack" in html
        assert "Failed pack" in html
        assert "pending" in html
        assert "failed" in html
        assert "Paid pack" not in html
        assert "Jordan Lee" in html

    @pytest.mark.parametrize(
        "query",
        [
            "from=2026-13",
            "from=march",
            "to=2026-00",
            "from=2026-04&to=2026-03",
            "from=2020-01&to=2026-03",
            "from=1800-01",
            "from=2026-03-01",
        ],
    )
    async def test_a_bad_range_is_400(self, web: Quart, core: CoachOS, query: str) -> None:
        """A month not written YYYY-MM, a range ending before it starts or longer than 36 months: 400, no 500."""
        books = await open_books(web, core, with_money=False)
        for url in ("/accounting", "/accounting/sections/summary", "/accounting/export.csv"):
            response = await books.coach.get(f"{url}?{query}")
            assert response.status_code == 400, url

    async def test_an_unknown_section_is_404_and_signed_out_is_sent_to_log_in(self, web: Quart, core: CoachOS) -> None:
        """Only the listed sections exist; the pages need a signed-in coach."""
        books = await open_books(web, core, with_money=False)
        assert (await books.coach.get("/accounting/sections/secrets")).status_code == 404
        for url in ("/accounting", "/payments", "/accounting/export.csv", "/accounting/sections/summary"):
            assert (await web.test_client().get(url)).status_code in (302, 303)


def owed_elsewhere(core: CoachOS, books: Books, *, fees: int = 1) -> None:
    """A past-due membership (since 2 March 12:00 UTC, grace to the 5th) and `fees` failed no-show fees."""
    plan = MembershipPlan(
        id=uuid.uuid4(), org_id=books.org_id, name="Gold", price=Money(12_000, "USD"), interval="month", sessions=8
    )
    membership = Membership(
        id=uuid.uuid4(),
        org_id=books.org_id,
        client_id=ClientId(books.client_id),
        plan_id=plan.id,
        status=MembershipStatus.PAST_DUE,
        created_at=at(1, month=2),
        grace_until=at(5),
        status_at=at(2),
    )
    with core.deps.uow() as uow:
        uow.memberships.add_plan(plan)
        uow.memberships.add(membership)
        for n in range(fees):
            start = at(3) + timedelta(hours=n)
            uow.bookings.add(
                Booking(
                    id=BookingId(uuid.uuid4()),
                    org_id=books.org_id,
                    appointment_id=AppointmentId(uuid.uuid4()),
                    coach_id=CoachId(books.me.id),
                    service_id=ServiceId(uuid.uuid4()),
                    client_id=ClientId(books.client_id),
                    start=start,
                    end=start + timedelta(minutes=45),
                    status=BookingStatus.NO_SHOW,
                    created_at=at(1),
                    created_by=books.me,
                    updated_at=at(1),
                    updated_by=books.me,
                    fee=FeeCharge(
                        kind=FeeKind.NO_SHOW,
                        amount=Money(2_500, "USD"),
                        state=FeeState.FAILED,
                        at=start + timedelta(hours=1),
                        error="The card was declined.",
                    ),
                )
            )
        uow.commit()


class TestOwedBeyondPackages:
    @pytest.mark.parametrize("url", [f"/accounting/sections/outstanding?{MARCH}", "/payments"])
    async def test_memberships_past_due_and_failed_fees_are_listed(self, web: Quart, core: CoachOS, url: str) -> None:
        """Both pages list the past-due membership and the failed fee: kind, amount, state, local times, client link."""
        books = await open_books(web, core, with_money=False)
        owed_elsewhere(core, books)
        html = await text(books.coach, url)
        for words in ("Membership", "Gold · per month", "120.00 USD", "past due", "Policy fee", "No-show fee"):
            assert words in html, words
        assert "25.00 USD" in html
        assert "The card was declined." in html
        assert "Mon 2 Mar, 07:00 EST" in html  # since, in the business's zone with its label
        assert "grace until Thu 5 Mar, 07:00 EST" in html
        assert html.index("Gold · per month") < html.index("No-show fee")  # oldest first
        assert html.count(f'href="/clients/{books.client_id}"') == 2
        assert "Nothing is owed" not in html
        assert "Only the oldest" not in html

    async def test_another_business_sees_none_of_them(self, web: Quart, core: CoachOS) -> None:
        """A second coach's pages show nothing owed though the first business is owed a membership and a fee."""
        owed_elsewhere(core, await open_books(web, core, with_money=False))
        other = await open_books(web, core, with_money=False)
        for url in (f"/accounting/sections/outstanding?{MARCH}", "/payments"):
            html = await text(other.coach, url)
            assert "Nothing is owed" in html, url
            assert "Gold" not in html

    async def test_a_source_with_more_than_the_cap_says_so(self, web: Quart, core: CoachOS) -> None:
        """More fees than a source's limit: the oldest are listed and the page says more fees are owed."""
        books = await open_books(web, core, with_money=False)
        owed_elsewhere(core, books, fees=OUTSTANDING_PER_SOURCE + 1)
        html = await text(books.coach, "/payments")
        assert html.count("No-show fee") == OUTSTANDING_PER_SOURCE
        assert "Gold · per month" in html
        limit = OUTSTANDING_PER_SOURCE
        assert f"Only the oldest {limit} of each kind are listed: more policy fee payments are owed." in html


class TestUnreadableRows:
    async def test_a_deleted_or_unreadable_client_shows_as_such(
        self, web: Quart, core: CoachOS, store: MemoryStore
    ) -> None:
        """A sale of a client no longer on file reads 'Deleted client'; an unreadable one is marked; the rest shows."""
        books = await open_books(web, core)
        gone, bad = uuid.uuid4(), uuid.uuid4()
        for who in (gone, bad):
            record(core, ledger.sale(head(books.org_id, at(9), item="Drop-in", client=who), Money(1_000, "USD"), 0, 0))
        store.add_unreadable("clients", bad, books.org_id)
        html = await text(books.coach, f"/accounting/sections/clients?{MARCH}")
        assert "Deleted client" in html
        assert "Client record could not be read" in html
        assert "could not be read" in html
        assert "error id" in html
        assert "Jordan Lee" in html

    async def test_an_unreadable_package_is_marked_in_the_outstanding_list(
        self, web: Quart, core: CoachOS, store: MemoryStore
    ) -> None:
        """The outstanding section and the payments page still answer, saying a package could not be read."""
        books = await open_books(web, core)
        store.add_unreadable("packages", uuid.uuid4(), books.org_id)
        for url in (f"/accounting/sections/outstanding?{MARCH}", "/payments"):
            html = await text(books.coach, url)
            assert "1 package could not be read" in html, url
        assert "kind-sale" in html

    async def test_an_unreadable_membership_or_booking_is_marked_and_the_rest_shows(
        self, web: Quart, core: CoachOS, store: MemoryStore
    ) -> None:
        """A membership and a booking that cannot be read are named; the readable owed rows still show."""
        books = await open_books(web, core, with_money=False)
        owed_elsewhere(core, books)
        store.add_unreadable("memberships", uuid.uuid4(), books.org_id)
        store.add_unreadable("bookings", uuid.uuid4(), books.org_id)
        for url in (f"/accounting/sections/outstanding?{MARCH}", "/payments"):
            html = await text(books.coach, url)
            assert "1 membership and 1 booking could not be read" in html, url
            assert "Gold · per month" in html
            assert "No-show fee" in html


def parse_csv(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


class TestExport:
    async def test_the_journal_downloads_as_csv_with_balanced_lines(self, web: Quart, core: CoachOS) -> None:
        """text/csv as an attachment; every line's debits equal its credits, decimals by currency, local dates."""
        books = await open_books(web, core)
        response = await books.coach.get(f"/accounting/export.csv?{MARCH}")
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert response.headers["Content-Disposition"] == 'attachment; filename="journal-2026-03-to-2026-03.csv"'
        rows = parse_csv(await response.get_data(as_text=True))
        assert list(rows[0]) == ["Date", "Reference", "Account", "Description", "Debit", "Credit", "Currency"]
        by_ref: dict[str, list[dict[str, str]]] = {}
        for row in rows:
            by_ref.setdefault(row["Reference"], []).append(row)
        assert len(by_ref) == 6
        for lines in by_ref.values():
            debit = sum(Decimal(r["Debit"]) for r in lines if r["Debit"])
            credit = sum(Decimal(r["Credit"]) for r in lines if r["Credit"])
            assert debit == credit
        sale = next(lines for lines in by_ref.values() if "Ten pack" in lines[0]["Description"])
        assert {r["Date"] for r in sale} == {"2026-03-02"}
        assert {r["Account"] for r in sale} == {
            "Stripe balance",
            "Stripe fees",
            "Platform fees",
            "Deferred revenue (unused credits)",
        }
        assert "Jordan Lee" in sale[0]["Description"]
        assert any(r["Debit"] == "13.35" for r in sale)

    async def test_formula_like_cells_are_made_inert(self, web: Quart, core: CoachOS) -> None:
        """No cell of the export starts like a spreadsheet formula, though an item sold was named like one."""
        books = await open_books(web, core)
        body = await text(books.coach, f"/accounting/export.csv?{MARCH}")
        assert '=HYPERLINK(""http://x"")' in body
        for row in parse_csv(body):
            for cell in row.values():
                assert not cell.startswith(("=", "+", "-", "@")), cell

    async def test_a_long_export_streams_every_transaction_once(self, web: Quart, core: CoachOS) -> None:
        """1,001 sales at one instant (more than two chunks, ties broken by key): each once, in key order."""
        books = await open_books(web, core, with_money=False)
        sales = [
            ledger.sale(head(books.org_id, at(15)), Money(100 + n, "USD"), 0, 0) for n in range(EXPORT_CHUNK * 2 + 1)
        ]
        record(core, *sales)
        rows = parse_csv(await text(books.coach, f"/accounting/export.csv?{MARCH}"))
        references = [r["Reference"] for r in rows[::2]]
        assert references == sorted(tx.key for tx in sales)
        assert len(rows) == 2 * len(sales)

    async def test_another_business_exports_none_of_these_lines(self, web: Quart, core: CoachOS) -> None:
        """A second coach's export of the same months has the header only."""
        await open_books(web, core)
        other = await open_books(web, core, with_money=False)
        body = await text(other.coach, f"/accounting/export.csv?{MARCH}")
        assert parse_csv(body) == []


class TestPaymentsPage:
    async def test_money_events_newest_first_without_recognitions(self, web: Quart, core: CoachOS) -> None:
        """Sales, the refund and the payout are listed newest first with gross, fees and net; recognitions are not."""
        books = await open_books(web, core)
        html = await text(books.coach, "/payments")
        order = [html.index(k) for k in ("kind-payout", "HYPERLINK", "kind-refund", "Ten pack")]
        assert order == sorted(order)
        assert "kind-recognition" not in html
        assert "450.00 USD" in html
        assert "35.85 USD" in html  # fees 13.35 + 22.50
        assert "414.15 USD" in html
        assert f'href="/clients/{books.client_id}"' in html
        assert "Nothing is owed" in html

    async def test_pages_of_fifty(self, web: Quart, core: CoachOS) -> None:
        """Fifty-one sales: page one links to older ones, page two has the oldest and links back."""
        books = await open_books(web, core, with_money=False)
        start = at(1, month=1)
        record(
            core,
            *[
                ledger.sale(
                    head(books.org_id, start + timedelta(hours=n), item=f"Item {n:02d}"), Money(100, "USD"), 0, 0
                )
                for n in range(51)
            ],
        )
        first = await text(books.coach, "/payments")
        assert "Item 50" in first
        assert "Item 00" not in first
        assert "/payments?page=2" in first
        second = await text(books.coach, "/payments?page=2")
        assert "Item 00" in second
        assert "/payments?page=1" in second

    @pytest.mark.parametrize("page", ["0", "abc", "-1", "1.5", "99999999"])
    async def test_a_bad_page_is_400(self, web: Quart, core: CoachOS, page: str) -> None:
        """A page that is not a whole number from 1 (or absurdly far) is a 400, not a 500."""
        books = await open_books(web, core, with_money=False)
        assert (await books.coach.get(f"/payments?page={page}")).status_code == 400

    async def test_an_empty_ledger_says_so(self, web: Quart, core: CoachOS) -> None:
        """A business with no money events yet sees that said, and no page links."""
        books = await open_books(web, core, with_money=False)
        html = await text(books.coach, "/payments")
        assert "No payments yet" in html
        assert "page=" not in html


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Production logging (JSON lines, redaction on) into a buffer for the test."""
    buffer = io.StringIO()
    configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=buffer)
    yield buffer
    reset_logging()


class TestLogPrivacy:
    async def test_pages_and_the_export_log_no_names_or_amounts(
        self, web: Quart, core: CoachOS, store: MemoryStore, logs: io.StringIO
    ) -> None:
        """Every accounting page, section and the CSV: logs carry ids and routes, never the client's name or money."""
        books = await open_books(web, core)
        bad = uuid.uuid4()
        record(core, ledger.sale(head(books.org_id, at(9), item="Drop-in", client=bad), Money(1_000, "USD"), 0, 0))
        store.add_unreadable("clients", bad, books.org_id)
        urls = [f"/accounting?{MARCH}", "/payments", f"/accounting/export.csv?{MARCH}"]
        urls += [f"/accounting/sections/{name}?{MARCH}" for name in ("summary", "months", "items", "clients")]
        for url in urls:
            assert (await books.coach.get(url)).status_code == 200
        written = logs.getvalue()
        assert "/accounting/sections/<name>" in written
        assert str(bad) in written  # the unreadable client is reported by id
        for secret in ("Jordan Lee", "Jordan", "450.00", "45000", "Ten pack", "HYPERLINK"):
            assert secret not in written, secret
