"""Accounts in SQL: logins, sessions, API tokens, password resets, failed log-ins."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from coachos.adapters.sql.repos import _Repo
from coachos.adapters.sql.tables import (
    api_tokens,
    calendar_feeds,
    login_failures,
    logins,
    password_resets,
    web_sessions,
)
from coachos.domain.accounts import ApiToken, Login, WebSession
from coachos.domain.errors import NotFound
from coachos.domain.ids import CoachId, OrgId
from coachos.domain.rows import Rows


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


def _login_from(row: Any) -> Login:
    return Login(
        coach_id=CoachId(row.coach_id), org_id=OrgId(row.org_id), email=row.email, password_hash=row.password_hash
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

    def record_failure(self, email: str, address: str, at: datetime) -> None:
        """Note a failed log-in."""
        self._c.execute(login_failures.insert().values(email=email, address=address[:64], at=at))

    def failures_since(self, email: str, address: str, since: datetime) -> tuple[int, int]:
        """Failures for the email and from the address since `since`."""
        f = login_failures.c
        by_email = self._c.execute(sa.select(sa.func.count()).where(f.email == email, f.at >= since)).scalar_one()
        by_address = self._c.execute(
            sa.select(sa.func.count()).where(f.address == address[:64], f.at >= since)
        ).scalar_one()
        return int(by_email), int(by_address)

    def prune(self, now: datetime, failures_before: datetime) -> int:
        """Delete expired sessions, dead reset links and old failures (three single DELETEs)."""
        r = password_resets.c
        deleted = self._c.execute(web_sessions.delete().where(web_sessions.c.expires_at <= now)).rowcount
        deleted += self._c.execute(
            password_resets.delete().where(sa.or_(r.used_at.is_not(None), r.expires_at <= now))
        ).rowcount
        deleted += self._c.execute(login_failures.delete().where(login_failures.c.at < failures_before)).rowcount
        return int(deleted)

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
