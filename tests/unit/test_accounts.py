"""Coach accounts: sign-up, log-in, sessions, API tokens and password resets."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import time, timedelta

import attrs
import pytest

from coachos import CoachOS, Conflict, NotFound, Settings, ValidationError, bootstrap
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.domain.accounts import (
    ACCOUNT_SOFT_LIMIT,
    ADDRESS_SOFT_LIMIT,
    SecurityEventKind,
    digest,
)
from coachos.domain.errors import CurrencyMismatch, NotAuthenticated, Throttled
from coachos.domain.money import Money
from coachos.domain.usecases import (
    Authenticate,
    CreateApiToken,
    ListApiTokens,
    ListSecurityEvents,
    LogIn,
    LogOut,
    RequestPasswordReset,
    ResetPassword,
    RevokeApiToken,
    SignUp,
)
from coachos.domain.usecases.accounts import FirstService
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

    def test_session_expires_and_log_out_ends_it(self, app: CoachOS, clock: FixedClock) -> None:
        """A session stops working after logging out, and on its own after fourteen days."""
        sign_up(app)
        first, second = log_in(app), log_in(app)
        app.execute(LogOut(token=first))
        assert app.execute(Authenticate(token=first)) is None
        clock.advance(timedelta(days=14, seconds=1))
        assert app.execute(Authenticate(token=second)) is None


@attrs.frozen
class Account:
    """A coach's account opened for one test, with addresses of its own (integration runs share a database)."""

    email: str
    org_id: uuid.UUID
    coach_id: uuid.UUID
    #: The first three octets of this test's network, e.g. "10.23.201".
    net: str

    def at(self, host: int) -> str:
        """An address on this test's network."""
        return f"{self.net}.{host}"


def open_account(app: CoachOS) -> Account:
    unique = uuid.uuid4().hex[:10]
    org, coach = app.execute(
        SignUp(
            business_name="Throttle",
            slug=f"t-{unique}",
            timezone="UTC",
            currency="USD",
            name="T",
            email=f"t-{unique}@peak.test",
            password=PASSWORD,
        )
    )
    net = f"10.{random.randrange(256)}.{random.randrange(256)}"  # noqa: S311  # not for security
    return Account(email=coach.email, org_id=org.id, coach_id=coach.id, net=net)


def attempt(app: CoachOS, account: Account, address: str, password: str = PASSWORD) -> str:
    return app.execute(LogIn(email=account.email, password=password, address=address)).session_token


def wrong(app: CoachOS, account: Account, address: str) -> None:
    with pytest.raises(NotAuthenticated):
        attempt(app, account, address, password="wrong password!")


def waits(app: CoachOS, account: Account, address: str, password: str = PASSWORD) -> int:
    """Seconds the refused attempt was told to wait."""
    with pytest.raises(Throttled) as refused:
        attempt(app, account, address, password)
    assert refused.value.retry_after is not None
    return refused.value.retry_after


