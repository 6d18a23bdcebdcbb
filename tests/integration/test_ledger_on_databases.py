"""The ledger on SQLite and PostgreSQL: the fake's tests again, append-only by the database, racing writers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS
from coachos.adapters.sql.tables import ledger_entries, ledger_transactions
from coachos.domain import ledger
from coachos.domain.errors import CoachOSError
from coachos.domain.money import Money
from tests.helpers import World, make_world
from tests.integration.test_concurrency import race
from tests.integration.test_waivers_on_databases import as_app_role, attempt
from tests.unit.test_ledger import TestStore, header, record  # noqa: F401  # collected again with this folder's `app`


class TestAppendOnly:
    @pytest.mark.parametrize("owner", [False, True], ids=["app-role", "owner"])
    def test_transactions_and_lines_cannot_be_updated_or_deleted(
        self, engine: Engine, app: CoachOS, world: World, owner: bool
    ) -> None:
        """Raw UPDATE and DELETE of ledger rows are refused by the database; the books stay as written."""
        tx = ledger.sale(header(world.org.id, "sale:ch_9"), Money(10_000, "USD"), 320, 250)
        assert record(app, tx)
        t, e = ledger_transactions, ledger_entries
        for statement in (
            sa.update(t).where(t.c.id == tx.id).values(memo="edited"),
            sa.update(t).where(t.c.id == tx.id).values(key="sale:other"),
            sa.delete(t).where(t.c.id == tx.id),
            sa.update(e).where(e.c.transaction_id == tx.id).values(amount_minor=1),
            sa.delete(e).where(e.c.transaction_id == tx.id),
            sa.delete(e).where(e.c.org_id == world.org.id),
        ):
            assert attempt(engine, world, statement, owner=owner) is not None, statement
        with app.deps.uow() as uow:
            assert uow.ledger.by_key(world.org.id, "sale:ch_9") == tx

    def test_emptying_the_tables_is_refused(self, engine: Engine, app: CoachOS, world: World) -> None:
        """TRUNCATE on PostgreSQL (even by the owner), a bare DELETE on SQLite (which has no TRUNCATE)."""
        assert record(app, ledger.sale(header(world.org.id), Money(100, "USD"), 0, 0))
        for table in (ledger_entries, ledger_transactions):
            statement: sa.Executable = (
                sa.text(f"TRUNCATE {table.name} CASCADE") if engine.dialect.name == "postgresql" else sa.delete(table)
            )
            assert attempt(engine, world, statement, owner=True) is not None

    @pytest.mark.postgres
    def test_another_business_cannot_see_the_books(self, engine: Engine, app: CoachOS, world: World) -> None:
        """Row-level security: scoped to another business, the app role sees none of these rows."""
        if engine.dialect.name != "postgresql":
            return  # row-level security is PostgreSQL's; SQLite runs the rest
        assert record(app, ledger.sale(header(world.org.id), Money(100, "USD"), 0, 0))
        other = make_world(app)
        with as_app_role(engine, other) as conn:
            for table in (ledger_transactions, ledger_entries):
                assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0

    def test_lines_of_zero_are_refused_by_the_database(self, engine: Engine, app: CoachOS, world: World) -> None:
        tx = ledger.sale(header(world.org.id), Money(100, "USD"), 0, 0)
        assert record(app, tx)
        with as_app_role(engine, world) as conn, pytest.raises(sa.exc.IntegrityError):
            conn.execute(
                ledger_entries.insert().values(
                    transaction_id=tx.id,
                    position=9,
                    org_id=world.org.id,
                    account="revenue",
                    amount_minor=0,
                    currency="USD",
                )
            )


class TestRacing:
    def test_twenty_writers_of_one_key_record_one_transaction(self, engine: Engine, app: CoachOS, world: World) -> None:
        """Twenty writers of the same key at once, each on its own connection: one transaction, one set of lines."""
        attempts = [
            ledger.sale(header(world.org.id, "invoice.paid:in_1"), Money(5_000, "EUR"), 175, 125) for _ in range(20)
        ]
        results = race([lambda tx=tx: record(app, tx) for tx in attempts])
        assert not [r for r in results if isinstance(r, CoachOSError)]
        assert results.count(True) == 1
        with as_app_role(engine, world) as conn:
            count = conn.execute(
                sa.select(sa.func.count()).where(ledger_transactions.c.org_id == world.org.id)
            ).scalar_one()
            lines = conn.execute(sa.select(sa.func.count()).where(ledger_entries.c.org_id == world.org.id)).scalar_one()
        assert (count, lines) == (1, 4)
        with app.deps.uow() as uow:
            assert uow.ledger.balances(world.org.id, "EUR") == {
                ledger.Account.STRIPE_BALANCE: 4_700,
                ledger.Account.STRIPE_FEES: 175,
                ledger.Account.PLATFORM_FEES: 125,
                ledger.Account.REVENUE: -5_000,
            }
