"""Messages in memory, with the same idempotency as the SQL table's unique keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import attrs

from coachos.adapters.memory._repos import _Repo, _scoped
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.inbox import Conversation, unread
from coachos.domain.messages import Direction, Message, MessageStatus
from coachos.domain.rows import Rows


class MemoryMessages(_Repo):
    """Messages in memory."""

    def add(self, message: Message) -> Message:
        """Store unless the key (or provider id) is taken; the stored message either way."""
        for held in self._t.messages.values():
            if held.id == message.id:
                return held
            same_key = (
                message.direction is Direction.OUT
                and message.key is not None
                and held.org_id == message.org_id
                and held.key == message.key
            )
            same_provider_id = (
                message.provider_id is not None
                and held.channel == message.channel
                and held.provider_id == message.provider_id
            )
            if same_key or same_provider_id:
                return held
        self._t.messages[message.id] = message
        return message

    def get(self, org_id: OrgId, message_id: UUID) -> Message:
        """The message."""
        return _scoped(self._t.messages, org_id, message_id, "message")

    def by_key(self, org_id: OrgId, key: str) -> Message | None:
        """The outgoing message with this key, if any."""
        return next((m for m in self._t.messages.values() if m.org_id == org_id and m.key == key), None)

    def for_client(self, org_id: OrgId, client_id: ClientId, limit: int = 200) -> Rows[Message]:
        """The client's latest messages, oldest first."""
        mine = [m for m in self._t.messages.values() if m.org_id == org_id and m.client_id == client_id]
        mine.sort(key=lambda m: (m.created_at, str(m.id)))
        return self._rows("messages", org_id, mine[-limit:] if limit else [], client_id=client_id)

    def cancel(self, org_id: OrgId, keys: Sequence[str], at: datetime) -> int:
        """Cancel those of `keys` still queued."""
        wanted = set(keys)
        done = 0
        for m in list(self._t.messages.values()):
            if m.org_id == org_id and m.key in wanted and m.status is MessageStatus.QUEUED:
                self._t.messages[m.id] = attrs.evolve(m, status=MessageStatus.CANCELLED, status_at=at)
                done += 1
        return done

    def conversations(self, org_id: OrgId, limit: int, offset: int = 0) -> Rows[Conversation]:
        """Each client's latest message and unread count, most recent first."""
        threads: dict[ClientId, list[Message]] = {}
        for m in self._t.messages.values():
            if m.org_id == org_id and m.client_id is not None:
                threads.setdefault(m.client_id, []).append(m)
        found = []
        for client_id, thread in threads.items():
            client = self._t.clients.get(client_id)
            if client is None:
                continue
            last = max(thread, key=lambda m: (m.created_at, str(m.id)))
            found.append(Conversation(client_id, client.name, last, sum(1 for m in thread if unread(m))))
        found.sort(key=lambda c: (c.last.created_at, str(c.last.id)), reverse=True)
        # A planted unreadable row stands for a client's unreadable latest message: named on the first page.
        return (
            self._rows("messages", org_id, found[offset : offset + limit])
            if offset == 0
            else Rows(found[offset : offset + limit])
        )

    def unread_count(self, org_id: OrgId) -> int:
        """Unread incoming messages."""
        return sum(1 for m in self._t.messages.values() if m.org_id == org_id and m.client_id and unread(m))

    def mark_read(self, org_id: OrgId, client_id: ClientId, at: datetime) -> int:
        """Mark the client's unread incoming messages read."""
        done = 0
        for m in list(self._t.messages.values()):
            if m.org_id == org_id and m.client_id == client_id and unread(m):
                self._t.messages[m.id] = attrs.evolve(m, read_at=at)
                done += 1
        return done