class TestLogInThrottle:
    def test_a_clean_address_logs_in_despite_another_addresses_failures(self, app: CoachOS) -> None:
        """Five wrong passwords from one address leave the right password working from another address."""
        me = open_account(app)
        for _ in range(5):
            wrong(app, me, me.at(66))
        assert attempt(app, me, me.at(1))

    def test_the_wait_doubles_with_each_further_failure(self, app: CoachOS, clock: FixedClock) -> None:
        """After five failures an address waits one minute, then two, then four, even with the right password."""
        me, there = (me := open_account(app)), me.at(7)
        for _ in range(5):
            wrong(app, me, there)
        assert waits(app, me, there) == 60
        clock.advance(timedelta(seconds=60))
        wrong(app, me, there)
        assert waits(app, me, there) == 120
        clock.advance(timedelta(seconds=119))
        assert waits(app, me, there) == 1
        clock.advance(timedelta(seconds=1))
        wrong(app, me, there)
        assert waits(app, me, there) == 240
        clock.advance(timedelta(seconds=240))
        assert attempt(app, me, there)
        for _ in range(4):  # a success starts the count again
            wrong(app, me, there)

    def test_the_answer_says_when_to_retry(self, app: CoachOS) -> None:
        """The refusal names the wait and suggests resetting the password."""
        me = open_account(app)
        for _ in range(5):
            wrong(app, me, me.at(8))
        with pytest.raises(Throttled, match="Try again in 1 minute, or reset your password"):
            attempt(app, me, me.at(8))

    def test_a_password_reset_lifts_the_wait(self, app: CoachOS, mail: MemoryEmail) -> None:
        """After a successful password reset the address that failed logs in at once with the new password."""
        me = open_account(app)
        for _ in range(6):
            with pytest.raises((NotAuthenticated, Throttled)):
                attempt(app, me, me.at(9), password="wrong password!")
        app.execute(RequestPasswordReset(email=me.email, link_base="R/", address=me.at(9)))
        token = mail.sent[-1].text.split("R/")[1].split()[0]
        app.execute(ResetPassword(token=token, password="a brand new secret", address=me.at(9)))
        assert attempt(app, me, me.at(9), password="a brand new secret")

    def test_a_lock_out_is_recorded_for_the_coach(self, app: CoachOS, clock: FixedClock) -> None:
        """Each failure that starts a wait becomes a security event for the coach, with the address masked."""
        me = open_account(app)
        for _ in range(5):
            wrong(app, me, me.at(77))
        (event,) = app.execute(ListSecurityEvents(org_id=me.org_id, coach_id=me.coach_id))
        assert (event.kind, event.address, event.failures) == (SecurityEventKind.LOCKED_OUT, f"{me.net}.*", 5)
        assert event.until == clock.now() + timedelta(minutes=1)
        assert f"{me.net}.*" in event.describe()
        assert "wait 1 minute" in event.describe()
        clock.advance(timedelta(minutes=1))
        wrong(app, me, me.at(77))
        newest, _ = app.execute(ListSecurityEvents(org_id=me.org_id, coach_id=me.coach_id))
        assert (newest.failures, newest.until) == (6, clock.now() + timedelta(minutes=2))

    def test_many_failures_across_addresses_alert_once_and_slow_only_those_addresses(self, app: CoachOS) -> None:
        """Past the account-wide limit the coach is told once; failing addresses then wait sooner, clean ones never."""
        me = open_account(app)
        for host in range(ACCOUNT_SOFT_LIMIT + 3):
            wrong(app, me, me.at(host))
        events = app.execute(ListSecurityEvents(org_id=me.org_id, coach_id=me.coach_id, limit=100))
        alerts = [e for e in events if e.kind is SecurityEventKind.MANY_FAILURES]
        assert [e.failures for e in alerts] == [ACCOUNT_SOFT_LIMIT]
        wrong(app, me, me.at(0))
        assert waits(app, me, me.at(0)) == 120  # after two failures, not five
        assert attempt(app, me, me.at(200))

    def test_an_addresses_failures_for_other_accounts_do_not_lock_out_its_coaches(self, app: CoachOS) -> None:
        """Many wrong passwords from one address for other emails leave a coach there able to log in."""
        me = open_account(app)
        for n in range(ADDRESS_SOFT_LIMIT + 5):
            with pytest.raises(NotAuthenticated):
                app.execute(LogIn(email=f"ghost{n}-{me.email}", password="wrong password!", address=me.at(5)))
        assert attempt(app, me, me.at(5))
        wrong(app, me, me.at(5))
        assert waits(app, me, me.at(5)) == 60  # that address is slowed: one failure, then a wait

    def test_unknown_emails_are_throttled_alike(self, app: CoachOS) -> None:
        """An unknown email is refused, then throttled, exactly like a known one, so neither tells it exists."""
        me = open_account(app)
        ghost = attrs.evolve(me, email=f"ghost-{me.email}")
        for _ in range(5):
            wrong(app, me, me.at(3))
            wrong(app, ghost, me.at(3))
        assert waits(app, me, me.at(3)) == waits(app, ghost, me.at(3)) == 60


