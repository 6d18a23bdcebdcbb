"""Coach accounts: sign-up, log-in, sessions, API tokens and password resets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from coachos import CoachOS, Conflict, NotFound, Settings, ValidationError, bootstrap
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.domain.accounts import digest
from coachos.domain.errors import NotAuthenticated, Throttled
from coachos.domain.usecases import (
    Authenticate,
    CreateApiToken,
    ListApiTokens,
    LogIn,
    LogOut,
    RequestPasswordReset,
    ResetPassword,
    RevokeApiToken,
    SignUp,
)
from tests.helpers import MONDAY_NOON_UTC

PASSWORD = "correct horse battery"


@pytest.fixture
def mail() -> MemoryEmail:
    return MemoryEmail()


@pytest.fixture
def app(clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    with bootstrap(
        Settings(database_url="memory://"),
        uow=MemoryStore().unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        hasher=fast_test_hasher(),
        email=mail,
    ) as built:
        yield built


def sign_up(app: CoachOS, email: str = "alex@peak.test", slug: str = "peak") -> None:
    app.execute(
        SignUp(
            business_name="Peak",
            slug=slug,
            timezone="Europe/London",
            currency="GBP",
            name="Alex",
            email=email,
            password=PASSWORD,
        )
    )


def log_in(app: CoachOS, password: str = PASSWORD, address: str = "10.0.0.1") -> str:
    return app.execute(LogIn(email="ALEX@peak.test", password=password, address=address)).session_token


class TestSignUpAndLogIn:
    def test_sign_up_then_log_in_gives_a_live_session(self, app: CoachOS) -> None:
        """A new account can log in (email case ignored) and its session authenticates."""
        sign_up(app)
        token = log_in(app)
        principal = app.execute(Authenticate(token=token))
        assert principal is not None
        assert principal.via == "session"

    def test_each_log_in_is_a_new_session_id(self, app: CoachOS) -> None:
        """Logging in twice yields two different session secrets (the id rotates)."""
        sign_up(app)
        assert log_in(app) != log_in(app)

    def test_short_password_and_taken_email_write_nothing(self, app: CoachOS) -> None:
        """A short password is refused; a second account with the same email is refused and no org is left."""
        with pytest.raises(ValidationError, match="at least 10"):
            app.execute(
                SignUp(
                    business_name="P",
                    slug="p-one",
                    timezone="UTC",
                    currency="USD",
                    name="A",
                    email="a@b.co",
                    password="short",
                )
            )
        sign_up(app)
        with pytest.raises(Conflict, match="exists already"):
            sign_up(app, slug="peak-two")
        with app.unit_of_work() as uow, pytest.raises(NotFound):
            uow.orgs.by_slug("peak-two")

    def test_wrong_password_and_unknown_email_look_alike(self, app: CoachOS) -> None:
        """A wrong password and an unknown email give the same refusal."""
        sign_up(app)
        with pytest.raises(NotAuthenticated, match="do not match") as wrong:
            log_in(app, password="not the password")
        with pytest.raises(NotAuthenticated) as unknown:
            app.execute(LogIn(email="nobody@peak.test", password=PASSWORD, address="10.0.0.1"))
        assert wrong.value.message == unknown.value.message

    def test_five_failures_throttle_even_the_right_password(self, app: CoachOS, clock: FixedClock) -> None:
        """After five failures in fifteen minutes the right password is refused too, until the window passes."""
        sign_up(app)
        for _ in range(5):
            with pytest.raises(NotAuthenticated):
                log_in(app, password="wrong password!")
        with pytest.raises(Throttled, match="15 minutes"):
            log_in(app)
        clock.advance(timedelta(minutes=16))
        assert log_in(app)

    def test_session_expires_and_log_out_ends_it(self, app: CoachOS, clock: FixedClock) -> None:
        """A session stops working after logging out, and on its own after fourteen days."""
        sign_up(app)
        first, second = log_in(app), log_in(app)
        app.execute(LogOut(token=first))
        assert app.execute(Authenticate(token=first)) is None
        clock.advance(timedelta(days=14, seconds=1))
        assert app.execute(Authenticate(token=second)) is None


class TestApiTokens:
    def test_token_works_until_revoked(self, app: CoachOS) -> None:
        """A new API token authenticates as its coach until it is revoked; its secret is never listed."""
        sign_up(app)
        principal = app.execute(Authenticate(token=log_in(app)))
        assert principal is not None
        made = app.execute(CreateApiToken(org_id=principal.org_id, coach_id=principal.coach_id, name="Zapier"))
        assert made.secret.startswith("coa_")
        assert app.execute(Authenticate(token=made.secret, kind="api")) == principal.__class__(
            org_id=principal.org_id, coach_id=principal.coach_id, via="token"
        )
        listed = app.execute(ListApiTokens(org_id=principal.org_id, coach_id=principal.coach_id))
        assert made.secret not in repr(listed)
        app.execute(RevokeApiToken(org_id=principal.org_id, coach_id=principal.coach_id, token_id=made.token.id))
        assert app.execute(Authenticate(token=made.secret, kind="api")) is None

    def test_session_secret_is_not_an_api_token(self, app: CoachOS) -> None:
        """A session secret presented as an API token is refused."""
        sign_up(app)
        assert app.execute(Authenticate(token=log_in(app), kind="api")) is None


class TestPasswordReset:
    def test_reset_link_works_once_and_ends_sessions(self, app: CoachOS, mail: MemoryEmail) -> None:
        """The emailed link sets a new password once, ends old sessions, and the old password stops working."""
        sign_up(app)
        old_session = log_in(app)
        app.execute(RequestPasswordReset(email="alex@peak.test", link_base="https://x.test/reset/"))
        (message,) = mail.sent
        token = message.text.split("https://x.test/reset/")[1].split()[0]
        app.execute(ResetPassword(token=token, password="a brand new secret"))
        assert app.execute(Authenticate(token=old_session)) is None
        with pytest.raises(NotAuthenticated):
            log_in(app)
        assert log_in(app, password="a brand new secret")
        with pytest.raises(ValidationError, match="expired or was used"):
            app.execute(ResetPassword(token=token, password="another new secret"))

    def test_unknown_email_sends_nothing(self, app: CoachOS, mail: MemoryEmail) -> None:
        """Asking to reset an unknown email sends nothing and says nothing different."""
        app.execute(RequestPasswordReset(email="ghost@peak.test", link_base="https://x.test/reset/"))
        assert mail.sent == []

    def test_reset_link_expires_after_an_hour(self, app: CoachOS, mail: MemoryEmail, clock: FixedClock) -> None:
        """A reset link older than an hour is refused."""
        sign_up(app)
        app.execute(RequestPasswordReset(email="alex@peak.test", link_base="R/"))
        token = mail.sent[0].text.split("R/")[1].split()[0]
        clock.advance(timedelta(minutes=61))
        with pytest.raises(ValidationError):
            app.execute(ResetPassword(token=token, password="a brand new secret"))


def test_clock_fixture_is_the_shared_monday() -> None:
    """The shared test clock starts on the documented Monday."""
    assert FixedClock(MONDAY_NOON_UTC).now().weekday() == 0


class TestPruneExpired:
    def test_only_dead_rows_go(self, app: CoachOS, clock: FixedClock, mail: MemoryEmail) -> None:
        """Pruning deletes expired sessions, used reset links and old failures, and keeps what still works."""
        from coachos.domain.usecases import PruneExpired

        email = f"prune-{uuid.uuid4().hex[:8]}@peak.test"  # unique: integration runs share one database
        app.execute(
            SignUp(
                business_name="Prune",
                slug=f"prune-{uuid.uuid4().hex[:8]}",
                timezone="UTC",
                currency="USD",
                name="P",
                email=email,
                password=PASSWORD,
            )
        )
        with pytest.raises(NotAuthenticated):
            app.execute(LogIn(email=email, password="wrong password!", address="10.9.9.9"))
        app.execute(RequestPasswordReset(email=email, link_base="R/"))
        token = mail.sent[-1].text.split("R/")[1].split()[0]
        app.execute(ResetPassword(token=token, password="a brand new secret"))
        old = app.execute(LogIn(email=email, password="a brand new secret", address="10.9.9.9")).session_token
        clock.advance(timedelta(days=14, seconds=1))
        fresh = app.execute(LogIn(email=email, password="a brand new secret", address="10.9.9.9")).session_token
        assert app.execute(PruneExpired()) >= 3  # the used reset link, the old failure, the expired session
        with app.unit_of_work() as uow:
            assert uow.accounts.session(digest(old)) is None
            assert uow.accounts.session(digest(fresh)) is not None
            assert uow.accounts.failures_since(email, "10.9.9.9", MONDAY_NOON_UTC - timedelta(days=1)) == (0, 0)
            assert uow.accounts.take_reset(digest(token), clock.now()) is None
        assert app.execute(Authenticate(token=fresh)) is not None


class TestArgon2Hasher:
    def test_verify_absent_never_succeeds(self) -> None:
        """The decoy check for unknown emails is False for any password, the decoy's own included."""
        hasher = fast_test_hasher()
        assert hasher.verify_absent("coachos-decoy-password") is False
        assert hasher.verify_absent(PASSWORD) is False
        assert hasher.verify(hasher.hash(PASSWORD), PASSWORD) is True
