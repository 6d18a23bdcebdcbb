"""PostgreSQL keeps each organisation's rows to itself, even from a query that forgets its org_id filter.

Everything here connects as production does: the app's engine works as the app role, which
row-level security binds; the owner's engine (the migrating user) is used only to look behind it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta

import attrs
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ProgrammingError

from coachos import (
    AddDateOverride,
    BookSession,
    CalendarFeedUrl,
    CoachOS,
    CreateApiToken,
    FindSlots,
    Money,
    RecordConsent,
    SellPackage,
    Settings,
    bootstrap,
)
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql import migrate
from coachos.adapters.sql.engine import make_engine
from coachos.adapters.sql.outbox import SqlOutbox
from coachos.adapters.sql.repos import SqlClients
from coachos.adapters.sql.tables import clients
from coachos.adapters.sql.tenancy import APP_ROLE, ORG_SETTING
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.accounts import Login, WebSession
from coachos.domain.automations import CreateTodo, TriggerKind
from coachos.domain.catalog import PaymentMethod
from coachos.domain.ids import OrgId
from coachos.domain.usecases import (
    CreateAutomation,
    CreatePackageOffer,
    CreateWaiver,
    ReceiveStripeEvent,
    RefundPayment,
    SignWaiver,
)
from coachos.domain.usecases.automation_events import run_event_automations
from tests.helpers import MONDAY_NOON_UTC, World, local, make_world
from tests.integration.conftest import PostgresDatabases, app_engine
from tests.unit.test_memberships import event as stripe_event
from tests.unit.test_memberships import join

pytestmark = pytest.mark.postgres

#: Found by email or a secret before the organisation is known, so reachable unscoped (see tenancy.py).
CREDENTIALS = {"logins", "web_sessions", "api_tokens", "calendar_feeds"}
#: Business tables the seed below fills for both organisations.
SEEDED = {
    "automations",
    "automation_runs",
    "todos",
    "coaches",
    "clients",
    "services",
    "weekly_rules",
    "date_overrides",
    "appointments",
    "packages",
    "package_offers",
    "bookings",
    "credit_events",
    "outbox",
    "consent_events",
    "waivers",
    "waiver_versions",
    "waiver_signatures",
    "membership_plans",
    "memberships",
    "membership_periods",
    "refunds",
    "refund_totals",
} | CREDENTIALS

_TABLES_WITH_ORG_ID = sa.text(
    """
    SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
    WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
      AND a.attname = 'org_id' AND NOT a.attisdropped
    ORDER BY c.relname
    """
)


@attrs.frozen
class Tenants:
    """A database holding two businesses, seen as the app (`app`) and as the owner (`owner`)."""

    app: Engine
    owner: Engine
    a: World
    b: World

    def tables(self) -> list[str]:
        """Every table with an org_id column."""
        with self.owner.connect() as conn:
            return list(conn.execute(_TABLES_WITH_ORG_ID).scalars())


def _seed(core: CoachOS, engine: Engine) -> World:
    """A business with a row in every tenant table."""
    w = make_world(core)
    core.execute(
        CreateAutomation(
            org_id=w.org.id,
            actor=w.me,
            name="Welcome",
            trigger=TriggerKind.BOOKING_CREATED,
            action=CreateTodo(title="Call {client_first_name}"),
        )
    )
    core.execute(
        BookSession(
            org_id=w.org.id,
            coach_id=w.coach.id,
            service_id=w.pt.id,
            client_id=w.client.id,
            start=local(w, 3, 10),
            actor=w.me,
        )
    )
    core.execute(
        AddDateOverride(org_id=w.org.id, coach_id=w.coach.id, on=date(2026, 3, 9), available=False, actor=w.me)
    )
    core.execute(CreateApiToken(org_id=w.org.id, coach_id=w.coach.id, name="phone"))
    core.execute(CreatePackageOffer(org_id=w.org.id, name="Five", sessions=5, price=Money(100, "USD"), actor=w.me))
    core.execute(
        RecordConsent(org_id=w.org.id, client_id=w.client.id, channel="sms", method="client_request", actor=w.me)
    )
    core.execute(CalendarFeedUrl(org_id=w.org.id, coach_id=w.coach.id))
    waiver, version = core.execute(CreateWaiver(org_id=w.org.id, title="Waiver", body="Text", actor=w.me))
    core.execute(
        SignWaiver(
            org_id=w.org.id,
            client_id=w.client.id,
            waiver_id=waiver.id,
            version_id=version.id,
            shown_sha256=version.sha256,
            typed_name="Jordan Lee",
            consent=True,
            date_of_birth=date(1990, 1, 1),
        )
    )
    # A cash package with part of its money handed back (refunds, refund_totals).
    cash = core.execute(
        SellPackage(
            org_id=w.org.id,
            client_id=w.client.id,
            name="Cash pack",
            sessions=2,
            price=Money(4000, "USD"),
            actor=w.me,
            paid_by=PaymentMethod.CASH,
        )
    )
    core.execute(
        RefundPayment(org_id=w.org.id, sale_key=f"sale:package:{cash.id}", amount=Money(500, "USD"), actor=w.me)
    )
    # A membership with one paid period (plans, memberships, membership_periods).
    member = join(core, w, FixedClock(MONDAY_NOON_UTC))
    core.execute(ReceiveStripeEvent(body=stripe_event("invoice.paid", member.invoice("in_seed"))))
    # The automations consumer's work, without the relay (the outbox test needs the events still pending).
    for pending in core.read(lambda uow: uow.outbox.pending(1000)):
        if pending.org_id == w.org.id:
            run_event_automations(pending, core.deps)
    with SqlUnitOfWork(engine) as uow:
        uow.accounts.add_login(Login(coach_id=w.coach.id, org_id=w.org.id, email=w.coach.email, password_hash="x"))
        uow.accounts.add_session(
            WebSession(
                token_digest=uuid.uuid4().hex,
                coach_id=w.coach.id,
                org_id=w.org.id,
                created_at=MONDAY_NOON_UTC,
                expires_at=MONDAY_NOON_UTC + timedelta(days=1),
            )
        )
        uow.commit()
    return w


@pytest.fixture(scope="module")
def tenants(pg_databases: PostgresDatabases) -> Iterator[Tenants]:
    """Two businesses on a fresh database, written through the app as the app role."""
    url = pg_databases.create()
    app = app_engine(url, pool_size=5)
    owner = make_engine(url)
    with bootstrap(
        Settings(database_url="memory://"),
        uow=lambda: SqlUnitOfWork(app),
        clock=FixedClock(MONDAY_NOON_UTC),
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=MemoryEmail(),
    ) as core:
        built = Tenants(app=app, owner=owner, a=_seed(core, app), b=_seed(core, app))
    with owner.connect() as conn:
        for table in SEEDED:
            orgs = conn.execute(sa.text(f"SELECT count(DISTINCT org_id) FROM {table}")).scalar_one()  # noqa: S608  # our own table names
            assert orgs == 2, f"the seed left {table} without both businesses' rows"
    yield built
    app.dispose()
    owner.dispose()


def _orgs_in(conn: sa.Connection, table: str) -> set[uuid.UUID]:
    return set(conn.execute(sa.text(f"SELECT DISTINCT org_id FROM {table}")).scalars())  # noqa: S608  # our own table names


def _scope(conn: sa.Connection, org_id: uuid.UUID) -> None:
    conn.execute(sa.select(sa.func.set_config(ORG_SETTING, str(org_id), True)))


class TestAppRole:
    """The app works as a role that row-level security binds."""

    def test_the_app_engine_works_as_the_app_role(self, tenants: Tenants) -> None:
        """The app's connections are the app role, which is no superuser, cannot bypass RLS and owns no table."""
        with tenants.app.connect() as conn:
            row = conn.execute(
                sa.text("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            ).one()
            owned = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tableowner = current_user"
                )
            ).scalar_one()
        assert tuple(row) == (APP_ROLE, False, False)
        assert owned == 0

    def test_bootstrap_migrates_as_the_owner_and_works_as_the_app_role(self, pg_databases: PostgresDatabases) -> None:
        """Built from settings, Coach OS on PostgreSQL migrates as the connecting user and then works as coachos_app."""
        with bootstrap(
            Settings(database_url=pg_databases.create()),
            hasher=fast_test_hasher(),
            email=MemoryEmail(),
            upgrade_schema=True,
        ) as core:
            user = core.read(lambda uow: _current_user(uow))
        assert user == APP_ROLE


