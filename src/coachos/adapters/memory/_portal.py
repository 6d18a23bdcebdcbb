"""In-memory client sign-ins, client sessions and deletion requests."""

from __future__ import annotations

from datetime import datetime

import attrs

from coachos.adapters.memory._repos import _Repo
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.portal import ClientSession, ContactChange, SignInChallenge


class MemoryPortal(_Repo):
    """The portal's records in memory."""

    def put_challenge(self, challenge: SignInChallenge) -> None:
        """Replace the client's challenge."""
        self._t.client_challenges[(challenge.org_id, challenge.client_id)] = challenge

    def take_link(self, org_id: OrgId, link_digest: str, now: datetime) -> ClientId | None:
        """Use the live link once."""
        for key, c in self._t.client_challenges.items():
            if c.org_id == org_id and c.link_digest == link_digest and c.used_at is None and now < c.expires_at:
                self._t.client_challenges[key] = attrs.evolve(c, used_at=now)
                return c.client_id
        return None

    def take_code(
        self, org_id: OrgId, client_id: ClientId, code_digest: str, now: datetime, max_failures: int
    ) -> ClientId | None:
        """Use the live code once, or count a failure."""
        c = self._t.client_challenges.get((org_id, client_id))
        if c is None or c.used_at is not None:
            return None
        if c.code_digest == code_digest and now < c.expires_at and c.failures < max_failures:
            self._t.client_challenges[(org_id, client_id)] = attrs.evolve(c, used_at=now)
            return client_id
        self._t.client_challenges[(org_id, client_id)] = attrs.evolve(c, failures=c.failures + 1)
        return None

    def add_session(self, session: ClientSession) -> None:
        """Store the session."""
        self._t.client_sessions[session.token_digest] = session

    def session(self, org_id: OrgId, token_digest: str) -> ClientSession | None:
        """The organisation's session with this digest."""
        found = self._t.client_sessions.get(token_digest)
        return found if found is not None and found.org_id == org_id else None

    def end_session(self, org_id: OrgId, token_digest: str) -> None:
        """Delete the session."""
        if self.session(org_id, token_digest) is not None:
            del self._t.client_sessions[token_digest]

    def end_sessions_of(self, org_id: OrgId, client_id: ClientId) -> None:
        """Delete the client's sessions and pending sign-in."""
        for key, s in list(self._t.client_sessions.items()):
            if s.org_id == org_id and s.client_id == client_id:
                del self._t.client_sessions[key]
        self._t.client_challenges.pop((org_id, client_id), None)

    def request_deletion(self, org_id: OrgId, client_id: ClientId, at: datetime) -> datetime:
        """Record the request once."""
        return self._t.deletion_requests.setdefault((org_id, client_id), at)

    def deletion_requested(self, org_id: OrgId, client_id: ClientId) -> datetime | None:
        """When the client asked."""
        return self._t.deletion_requests.get((org_id, client_id))

    def forget_deletion_request(self, org_id: OrgId, client_id: ClientId) -> None:
        """Close the request."""
        self._t.deletion_requests.pop((org_id, client_id), None)

    def put_contact_change(self, change: ContactChange) -> None:
        """Replace the client's pending change."""
        self._t.contact_changes[(change.org_id, change.client_id)] = change

    def take_contact_change(
        self, org_id: OrgId, client_id: ClientId, code_digest: str, now: datetime, max_failures: int
    ) -> ContactChange | None:
        """Use the live change's code once, or count a failure."""
        c = self._t.contact_changes.get((org_id, client_id))
        if c is None or c.used_at is not None:
            return None
        if c.code_digest == code_digest and now < c.expires_at and c.failures < max_failures:
            self._t.contact_changes[(org_id, client_id)] = attrs.evolve(c, used_at=now)
            return c
        self._t.contact_changes[(org_id, client_id)] = attrs.evolve(c, failures=c.failures + 1)
        return None

    def prune(self, now: datetime) -> int:
        """Delete dead sessions, sign-ins and changes."""
        t = self._t
        changes = len(t.contact_changes)
        t.contact_changes = {k: v for k, v in t.contact_changes.items() if v.used_at is None and v.expires_at > now}
        before = len(t.client_sessions) + len(t.client_challenges) + changes - len(t.contact_changes)
        t.client_sessions = {k: v for k, v in t.client_sessions.items() if v.is_live(now)}
        t.client_challenges = {k: v for k, v in t.client_challenges.items() if v.used_at is None and v.expires_at > now}
        return before - len(t.client_sessions) - len(t.client_challenges)
