"""Races on real connections: parallel password guesses and reset requests count exactly.

Each attempt reserves its slot with one conditional upsert, committed before the slow password
check, so sixty guesses at once get no more passwords checked than the limit allows. Runs on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from coachos import CoachOS, RequestPasswordReset, Settings, SignUp, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.accounts import LOGIN_THROTTLE, RESETS_PER_EMAIL
from coachos.domain.errors import NotAuthenticated, Throttled
from coachos.domain.usecases import LogIn
from coachos.ports.storage import UnitOfWork
from tests.integration.test_concurrency import kinds, race

PASSWORD = "correct horse battery"


class CountingHasher:
    """The fast test hasher, counting how many passwords it was asked to check."""

    def __init__(self) -> None:
        self._inner = fast_test_hasher()
        self._lock = threading.Lock()
        self.checks = 0

    def _count(self) -> None:
        with self._lock:
            self.checks += 1

    def hash(self, password: str) -> str:
        """Hash, uncounted."""
        return self._inner.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        """Check a password against a login's hash, counted."""
        self._count()
        return self._inner.verify(stored, password)

    def verify_absent(self, password: str) -> bool:
        """Check a password for an unknown email, counted."""
        self._count()
        return self._inner.verify_absent(password)

    def needs_rehash(self, stored: str) -> bool:
        """As the real hasher."""
        return self._inner.needs_rehash(stored)


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def app(engine: Engine, clock: FixedClock, mail: MemoryEmail, hasher: CountingHasher) -> Iterator[CoachOS]:
    """Coach OS on a real database, with a hasher that counts password checks."""

    def uow() -> UnitOfWork:
        return SqlUnitOfWork(engine)

    with bootstrap(
        Settings(database_url="memory://"), uow=uow, clock=clock, ids=RandomIds(), hasher=hasher, email=mail
    ) as built:
        yield built


def open_account(app: CoachOS) -> str:
    unique = uuid.uuid4().hex[:10]
    _, coach = app.execute(
        SignUp(
            business_name="Race",
            slug=f"race-{unique}",
            timezone="UTC",
            currency="USD",
            name="R",
            email=f"race-{unique}@peak.test",
            password=PASSWORD,
        )
    )
    return coach.email


class TestLogInRaces:
    def test_sixty_parallel_guesses_check_five_passwords(self, app: CoachOS, hasher: CountingHasher) -> None:
        """Sixty wrong passwords at once for one account from one address: five are checked, fifty-five must wait."""
        email = open_account(app)
        address = f"10.{uuid.uuid4().int % 256}.7.7"
        results = race(
            [lambda: app.execute(LogIn(email=email, password="wrong password!", address=address)) for _ in range(60)]
        )
        assert hasher.checks == LOGIN_THROTTLE.free
        assert kinds(results) == {"NotAuthenticated": LOGIN_THROTTLE.free, "Throttled": 60 - LOGIN_THROTTLE.free}
        assert all(isinstance(r, NotAuthenticated | Throttled) for r in results)
        assert app.execute(LogIn(email=email, password=PASSWORD, address=f"{address}1")).session_token

    def test_sixty_parallel_guesses_for_an_unknown_email_check_five(self, app: CoachOS, hasher: CountingHasher) -> None:
        """An unknown email is limited the same way: five decoy checks out of sixty guesses."""
        address = f"10.{uuid.uuid4().int % 256}.8.8"
        email = f"ghost-{uuid.uuid4().hex[:10]}@peak.test"
        results = race(
            [lambda: app.execute(LogIn(email=email, password="wrong password!", address=address)) for _ in range(60)]
        )
        assert hasher.checks == LOGIN_THROTTLE.free
        assert kinds(results) == {"NotAuthenticated": LOGIN_THROTTLE.free, "Throttled": 60 - LOGIN_THROTTLE.free}


class TestResetRequestRaces:
    def test_thirty_parallel_requests_send_three_emails(self, app: CoachOS, mail: MemoryEmail) -> None:
        """Thirty reset requests at once for one email send exactly the three an hour allows."""
        email = open_account(app)
        results = race(
            [
                lambda n=n: app.execute(RequestPasswordReset(email=email, link_base="R/", address=f"10.9.{n}.1"))
                for n in range(30)
            ]
        )
        assert kinds(results) == {"ok": 30}
        assert len([m for m in mail.sent if m.to == email]) == RESETS_PER_EMAIL
