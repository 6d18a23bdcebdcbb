"""Messages in SQL: an insert that keeps the first row per key (or provider id), and the reads around it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from coachos.adapters.sql import _convert as cv
from coachos.adapters.sql.repos import _Repo
from coachos.adapters.sql.tables import clients, messages
from coachos.domain.errors import CorruptRecord
from coachos.domain.ids import ClientId, CoachId, OrgId
from coachos.domain.inbox import Conversation
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


def _conversation_from(row: Any) -> Conversation:
    return Conversation(
        client_id=ClientId(row.client_id),
        client_name=row.client_name,
        last=message_from(row),
        unread=int(row.unread),
    )


def _unread() -> sa.ColumnElement[bool]:
    """Incoming and not read: the condition the partial index ix_messages_unread covers."""
    return sa.and_(messages.c.direction == Direction.IN.value, messages.c.read_at.is_(None))


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

    def conversations(self, org_id: OrgId, limit: int, offset: int = 0) -> Rows[Conversation]:
        """Each client's latest message and unread count, most recent first: one statement.

        A window over the business's messages ranks each client's messages newest first and
        counts the unread ones; the first-ranked row of each client is its conversation.
        """
        newest_first = (messages.c.created_at.desc(), messages.c.id.desc())
        ranked = (
            sa.select(
                messages.c.id,
                sa.func.row_number().over(partition_by=messages.c.client_id, order_by=newest_first).label("rank"),
                sa.func.sum(sa.case((_unread(), 1), else_=0)).over(partition_by=messages.c.client_id).label("unread"),
            )
            .where(messages.c.org_id == org_id, messages.c.client_id.is_not(None))
            .subquery("ranked")
        )
        q = (
            sa.select(messages, ranked.c.unread, clients.c.name.label("client_name"))
            .join(ranked, ranked.c.id == messages.c.id)
            .join(clients, sa.and_(clients.c.org_id == messages.c.org_id, clients.c.id == messages.c.client_id))
            .where(messages.c.org_id == org_id, ranked.c.rank == 1)
            .order_by(*newest_first)
            .limit(limit)
            .offset(offset)
        )
        result = self._c.execute(q)
        try:
            fetched = result.all()
        except Exception as exc:
            if not cv.unloadable(exc):
                raise
            return self._conversations_one_by_one(q, ranked)
        return cv.read_all(messages, fetched, _conversation_from)

    def _conversations_one_by_one(self, q: sa.Select[Any], ranked: sa.Subquery) -> Rows[Conversation]:
        """The conversations of `q` read message by message, when some stored value cannot even be loaded."""
        heads = self._c.execute(
            q.with_only_columns(messages.c.id, messages.c.client_id, ranked.c.unread, clients.c.name)
        ).all()
        items: list[Conversation] = []
        unreadable: list[CorruptRecord] = []
        for message_id, client_id, count, name in heads:
            try:
                last = self._maybe(messages, sa.select(messages).where(messages.c.id == message_id), message_from)
            except CorruptRecord as exc:
                unreadable.append(exc)
                continue
            if last is not None:
                items.append(Conversation(client_id=ClientId(client_id), client_name=name, last=last, unread=count))
        return Rows(items, unreadable)

    def unread_count(self, org_id: OrgId) -> int:
        """Unread incoming messages, counted on the partial index of unread ones."""
        q = (
            sa.select(sa.func.count())
            .select_from(messages)
            .where(messages.c.org_id == org_id, messages.c.client_id.is_not(None), _unread())
        )
        return int(self._c.execute(q).scalar_one())

    def mark_read(self, org_id: OrgId, client_id: ClientId, at: datetime) -> int:
        """One UPDATE over the client's unread incoming messages."""
        result = self._c.execute(
            messages.update()
            .where(messages.c.org_id == org_id, messages.c.client_id == client_id, _unread())
            .values(read_at=at)
        )
        return int(result.rowcount)
