"""Use cases for coach accounts: sign-up, log-in with throttling, sessions, API tokens, password reset."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from uuid import UUID

import attrs

from coachos.domain.accounts import (
    ACCOUNT_FAILURES,
    ACCOUNT_SOFT_LIMIT,
    ADDRESS_FAILURES,
    ADDRESS_SOFT_LIMIT,
    LOGIN_THROTTLE,
    RESET_BY_ADDRESS,
    RESET_BY_EMAIL,
    RESET_LIFETIME,
    RESET_WINDOW,
    RESETS_PER_ADDRESS,
    RESETS_PER_EMAIL,
    SECURITY_EVENTS_KEPT,
    SESSION_LIFETIME,
    SLOWED_THROTTLE,
    SOFT_WINDOW,
    ApiToken,
    AttemptSlot,
    Login,
    Principal,
    SecurityEvent,
    SecurityEventKind,
    WebSession,
    account_key,
    address_key,
    check_password,
    digest,
    mask_address,
)
from coachos.domain.catalog import Service
from coachos.domain.contact import check_email
from coachos.domain.errors import NotAuthenticated, Throttled, ValidationError
from coachos.domain.events import AvailabilityChanged, ServiceCreated
from coachos.domain.ids import Actor, CoachId, OrgId, ServiceId
from coachos.domain.money import Money
from coachos.domain.orgs import Coach, Organization
from coachos.domain.policy import BookingPolicy
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases.setup import (
    CreateOrganization,
    add_organization,
    make_organization,
    same_currency,
    weekly_rules,
)
from coachos.ports.storage import UnitOfWork


@attrs.frozen(kw_only=True)
class FirstService:
    """The service a coach offers from the start, given on the sign-up form."""

    name: str
    duration: timedelta
    price: Money


@attrs.frozen(kw_only=True)
class SignUp(Command[tuple[Organization, Coach]]):
    """Open an account: the business, its owner coach and their login, first service and hours, all at once."""

    business_name: str
    slug: str
    timezone: str
    currency: str
    name: str
    email: str
    password: str = attrs.field(repr=False)
    policy: BookingPolicy = attrs.field(factory=BookingPolicy)
    service: FirstService | None = None
    #: The owner's weekly hours: (weekday 0=Monday, start, end) in the business's zone.
    hours: Sequence[tuple[int, time, time]] = ()


@handles(SignUp)
def sign_up(cmd: SignUp, deps: Deps) -> tuple[Organization, Coach]:
    """Check everything, then store it in one transaction: any refusal writes nothing (a retry can reuse the email)."""
    check_password(cmd.password)
    org, coach = make_organization(
        CreateOrganization(
            name=cmd.business_name,
            slug=cmd.slug,
            timezone=cmd.timezone,
            currency=cmd.currency,
            owner_name=cmd.name,
            owner_email=cmd.email,
            policy=cmd.policy,
        ),
        deps,
    )
    service = None
    if cmd.service is not None:
        service = Service(
            id=ServiceId(deps.ids.new_id()),
            org_id=org.id,
            name=cmd.service.name,
            duration=cmd.service.duration,
            price=cmd.service.price,
        )
        same_currency(org, service.price)
    rules = weekly_rules(coach.id, cmd.hours)
    # Hashing is deliberately slow, so it comes after the cheap checks and outside the transaction.
    login = Login(coach_id=coach.id, org_id=org.id, email=coach.email, password_hash=deps.hasher.hash(cmd.password))
    actor, now = str(Actor("coach", coach.id)), org.created_at
    with deps.uow() as uow:
        add_organization(uow, org, coach)
        uow.accounts.add_login(login)
        if service is not None:
            uow.services.add(service)
            uow.emit(ServiceCreated(org_id=org.id, occurred_at=now, actor=actor, service_id=service.id))
        if rules:
            uow.availability.replace_weekly(org.id, coach.id, rules)
            uow.emit(AvailabilityChanged(org_id=org.id, occurred_at=now, actor=actor, coach_id=coach.id))
        uow.commit()
    return org, coach


@attrs.frozen
class LoggedIn:
    """A successful log-in: who, and the new session's secret for the cookie."""

    principal: Principal
    session_token: str = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class LogIn(Command[LoggedIn]):
    """Check an email and password and open a new session (a fresh id every time)."""

    email: str
    password: str = attrs.field(repr=False)
    #: The client's network address, for throttling.
    address: str


