"""In-memory accounts: logins, sessions, API tokens, reset links, failed log-ins, calendar feeds."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import attrs

from coachos.adapters.memory._repos import _Repo, _scoped
from coachos.domain.accounts import ApiToken, Login, WebSession
from coachos.domain.errors import (
    Conflict,
    NotFound,
)
from coachos.domain.ids import (
    CoachId,
    OrgId,
)
from coachos.domain.rows import Rows


class MemoryAccounts(_Repo):
    """Accounts in memory."""

    def add_login(self, login: Login) -> None:
        """Store a login."""
        if login.email in self._t.logins:
            raise Conflict("An account with this email exists already; log in or reset the password.")
        self._t.logins[login.email] = login

    def login_by_email(self, email: str) -> Login | None:
        """The login for `email`."""
        return self._t.logins.get(email)

    def set_password(self, coach_id: CoachId, password_hash: str) -> None:
        """Replace the password hash."""
        for email, login in list(self._t.logins.items()):
            if login.coach_id == coach_id:
                self._t.logins[email] = attrs.evolve(login, password_hash=password_hash)

    def add_session(self, session: WebSession) -> None:
        """Store a session."""
        self._t.sessions[session.token_digest] = session

    def session(self, token_digest: str) -> WebSession | None:
        """The session with this digest."""
        return self._t.sessions.get(token_digest)

    def end_session(self, token_digest: str) -> None:
        """Delete one session."""
        self._t.sessions.pop(token_digest, None)

    def end_sessions_of(self, coach_id: CoachId) -> None:
        """Delete the coach's sessions."""
        self._t.sessions = {k: s for k, s in self._t.sessions.items() if s.coach_id != coach_id}

    def add_api_token(self, token: ApiToken) -> None:
        """Store a token."""
        self._t.api_tokens[token.token_digest] = token

    def api_token(self, token_digest: str) -> ApiToken | None:
        """The token with this digest."""
        return self._t.api_tokens.get(token_digest)

    def api_tokens_of(self, org_id: OrgId, coach_id: CoachId) -> Rows[ApiToken]:
        """The coach's tokens, newest first."""
        mine = [t for t in self._t.api_tokens.values() if (t.org_id, t.coach_id) == (org_id, coach_id)]
        return Rows(sorted(mine, key=lambda t: t.created_at, reverse=True))

    def revoke_api_token(self, org_id: OrgId, coach_id: CoachId, token_id: UUID, at: datetime) -> None:
        """Revoke the token."""
        for key, t in self._t.api_tokens.items():
            if (t.org_id, t.coach_id, t.id) == (org_id, coach_id, token_id):
                self._t.api_tokens[key] = attrs.evolve(t, revoked_at=t.revoked_at or at)
                return
        raise NotFound("No such API token.")

    def add_reset(self, token_digest: str, coach_id: CoachId, expires_at: datetime) -> None:
        """Store a reset token."""
        self._t.resets[token_digest] = (coach_id, expires_at, None)

    def take_reset(self, token_digest: str, now: datetime) -> CoachId | None:
        """Use a live reset token once."""
        found = self._t.resets.get(token_digest)
        if found is None or found[2] is not None or found[1] <= now:
            return None
        self._t.resets[token_digest] = (found[0], found[1], now)
        return found[0]

    def record_failure(self, email: str, address: str, at: datetime) -> None:
        """Note a failed log-in."""
        self._t.failures.append((email, address, at))

    def failures_since(self, email: str, address: str, since: datetime) -> tuple[int, int]:
        """Failures for the email and from the address since `since`."""
        recent = [f for f in self._t.failures if f[2] >= since]
        return sum(f[0] == email for f in recent), sum(f[1] == address for f in recent)

    def prune(self, now: datetime, failures_before: datetime) -> int:
        """Delete expired sessions, dead reset links and old failures."""
        before = len(self._t.sessions) + len(self._t.resets) + len(self._t.failures)
        self._t.sessions = {k: v for k, v in self._t.sessions.items() if v.is_live(now)}
        self._t.resets = {k: v for k, v in self._t.resets.items() if v[2] is None and v[1] > now}
        self._t.failures = [f for f in self._t.failures if f[2] >= failures_before]
        return before - len(self._t.sessions) - len(self._t.resets) - len(self._t.failures)

    def add_calendar_feed(self, org_id: OrgId, coach_id: CoachId, token_digest: str, at: datetime) -> bool:
        """Store the feed digest unless the coach has one."""
        if coach_id in self._t.calendar_feeds:
            return False
        self.replace_calendar_feed(org_id, coach_id, token_digest, at)
        return True

    def replace_calendar_feed(self, org_id: OrgId, coach_id: CoachId, token_digest: str, at: datetime) -> None:
        """Make this the coach's feed digest."""
        _scoped(self._t.coaches, org_id, coach_id, "coach")
        self._t.calendar_feeds[coach_id] = (org_id, token_digest, at)

    def calendar_feed_since(self, org_id: OrgId, coach_id: CoachId) -> datetime | None:
        """When the coach's feed was made."""
        found = self._t.calendar_feeds.get(coach_id)
        return found[2] if found is not None and found[0] == org_id else None

    def calendar_feed_owner(self, token_digest: str) -> tuple[OrgId, CoachId] | None:
        """Whose feed has this digest."""
        for coach_id, (org_id, feed_digest, _) in self._t.calendar_feeds.items():
            if feed_digest == token_digest:
                return org_id, CoachId(coach_id)
        return None