class TestAtomicSignUp:
    @pytest.mark.parametrize(
        ("service", "hours"),
        [
            (FirstService(name="PT", duration=timedelta(minutes=60), price=Money(100, "EUR")), ()),
            (FirstService(name="PT", duration=timedelta(minutes=60), price=Money(-1, "USD")), ()),
            (FirstService(name="PT", duration=timedelta(0), price=Money(100, "USD")), ()),
            (FirstService(name=" ", duration=timedelta(minutes=60), price=Money(100, "USD")), ()),
            (None, [(0, time(9), time(12)), (0, time(11), time(13))]),
            (None, [(0, time(17), time(9))]),
            (None, [(9, time(9), time(17))]),
        ],
    )
    def test_a_refused_service_or_hours_write_nothing(
        self, app: CoachOS, service: FirstService | None, hours: list[tuple[int, time, time]]
    ) -> None:
        """A bad first service or bad hours refuse the sign-up and store nothing; the same email and slug work next."""
        unique = uuid.uuid4().hex[:10]
        email, slug = f"a-{unique}@peak.test", f"a-{unique}"
        good = SignUp(
            business_name="Atomic",
            slug=slug,
            timezone="UTC",
            currency="USD",
            name="A",
            email=email,
            password=PASSWORD,
            service=FirstService(name="PT", duration=timedelta(minutes=60), price=Money(8550, "USD")),
            hours=[(d, time(9), time(17)) for d in range(5)],
        )
        with pytest.raises(ValidationError):
            app.execute(attrs.evolve(good, service=service, hours=hours))
        with app.unit_of_work() as uow:
            assert uow.accounts.login_by_email(email) is None
            with pytest.raises(NotFound):
                uow.orgs.by_slug(slug)
        org, coach = app.execute(good)
        with app.unit_of_work() as uow:
            (made,) = uow.services.list(org.id)
            assert made.price == Money(8550, "USD")
            assert len(uow.availability.weekly(org.id, coach.id)) == 5

    def test_a_price_in_another_currency_is_named(self, app: CoachOS) -> None:
        """A first service priced in another currency than the business's is refused as a currency mismatch."""
        with pytest.raises(CurrencyMismatch):
            app.execute(
                SignUp(
                    business_name="Atomic",
                    slug=f"c-{uuid.uuid4().hex[:10]}",
                    timezone="UTC",
                    currency="USD",
                    name="A",
                    email=f"c-{uuid.uuid4().hex[:10]}@peak.test",
                    password=PASSWORD,
                    service=FirstService(name="PT", duration=timedelta(minutes=60), price=Money(100, "EUR")),
                )
            )


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
        app.execute(RequestPasswordReset(email="alex@peak.test", link_base="https://x.test/reset/", address="10.0.0.1"))
        (message,) = mail.sent
        token = message.text.split("https://x.test/reset/")[1].split()[0]
        app.execute(ResetPassword(token=token, password="a brand new secret"))
        assert app.execute(Authenticate(token=old_session)) is None
        with pytest.raises(NotAuthenticated):
            log_in(app)
        assert log_in(app, password="a brand new secret")
        with pytest.raises(ValidationError, match="expired or was used"):
            app.execute(ResetPassword(token=token, password="another new secret"))

    def test_reset_revokes_every_api_token(self, app: CoachOS, mail: MemoryEmail) -> None:
        """A password reset revokes the coach's API tokens too, and the email says it will."""
        sign_up(app)
        principal = app.execute(Authenticate(token=log_in(app)))
        assert principal is not None
        made = [
            app.execute(CreateApiToken(org_id=principal.org_id, coach_id=principal.coach_id, name=name))
            for name in ("Zapier", "Sheets")
        ]
        app.execute(RequestPasswordReset(email="alex@peak.test", link_base="R/", address="10.0.0.1"))
        assert "revokes all your API tokens" in mail.sent[-1].text
        token = mail.sent[-1].text.split("R/")[1].split()[0]
        app.execute(ResetPassword(token=token, password="a brand new secret"))
        assert [app.execute(Authenticate(token=m.secret, kind="api")) for m in made] == [None, None]
        listed = app.execute(ListApiTokens(org_id=principal.org_id, coach_id=principal.coach_id))
        assert all(t.revoked_at is not None for t in listed)

    def test_reset_emails_per_email_are_limited_silently(
        self, app: CoachOS, mail: MemoryEmail, clock: FixedClock
    ) -> None:
        """Past three requests an hour for one email no more links go out, from any address, and nothing says so."""
        sign_up(app)
        answers = [
            app.execute(RequestPasswordReset(email="alex@peak.test", link_base="R/", address=f"10.0.1.{n}"))
            for n in range(6)
        ]
        assert answers == [None] * 6
        assert len(mail.sent) == 3
        clock.advance(timedelta(hours=1))
        app.execute(RequestPasswordReset(email="alex@peak.test", link_base="R/", address="10.0.1.1"))
        assert len(mail.sent) == 4

    def test_reset_requests_per_address_are_limited(self, app: CoachOS, mail: MemoryEmail) -> None:
        """Past ten requests an hour from one address, known emails or not, no link goes out from there."""
        sign_up(app)
        for n in range(10):
            app.execute(RequestPasswordReset(email=f"ghost{n}@peak.test", link_base="R/", address="10.0.2.1"))
        app.execute(RequestPasswordReset(email="alex@peak.test", link_base="R/", address="10.0.2.1"))
        assert mail.sent == []
        app.execute(RequestPasswordReset(email="alex@peak.test", link_base="R/", address="10.0.2.2"))
        assert len(mail.sent) == 1

    def test_unknown_email_sends_nothing(self, app: CoachOS, mail: MemoryEmail) -> None:
        """Asking to reset an unknown email sends nothing and says nothing different."""
        app.execute(
            RequestPasswordReset(email="ghost@peak.test", link_base="https://x.test/reset/", address="10.0.0.1")
        )
        assert mail.sent == []

    def test_reset_link_expires_after_an_hour(self, app: CoachOS, mail: MemoryEmail, clock: FixedClock) -> None:
        """A reset link older than an hour is refused."""
        sign_up(app)
        app.execute(RequestPasswordReset(email="alex@peak.test", link_base="R/", address="10.0.0.1"))
        token = mail.sent[0].text.split("R/")[1].split()[0]
        clock.advance(timedelta(minutes=61))
        with pytest.raises(ValidationError):
            app.execute(ResetPassword(token=token, password="a brand new secret"))