def _wait_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def _throttled(retry_at: datetime | None, now: datetime) -> Throttled:
    """The refusal for an attempt that must wait until `retry_at`, saying when to try again."""
    seconds = max(1, math.ceil(((retry_at or now) - now).total_seconds()))
    return Throttled(
        f"Too many wrong passwords for this account from your network. Try again in {_wait_words(seconds)}, "
        "or reset your password.",
        retry_after=seconds,
    )


@handles(LogIn)
def log_in(cmd: LogIn, deps: Deps) -> LoggedIn:
    """A new session for the right password, unless this account must wait at this address.

    The attempt is counted (one atomic upsert) and committed before the slow password check, so
    parallel guesses cannot all slip in under the limit. A clean address is never refused.
    """
    email = check_email(cmd.email)
    account, address = account_key(email), address_key(cmd.address)
    now = deps.clock.now()
    with deps.uow() as uow:
        login = uow.accounts.login_by_email(email)
        slowed = (
            uow.accounts.counter(ACCOUNT_FAILURES, account, now, SOFT_WINDOW) >= ACCOUNT_SOFT_LIMIT
            or uow.accounts.counter(ADDRESS_FAILURES, address, now, SOFT_WINDOW) >= ADDRESS_SOFT_LIMIT
        )
        slot = uow.accounts.reserve_attempt(account, address, now, SLOWED_THROTTLE if slowed else LOGIN_THROTTLE)
        uow.commit()
    if not slot.allowed:
        raise _throttled(slot.retry_at, now)
    # Hash checks run outside any transaction: they are deliberately slow.
    ok = deps.hasher.verify(login.password_hash, cmd.password) if login else deps.hasher.verify_absent(cmd.password)
    with deps.uow() as uow:
        if login is None or not ok:
            _record_failure(uow, login, account, address, slot, now)
            uow.commit()
            raise NotAuthenticated("That email and password do not match an account.")
        uow.accounts.forget_attempts(account, address)
        token = deps.tokens.new_token()
        uow.accounts.add_session(
            WebSession(
                token_digest=digest(token),
                coach_id=login.coach_id,
                org_id=login.org_id,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
        if deps.hasher.needs_rehash(login.password_hash):
            uow.accounts.set_password(login.coach_id, deps.hasher.hash(cmd.password))
        uow.commit()
    return LoggedIn(Principal(org_id=login.org_id, coach_id=login.coach_id, via="session"), token)


def _record_failure(
    uow: UnitOfWork, login: Login | None, account: str, address: str, slot: AttemptSlot, now: datetime
) -> None:
    """Count a wrong password across addresses and accounts, and tell the coach what it started."""
    for_account = uow.accounts.bump_counter(ACCOUNT_FAILURES, account, now, SOFT_WINDOW)
    uow.accounts.bump_counter(ADDRESS_FAILURES, address, now, SOFT_WINDOW)
    if login is None:
        return
    event = SecurityEvent(
        org_id=login.org_id, coach_id=login.coach_id, at=now, kind=SecurityEventKind.LOCKED_OUT, address=""
    )
    if slot.retry_at is not None:
        uow.accounts.add_security_event(
            attrs.evolve(event, address=mask_address(address), failures=slot.attempts, until=slot.retry_at)
        )
    # Exactly once per window: the counter's upsert hands out each count to one failure only.
    if for_account == ACCOUNT_SOFT_LIMIT:
        uow.accounts.add_security_event(
            attrs.evolve(event, kind=SecurityEventKind.MANY_FAILURES, address="several places", failures=for_account)
        )


@attrs.frozen(kw_only=True)
class Authenticate(Command[Principal | None]):
    """Who a session cookie or API token belongs to, if it is live."""

    token: str = attrs.field(repr=False)
    kind: str = "session"  # or "api"


@handles(Authenticate)
def authenticate(cmd: Authenticate, deps: Deps) -> Principal | None:
    """The principal for a live session or unrevoked API token, else None."""
    if not cmd.token or len(cmd.token) > 200:
        return None
    now = deps.clock.now()
    with deps.uow() as uow:
        if cmd.kind == "api":
            token = uow.accounts.api_token(digest(cmd.token))
            if token is None or token.revoked_at is not None:
                return None
            return Principal(org_id=token.org_id, coach_id=token.coach_id, via="token")
        session = uow.accounts.session(digest(cmd.token))
    if session is None or not session.is_live(now):
        return None
    return Principal(org_id=session.org_id, coach_id=session.coach_id, via="session")


@attrs.frozen(kw_only=True)
class LogOut(Command[None]):
    """End a session."""

    token: str = attrs.field(repr=False)


@handles(LogOut)
def log_out(cmd: LogOut, deps: Deps) -> None:
    """Delete the session (unknown tokens are ignored)."""
    with deps.uow() as uow:
        uow.accounts.end_session(digest(cmd.token))
        uow.commit()


@attrs.frozen
class NewApiToken:
    """A freshly created API token and its secret, which is shown this once."""

    token: ApiToken
    secret: str = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class CreateApiToken(Command[NewApiToken]):
    """Give a coach a personal API token."""

    org_id: OrgId
    coach_id: CoachId
    name: str


@handles(CreateApiToken)
def create_api_token(cmd: CreateApiToken, deps: Deps) -> NewApiToken:
    """Store the token's digest and return its secret once."""
    secret = "coa_" + deps.tokens.new_token()
    token = ApiToken(
        id=deps.ids.new_id(),
        org_id=cmd.org_id,
        coach_id=cmd.coach_id,
        name=cmd.name,
        token_digest=digest(secret),
        created_at=deps.clock.now(),
    )
    with deps.uow() as uow:
        uow.coaches.get(cmd.org_id, cmd.coach_id)
        uow.accounts.add_api_token(token)
        uow.commit()
    return NewApiToken(token, secret)


@attrs.frozen(kw_only=True)
class ListApiTokens(Command[list[ApiToken]]):
    """A coach's API tokens (without secrets)."""

    org_id: OrgId
    coach_id: CoachId


@handles(ListApiTokens)
def list_api_tokens(cmd: ListApiTokens, deps: Deps) -> list[ApiToken]:
    """The coach's tokens, newest first."""
    with deps.uow() as uow:
        return list(uow.accounts.api_tokens_of(cmd.org_id, cmd.coach_id))


@attrs.frozen(kw_only=True)
class RevokeApiToken(Command[None]):
    """Revoke one of a coach's API tokens."""

    org_id: OrgId
    coach_id: CoachId
    token_id: UUID


@handles(RevokeApiToken)
def revoke_api_token(cmd: RevokeApiToken, deps: Deps) -> None:
    """Mark the token revoked; it stops working at once."""
    with deps.uow() as uow:
        uow.accounts.revoke_api_token(cmd.org_id, cmd.coach_id, cmd.token_id, deps.clock.now())
        uow.commit()


@attrs.frozen(kw_only=True)
class PruneExpired(Command[int]):
    """Delete what can no longer be used: expired sessions (coaches' and clients'), dead reset and sign-in links,
    stale throttle rows, old events."""


@handles(PruneExpired)
def prune_expired(cmd: PruneExpired, deps: Deps) -> int:
    """Rows deleted; throttle rows are kept as long as a rule can still look at them."""
    now = deps.clock.now()
    with deps.uow() as uow:
        deleted = uow.accounts.prune(
            now,
            attempts_before=now - max(LOGIN_THROTTLE.forget_after, SLOWED_THROTTLE.forget_after),
            counters_before=now - max(SOFT_WINDOW, RESET_WINDOW),
            events_before=now - SECURITY_EVENTS_KEPT,
        )
        deleted += uow.portal.prune(now)
        uow.commit()
    return deleted


@attrs.frozen(kw_only=True)
class RequestPasswordReset(Command[None]):
    """Email a one-hour reset link, if the email has an account (the answer never says, nor whether it was sent)."""

    email: str
    #: The link up to the token, e.g. "https://coachos.example/reset/".
    link_base: str
    #: The client's network address, for throttling.
    address: str


@handles(RequestPasswordReset)
def request_password_reset(cmd: RequestPasswordReset, deps: Deps) -> None:
    """Store a reset token's digest and email the link; silent for unknown emails and past the limits.

    Limits count per email and per network address, known emails or not, so neither the answer
    nor its absence tells anything about the account.
    """
    email = check_email(cmd.email)
    now = deps.clock.now()
    with deps.uow() as uow:
        by_email = uow.accounts.bump_counter(RESET_BY_EMAIL, account_key(email), now, RESET_WINDOW)
        by_address = uow.accounts.bump_counter(RESET_BY_ADDRESS, address_key(cmd.address), now, RESET_WINDOW)
        login = uow.accounts.login_by_email(email)
        token = deps.tokens.new_token()
        if login is not None and by_email <= RESETS_PER_EMAIL and by_address <= RESETS_PER_ADDRESS:
            uow.accounts.add_reset(digest(token), login.coach_id, now + RESET_LIFETIME)
        uow.commit()
    if login is None or by_email > RESETS_PER_EMAIL or by_address > RESETS_PER_ADDRESS:
        return
    deps.tasks.enqueue_email(
        login.email,
        "Reset your Coach OS password",
        "Someone asked to reset the password of your Coach OS account.\n\n"
        f"Choose a new password here (the link works for one hour, once):\n{cmd.link_base}{token}\n\n"
        "Choosing a new password signs you out everywhere and revokes all your API tokens; "
        "programs that use them will need new ones.\n\n"
        "If it was not you, ignore this email; your password stays as it is.",
    )


@attrs.frozen(kw_only=True)
class ResetPassword(Command[None]):
    """Set a new password with a reset token; every session and API token of the coach stops working."""

    token: str = attrs.field(repr=False)
    password: str = attrs.field(repr=False)
    #: The client's network address, shown (masked) in the coach's security events.
    address: str = ""


@handles(ResetPassword)
def reset_password(cmd: ResetPassword, deps: Deps) -> None:
    """Use the token once, replace the password, revoke every session and API token, and lift the throttle."""
    password_hash = deps.hasher.hash(check_password(cmd.password))
    now = deps.clock.now()
    with deps.uow() as uow:
        coach_id = uow.accounts.take_reset(digest(cmd.token), now)
        login = None if coach_id is None else uow.accounts.login_of(coach_id)
        if login is None:
            raise ValidationError("This reset link has expired or was used already; ask for a new one.", field="token")
        uow.accounts.set_password(login.coach_id, password_hash)
        uow.accounts.end_sessions_of(login.coach_id)
        uow.accounts.revoke_api_tokens_of(login.org_id, login.coach_id, now)
        uow.accounts.forget_attempts(account_key(login.email), None)
        uow.accounts.add_security_event(
            SecurityEvent(
                org_id=login.org_id,
                coach_id=login.coach_id,
                at=now,
                kind=SecurityEventKind.PASSWORD_CHANGED,
                address=mask_address(cmd.address),
            )
        )
        uow.commit()


@attrs.frozen(kw_only=True)
class ListSecurityEvents(Command[list[SecurityEvent]]):
    """What the coach should know about their account's security, newest first."""

    org_id: OrgId
    coach_id: CoachId
    limit: int = 20


@handles(ListSecurityEvents)
def list_security_events(cmd: ListSecurityEvents, deps: Deps) -> list[SecurityEvent]:
    """The coach's recent security events."""
    with deps.uow() as uow:
        return list(uow.accounts.security_events_of(cmd.org_id, cmd.coach_id, cmd.limit))