def _current_user(uow: object) -> str:
    assert isinstance(uow, SqlUnitOfWork)
    return str(uow.connection.execute(sa.text("SELECT current_user")).scalar_one())


class TestRowLevelSecurity:
    """Rows are visible and writable only under their own organisation's setting."""

    def test_unscoped_queries_see_no_business_rows(self, tenants: Tenants) -> None:
        """As the app role with no organisation set, `SELECT * FROM` every business table returns nothing."""
        with tenants.app.connect() as conn:
            seen = {
                table: len(conn.execute(sa.text(f"SELECT * FROM {table}")).all())  # noqa: S608  # our own table names
                for table in tenants.tables()
                if table not in CREDENTIALS
            }
        assert {"clients", "bookings", "packages", "outbox"} <= seen.keys()
        assert {table: n for table, n in seen.items() if n} == {}

    def test_scoped_queries_see_only_that_organisations_rows(self, tenants: Tenants) -> None:
        """With app.org_id set to business A, every tenant table shows A's rows and none of B's."""
        with tenants.app.connect() as conn:
            _scope(conn, tenants.a.org.id)
            seen = {table: _orgs_in(conn, table) for table in tenants.tables()}
        a_only = {tenants.a.org.id}
        assert {table: orgs for table, orgs in seen.items() if table in SEEDED} == dict.fromkeys(SEEDED, a_only)
        assert all(orgs <= a_only for orgs in seen.values())

    def test_the_setting_ends_with_the_transaction(self, tenants: Tenants) -> None:
        """After a commit the connection names no organisation again, so a pooled connection carries none over."""
        with tenants.app.connect() as conn:
            _scope(conn, tenants.a.org.id)
            assert _orgs_in(conn, "clients") == {tenants.a.org.id}
            conn.commit()
            assert _orgs_in(conn, "clients") == set()

    def test_inserting_a_row_for_another_organisation_is_refused(self, tenants: Tenants) -> None:
        """Under A's setting, an INSERT of a client belonging to B fails the policy's WITH CHECK."""
        with tenants.app.connect() as conn:
            _scope(conn, tenants.a.org.id)
            with pytest.raises(ProgrammingError, match="row-level security"):
                conn.execute(
                    sa.text(
                        "INSERT INTO clients (id, org_id, name, status, consents, notes, tags, created_at)"
                        " VALUES (:id, :org, 'Intruder', 'active', '[]', '', '[]', now())"
                    ),
                    {"id": uuid.uuid4(), "org": tenants.b.org.id},
                )

    def test_moving_a_row_to_another_organisation_is_refused(self, tenants: Tenants) -> None:
        """Under A's setting, an UPDATE that would hand A's service to B fails the policy's WITH CHECK."""
        with tenants.app.connect() as conn:
            _scope(conn, tenants.a.org.id)
            with pytest.raises(ProgrammingError, match="row-level security"):
                conn.execute(
                    sa.text("UPDATE services SET org_id = :b WHERE id = :id"),
                    {"b": tenants.b.org.id, "id": tenants.a.group.id},
                )

    def test_another_organisations_rows_cannot_be_updated_or_deleted(self, tenants: Tenants) -> None:
        """Under A's setting, an UPDATE or DELETE aimed at B's rows touches nothing."""
        with tenants.app.connect() as conn:
            _scope(conn, tenants.a.org.id)
            updated = conn.execute(
                sa.text("UPDATE clients SET name = 'Renamed' WHERE org_id = :b"), {"b": tenants.b.org.id}
            ).rowcount
            deleted = conn.execute(
                sa.text("DELETE FROM weekly_rules WHERE org_id = :b"), {"b": tenants.b.org.id}
            ).rowcount
            conn.rollback()
        assert (updated, deleted) == (0, 0)

    def test_a_repository_query_without_an_org_filter_sees_only_its_organisation(self, tenants: Tenants) -> None:
        """A repository method that forgets its org_id filter still returns only the organisation it was called for."""

        class CarelessClients(SqlClients):
            def everyone(self, org_id: OrgId) -> set[uuid.UUID]:
                return set(self._c.execute(sa.select(clients.c.org_id).distinct()).scalars())

        with tenants.app.connect() as conn:
            assert CarelessClients(conn).everyone(tenants.b.org.id) == {tenants.b.org.id}

    def test_credentials_are_found_by_secret_before_the_organisation_is_known(self, tenants: Tenants) -> None:
        """With no organisation set, sessions are found by digest; once A is set, B's are hidden."""
        with tenants.owner.connect() as conn:
            b_digest = conn.execute(
                sa.text("SELECT token_digest FROM web_sessions WHERE org_id = :b"), {"b": tenants.b.org.id}
            ).scalar_one()
        with tenants.app.connect() as conn:
            lookup = sa.text("SELECT org_id FROM web_sessions WHERE token_digest = :d")
            assert conn.execute(lookup, {"d": b_digest}).scalar_one() == tenants.b.org.id
            _scope(conn, tenants.a.org.id)
            assert conn.execute(lookup, {"d": b_digest}).first() is None

    def test_the_outbox_relay_reads_every_organisation(self, tenants: Tenants) -> None:
        """The outbox's pending events span both businesses although an unscoped SELECT sees none."""
        with tenants.app.connect() as conn:
            pending = SqlOutbox(conn).pending(limit=10_000)
        assert {tenants.a.org.id, tenants.b.org.id} <= {e.org_id for e in pending}

    def test_a_use_case_sets_the_organisation_once(self, tenants: Tenants) -> None:
        """Finding slots (several repository calls in one transaction) issues one set_config, not one per call."""
        statements: list[str] = []

        def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            statements.append(statement)

        event.listen(tenants.app, "before_cursor_execute", record)
        try:
            with bootstrap(Settings(database_url="memory://"), uow=lambda: SqlUnitOfWork(tenants.app)) as core:
                w = tenants.a
                core.execute(
                    FindSlots(
                        org_id=w.org.id,
                        coach_id=w.coach.id,
                        service_id=w.pt.id,
                        start=MONDAY_NOON_UTC,
                        end=MONDAY_NOON_UTC + timedelta(days=7),
                    )
                )
        finally:
            event.remove(tenants.app, "before_cursor_execute", record)
        assert len(statements) > 3
        assert sum("set_config" in s for s in statements) == 1