def test_clock_fixture_is_the_shared_monday() -> None:
    """The shared test clock starts on the documented Monday."""
    assert FixedClock(MONDAY_NOON_UTC).now().weekday() == 0


class TestPruneExpired:
    def test_only_dead_rows_go(self, app: CoachOS, clock: FixedClock, mail: MemoryEmail) -> None:
        """Pruning deletes expired sessions, used reset links, stale throttle counts and old events, and no more."""
        from coachos.domain.usecases import PruneExpired

        email = f"prune-{uuid.uuid4().hex[:8]}@peak.test"  # unique: integration runs share one database
        _, coach = app.execute(
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
        app.execute(RequestPasswordReset(email=email, link_base="R/", address="10.9.9.9"))
        token = mail.sent[-1].text.split("R/")[1].split()[0]
        app.execute(ResetPassword(token=token, password="a brand new secret"))
        old = app.execute(LogIn(email=email, password="a brand new secret", address="10.9.9.9")).session_token
        clock.advance(timedelta(days=14, seconds=1))
        fresh = app.execute(LogIn(email=email, password="a brand new secret", address="10.9.9.9")).session_token
        assert app.execute(PruneExpired()) >= 4  # the used link, the expired session, the stale counters
        with app.unit_of_work() as uow:
            assert uow.accounts.session(digest(old)) is None
            assert uow.accounts.session(digest(fresh)) is not None
            assert uow.accounts.take_reset(digest(token), clock.now()) is None
            assert uow.accounts.counter("login-address", "10.9.9.9", clock.now(), timedelta(days=365)) == 0
        assert app.execute(Authenticate(token=fresh)) is not None
        events = ListSecurityEvents(org_id=coach.org_id, coach_id=coach.id)
        assert len(app.execute(events)) == 1
        clock.advance(timedelta(days=90))
        app.execute(PruneExpired())
        assert app.execute(events) == []


class TestArgon2Hasher:
    def test_verify_absent_never_succeeds(self) -> None:
        """The decoy check for unknown emails is False for any password, the decoy's own included."""
        hasher = fast_test_hasher()
        assert hasher.verify_absent("coachos-decoy-password") is False
        assert hasher.verify_absent(PASSWORD) is False
        assert hasher.verify(hasher.hash(PASSWORD), PASSWORD) is True
