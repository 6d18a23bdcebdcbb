"""Messages in SQL: an insert that keeps the first row per key (or provider id), and the reads around it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from coachos.adapters.sql.repos import _Repo
from coachos.adapters.sql.tables import messages
from coachos.domain.ids import ClientId, CoachId, OrgId
from coachos.domain.messages import Direction, Message, MessageStatus
from coachos.domain.rows import Rows


def message_values(m: Message) -> dict[str, Any]:
    """The row for `m`."""
    return {
        "id": m.id,
        "org_id": m.org_id,
        "direction": m.direction.value,
        "channel": m.channel.value,
        "purpose": m.purpose.value,
        "status": m.status.value,
        "to_address": m.to,
        "from_address": m.sender,
        "body": m.body,
        "created_at": m.created_at,
        "not_before": m.not_before,
        "key": m.key,
        "client_id": m.client_id,
        "coach_id": m.coach_id,
        "template": m.template,
        "subject": m.subject,
        "html": m.html,
        "attempts": m.attempts,
        "provider_id": m.provider_id,
        "last_error": m.last_error,
        "status_at": m.status_at,
        "read_at": m.read_at,
        "quiet_hours": m.quiet_hours,
    }


def message_from(row: Any) -> Message:
    """The message a row holds."""
    return Message(
        id=row.id,
        org_id=OrgId(row.org_id),
        direction=row.direction,
        channel=row.channel,
        purpose=row.purpose,
        status=row.status,
        to=row.to_address,
        sender=row.from_address,
        body=row.body,
        created_at=row.created_at,
        not_before=row.not_before,
        key=row.key,
        client_id=None if row.client_id is None else ClientId(row.client_id),
        coach_id=None if row.coach_id is None else CoachId(row.coach_id),
        template=row.template,
        subject=row.subject,
        html=row.html,
        attempts=row.attempts,
        provider_id=row.provider_id,
        last_error=row.last_error,
        status_at=row.status_at,
        read_at=row.read_at,
        quiet_hours=row.quiet_hours,
    )


class SqlMessages(_Repo):
    """Messages in SQL."""

    def add(self, message: Message) -> Message:
        """Insert unless the key (or provider id) is taken; the stored message either way.

        `ON CONFLICT DO NOTHING` makes a racing second writer wait for the first one's transaction
        and then insert nothing, so two relays handling the same event queue one text.
        """
        insert = postgresql.insert if self._c.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(messages).values(**message_values(message)).on_conflict_do_nothing().returning(messages.c.id)
        if self._c.execute(stmt).first() is not None:
            return message
        if message.direction is Direction.OUT and message.key is not None:
            found = self.by_key(message.org_id, message.key)
        else:
            q = sa.select(messages).where(
                messages.c.org_id == message.org_id,
                messages.c.channel == message.channel.value,
                messages.c.provider_id == message.provider_id,
            )
            found = self._maybe(messages, q, message_from)
        if found is None:  # the conflict was on the id itself: the same message written twice
            return self.get(message.org_id, message.id)
        return found

    def get(self, org_id: OrgId, message_id: UUID) -> Message:
        """The message."""
        q = sa.select(messages).where(messages.c.org_id == org_id, messages.c.id == message_id)
        return self._get(messages, q, message_from, "message")

    def by_key(self, org_id: OrgId, key: str) -> Message | None:
        """The outgoing message with this key, if any."""
        q = sa.select(messages).where(messages.c.org_id == org_id, messages.c.key == key)
        return self._maybe(messages, q, message_from)

    def for_client(self, org_id: OrgId, client_id: ClientId, limit: int = 200) -> Rows[Message]:
        """The client's latest messages, oldest first."""
        latest = (
            sa.select(messages.c.id)
            .where(messages.c.org_id == org_id, messages.c.client_id == client_id)
            .order_by(messages.c.created_at.desc(), messages.c.id.desc())
            .limit(limit)
        )
        q = (
            sa.select(messages)
            .where(messages.c.org_id == org_id, messages.c.id.in_(latest.scalar_subquery()))
            .order_by(messages.c.created_at, messages.c.id)
        )
        return self._all(messages, q, message_from)

    def cancel(self, org_id: OrgId, keys: Sequence[str], at: datetime) -> int:
        """Cancel those of `keys` still queued."""
        if not keys:
            return 0
        result = self._c.execute(
            messages.update()
            .where(
                messages.c.org_id == org_id,
                messages.c.key.in_(list(keys)),
                messages.c.status == MessageStatus.QUEUED.value,
            )
            .values(status=MessageStatus.CANCELLED.value, status_at=at)
        )
        return int(result.rowcount)
