"""Coach accounts: logins, web sessions, API tokens and password resets.

Secrets are stored only as SHA-256 digests: a leaked table lets nobody sign in. Tokens are long
random strings from the TokenSource port, so a fast digest is enough (passwords, which people
choose, get argon2 through the PasswordHasher port instead).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from uuid import UUID

import attrs

from coachos.domain.contact import check_email, check_name
from coachos.domain.errors import ValidationError
from coachos.domain.ids import CoachId, OrgId

SESSION_LIFETIME = timedelta(days=14)
RESET_LIFETIME = timedelta(hours=1)
#: Failed log-ins allowed per email address (and per network address) in THROTTLE_WINDOW.
THROTTLE_LIMIT = 5
THROTTLE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD = 10


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
