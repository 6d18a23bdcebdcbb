"""The coach's inbox: the list of conversations, reading one (which marks it read), and replying.

A reply is only queued here, as an outgoing message in the same transaction as nothing else;
the worker sends it when its `not_before` has passed and writes the provider's answer back.
"""

from __future__ import annotations

from uuid import UUID

import attrs

from coachos.domain.checks import whole
from coachos.domain.clients import Client
from coachos.domain.errors import ValidationError
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.inbox import REPLY_TEMPLATE, Conversation, check_reply, reply_key, reply_route, reply_time
from coachos.domain.messages import Message, MessageChannel, Purpose, outgoing
from coachos.domain.rows import Rows
from coachos.domain.usecases._base import Command, Deps, handles

#: Conversations per page of the list.
PER_PAGE = 30
#: Highest page number asked for (deep pages are a search's job).
MAX_PAGE = 10_000
#: Messages a thread shows, newest last.
THREAD_LIMIT = 200


@attrs.frozen
class ConversationsPage:
    """One page of the conversation list and the business's unread total."""

    conversations: Rows[Conversation]
    page: int
    has_more: bool
    unread: int


@attrs.frozen(kw_only=True)
class ListConversations(Command[ConversationsPage]):
    """The business's conversations, most recent first, `per_page` at a time."""

    org_id: OrgId
    page: int = attrs.field(default=1, validator=whole(1, MAX_PAGE))
    per_page: int = attrs.field(default=PER_PAGE, validator=whole(1, 200))


@handles(ListConversations)
def list_conversations(cmd: ListConversations, deps: Deps) -> ConversationsPage:
    """Read one page (one row more than shown, to know whether another page follows) and the unread total."""
    with deps.uow() as uow:
        found = uow.messages.conversations(cmd.org_id, cmd.per_page + 1, (cmd.page - 1) * cmd.per_page)
        total = uow.messages.unread_count(cmd.org_id)
    shown = Rows(found[: cmd.per_page], found.unreadable)
    return ConversationsPage(conversations=shown, page=cmd.page, has_more=len(found) > cmd.per_page, unread=total)


@attrs.frozen
class Thread:
    """A client's conversation as it stood when opened: `unread` counts the messages this reading marked read."""

    client: Client
    messages: Rows[Message]
    unread: int


@attrs.frozen(kw_only=True)
class ReadConversation(Command[Thread]):
    """Open a client's conversation: their latest messages, the incoming ones marked read."""

    org_id: OrgId
    client_id: ClientId
    limit: int = attrs.field(default=THREAD_LIMIT, validator=whole(1, 1000))


@handles(ReadConversation)
def read_conversation(cmd: ReadConversation, deps: Deps) -> Thread:
    """Read the client (NotFound for another business's) and their messages, then mark the unread ones read.

    The messages are returned as they were before marking, so a page can tell which are new.
    """
    with deps.uow() as uow:
        client = uow.clients.get(cmd.org_id, cmd.client_id)
        messages = uow.messages.for_client(cmd.org_id, cmd.client_id, cmd.limit)
        marked = uow.messages.mark_read(cmd.org_id, cmd.client_id, deps.clock.now())
        if marked:
            uow.commit()
    return Thread(client=client, messages=messages, unread=marked)


@attrs.frozen(kw_only=True)
class SendReply(Command[Message]):
    """A coach's reply to a client, queued by text (or email without a phone); `form_id` makes resending harmless."""

    org_id: OrgId
    client_id: ClientId
    body: str
    #: The id the reply form was rendered with: the same form sent twice queues one message.
    form_id: UUID


@handles(SendReply)
def send_reply(cmd: SendReply, deps: Deps) -> Message:
    """Check the body, choose the channel, hold it past quiet hours and queue it; the stored message either way.

    Replying also marks the client's incoming messages read.
    """
    body = check_reply(cmd.body)
    now = deps.clock.now()
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        client = uow.clients.get(cmd.org_id, cmd.client_id)
        key = reply_key(cmd.form_id)
        earlier = uow.messages.by_key(cmd.org_id, key)
        if earlier is not None:
            if earlier.client_id != cmd.client_id:
                raise ValidationError("This reply form was already used for another client; reload the page.")
            return earlier
        route = reply_route(client)
        message = outgoing(
            id=deps.ids.new_id(),
            org_id=cmd.org_id,
            key=key,
            channel=route.channel,
            purpose=Purpose.TRANSACTIONAL,
            to=route.to,
            body=body,
            now=now,
            not_before=reply_time(now, org, client),
            client_id=cmd.client_id,
            template=REPLY_TEMPLATE,
            subject=f"A message from {org.name}" if route.channel is MessageChannel.EMAIL else None,
            quiet_hours=True,
        )
        stored = uow.messages.add(message)
        # Answering a client means having read what they wrote (the reply may come from their page's panel).
        uow.messages.mark_read(cmd.org_id, cmd.client_id, now)
        uow.commit()
    return stored