class TestPolicies:
    """The schema itself: no table with an org_id column is left without row-level security."""

    def test_every_table_with_an_org_id_has_row_level_security_and_a_policy(self, tenants: Tenants) -> None:
        """Each table with an org_id column has RLS enabled and a policy on org_id (a new table cannot be forgotten)."""
        with tenants.owner.connect() as conn:
            rows = conn.execute(
                sa.text(
                    """
                    SELECT c.relname, c.relrowsecurity,
                           bool_or(p.qual LIKE '%org_id%' AND p.with_check LIKE '%org_id%') AS guarded
                    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
                    LEFT JOIN pg_policies p ON p.schemaname = current_schema() AND p.tablename = c.relname
                    WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
                      AND a.attname = 'org_id' AND NOT a.attisdropped
                    GROUP BY c.relname, c.relrowsecurity
                    """
                )
            ).all()
        assert len(rows) >= len(SEEDED)
        assert [r.relname for r in rows if not (r.relrowsecurity and r.guarded)] == []

    def test_downgrade_removes_the_policies_and_upgrade_restores_them(self, pg_databases: PostgresDatabases) -> None:
        """Going back to before 0007 drops every policy and the app role's privileges; upgrading brings both back."""
        owner = make_engine(pg_databases.create())
        try:
            migrate.upgrade(owner)
            migrate.downgrade(owner, "0007-1")
            assert _guarded(owner) == (0, False)
            migrate.upgrade(owner)
            policies, readable = _guarded(owner)
            assert policies >= len(SEEDED)
            assert readable
        finally:
            owner.dispose()


def _guarded(owner: Engine) -> tuple[int, bool]:
    """How many tables have a policy, and whether the app role may read clients."""
    with owner.connect() as conn:
        policies = conn.execute(sa.text("SELECT count(*) FROM pg_policies WHERE schemaname = current_schema()"))
        readable = conn.execute(sa.text("SELECT has_table_privilege(:role, 'clients', 'SELECT')"), {"role": APP_ROLE})
        return int(policies.scalar_one()), bool(readable.scalar_one())
