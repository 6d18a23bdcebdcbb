"""Coach accounts: logins, web sessions, API tokens, password resets, log-in throttling.

Secrets are stored only as SHA-256 digests: a leaked table lets nobody sign in. Tokens are long
random strings from the TokenSource port, so a fast digest is enough (passwords, which people
choose, get argon2 through the PasswordHasher port instead).

Throttling protects a coach without locking them out. Wrong passwords are counted per account
*and* network address: only the address that guessed waits, with a delay that doubles per further
failure. Counts across addresses (per account) and across accounts (per address) never refuse
anybody; above a soft limit they make the pairs concerned wait after one failure instead of five,
and the account-wide one tells the coach (a security event).
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
from datetime import datetime, timedelta
from uuid import UUID

import attrs

from coachos.domain.contact import check_email, check_name
from coachos.domain.errors import ValidationError
from coachos.domain.ids import CoachId, OrgId

SESSION_LIFETIME = timedelta(days=14)
RESET_LIFETIME = timedelta(hours=1)
MIN_PASSWORD = 10

#: Fixed-window counters (scope names as stored): wrong passwords per account and per address,
#: reset emails asked for per email and per address.
ACCOUNT_FAILURES = "login-account"
ADDRESS_FAILURES = "login-address"
RESET_BY_EMAIL = "reset-email"
RESET_BY_ADDRESS = "reset-address"
#: Wrong passwords for one account (from any address) in SOFT_WINDOW above which it is slowed and the coach told.
ACCOUNT_SOFT_LIMIT = 20
#: Wrong passwords from one address (for any account) in SOFT_WINDOW above which that address is slowed.
ADDRESS_SOFT_LIMIT = 50
SOFT_WINDOW = timedelta(minutes=15)
#: Reset emails per email address, and per network address, in RESET_WINDOW (more are silently not sent).
RESETS_PER_EMAIL = 3
RESETS_PER_ADDRESS = 10
RESET_WINDOW = timedelta(hours=1)
#: How long security events stay visible to the coach.
SECURITY_EVENTS_KEPT = timedelta(days=90)


def digest(secret: str) -> str:
    """The SHA-256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(secret.encode()).hexdigest()


def check_password(password: str) -> str:
    """`password` if it is long enough to be worth hashing."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError(f"Use a password of at least {MIN_PASSWORD} characters.", field="password")
    if len(password) > 1024:
        raise ValidationError("Passwords are limited to 1024 characters.", field="password")
    return password


@attrs.frozen
class Login:
    """How a coach signs in: a globally unique email and a password hash."""

    coach_id: CoachId
    org_id: OrgId
    email: str = attrs.field(converter=check_email)
    password_hash: str = attrs.field(repr=False)


@attrs.frozen
class WebSession:
    """A signed-in browser; the cookie holds the secret, storage only its digest."""

    token_digest: str = attrs.field(repr=False)
    coach_id: CoachId
    org_id: OrgId
    created_at: datetime
    expires_at: datetime

    def is_live(self, now: datetime) -> bool:
        """Whether the session may still be used at `now`."""
        return now < self.expires_at


@attrs.frozen
class ApiToken:
    """A coach's personal token for the JSON API; revocable, shown once."""

    id: UUID
    org_id: OrgId
    coach_id: CoachId
    name: str = attrs.field(converter=check_name)
    token_digest: str = attrs.field(repr=False)
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


@attrs.frozen
class Principal:
    """Who a request acts as: a coach of an organisation, by session or API token."""

    org_id: OrgId
    coach_id: CoachId
    via: str  # "session" or "token"


@attrs.frozen
class ThrottleRule:
    """When further log-ins for one account from one address must wait, and how long.

    `free` attempts go through; the one after waits `first_delay`, and each further failure
    doubles the wait up to `max_delay`. A success starts the count again, and so does a quiet
    `forget_after`.
    """

    free: int = 5
    first_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=1)
    forget_after: timedelta = timedelta(days=1)

    def delay_after(self, attempts: int) -> timedelta | None:
        """How long the next attempt waits after `attempts` unsuccessful ones (None: it need not)."""
        if attempts < self.free:
            return None
        # Capping the exponent keeps the multiplication small; the delay is capped anyway.
        return min(self.first_delay * (1 << min(attempts - self.free, 40)), self.max_delay)

    def steps(self) -> list[tuple[int, timedelta]]:
        """(attempts, delay) from `free` up to the first count whose delay is `max_delay` (all later ones wait that)."""
        steps: list[tuple[int, timedelta]] = []
        attempts = self.free
        while (delay := self.delay_after(attempts)) is not None:
            steps.append((attempts, delay))
            if delay >= self.max_delay:
                return steps
            attempts += 1
        return steps


#: The rule for every (account, address) pair, and the stricter one once a soft limit is passed.
LOGIN_THROTTLE = ThrottleRule()
SLOWED_THROTTLE = ThrottleRule(free=1)


@attrs.frozen
class AttemptSlot:
    """The answer to reserving a log-in attempt: may the password be checked, and when may the next try come."""

    allowed: bool
    #: Attempts counted for the (account, address) pair since its last success, this one included if allowed.
    attempts: int
    #: If allowed: when the next attempt may come should this one fail (None: at once). If refused: when to retry.
    retry_at: datetime | None


def account_key(email: str) -> str:
    """What throttling counters store for an email: its digest, so emails people mistype are not kept."""
    return digest(check_email(email))


def address_key(address: str) -> str:
    """The network address as counters store it (bounded; an unknown one is '?')."""
    return (address or "?").strip()[:64]


def mask_address(address: str) -> str:
    """An address with its host part hidden, for showing to a coach (203.0.113.* or 2001:db8:85a3::*)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return "an unknown address"
    if isinstance(ip, ipaddress.IPv4Address):
        return ".".join(str(ip).split(".")[:3]) + ".*"
    network = ipaddress.ip_network(f"{ip}/48", strict=False)
    return f"{network.network_address}*"


class SecurityEventKind(enum.StrEnum):
    """What a coach is told about their account's security."""

    LOCKED_OUT = "locked_out"
    MANY_FAILURES = "many_failures"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105  # an event name, not a password


def _minutes(span: timedelta) -> str:
    minutes = max(1, round(span / timedelta(minutes=1)))
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


@attrs.frozen(kw_only=True)
class SecurityEvent:
    """Something a coach should know about their account: a paused address, many wrong passwords, a reset."""

    org_id: OrgId
    coach_id: CoachId
    at: datetime
    kind: SecurityEventKind = attrs.field(converter=SecurityEventKind)
    #: Already masked (see `mask_address`): events never hold a full address.
    address: str
    #: Wrong passwords counted (for the pair, or the account), 0 for a reset.
    failures: int = 0
    #: Until when log-ins from the address wait (lock-outs only).
    until: datetime | None = None

    def describe(self) -> str:
        """The event in a sentence for the coach."""
        if self.kind is SecurityEventKind.LOCKED_OUT:
            wait = _minutes(self.until - self.at) if self.until else "a while"
            return (
                f"{self.failures} wrong passwords from {self.address}: log-ins from there wait {wait}. "
                "Other places can still log in."
            )
        if self.kind is SecurityEventKind.MANY_FAILURES:
            return (
                f"{self.failures} wrong passwords for your account in a short time, from several places: "
                "those places now wait after each wrong password. If it was not you, consider a new password."
            )
        return f"Password changed from {self.address}: every session and API token was revoked."
