"""Messages in memory, with the same idempotency as the SQL table's unique keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import attrs

from coachos.adapters.memory._repos import _Repo, _scoped
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.inbox import Conversation, unread
from coachos.domain.messages import Direction, Message, MessageChannel, MessageStatus
from coachos.domain.rows import Rows
from coachos.domain.sending import MOVES_FROM, TOKEN, ClaimedMessage, micro_tokens, refill_parameters, refilled

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> Sequence[ClaimedMessage]:
        """Claim due messages of every organisation (the store's lock serializes claims)."""
        leases = self._t.message_leases

        def due(m: Message) -> bool:
            if m.direction is not Direction.OUT:
                return False
            if m.status is MessageStatus.QUEUED:
                return m.not_before <= now
            return m.status is MessageStatus.SENDING and m.id in leases and leases[m.id] <= now

        found = sorted((m for m in self._t.messages.values() if due(m)), key=lambda m: (m.not_before, str(m.id)))
        claims = []
        for m in found[:limit]:
            claimed = attrs.evolve(m, status=MessageStatus.SENDING, attempts=m.attempts + 1, status_at=now)
            self._t.messages[m.id] = claimed
            leases[m.id] = lease_until
            claims.append(
                ClaimedMessage(message=claimed, lease_until=lease_until, unsure=m.status is MessageStatus.SENDING)
            )
        return claims

    def settle(self, claim: ClaimedMessage, outcome: Message) -> bool:
        """Write the outcome while the row is still `sending` under this claim."""
        held = self._t.messages.get(claim.message.id)
        if held is None or held.org_id != claim.org_id or held.status is not MessageStatus.SENDING:
            return False
        if self._t.message_leases.get(held.id) != claim.lease_until:
            return False
        self._t.messages[held.id] = attrs.evolve(
            held,
            status=outcome.status,
            not_before=outcome.not_before,
            attempts=outcome.attempts,
            provider_id=outcome.provider_id,
            last_error=outcome.last_error,
            status_at=outcome.status_at,
            sender=outcome.sender,
        )
        if outcome.status is MessageStatus.SENDING:  # an SMS retry: its lease runs to the retry time
            self._t.message_leases[held.id] = outcome.not_before
        else:
            self._t.message_leases.pop(held.id, None)
        return True

    def delivery_report(
        self,
        provider_id: str,
        message_id: UUID | None,
        status: MessageStatus,
        last_error: str | None,
        at: datetime,
    ) -> Message | None:
        """Find the SMS by provider id, else by our id while it has none; move it forward only."""

        def mine(m: Message) -> bool:
            return m.direction is Direction.OUT and m.channel is MessageChannel.SMS

        held = next((m for m in self._t.messages.values() if mine(m) and m.provider_id == provider_id), None)
        if held is None and message_id is not None:
            candidate = self._t.messages.get(message_id)
            if candidate is not None and mine(candidate) and candidate.provider_id is None:
                held = candidate
        if held is None:
            return None
        if held.status in MOVES_FROM.get(status, frozenset()):
            error = last_error if status is MessageStatus.FAILED else held.last_error
            held = attrs.evolve(held, status=status, status_at=at, provider_id=provider_id, last_error=error)
            self._t.messages[held.id] = held
            self._t.message_leases.pop(held.id, None)
        return held

    def take_send_token(self, number: str, now: datetime, rate_per_second: float, burst: int) -> bool:
        """Refill the number's bucket and take a token, if there is one."""
        now_us = (now - _EPOCH) // timedelta(microseconds=1)
        tokens, at_us = self._t.send_rates.get(number, (micro_tokens(burst), now_us))
        rate_milli, fill_us = refill_parameters(rate_per_second, burst)
        available = refilled(tokens, now_us - at_us, rate_milli, fill_us, burst)
        if available < TOKEN:
            return False
        self._t.send_rates[number] = (available - TOKEN, max(at_us, now_us))
        return True
