"""Taking in a text someone sent to one of a business's numbers: who it is for, who it is from, what it asks.

The business is the one that has the number the text was sent to; the sender is that business's
client with this phone, or becomes a new lead. Every text is stored, keyword texts too (they are
part of the conversation). STOP and its synonyms withdraw SMS consent, START and its synonyms
record it, HELP gets the help text; each of those answers with one queued reply. Texts that join
the conversation (anything but an answered keyword) emit `MessageReceived` for the coach's notice.

A text the provider delivers again (the same MessageSid) changes nothing the second time: the
message row is unique per (channel, provider id), and a transaction that finds it taken rolls
back everything else it did (the lead it made, the consent it changed, the reply it queued).
"""

from __future__ import annotations

import re
from datetime import datetime

import attrs

from coachos.domain.checks import text
from coachos.domain.clients import Channel, Client, ClientStatus, Consent
from coachos.domain.consent import SMS_KEYWORD
from coachos.domain.contact import normalise_phone
from coachos.domain.errors import ValidationError
from coachos.domain.events import ClientCreated, MessageReceived
from coachos.domain.ids import Actor, ClientId
from coachos.domain.messages import (
    MAX_BODY,
    Direction,
    Message,
    MessageChannel,
    MessageStatus,
    Purpose,
    outgoing,
)
from coachos.domain.orgs import Organization
from coachos.domain.sms_keywords import Keyword, parse_keyword, reply_template, reply_text
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases.clients import give_consent, withdraw_consents
from coachos.ports.storage import UnitOfWork

#: Consents a STOP withdraws: every kind of text.
STOPPED = (Channel.SMS, Channel.SMS_MARKETING)
# Twilio's ids: two letters (SM, MM) and 32 hex digits; other providers' are similar.
_SID = re.compile(r"^[A-Za-z0-9]{2,64}$", re.ASCII)


def _sid(_: object, __: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _SID.fullmatch(value):
        raise ValidationError("The message id (MessageSid) must be 2 to 64 letters and digits.", field="message_sid")


@attrs.frozen(kw_only=True)
class SmsReceived:
    """What became of an incoming text."""

    message: Message
    #: The keyword the text was, if it was one.
    keyword: Keyword | None
    #: The reply queued for it (keywords only), or None.
    reply: Message | None
    #: Whether the sender was unknown and is now a lead.
    new_lead: bool
    #: Whether this was a repeat of a text already taken in (nothing changed this time).
    duplicate: bool


@attrs.frozen(kw_only=True)
class ReceiveSms(Command[SmsReceived | None]):
    """A text the provider says arrived: its id, the number it was sent to, the sender's number and the text."""

    message_sid: str = attrs.field(validator=_sid)
    #: The business's number it was sent to (Twilio's `To`).
    to: str
    #: The number of whoever sent it (Twilio's `From`).
    sender: str
    body: str = attrs.field(validator=text(MAX_BODY, multiline=True))


def _number(value: str, field: str) -> str:
    try:
        return normalise_phone(value)
    except ValidationError as exc:
        raise ValidationError(exc.message, field=field) from None


@handles(ReceiveSms)
def receive_sms(cmd: ReceiveSms, deps: Deps) -> SmsReceived | None:
    """Store the text in the conversation of the business that has the number; None if no business has it."""
    to, sender = _number(cmd.to, "to"), _number(cmd.sender, "sender")
    now = deps.clock.now()
    with deps.uow() as uow:
        ours = uow.phone_numbers.owner(to)
        if ours is None:
            return None
        org = uow.orgs.get(ours.org_id)
        # Two texts from a new person arriving together must find one lead, not make two.
        uow.phone_numbers.hold_sender(org.id, sender)
        client = uow.clients.by_contact(org.id, email=None, phone=sender)
        new_lead = client is None
        if client is None:
            client = _new_lead(uow, org, sender, now, deps)
        message = Message(
            id=deps.ids.new_id(),
            org_id=org.id,
            direction=Direction.IN,
            channel=MessageChannel.SMS,
            purpose=Purpose.TRANSACTIONAL,
            status=MessageStatus.RECEIVED,
            to=to,
            sender=sender,
            body=cmd.body,
            created_at=now,
            not_before=now,
            client_id=client.id,
            provider_id=cmd.message_sid,
            status_at=now,
        )
        stored = uow.messages.add(message)
        if stored.id != message.id:
            # Delivered before: undo the lead this attempt made and answer with what is stored.
            uow.rollback()
            return SmsReceived(message=stored, keyword=None, reply=None, new_lead=False, duplicate=True)
        keyword = parse_keyword(cmd.body)
        reply = None if keyword is None else _obey(uow, org, client, keyword, stored, now, deps)
        if reply is None:
            # A text that joins the conversation; keywords answered here (STOP, START, HELP) are not
            # news for the coach. A "Yes" that changed nothing is conversation, so it is.
            uow.emit(
                MessageReceived(
                    org_id=org.id,
                    occurred_at=now,
                    actor=str(Actor("client", client.id)),
                    message_id=stored.id,
                    client_id=client.id,
                )
            )
        uow.commit()
    return SmsReceived(message=stored, keyword=keyword, reply=reply, new_lead=new_lead, duplicate=False)


def lead_name(phone: str) -> str:
    """The name a lead who texted in gets until the coach names them: only the number's last digits."""
    return f"Text from …{phone[-4:]}"


def _new_lead(uow: UnitOfWork, org: Organization, phone: str, now: datetime, deps: Deps) -> Client:
    client = Client(
        id=ClientId(deps.ids.new_id()),
        org_id=org.id,
        name=lead_name(phone),
        created_at=now,
        phone=phone,
        status=ClientStatus.LEAD,
    )
    uow.clients.add(client)
    uow.emit(ClientCreated(org_id=org.id, occurred_at=now, actor=str(Actor("client", client.id)), client_id=client.id))
    return client


def _obey(
    uow: UnitOfWork,
    org: Organization,
    client: Client,
    keyword: Keyword,
    received: Message,
    now: datetime,
    deps: Deps,
) -> Message | None:
    """Apply the keyword to the client's consents and queue its reply; the reply, or None when none is due."""
    actor = Actor("client", client.id)
    if keyword is Keyword.STOP:
        withdraw_consents(
            uow, deps, org.id, client.id, STOPPED, at=now, method=SMS_KEYWORD, actor=actor, wording=received.body
        )
    elif keyword is Keyword.START:
        if uow.clients.lock(org.id, client.id).consent(Channel.SMS) is not None:
            # Already subscribed: a "Yes" is conversation, and the consent on file keeps its own evidence.
            return None
        consent = Consent(channel=Channel.SMS, granted_at=now, method=SMS_KEYWORD, wording=received.body)
        give_consent(uow, deps, org.id, client.id, consent, actor)
    reply = outgoing(
        id=deps.ids.new_id(),
        org_id=org.id,
        key=f"inbound:{received.provider_id}:reply",
        channel=MessageChannel.SMS,
        purpose=Purpose.TRANSACTIONAL,
        to=received.sender or "",
        sender=received.to,
        body=reply_text(keyword, org.name),
        now=now,
        client_id=client.id,
        template=reply_template(keyword),
        # It answers what the person just sent; quiet hours would only make it confusing.
        quiet_hours=False,
    )
    return uow.messages.add(reply)
