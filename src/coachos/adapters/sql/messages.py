"""Messages in SQL: an insert that keeps the first row per key (or provider id), and the reads around it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from coachos.adapters.sql import _convert as cv
from coachos.adapters.sql.repos import _Repo
from coachos.adapters.sql.tables import clients, messages, send_rates
from coachos.adapters.sql.tenancy import messages_across_orgs
from coachos.domain.errors import CoachOSError, CorruptRecord
from coachos.domain.ids import ClientId, CoachId, OrgId
from coachos.domain.inbox import Conversation
from coachos.domain.messages import Direction, Message, MessageChannel, MessageStatus
from coachos.domain.rows import Rows
from coachos.domain.sending import MOVES_FROM, TOKEN, ClaimedMessage, micro_tokens, refill_parameters

log = logging.getLogger("coachos.sending")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: What a message whose stored row cannot be read says instead of being sent.
UNREADABLE = "This message's stored record cannot be read, so it was not sent; support has been told its id."


def epoch_us(at: datetime) -> int:
    """`at` in whole microseconds since the epoch."""
    return (at - _EPOCH) // timedelta(microseconds=1)


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

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> Sequence[ClaimedMessage]:
        """Claim due messages of every organisation: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so workers
        side by side take different rows; SQLite's `BEGIN IMMEDIATE` serializes the claims already."""
        m = messages.c
        # Two reads, each a range of the (status, not_before) index, rather than one OR that scans the
        # table: lapsed claims first (they have waited longest), then queued rows, oldest due first.
        lapsed = sa.select(messages).where(
            m.status == MessageStatus.SENDING.value, m.direction == Direction.OUT.value, m.lease_until <= now
        )
        queued = sa.select(messages).where(
            m.status == MessageStatus.QUEUED.value, m.direction == Direction.OUT.value, m.not_before <= now
        )
        with messages_across_orgs(self._c):
            rows = list(self._c.execute(self._locked(lapsed.order_by(m.not_before, m.id).limit(limit))).all())
            if len(rows) < limit:
                more = queued.order_by(m.not_before, m.id).limit(limit - len(rows))
                rows += self._c.execute(self._locked(more)).all()
            claims, unreadable = [], []
            for r in rows:
                try:
                    message = _claimed(message_from(r), now)
                except (ValueError, TypeError, CoachOSError):
                    # A row no code can read (a faulty migration or manual fix) would be claimed every tick.
                    unreadable.append(r.id)
                    continue
                unsure = r.status == MessageStatus.SENDING.value
                claims.append(ClaimedMessage(message=message, lease_until=lease_until, unsure=unsure))
            if unreadable:
                log.error("unreadable message rows failed: message_ids=%s", ",".join(map(str, unreadable)))
                self._c.execute(
                    messages.update()
                    .where(m.id.in_(unreadable))
                    .values(status=MessageStatus.FAILED.value, last_error=UNREADABLE, status_at=now, lease_until=None)
                )
            if claims:
                self._c.execute(
                    messages.update()
                    .where(m.id.in_([c.message.id for c in claims]))
                    .values(
                        status=MessageStatus.SENDING.value,
                        lease_until=lease_until,
                        attempts=m.attempts + 1,
                        status_at=now,
                    )
                )
        return claims

    def _locked(self, q: sa.Select[Any]) -> sa.Select[Any]:
        return q.with_for_update(skip_locked=True) if self._c.dialect.name == "postgresql" else q

    def settle(self, claim: ClaimedMessage, outcome: Message) -> bool:
        """Write the outcome where the row is still `sending` under this very claim (the lease is the fence)."""
        m = messages.c
        values = message_values(outcome)
        # The sending number is part of the outcome: the business's number is chosen at send time.
        kept = ("status", "not_before", "attempts", "provider_id", "last_error", "status_at", "from_address")
        result = self._c.execute(
            messages.update()
            .where(
                m.org_id == claim.org_id,
                m.id == claim.message.id,
                m.status == MessageStatus.SENDING.value,
                m.lease_until == claim.lease_until,
            )
            # A message left `sending` (an SMS retry whose first try may have gone out) keeps a lease to its
            # retry time, so the retry is a claim of a lapsed lease, which asks the provider before sending.
            .values({k: values[k] for k in kept} | {"lease_until": _lease_after(outcome)})
        )
        return bool(result.rowcount)

    def delivery_report(
        self,
        provider_id: str,
        message_id: UUID | None,
        status: MessageStatus,
        last_error: str | None,
        at: datetime,
    ) -> Message | None:
        """Find the SMS by provider id, else by our id while it has none; move it forward in one conditional update."""
        m = messages.c
        mine = sa.and_(m.direction == Direction.OUT.value, m.channel == MessageChannel.SMS.value)
        with messages_across_orgs(self._c):
            row = self._c.execute(sa.select(m.id).where(mine, m.provider_id == provider_id)).first()
            if row is None and message_id is not None:
                q = sa.select(m.id).where(mine, m.id == message_id, m.provider_id.is_(None))
                row = self._c.execute(q).first()
            if row is None:
                return None
            values: dict[str, Any] = {"status": status.value, "status_at": at, "provider_id": provider_id}
            if status is MessageStatus.FAILED:
                values["last_error"] = last_error
            if status is not MessageStatus.SENDING:
                values["lease_until"] = None
            self._c.execute(
                messages.update()
                .where(
                    m.id == row.id,
                    m.status.in_([s.value for s in MOVES_FROM.get(status, frozenset())]),
                    sa.or_(m.provider_id.is_(None), m.provider_id == provider_id),
                )
                .values(values)
            )
            found = self._c.execute(sa.select(messages).where(m.id == row.id)).one()
        return message_from(found)

    def take_send_token(self, number: str, now: datetime, rate_per_second: float, burst: int) -> bool:
        """Refill the number's bucket for the time since its last refill and take a token, in one
        conditional `UPDATE … RETURNING`: concurrent takers queue on the row's lock and each sees what the
        one before left, so no two workers take the same token."""
        t = send_rates.c
        now_us = sa.literal(epoch_us(now), sa.BigInteger())
        full = micro_tokens(burst)
        rate_milli, fill_us = refill_parameters(rate_per_second, burst)
        insert = postgresql.insert if self._c.dialect.name == "postgresql" else sqlite.insert
        self._c.execute(
            insert(send_rates)
            .values(number=number, micro_tokens=full, refilled_at_us=epoch_us(now))
            .on_conflict_do_nothing()
        )
        idle = now_us - t.refilled_at_us
        idle = sa.case((idle >= fill_us, fill_us), (idle <= 0, 0), else_=idle)
        raw = t.micro_tokens + (idle * rate_milli) // 1000
        available = sa.case((raw > full, full), else_=raw)
        taken = self._c.execute(
            send_rates.update()
            .where(t.number == number, available >= TOKEN)
            .values(
                micro_tokens=available - TOKEN,
                refilled_at_us=sa.case((t.refilled_at_us < now_us, now_us), else_=t.refilled_at_us),
            )
            .returning(t.number)
        ).first()
        return taken is not None


def _lease_after(outcome: Message) -> datetime | None:
    return outcome.not_before if outcome.status is MessageStatus.SENDING else None


def _claimed(message: Message, now: datetime) -> Message:
    """`message` as its claim left it: sending, with this attempt counted."""
    return attrs.evolve(message, status=MessageStatus.SENDING, attempts=message.attempts + 1, status_at=now)
