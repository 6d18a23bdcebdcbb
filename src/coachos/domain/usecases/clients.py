"""Use cases that keep a client's record up to date: details, status, notes, tags and consents."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import attrs

from coachos.domain.clients import Channel, Client, ClientStatus, Consent
from coachos.domain.consent import CLIENT_REQUEST, COACH_ENTERED, SYSTEM, ConsentAction, ConsentChange
from coachos.domain.errors import NotFound, ValidationError
from coachos.domain.events import ClientUpdated, ConsentRecorded, ConsentWithdrawn
from coachos.domain.ids import Actor, ClientId, OrgId
from coachos.domain.rows import Rows
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.ports.storage import UnitOfWork

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
        # Held: a STOP withdrawing a consent meanwhile must not be undone by writing back the consents read here.
        current = uow.clients.lock(cmd.org_id, cmd.client_id)
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


def log_consent(
    uow: UnitOfWork,
    deps: Deps,
    client: Client,
    channel: Channel,
    action: ConsentAction,
    *,
    at: datetime,
    method: str,
    actor: Actor,
    wording: str | None,
) -> ConsentChange:
    """Keep the evidence of one consent given or withdrawn and announce it, in the caller's transaction."""
    change = ConsentChange(
        id=deps.ids.new_id(),
        org_id=client.org_id,
        client_id=client.id,
        channel=channel,
        action=action,
        at=at,
        method=method,
        actor=str(actor),
        wording=wording,
    )
    uow.clients.log_consent(change)
    announce = ConsentRecorded if action is ConsentAction.GIVEN else ConsentWithdrawn
    uow.emit(
        announce(org_id=client.org_id, occurred_at=at, actor=str(actor), client_id=client.id, channel=channel.value)
    )
    return change


def log_given(uow: UnitOfWork, deps: Deps, client: Client, actor: Actor) -> None:
    """Keep the evidence of every consent a client was created with, and announce each."""
    for consent in client.consents:
        log_consent(
            uow,
            deps,
            client,
            consent.channel,
            ConsentAction.GIVEN,
            at=consent.granted_at,
            method=consent.method,
            actor=actor,
            wording=consent.wording,
        )


@attrs.frozen(kw_only=True)
class RecordConsent(Command[Client]):
    """Note that a client agreed to be contacted on a channel for a purpose, how, and in which words.

    Consent a coach enters ("coach_entered") needs its words: what the client agreed to, and where.
    It replaces the channel's earlier consent on the client; both stay in the consent log.
    """

    org_id: OrgId
    client_id: ClientId
    channel: Channel | str
    #: How it was given: "booking_form", "coach_entered", "client_request", "sms_keyword", ….
    method: str
    actor: Actor
    #: The exact words the client agreed to.
    wording: str | None = None


@handles(RecordConsent)
def record_consent(cmd: RecordConsent, deps: Deps) -> Client:
    """Store the consent with the current time as its evidence of when it was given, and log it."""
    now = deps.clock.now()
    method = cmd.method.strip()
    if not method:
        raise ValidationError("Say how the consent was given, e.g. 'booking_form' or 'coach_entered'.", field="method")
    if method == COACH_ENTERED and not (cmd.wording or "").strip():
        # Without them the record proves nothing: the coach notes what the client agreed to and where.
        raise ValidationError(
            "Write down what the client agreed to, and where or how (e.g. 'Said yes to reminder texts on the phone').",
            field="wording",
        )
    consent = Consent(channel=_channel(cmd.channel), granted_at=now, method=method, wording=cmd.wording or None)
    with deps.uow() as uow:
        current = uow.clients.lock(cmd.org_id, cmd.client_id)
        others = tuple(c for c in current.consents if c.channel != consent.channel)
        updated = attrs.evolve(current, consents=(*others, consent))
        uow.clients.update(updated)
        log_consent(
            uow,
            deps,
            updated,
            consent.channel,
            ConsentAction.GIVEN,
            at=now,
            method=consent.method,
            actor=cmd.actor,
            wording=consent.wording,
        )
        uow.commit()
    return updated


