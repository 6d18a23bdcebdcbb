"""The accounting and payments pages again on SQLite and PostgreSQL, a section that fails alone, statement counts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from quart import Quart
from sqlalchemy import event
from sqlalchemy.engine import Engine

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql.tables import ledger_entries, ledger_transactions
from coachos.adapters.sql.tenancy import scope_to
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain import ledger
from coachos.domain.money import Money
from tests.web.test_accounting_routes import (  # noqa: F401  # collected again with this file's `core`
    MARCH,
    TestAccountingPage,
    TestExport,
    TestPaymentsPage,
    at,
    head,
    open_books,
    record,
    text,
)


@pytest.fixture
def core(engine: Engine, clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on the session's SQLite file, then on its PostgreSQL database."""
    with bootstrap(
        Settings(database_url="memory://"),
        uow=lambda: SqlUnitOfWork(engine),
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
    ) as built:
        yield built


class TestOneSectionFails:
    async def test_a_ledger_line_this_version_cannot_read_fails_only_the_report_sections(
        self, web: Quart, core: CoachOS, engine: Engine
    ) -> None:
        """A line in an account this version does not know: report sections answer 500, the rest still works."""
        books = await open_books(web, core)
        tx_id = uuid.uuid4()
        with engine.connect() as conn, conn.begin():
            scope_to(conn, books.org_id)
            conn.execute(
                ledger_transactions.insert().values(
                    id=tx_id,
                    org_id=books.org_id,
                    key=f"future:{tx_id}",
                    occurred_at=at(10),
                    source_kind="sale",
                    source_id="x",
                    memo="",
                    item="",
                )
            )
            conn.execute(
                ledger_entries.insert(),
                [
                    {
                        "transaction_id": tx_id,
                        "position": 0,
                        "org_id": books.org_id,
                        "account": "crypto_wallet",
                        "amount_minor": 5,
                        "currency": "USD",
                    },
                    {
                        "transaction_id": tx_id,
                        "position": 1,
                        "org_id": books.org_id,
                        "account": "revenue",
                        "amount_minor": -5,
                        "currency": "USD",
                    },
                ],
            )
        response = await books.coach.get(f"/accounting/sections/summary?{MARCH}")
        assert response.status_code == 500
        assert "quote error" in await response.get_data(as_text=True)
        assert "Nothing is owed" in await text(books.coach, f"/accounting/sections/outstanding?{MARCH}")
        assert "Export journal" in await text(books.coach, f"/accounting?{MARCH}")


class TestStatements:
    async def test_a_report_costs_the_same_statements_for_ten_sales_as_for_three_hundred(
        self, web: Quart, core: CoachOS, engine: Engine
    ) -> None:
        """The by-month sums come from one aggregate query: more sales do not mean more statements or rows."""
        books = await open_books(web, core, with_money=False)

        def sales(n: int, start: int) -> None:
            record(
                core,
                *[
                    ledger.sale(
                        head(books.org_id, at(1) + timedelta(minutes=start + k), item="PT", client=books.client_id),
                        Money(1_000, "USD"),
                        30,
                        20,
                    )
                    for k in range(n)
                ],
            )

        async def count() -> tuple[int, str]:
            seen: list[str] = []

            def before(*args: object) -> None:
                seen.append(str(args[2]))

            event.listen(engine, "before_cursor_execute", before)
            try:
                html = await text(books.coach, f"/accounting/sections/summary?{MARCH}")
            finally:
                event.remove(engine, "before_cursor_execute", before)
            return len(seen), html

        sales(10, 0)
        few, few_html = await count()
        sales(290, 100)
        many, many_html = await count()
        assert few == many
        assert "100.00 USD" in few_html
        assert "3000.00 USD" in many_html
        with SqlUnitOfWork(engine) as uow:
            bounds = [at(1) - timedelta(days=1), at(1, month=4)]
            assert len(uow.ledger.summary(books.org_id, bounds)) == 4  # one group per account
