"""Use cases for coach accounts: sign-up, log-in with throttling, sessions, API tokens, password reset."""

from __future__ import annotations

from uuid import UUID

import attrs

from coachos.domain.accounts import (
    RESET_LIFETIME,
    SESSION_LIFETIME,
    THROTTLE_LIMIT,
    THROTTLE_WINDOW,
    ApiToken,
    Login,
    Principal,
    WebSession,
    check_password,
    digest,
)
from coachos.domain.contact import check_email
from coachos.domain.errors import NotAuthenticated, Throttled, ValidationError
from coachos.domain.ids import CoachId, OrgId
from coachos.domain.orgs import Coach, Organization
from coachos.domain.policy import BookingPolicy
from coachos.domain.usecases._base import Command, Deps
from coachos.domain.usecases.setup import CreateOrganization, new_organization


@attrs.frozen(kw_only=True)
class SignUp(Command[tuple[Organization, Coach]]):
    """Open an account: the business, its owner coach and their login, all at once."""

    business_name: str
    slug: str
    timezone: str
    currency: str
    name: str
    email: str
    password: str = attrs.field(repr=False)
    policy: BookingPolicy = attrs.field(factory=BookingPolicy)


def sign_up(cmd: SignUp, deps: Deps) -> tuple[Organization, Coach]:
    """Create the organisation, the owner and a login; a taken email or slug writes nothing."""
    password_hash = deps.hasher.hash(check_password(cmd.password))
    create = CreateOrganization(
        name=cmd.business_name,
        slug=cmd.slug,
        timezone=cmd.timezone,
        currency=cmd.currency,
        owner_name=cmd.name,
        owner_email=cmd.email,
        policy=cmd.policy,
    )
    with deps.uow() as uow:
        org, coach = new_organization(uow, create, deps)
        uow.accounts.add_login(Login(coach_id=coach.id, org_id=org.id, email=coach.email, password_hash=password_hash))
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


def log_in(cmd: LogIn, deps: Deps) -> LoggedIn:
    """A new session for the right password; throttled after repeated failures per email and per address."""
    email = check_email(cmd.email)
    now = deps.clock.now()
    with deps.uow() as uow:
        by_email, by_address = uow.accounts.failures_since(email, cmd.address, now - THROTTLE_WINDOW)
        login = uow.accounts.login_by_email(email)
    if by_email >= THROTTLE_LIMIT or by_address >= THROTTLE_LIMIT * 4:
        minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
        raise Throttled(f"Too many failed attempts. Wait {minutes} minutes, or reset your password.")
    # Hash checks run outside any transaction: they are deliberately slow.
    ok = deps.hasher.verify(login.password_hash, cmd.password) if login else deps.hasher.verify_absent(cmd.password)
    with deps.uow() as uow:
        if login is None or not ok:
            uow.accounts.record_failure(email, cmd.address, now)
            uow.commit()
            raise NotAuthenticated("That email and password do not match an account.")
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


@attrs.frozen(kw_only=True)
class Authenticate(Command[Principal | None]):
    """Who a session cookie or API token belongs to, if it is live."""

    token: str = attrs.field(repr=False)
    kind: str = "session"  # or "api"


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


def revoke_api_token(cmd: RevokeApiToken, deps: Deps) -> None:
    """Mark the token revoked; it stops working at once."""
    with deps.uow() as uow:
        uow.accounts.revoke_api_token(cmd.org_id, cmd.coach_id, cmd.token_id, deps.clock.now())
        uow.commit()


@attrs.frozen(kw_only=True)
class PruneExpired(Command[int]):
    """Delete what can no longer be used: expired sessions, used or expired reset links, old failures."""


def prune_expired(cmd: PruneExpired, deps: Deps) -> int:
    """Rows deleted; failures are kept as long as the throttle looks back."""
    now = deps.clock.now()
    with deps.uow() as uow:
        deleted = uow.accounts.prune(now, now - THROTTLE_WINDOW)
        uow.commit()
    return deleted


@attrs.frozen(kw_only=True)
class RequestPasswordReset(Command[None]):
    """Email a one-hour reset link, if the email has an account (the answer never says)."""

    email: str
    #: The link up to the token, e.g. "https://coachos.example/reset/".
    link_base: str


def request_password_reset(cmd: RequestPasswordReset, deps: Deps) -> None:
    """Store a reset token's digest and email the link; silent for unknown emails."""
    email = check_email(cmd.email)
    now = deps.clock.now()
    with deps.uow() as uow:
        login = uow.accounts.login_by_email(email)
        if login is None:
            return
        token = deps.tokens.new_token()
        uow.accounts.add_reset(digest(token), login.coach_id, now + RESET_LIFETIME)
        uow.commit()
    deps.email.send(
        login.email,
        "Reset your Coach OS password",
        "Someone asked to reset the password of your Coach OS account.\n\n"
        f"Choose a new password here (the link works for one hour, once):\n{cmd.link_base}{token}\n\n"
        "If it was not you, ignore this email; your password stays as it is.",
    )


@attrs.frozen(kw_only=True)
class ResetPassword(Command[None]):
    """Set a new password with a reset token; every session of the coach ends."""

    token: str = attrs.field(repr=False)
    password: str = attrs.field(repr=False)


def reset_password(cmd: ResetPassword, deps: Deps) -> None:
    """Use the token once and replace the password."""
    password_hash = deps.hasher.hash(check_password(cmd.password))
    with deps.uow() as uow:
        coach_id = uow.accounts.take_reset(digest(cmd.token), deps.clock.now())
        if coach_id is None:
            raise ValidationError("This reset link has expired or was used already; ask for a new one.", field="token")
        uow.accounts.set_password(coach_id, password_hash)
        uow.accounts.end_sessions_of(coach_id)
        uow.commit()