#: How a withdrawal is recorded when the command does not say, by who asked for it.
_WITHDRAWN_BY = {"coach": COACH_ENTERED, "client": CLIENT_REQUEST, "system": SYSTEM}


@attrs.frozen(kw_only=True)
class WithdrawConsent(Command[Client]):
    """Note that a client no longer agrees to be contacted on a channel for a purpose, when and how.

    The consent leaves the client; the withdrawal is kept in the consent log with the time,
    `method` ("sms_keyword", "coach_entered", "client_request", "carrier_opt_out", …; by default
    from the actor: a coach "coach_entered", a client "client_request", the system "system") and
    the words of the request, if any (`wording`: the text "STOP", a coach's note).
    """

    org_id: OrgId
    client_id: ClientId
    channel: Channel | str
    actor: Actor
    method: str | None = None
    wording: str | None = None


def withdraw_consents(
    uow: UnitOfWork,
    deps: Deps,
    org_id: OrgId,
    client_id: ClientId,
    channels: Sequence[Channel],
    *,
    at: datetime,
    method: str,
    actor: Actor,
    wording: str | None = None,
) -> Client | None:
    """In the caller's transaction: lock the client, drop its consents for `channels` and log each
    withdrawal with its evidence; the client as it now stands (None if it no longer exists).

    Every path that takes consent away (a coach, the API, a STOP text, the carrier's 21610) comes
    through here, so the row lock and the evidence are never skipped.
    """
    try:
        current = uow.clients.lock(org_id, client_id)
    except NotFound:
        return None
    gone = [c.channel for c in current.consents if c.channel in channels]
    if not gone:
        return current
    updated = attrs.evolve(current, consents=tuple(c for c in current.consents if c.channel not in gone))
    uow.clients.update(updated)
    for channel in gone:
        log_consent(
            uow, deps, updated, channel, ConsentAction.WITHDRAWN, at=at, method=method, actor=actor, wording=wording
        )
    return updated


def give_consent(
    uow: UnitOfWork, deps: Deps, org_id: OrgId, client_id: ClientId, consent: Consent, actor: Actor
) -> Client:
    """In the caller's transaction: lock the client, store `consent` (replacing the channel's earlier one), log it."""
    current = uow.clients.lock(org_id, client_id)
    others = tuple(c for c in current.consents if c.channel != consent.channel)
    updated = attrs.evolve(current, consents=(*others, consent))
    uow.clients.update(updated)
    log_consent(
        uow,
        deps,
        updated,
        consent.channel,
        ConsentAction.GIVEN,
        at=consent.granted_at,
        method=consent.method,
        actor=actor,
        wording=consent.wording,
    )
    return updated


@handles(WithdrawConsent)
def withdraw_consent(cmd: WithdrawConsent, deps: Deps) -> Client:
    """Remove the channel's consent and log the withdrawal; withdrawing one that was never given changes nothing."""
    channel = _channel(cmd.channel)
    method = _WITHDRAWN_BY[cmd.actor.kind] if cmd.method is None else cmd.method
    now = deps.clock.now()
    with deps.uow() as uow:
        updated = withdraw_consents(
            uow,
            deps,
            cmd.org_id,
            cmd.client_id,
            [channel],
            at=now,
            method=method,
            actor=cmd.actor,
            wording=cmd.wording or None,
        )
        if updated is None:
            raise NotFound("No such client in this business.")
        uow.commit()
    return updated


@attrs.frozen(kw_only=True)
class ConsentLog(Command[Rows[ConsentChange]]):
    """Every consent a client gave or withdrew, oldest first: the evidence behind their current consents."""

    org_id: OrgId
    client_id: ClientId


@handles(ConsentLog)
def consent_log(cmd: ConsentLog, deps: Deps) -> Rows[ConsentChange]:
    """The client's consent log (NotFound for another organisation's client)."""
    with deps.uow() as uow:
        uow.clients.get(cmd.org_id, cmd.client_id)
        return uow.clients.consent_log(cmd.org_id, cmd.client_id)
