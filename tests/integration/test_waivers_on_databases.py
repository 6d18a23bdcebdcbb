"""Waivers on SQLite and PostgreSQL: the fake's tests again, permanence enforced by the database, racing signers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS
from coachos.adapters.sql.tables import waiver_signatures, waiver_versions
from coachos.adapters.sql.tenancy import scope_to
from coachos.domain.errors import CoachOSError, Conflict
from coachos.domain.usecases import ListWaivers
from coachos.domain.waivers import WaiverSignature, WaiverVersion
from tests.helpers import World
from tests.integration.test_concurrency import race
from tests.unit.test_waivers import (  # noqa: F401  # collected again with this folder's `app`
    TestSendingTheLink,
    TestSigning,
    TestVersions,
    new_waiver,
    publish,
    sign,
)


@contextmanager
def as_app_role(engine: Engine, world: World) -> Iterator[sa.Connection]:
    """A transaction as the app's own role (the engine's), scoped to the world's business, rolled back at the end."""
    with engine.connect() as conn, conn.begin() as tx:
        scope_to(conn, world.org.id)
        yield conn
        tx.rollback()


def attempt(engine: Engine, world: World, statement: sa.Executable, *, owner: bool = False) -> Exception | None:
    """Run one raw statement; the database's refusal, or None if it ran."""
    with as_app_role(engine, world) as conn:
        if owner and conn.dialect.name == "postgresql":
            # The table owner, who holds every privilege: only the trigger stands in the way.
            conn.execute(sa.text("SET LOCAL ROLE NONE"))
        try:
            conn.execute(statement)
        except sa.exc.DBAPIError as exc:
            return exc
    return None


class TestPermanence:
    @pytest.mark.parametrize("owner", [False, True], ids=["app-role", "owner"])
    def test_published_versions_cannot_be_updated_or_deleted(
        self, engine: Engine, app: CoachOS, world: World, owner: bool
    ) -> None:
        """Raw UPDATE and DELETE of a published version are refused by the database; the text stays."""
        _, version = new_waiver(app, world)
        t = waiver_versions
        for statement in (
            sa.update(t).where(t.c.id == version.id).values(body="Nothing to see."),
            sa.update(t).where(t.c.id == version.id).values(material=False),
            sa.delete(t).where(t.c.id == version.id),
            sa.delete(t).where(t.c.org_id == world.org.id),
        ):
            assert attempt(engine, world, statement, owner=owner) is not None, statement
        with as_app_role(engine, world) as conn:
            assert conn.execute(sa.select(t.c.body).where(t.c.id == version.id)).scalar_one() == version.body

    @pytest.mark.parametrize("owner", [False, True], ids=["app-role", "owner"])
    def test_signatures_cannot_be_updated_or_deleted(
        self, engine: Engine, app: CoachOS, world: World, owner: bool
    ) -> None:
        """Raw UPDATE and DELETE of a signature are refused by the database; the signature stays as signed."""
        waiver, version = new_waiver(app, world)
        s = sign(app, world, waiver, version)
        t = waiver_signatures
        for statement in (
            sa.update(t).where(t.c.id == s.id).values(typed_name="Someone Else"),
            sa.update(t).where(t.c.id == s.id).values(text_sha256="0" * 64),
            sa.delete(t).where(t.c.id == s.id),
        ):
            assert attempt(engine, world, statement, owner=owner) is not None, statement
        with as_app_role(engine, world) as conn:
            row = conn.execute(sa.select(t).where(t.c.id == s.id)).one()
        assert (row.typed_name, row.text_sha256) == ("Jordan Lee", version.sha256)

    def test_a_signature_must_match_its_version(self, engine: Engine, app: CoachOS, world: World) -> None:
        """A signature naming a version with the wrong waiver or number is refused by the foreign key."""
        waiver, version = new_waiver(app, world)
        s = sign(app, world, waiver, version)
        with as_app_role(engine, world) as conn:
            row = dict(conn.execute(sa.select(waiver_signatures).where(waiver_signatures.c.id == s.id)).one()._mapping)
        row.update(id=app.deps.ids.new_id(), client_id=world.client.id, version_number=2)
        assert attempt(engine, world, sa.insert(waiver_signatures).values(**row)) is not None


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
class TestRacingSigners:
    def test_ten_submits_at_once_store_one_signature(self, engine: Engine, app: CoachOS, world: World) -> None:
        """Ten submits of the same signing form at once, each on its own connection: one signature, all get it."""
        waiver, version = new_waiver(app, world)
        results = race([lambda: sign(app, world, waiver, version) for _ in range(10)])
        assert not [r for r in results if isinstance(r, CoachOSError)]
        assert len({r.id for r in results if isinstance(r, WaiverSignature)}) == 1
        with as_app_role(engine, world) as conn:
            count = conn.execute(
                sa.select(sa.func.count()).where(
                    waiver_signatures.c.org_id == world.org.id, waiver_signatures.c.version_id == version.id
                )
            ).scalar_one()
        assert count == 1

    def test_two_coaches_publishing_at_once_make_one_next_version(self, app: CoachOS, world: World) -> None:
        """Five publishes at once never share a number: each is stored as the next version or told to reload."""
        waiver, _ = new_waiver(app, world)
        results = race([lambda n=n: publish(app, world, waiver, f"Text {n}", material=False) for n in range(5)])
        stored = [r for r in results if isinstance(r, WaiverVersion)]
        assert all(isinstance(r, Conflict) for r in results if r not in stored)
        assert stored
        numbers = [v.number for v in app.execute(ListWaivers(org_id=world.org.id))[0].versions]
        assert numbers == list(range(1, len(stored) + 2))
