"""Client sign-in on SQLite and PostgreSQL, and two confirmations of one link racing on real connections."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS
from coachos.adapters.sql.tables import client_sessions
from coachos.domain.errors import NotAuthenticated
from coachos.domain.usecases import ClientSignedIn, SignInWithCode, SignInWithLink
from tests.helpers import World
from tests.integration.test_concurrency import kinds, race
from tests.unit.test_portal_sign_in import (  # noqa: F401  # collected again with this folder's `app`
    EMAIL,
    TestCode,
    TestContactChange,
    TestDeletion,
    TestLink,
    TestPrune,
    TestRequest,
    ask,
    sent,
    with_email,
)


def sessions(engine: Engine) -> int:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL ROLE NONE"))
        return int(conn.execute(sa.select(sa.func.count()).select_from(client_sessions)).scalar_one())


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
class TestRacingConfirmations:
    def test_two_posts_of_one_link_open_one_session(self, engine: Engine, app: CoachOS, world: World) -> None:
        """Two confirmations of the same link at once, each on its own connection: exactly one session."""
        client = with_email(app, world)
        ask(app, world)
        ((token, _),) = sent(app, world, client)
        before = sessions(engine)
        results = race([lambda: app.execute(SignInWithLink(org_id=world.org.id, token=token)) for _ in range(2)])
        assert kinds(results) == {"ok": 1, "NotAuthenticated": 1}
        assert sessions(engine) == before + 1

    def test_ten_posts_of_one_code_open_one_session(self, engine: Engine, app: CoachOS, world: World) -> None:
        """Ten uses of the same code at once: one session, the rest refused."""
        client = with_email(app, world)
        ask(app, world)
        ((_, code),) = sent(app, world, client)
        results = race(
            [
                lambda: app.execute(
                    SignInWithCode(org_id=world.org.id, contact=EMAIL, code=code, address=world.org.id.hex)
                )
                for _ in range(10)
            ]
        )
        assert sum(isinstance(r, ClientSignedIn) for r in results) == 1
        assert all(isinstance(r, ClientSignedIn | NotAuthenticated) for r in results)
