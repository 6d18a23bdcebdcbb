"""Queueing a link a client is waiting for (a waiver to sign, a form to fill) by the channel the coach chose."""

from __future__ import annotations

from datetime import datetime

from coachos.domain.clients import Client
from coachos.domain.errors import ValidationError
from coachos.domain.messages import Message, MessageChannel, Purpose, outgoing
from coachos.domain.usecases._base import Deps
from coachos.ports.storage import UnitOfWork


def queue_client_link(
    uow: UnitOfWork,
    deps: Deps,
    client: Client,
    channel: MessageChannel,
    *,
    key: str,
    body: str,
    subject: str,
    template: str,
    now: datetime,
) -> Message:
    """Queue `body` to the client on `channel`, in the caller's transaction.

    Transactional and not held by quiet hours: the client usually asked for it a moment ago. The key
    gets the channel and the minute, so a double click queues one message and a resend later another.
    The worker still checks SMS consent before it sends.
    """
    to = client.phone if channel is MessageChannel.SMS else client.email
    if not to:
        what = "mobile number" if channel is MessageChannel.SMS else "email address"
        raise ValidationError(f"This client has no {what} on file; add one or choose the other way.", field="channel")
    return uow.messages.add(
        outgoing(
            id=deps.ids.new_id(),
            org_id=client.org_id,
            key=f"{key}:{channel.value}:{now:%Y%m%dT%H%M}",
            channel=channel,
            purpose=Purpose.TRANSACTIONAL,
            to=to,
            body=body,
            now=now,
            client_id=client.id,
            template=template,
            subject=subject if channel is MessageChannel.EMAIL else None,
            quiet_hours=False,
        )
    )
