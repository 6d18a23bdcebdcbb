"""Accounts in SQL: logins, sessions, API tokens, password resets, log-in throttling, security events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from coachos.adapters.sql.repos import _Repo
from coachos.adapters.sql.tables import (
    UTCDateTime,
    api_tokens,
    calendar_feeds,
    login_attempts,
    logins,
    password_resets,
    security_events,
    throttle_counters,
    web_sessions,
)
from coachos.adapters.sql.tenancy import prune_across_orgs
from coachos.domain.accounts import (
    ACCOUNT_FAILURES,
    ApiToken,
    AttemptSlot,
    Login,
    SecurityEvent,
    ThrottleRule,
    WebSession,
)
from coachos.domain.errors import NotFound
from coachos.domain.ids import CoachId, OrgId
from coachos.domain.rows import Rows


def _at(value: datetime) -> Any:
    """A time as a bound value of the UTC column type (SQLite stores naive UTC text)."""
    return sa.literal(value, UTCDateTime())


def _login_from(row: sa.Row[tuple[object, ...]]) -> Login:
    return Login(
        coach_id=CoachId(row.coach_id), org_id=OrgId(row.org_id), email=row.email, password_hash=row.password_hash
    )


def _token_from(row: sa.Row[tuple[object, ...]]) -> ApiToken:
    m = row._mapping
    return ApiToken(
        id=m["id"],
        org_id=OrgId(m["org_id"]),
        coach_id=CoachId(m["coach_id"]),
        name=m["name"],
        token_digest=m["token_digest"],
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
        last_used_at=m["last_used_at"],
    )


def _session_from(row: Any) -> WebSession:
    return WebSession(
        token_digest=row.token_digest,
        coach_id=CoachId(row.coach_id),
        org_id=OrgId(row.org_id),
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


class SqlAccounts(_Repo):
    """Accounts in SQL; secrets only as digests."""

    def add_login(self, login: Login) -> None:
        """Store a login."""
        self._insert(
            logins,
            {
                "coach_id": login.coach_id,
                "org_id": login.org_id,
                "email": login.email,
                "password_hash": login.password_hash,
            },
            unique="email",
            message="An account with this email exists already; log in or reset the password.",
        )

    def login_by_email(self, email: str) -> Login | None:
        """The login for `email`."""
        return self._maybe(logins, sa.select(logins).where(logins.c.email == email), _login_from, key="coach_id")

    def login_of(self, coach_id: CoachId) -> Login | None:
        """The coach's login."""
        return self._maybe(logins, sa.select(logins).where(logins.c.coach_id == coach_id), _login_from, key="coach_id")

    def set_password(self, coach_id: CoachId, password_hash: str) -> None:
        """Replace the password hash."""
        self._c.execute(logins.update().where(logins.c.coach_id == coach_id).values(password_hash=password_hash))

    def add_session(self, session: WebSession) -> None:
        """Store a session."""
        self._c.execute(
            web_sessions.insert().values(
                token_digest=session.token_digest,
                org_id=session.org_id,
                coach_id=session.coach_id,
                created_at=session.created_at,
                expires_at=session.expires_at,
            )
        )

    def session(self, token_digest: str) -> WebSession | None:
        """The session with this digest."""
        # Named by coach, not by digest: the digest is as good as the cookie for finding the session.
        q = sa.select(web_sessions).where(web_sessions.c.token_digest == token_digest)
        return self._maybe(web_sessions, q, _session_from, key="coach_id")

    def end_session(self, token_digest: str) -> None:
        """Delete one session."""
        self._c.execute(web_sessions.delete().where(web_sessions.c.token_digest == token_digest))

    def end_sessions_of(self, coach_id: CoachId) -> None:
        """Delete every session of the coach."""
        self._c.execute(web_sessions.delete().where(web_sessions.c.coach_id == coach_id))

    def add_api_token(self, token: ApiToken) -> None:
        """Store a token."""
        self._c.execute(
            api_tokens.insert().values(
                id=token.id,
                org_id=token.org_id,
                coach_id=token.coach_id,
                name=token.name,
                token_digest=token.token_digest,
                created_at=token.created_at,
            )
        )

    def api_token(self, token_digest: str) -> ApiToken | None:
        """The token with this digest."""
        return self._maybe(
            api_tokens, sa.select(api_tokens).where(api_tokens.c.token_digest == token_digest), _token_from
        )

    def api_tokens_of(self, org_id: OrgId, coach_id: CoachId) -> Rows[ApiToken]:
        """The coach's tokens, newest first."""
        q = (
            sa.select(api_tokens)
            .where(api_tokens.c.org_id == org_id, api_tokens.c.coach_id == coach_id)
            .order_by(api_tokens.c.created_at.desc())
        )
        return self._all(api_tokens, q, _token_from)

    def revoke_api_token(self, org_id: OrgId, coach_id: CoachId, token_id: UUID, at: datetime) -> None:
        """Revoke the token."""
        t = api_tokens.c
        result = self._c.execute(
            api_tokens.update()
            .where(t.org_id == org_id, t.coach_id == coach_id, t.id == token_id)
            .values(revoked_at=sa.func.coalesce(t.revoked_at, at))
        )
        if result.rowcount != 1:
            raise NotFound("No such API token.")

    def add_reset(self, token_digest: str, coach_id: CoachId, expires_at: datetime) -> None:
        """Store a reset token."""
        self._c.execute(
            password_resets.insert().values(token_digest=token_digest, coach_id=coach_id, expires_at=expires_at)
        )

    def take_reset(self, token_digest: str, now: datetime) -> CoachId | None:
        """Use a live reset token once (one conditional UPDATE … RETURNING)."""
        r = password_resets.c
        found = self._c.execute(
            password_resets.update()
            .where(r.token_digest == token_digest, r.used_at.is_(None), r.expires_at > now)
            .values(used_at=now)
            .returning(r.coach_id)
        ).scalar_one_or_none()
        return None if found is None else CoachId(found)

    def revoke_api_tokens_of(self, org_id: OrgId, coach_id: CoachId, at: datetime) -> int:
        """Revoke every live token of the coach."""
        t = api_tokens.c
        result = self._c.execute(
            api_tokens.update()
            .where(t.org_id == org_id, t.coach_id == coach_id, t.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return int(result.rowcount)

    def reserve_attempt(self, account: str, address: str, now: datetime, rule: ThrottleRule) -> AttemptSlot:
        """Count the attempt unless the pair must wait (INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING).

        The row lock the upsert takes makes parallel attempts queue: each sees the count the one
        before left, so no more than the rule allows get their password checked.
        """
        t = login_attempts.c
        first = rule.delay_after(1)
        insert = _upsert(self._c, login_attempts).values(
            account=account, address=address, attempts=1, last_at=now, retry_at=None if first is None else now + first
        )
        attempts = sa.case((t.last_at <= _at(now - rule.forget_after), 1), else_=t.attempts + 1)
        retry_at = sa.case(
            (attempts < rule.free, sa.null()),
            *[(attempts == n, _at(now + delay)) for n, delay in rule.steps()],
            else_=_at(now + rule.max_delay),
        )
        reserved = self._c.execute(
            insert.on_conflict_do_update(
                index_elements=["account", "address"],
                set_={"attempts": attempts, "last_at": now, "retry_at": retry_at},
                where=sa.or_(t.retry_at.is_(None), t.retry_at <= _at(now)),
            ).returning(t.attempts, t.retry_at)
        ).one_or_none()
        if reserved is not None:
            return AttemptSlot(allowed=True, attempts=reserved.attempts, retry_at=reserved.retry_at)
        waiting = self._c.execute(
            sa.select(t.attempts, t.retry_at).where(t.account == account, t.address == address)
        ).one_or_none()
        if waiting is None:  # a success cleared the pair in between: the next try may come at once
            return AttemptSlot(allowed=False, attempts=0, retry_at=now)
        return AttemptSlot(allowed=False, attempts=waiting.attempts, retry_at=waiting.retry_at or now)

    def forget_attempts(self, account: str, address: str | None) -> None:
        """Delete the pair's row, or every row of the account and its account-wide count."""
        t = login_attempts.c
        if address is not None:
            self._c.execute(login_attempts.delete().where(t.account == account, t.address == address))
            return
        self._c.execute(login_attempts.delete().where(t.account == account))
        c = throttle_counters.c
        self._c.execute(throttle_counters.delete().where(c.scope == ACCOUNT_FAILURES, c.key == account))

    def bump_counter(self, scope: str, key: str, now: datetime, window: timedelta) -> int:
        """Add one in the current window, or start a new window at 1 (one upsert … RETURNING)."""
        c = throttle_counters.c
        stale = c.window_start <= _at(now - window)
        insert = _upsert(self._c, throttle_counters).values(scope=scope, key=key, count=1, window_start=now)
        q = insert.on_conflict_do_update(
            index_elements=["scope", "key"],
            set_={
                "count": sa.case((stale, 1), else_=c.count + 1),
                "window_start": sa.case((stale, _at(now)), else_=c.window_start),
            },
        ).returning(c.count)
        return int(self._c.execute(q).scalar_one())

    def counter(self, scope: str, key: str, now: datetime, window: timedelta) -> int:
        """The count, if its window has not run out."""
        c = throttle_counters.c
        found = self._c.execute(
            sa.select(c.count).where(c.scope == scope, c.key == key, c.window_start > _at(now - window))
        ).scalar_one_or_none()
        return int(found or 0)

    def add_security_event(self, event: SecurityEvent) -> None:
        """Store the event."""
        self._c.execute(
            security_events.insert().values(
                org_id=event.org_id,
                coach_id=event.coach_id,
                at=event.at,
                kind=event.kind.value,
                address=event.address[:64],
                failures=event.failures,
                until=event.until,
            )
        )

    def security_events_of(self, org_id: OrgId, coach_id: CoachId, limit: int = 20) -> Sequence[SecurityEvent]:
        """The coach's events, newest first."""
        e = security_events.c
        q = (
            sa.select(security_events)
            .where(e.org_id == org_id, e.coach_id == coach_id)
            .order_by(e.at.desc(), e.id.desc())
            .limit(limit)
        )
        return [
            SecurityEvent(
                org_id=OrgId(r.org_id),
                coach_id=CoachId(r.coach_id),
                at=r.at,
                kind=r.kind,
                address=r.address,
                failures=r.failures,
                until=r.until,
            )
            for r in self._c.execute(q)
        ]

    def prune(
        self, now: datetime, *, attempts_before: datetime, counters_before: datetime, events_before: datetime
    ) -> int:
        """Delete what is dead: one DELETE per table."""
        prune_across_orgs(self._c)
        r = password_resets.c
        deletes = [
            web_sessions.delete().where(web_sessions.c.expires_at <= now),
            password_resets.delete().where(sa.or_(r.used_at.is_not(None), r.expires_at <= now)),
            login_attempts.delete().where(login_attempts.c.last_at < attempts_before),
            throttle_counters.delete().where(throttle_counters.c.window_start < counters_before),
            security_events.delete().where(security_events.c.at < events_before),
        ]
        return sum(int(self._c.execute(q).rowcount) for q in deletes)

    def add_calendar_feed(self, org_id: OrgId, coach_id: CoachId, token_digest: str, at: datetime) -> bool:
        """Store the feed digest unless the coach has one (INSERT … ON CONFLICT DO NOTHING)."""
        q = (
            _upsert(self._c, calendar_feeds)
            .values(coach_id=coach_id, org_id=org_id, token_digest=token_digest, created_at=at)
            .on_conflict_do_nothing(index_elements=["coach_id"])
            .returning(calendar_feeds.c.coach_id)
        )
        return self._c.execute(q).scalar_one_or_none() is not None

    def replace_calendar_feed(self, org_id: OrgId, coach_id: CoachId, token_digest: str, at: datetime) -> None:
        """Make this the coach's feed digest (one upsert, so concurrent rotations leave exactly one)."""
        insert = _upsert(self._c, calendar_feeds).values(
            coach_id=coach_id, org_id=org_id, token_digest=token_digest, created_at=at
        )
        self._c.execute(
            insert.on_conflict_do_update(
                index_elements=["coach_id"],
                set_={"token_digest": insert.excluded.token_digest, "created_at": insert.excluded.created_at},
                where=calendar_feeds.c.org_id == org_id,
            )
        )

    def calendar_feed_since(self, org_id: OrgId, coach_id: CoachId) -> datetime | None:
        """When the coach's feed was made."""
        c = calendar_feeds.c
        found: datetime | None = self._c.execute(
            sa.select(c.created_at).where(c.org_id == org_id, c.coach_id == coach_id)
        ).scalar_one_or_none()
        return found

    def calendar_feed_owner(self, token_digest: str) -> tuple[OrgId, CoachId] | None:
        """Whose feed has this digest."""
        c = calendar_feeds.c
        row = self._c.execute(sa.select(c.org_id, c.coach_id).where(c.token_digest == token_digest)).one_or_none()
        return None if row is None else (OrgId(row.org_id), CoachId(row.coach_id))


def _upsert(conn: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT that supports ON CONFLICT (PostgreSQL and SQLite both do)."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
