"""Clients' sign-in links and codes, client sessions and deletion requests in SQL (always within one organisation)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from coachos.adapters.sql.repos import _Repo
from coachos.adapters.sql.tables import (
    UTCDateTime,
    client_contact_changes,
    client_deletion_requests,
    client_sessions,
    client_sign_ins,
)
from coachos.adapters.sql.tenancy import prune_across_orgs
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.portal import ClientSession, ContactChange, SignInChallenge


def _upsert(conn: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT that supports ON CONFLICT (PostgreSQL and SQLite both do)."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _at(value: datetime) -> Any:
    return sa.literal(value, UTCDateTime())


class SqlPortal(_Repo):
    """The portal's records on one connection."""

    def put_challenge(self, challenge: SignInChallenge) -> None:
        """Insert or overwrite the client's row (one upsert): the old link and code stop matching at once."""
        values = {
            "org_id": challenge.org_id,
            "client_id": challenge.client_id,
            "link_digest": challenge.link_digest,
            "code_digest": challenge.code_digest,
            "created_at": challenge.created_at,
            "expires_at": challenge.expires_at,
            "used_at": challenge.used_at,
            "failures": challenge.failures,
        }
        stmt = _upsert(self._c, client_sign_ins).values(**values)
        keys = ("org_id", "client_id")
        self._c.execute(
            stmt.on_conflict_do_update(
                index_elements=list(keys), set_={k: v for k, v in values.items() if k not in keys}
            )
        )

    def take_link(self, org_id: OrgId, link_digest: str, now: datetime) -> ClientId | None:
        """One conditional UPDATE … RETURNING: of two requests racing with the same link, one gets the client."""
        s = client_sign_ins.c
        found = self._c.execute(
            client_sign_ins.update()
            .where(s.org_id == org_id, s.link_digest == link_digest, s.used_at.is_(None), s.expires_at > _at(now))
            .values(used_at=now)
            .returning(s.client_id)
        ).scalar_one_or_none()
        return None if found is None else ClientId(found)

    def take_code(
        self, org_id: OrgId, client_id: ClientId, code_digest: str, now: datetime, max_failures: int
    ) -> ClientId | None:
        """Use the code by one conditional UPDATE; if it did not match, count the failure by another."""
        s = client_sign_ins.c
        mine = (s.org_id == org_id, s.client_id == client_id, s.used_at.is_(None))
        found = self._c.execute(
            client_sign_ins.update()
            .where(*mine, s.code_digest == code_digest, s.expires_at > _at(now), s.failures < max_failures)
            .values(used_at=now)
            .returning(s.client_id)
        ).scalar_one_or_none()
        if found is not None:
            return ClientId(found)
        self._c.execute(client_sign_ins.update().where(*mine).values(failures=s.failures + 1))
        return None

    def add_session(self, session: ClientSession) -> None:
        """Store the session."""
        self._c.execute(
            client_sessions.insert().values(
                token_digest=session.token_digest,
                org_id=session.org_id,
                client_id=session.client_id,
                created_at=session.created_at,
                expires_at=session.expires_at,
            )
        )

    def session(self, org_id: OrgId, token_digest: str) -> ClientSession | None:
        """The organisation's session with this digest."""
        s = client_sessions.c
        row = self._c.execute(
            sa.select(client_sessions).where(s.org_id == org_id, s.token_digest == token_digest)
        ).one_or_none()
        if row is None:
            return None
        return ClientSession(
            token_digest=row.token_digest,
            org_id=OrgId(row.org_id),
            client_id=ClientId(row.client_id),
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

    def end_session(self, org_id: OrgId, token_digest: str) -> None:
        """Delete the session."""
        s = client_sessions.c
        self._c.execute(client_sessions.delete().where(s.org_id == org_id, s.token_digest == token_digest))

    def end_sessions_of(self, org_id: OrgId, client_id: ClientId) -> None:
        """Delete the client's sessions and pending sign-in."""
        for table in (client_sessions, client_sign_ins):
            self._c.execute(table.delete().where(table.c.org_id == org_id, table.c.client_id == client_id))

    def request_deletion(self, org_id: OrgId, client_id: ClientId, at: datetime) -> datetime:
        """Insert the request unless one is open; the open one's time."""
        self._c.execute(
            _upsert(self._c, client_deletion_requests)
            .values(org_id=org_id, client_id=client_id, requested_at=at)
            .on_conflict_do_nothing(index_elements=["org_id", "client_id"])
        )
        found = self.deletion_requested(org_id, client_id)
        return at if found is None else found

    def deletion_requested(self, org_id: OrgId, client_id: ClientId) -> datetime | None:
        """When the client asked."""
        d = client_deletion_requests.c
        found: datetime | None = self._c.execute(
            sa.select(d.requested_at).where(d.org_id == org_id, d.client_id == client_id)
        ).scalar_one_or_none()
        return found

    def forget_deletion_request(self, org_id: OrgId, client_id: ClientId) -> None:
        """Close the request."""
        d = client_deletion_requests.c
        self._c.execute(client_deletion_requests.delete().where(d.org_id == org_id, d.client_id == client_id))

    def put_contact_change(self, change: ContactChange) -> None:
        """Insert or overwrite the client's pending change (one upsert): an earlier code stops matching."""
        values = {
            "org_id": change.org_id,
            "client_id": change.client_id,
            "email": change.email,
            "phone": change.phone,
            "code_digest": change.code_digest,
            "created_at": change.created_at,
            "expires_at": change.expires_at,
            "used_at": change.used_at,
            "failures": change.failures,
        }
        keys = ("org_id", "client_id")
        self._c.execute(
            _upsert(self._c, client_contact_changes)
            .values(**values)
            .on_conflict_do_update(index_elements=list(keys), set_={k: v for k, v in values.items() if k not in keys})
        )

    def take_contact_change(
        self, org_id: OrgId, client_id: ClientId, code_digest: str, now: datetime, max_failures: int
    ) -> ContactChange | None:
        """Use the code by one conditional UPDATE … RETURNING; if it did not match, count the failure."""
        c = client_contact_changes.c
        mine = (c.org_id == org_id, c.client_id == client_id, c.used_at.is_(None))
        row = self._c.execute(
            client_contact_changes.update()
            .where(*mine, c.code_digest == code_digest, c.expires_at > _at(now), c.failures < max_failures)
            .values(used_at=now)
            .returning(*client_contact_changes.c)
        ).one_or_none()
        if row is None:
            self._c.execute(client_contact_changes.update().where(*mine).values(failures=c.failures + 1))
            return None
        return ContactChange(
            org_id=OrgId(row.org_id),
            client_id=ClientId(row.client_id),
            email=row.email,
            phone=row.phone,
            code_digest=row.code_digest,
            created_at=row.created_at,
            expires_at=row.expires_at,
            used_at=row.used_at,
            failures=row.failures,
        )

    def prune(self, now: datetime) -> int:
        """One DELETE per table, across organisations (the `app.prune` flag of migration 0017's policies)."""
        prune_across_orgs(self._c)
        s = client_sign_ins.c
        deletes = [
            client_sessions.delete().where(client_sessions.c.expires_at <= _at(now)),
            client_sign_ins.delete().where(sa.or_(s.used_at.is_not(None), s.expires_at <= _at(now))),
            client_contact_changes.delete().where(
                sa.or_(client_contact_changes.c.used_at.is_not(None), client_contact_changes.c.expires_at <= _at(now))
            ),
        ]
        return sum(int(self._c.execute(q).rowcount) for q in deletes)
