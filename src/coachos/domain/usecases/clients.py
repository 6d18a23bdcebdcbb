"""Use cases that keep a client's record up to date: details, status, notes, tags and consents."""

from __future__ import annotations

from datetime import date
from typing import Any

import attrs

from coachos.domain.clients import Channel, Client, ClientStatus, Consent
from coachos.domain.errors import ValidationError
from coachos.domain.events import ClientUpdated, ConsentRecorded, ConsentWithdrawn
from coachos.domain.ids import Actor, ClientId, OrgId
from coachos.domain.usecases._base import Command, Deps, handles

#: The fields UpdateClient may change, in the order they are reported.
EDITABLE = ("name", "phone", "email", "timezone", "status", "notes", "tags", "birthday")


def _channel(value: Channel | str) -> Channel:
    try:
        return Channel(str(value))
    except ValueError:
        allowed = ", ".join(c.value for c in Channel)
        raise ValidationError(f"'{value}' is not a channel; use one of: {allowed}.", field="channel") from None


@attrs.frozen(kw_only=True)
class UpdateClient(Command[Client]):
    """Change a client's details; None keeps a field as it is, an empty phone, email, zone or birthday clears it."""

    org_id: OrgId
    client_id: ClientId
    actor: Actor
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    timezone: str | None = None
    status: ClientStatus | str | None = None
    notes: str | None = None
    tags: frozenset[str] | None = None
    #: A date or ISO text; '' clears it.
    birthday: date | str | None = None


@handles(UpdateClient)
def update_client(cmd: UpdateClient, deps: Deps) -> Client:
    """Validate the new details exactly as CreateClient does and store them; an unchanged record writes nothing."""
    asked: dict[str, Any] = {f: getattr(cmd, f) for f in EDITABLE if getattr(cmd, f) is not None}
    with deps.uow() as uow:
        current = uow.clients.get(cmd.org_id, cmd.client_id)
        updated = attrs.evolve(current, **asked)  # the converters and checks of Client run here
        changed = tuple(f for f in EDITABLE if getattr(updated, f) != getattr(current, f))
        if not changed:
            return current
        uow.clients.update(updated)
        uow.emit(
            ClientUpdated(
                org_id=cmd.org_id,
                occurred_at=deps.clock.now(),
                actor=str(cmd.actor),
                client_id=cmd.client_id,
                changed=changed,
            )
        )
        uow.commit()
    return updated


@attrs.frozen(kw_only=True)
class RecordConsent(Command[Client]):
    """Note that a client agreed to be contacted on a channel, how, and in which words (replacing earlier consent)."""

    org_id: OrgId
    client_id: ClientId
    channel: Channel | str
    method: str
    actor: Actor
    wording: str | None = None


@handles(RecordConsent)
def record_consent(cmd: RecordConsent, deps: Deps) -> Client:
    """Store the consent with the current time as its evidence of when it was given."""
    now = deps.clock.now()
    method = cmd.method.strip()
    if not method:
        raise ValidationError("Say how the consent was given, e.g. 'booking_form' or 'coach_entered'.", field="method")
    consent = Consent(channel=cmd.channel, granted_at=now, method=method, wording=cmd.wording or None)
    with deps.uow() as uow:
        current = uow.clients.get(cmd.org_id, cmd.client_id)
        others = tuple(c for c in current.consents if c.channel != consent.channel)
        updated = attrs.evolve(current, consents=(*others, consent))
        uow.clients.update(updated)
        uow.emit(
            ConsentRecorded(
                org_id=cmd.org_id,
                occurred_at=now,
                actor=str(cmd.actor),
                client_id=cmd.client_id,
                channel=consent.channel.value,
            )
        )
        uow.commit()
    return updated


@attrs.frozen(kw_only=True)
class WithdrawConsent(Command[Client]):
    """Note that a client no longer agrees to be contacted on a channel."""

    org_id: OrgId
    client_id: ClientId
    channel: Channel | str
    actor: Actor


@handles(WithdrawConsent)
def withdraw_consent(cmd: WithdrawConsent, deps: Deps) -> Client:
    """Remove the channel's consent; withdrawing one that was never given changes nothing."""
    channel = _channel(cmd.channel)
    with deps.uow() as uow:
        current = uow.clients.get(cmd.org_id, cmd.client_id)
        if current.consent(channel) is None:
            return current
        updated = attrs.evolve(current, consents=tuple(c for c in current.consents if c.channel != channel))
        uow.clients.update(updated)
        uow.emit(
            ConsentWithdrawn(
                org_id=cmd.org_id,
                occurred_at=deps.clock.now(),
                actor=str(cmd.actor),
                client_id=cmd.client_id,
                channel=channel.value,
            )
        )
        uow.commit()
    return updated
