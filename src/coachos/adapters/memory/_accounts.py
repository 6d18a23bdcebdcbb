"""In-memory accounts: logins, sessions, API tokens, reset links, log-in throttling, security events, feeds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import attrs

from coachos.adapters.memory._repos import _Repo, _scoped
from coachos.domain.accounts import (
    ACCOUNT_FAILURES,
    ApiToken,
    AttemptSlot,
    Login,
    SecurityEvent,
    ThrottleRule,
    WebSession,
)
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

    def login_of(self, coach_id: CoachId) -> Login | None:
        """The coach's login."""
        return next((login for login in self._t.logins.values() if login.coach_id == coach_id), None)

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

    def revoke_api_tokens_of(self, org_id: OrgId, coach_id: CoachId, at: datetime) -> int:
        """Revoke every live token of the coach."""
        live = [
            k
            for k, t in self._t.api_tokens.items()
            if (t.org_id, t.coach_id) == (org_id, coach_id) and t.revoked_at is None
        ]
        for key in live:
            self._t.api_tokens[key] = attrs.evolve(self._t.api_tokens[key], revoked_at=at)
        return len(live)

    def reserve_attempt(self, account: str, address: str, now: datetime, rule: ThrottleRule) -> AttemptSlot:
        """Count the attempt unless the pair must wait (the unit of work's lock makes it atomic)."""
        found = self._t.attempts.get((account, address))
        if found is not None and found[2] is not None and found[2] > now:
            return AttemptSlot(allowed=False, attempts=found[0], retry_at=found[2])
        attempts = 1 if found is None or found[1] <= now - rule.forget_after else found[0] + 1
        delay = rule.delay_after(attempts)
        retry_at = None if delay is None else now + delay
        self._t.attempts[(account, address)] = (attempts, now, retry_at)
        return AttemptSlot(allowed=True, attempts=attempts, retry_at=retry_at)

    def forget_attempts(self, account: str, address: str | None) -> None:
        """Forget the pair, or every pair of the account and its account-wide count."""
        if address is not None:
            self._t.attempts.pop((account, address), None)
            return
        self._t.attempts = {k: v for k, v in self._t.attempts.items() if k[0] != account}
        self._t.counters.pop((ACCOUNT_FAILURES, account), None)

    def bump_counter(self, scope: str, key: str, now: datetime, window: timedelta) -> int:
        """Add one in the current window, or start a new window at 1."""
        found = self._t.counters.get((scope, key))
        count, start = (1, now) if found is None or found[1] <= now - window else (found[0] + 1, found[1])
        self._t.counters[(scope, key)] = (count, start)
        return count

    def counter(self, scope: str, key: str, now: datetime, window: timedelta) -> int:
        """The count, if its window has not run out."""
        found = self._t.counters.get((scope, key))
        return 0 if found is None or found[1] <= now - window else found[0]

    def add_security_event(self, event: SecurityEvent) -> None:
        """Store the event."""
        self._t.security_events.append(event)

    def security_events_of(self, org_id: OrgId, coach_id: CoachId, limit: int = 20) -> Sequence[SecurityEvent]:
        """The coach's events, newest first."""
        mine = [e for e in self._t.security_events if (e.org_id, e.coach_id) == (org_id, coach_id)]
        # Like SQL's ORDER BY at DESC, id DESC: the later stored first among events at the same time.
        newest = sorted(enumerate(mine), key=lambda pair: (pair[1].at, pair[0]), reverse=True)
        return [e for _, e in newest][:limit]

    def prune(
        self, now: datetime, *, attempts_before: datetime, counters_before: datetime, events_before: datetime
    ) -> int:
        """Delete what is dead."""
        t = self._t
        before = len(t.sessions) + len(t.resets) + len(t.attempts) + len(t.counters) + len(t.security_events)
        t.sessions = {k: v for k, v in t.sessions.items() if v.is_live(now)}
        t.resets = {k: v for k, v in t.resets.items() if v[2] is None and v[1] > now}
        t.attempts = {k: v for k, v in t.attempts.items() if v[1] >= attempts_before}
        t.counters = {k: v for k, v in t.counters.items() if v[1] >= counters_before}
        t.security_events = [e for e in t.security_events if e.at >= events_before]
        return before - len(t.sessions) - len(t.resets) - len(t.attempts) - len(t.counters) - len(t.security_events)

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
