"""Onboarding flows: Setup edits them, bookings wait for them, the client page and Today show them, reminders follow.

Holding a booking: a booking of a service a flow applies to is made `requested` (never confirmed)
while the client has not done every step, and confirming it is refused until they have. When the
client completes the last step the booking stays `requested` for the coach to confirm: a public
booking needs the coach's word anyway (identity), and a coach may want to read the answers first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import attrs

from coachos.domain.bookings import Booking, BookingStatus
from coachos.domain.clients import Client
from coachos.domain.errors import ValidationError
from coachos.domain.ids import Actor, ClientId, OrgId, ServiceId
from coachos.domain.messages import MessageChannel, Purpose, outgoing
from coachos.domain.onboarding import (
    REMINDERS,
    OnboardingFlow,
    OnboardingStart,
    Progress,
    Step,
    StepKind,
    due_reminder,
    hold_reason,
    progress,
    reminder_key,
    reminder_text,
    step_kind,
)
from coachos.domain.rows import Rows
from coachos.domain.timezones import require_utc
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.ports.onboarding import StepChoice
from coachos.ports.storage import UnitOfWork

# --- rules other use cases call -------------------------------------------------------------------


def client_progress(uow: UnitOfWork, deps: Deps, flow: OnboardingFlow, client_id: ClientId) -> Progress:
    """The client's progress through `flow`, asking the step checks about each step."""
    facts = {s: deps.steps.done(uow, flow.org_id, client_id, s) for s in flow.steps}
    return progress(flow, facts)


def holding(uow: UnitOfWork, deps: Deps, org_id: OrgId, client_id: ClientId, service_id: ServiceId) -> list[Progress]:
    """The incomplete flows that hold the client's bookings of the service (empty: nothing holds them)."""
    flows = [f for f in uow.onboarding.flows(org_id) if f.applies_to(service_id)]
    return [p for p in (client_progress(uow, deps, f, client_id) for f in flows) if not p.complete]


def start_for_booking(uow: UnitOfWork, deps: Deps, booking: Booking, now: datetime) -> None:
    """Start the client's onboarding in each flow the booked service needs (a booking that may be
    someone else's, a public one with a matching contact, starts nothing until the coach knows)."""
    if booking.identity_unconfirmed:
        return
    for flow in uow.onboarding.flows(booking.org_id):
        if flow.applies_to(booking.service_id):
            uow.onboarding.start(
                OnboardingStart(org_id=booking.org_id, flow_id=flow.id, client_id=booking.client_id, started_at=now)
            )


# --- Setup → Onboarding ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CreateOnboardingFlow(Command[OnboardingFlow]):
    """Start a new, empty checklist."""

    org_id: OrgId
    name: str
    actor: Actor


@handles(CreateOnboardingFlow)
def create_onboarding_flow(cmd: CreateOnboardingFlow, deps: Deps) -> OnboardingFlow:
    """Store the flow (no steps, no services yet)."""
    flow = OnboardingFlow(id=deps.ids.new_id(), org_id=cmd.org_id, name=cmd.name.strip(), created_at=deps.clock.now())
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        uow.onboarding.add(flow)
        uow.commit()
    return flow


@attrs.frozen(kw_only=True)
class UpdateOnboardingFlow(Command[OnboardingFlow]):
    """Rename a flow and choose the services whose bookings wait for it (all, some or none)."""

    org_id: OrgId
    flow_id: UUID
    name: str
    all_services: bool
    service_ids: frozenset[ServiceId] = frozenset()
    actor: Actor


@handles(UpdateOnboardingFlow)
def update_onboarding_flow(cmd: UpdateOnboardingFlow, deps: Deps) -> OnboardingFlow:
    """Check every service is the business's, then store."""
    with deps.uow() as uow:
        flow = uow.onboarding.get(cmd.org_id, cmd.flow_id)
        for service_id in cmd.service_ids:
            uow.services.get(cmd.org_id, service_id)
        flow = attrs.evolve(
            flow,
            name=cmd.name.strip(),
            all_services=cmd.all_services,
            services=frozenset() if cmd.all_services else frozenset(cmd.service_ids),
        )
        uow.onboarding.update(flow)
        uow.commit()
    return flow


@attrs.frozen(kw_only=True)
class AddOnboardingStep(Command[OnboardingFlow]):
    """Add a step at the end of a flow: sign waiver `target`, or fill in form `target`."""

    org_id: OrgId
    flow_id: UUID
    kind: str
    target: UUID
    actor: Actor


@handles(AddOnboardingStep)
def add_onboarding_step(cmd: AddOnboardingStep, deps: Deps) -> OnboardingFlow:
    """Refuse kinds not offered yet and targets the business does not have; store the step last."""
    kind = step_kind(cmd.kind)
    with deps.uow() as uow:
        flow = uow.onboarding.get(cmd.org_id, cmd.flow_id)
        if cmd.target not in {c.id for c in deps.steps.choices(uow, cmd.org_id, kind)}:
            what = "waiver" if kind is StepKind.SIGN_WAIVER else "form"
            raise ValidationError(f"Pick one of this business's published {what}s for the step.", field="target")
        flow = attrs.evolve(flow, steps=(*flow.steps, Step(kind, cmd.target)))
        uow.onboarding.update(flow)
        uow.commit()
    return flow


@attrs.frozen(kw_only=True)
class MoveOnboardingStep(Command[OnboardingFlow]):
    """Move step number `index` (from 0) one place up (`by=-1`) or down (`by=1`)."""

    org_id: OrgId
    flow_id: UUID
    index: int
    by: int
    actor: Actor


@handles(MoveOnboardingStep)
def move_onboarding_step(cmd: MoveOnboardingStep, deps: Deps) -> OnboardingFlow:
    """Swap the step with its neighbour."""
    if cmd.by not in (-1, 1):
        raise ValidationError("A step moves one place up or down.", field="by")
    with deps.uow() as uow:
        flow = uow.onboarding.get(cmd.org_id, cmd.flow_id)
        steps = list(flow.steps)
        other = cmd.index + cmd.by
        if not (0 <= cmd.index < len(steps) and 0 <= other < len(steps)):
            raise ValidationError("That step cannot move further that way.", field="index")
        steps[cmd.index], steps[other] = steps[other], steps[cmd.index]
        flow = attrs.evolve(flow, steps=tuple(steps))
        uow.onboarding.update(flow)
        uow.commit()
    return flow


@attrs.frozen(kw_only=True)
class RemoveOnboardingStep(Command[OnboardingFlow]):
    """Remove step number `index` (from 0)."""

    org_id: OrgId
    flow_id: UUID
    index: int
    actor: Actor


@handles(RemoveOnboardingStep)
def remove_onboarding_step(cmd: RemoveOnboardingStep, deps: Deps) -> OnboardingFlow:
    """Drop the step; the others keep their order."""
    with deps.uow() as uow:
        flow = uow.onboarding.get(cmd.org_id, cmd.flow_id)
        if not 0 <= cmd.index < len(flow.steps):
            raise ValidationError("That step is not in the flow any more; reload the page.", field="index")
        flow = attrs.evolve(flow, steps=flow.steps[: cmd.index] + flow.steps[cmd.index + 1 :])
        uow.onboarding.update(flow)
        uow.commit()
    return flow


@attrs.frozen(kw_only=True)
class DeleteOnboardingFlow(Command[None]):
    """Delete a flow: its bookings stop waiting and its reminders stop."""

    org_id: OrgId
    flow_id: UUID
    actor: Actor


@handles(DeleteOnboardingFlow)
def delete_onboarding_flow(cmd: DeleteOnboardingFlow, deps: Deps) -> None:
    """Remove the flow with its services and clients' starts."""
    with deps.uow() as uow:
        uow.onboarding.delete(cmd.org_id, cmd.flow_id)
        uow.commit()


@attrs.frozen(kw_only=True)
class ListOnboardingFlows(Command[Rows[OnboardingFlow]]):
    """The business's flows, by name."""

    org_id: OrgId


@handles(ListOnboardingFlows)
def list_onboarding_flows(cmd: ListOnboardingFlows, deps: Deps) -> Rows[OnboardingFlow]:
    """Read them."""
    with deps.uow() as uow:
        return uow.onboarding.flows(cmd.org_id)


@attrs.frozen(kw_only=True)
class GetOnboardingFlow(Command[OnboardingFlow]):
    """One flow."""

    org_id: OrgId
    flow_id: UUID


@handles(GetOnboardingFlow)
def get_onboarding_flow(cmd: GetOnboardingFlow, deps: Deps) -> OnboardingFlow:
    """Read it (NotFound for another business's)."""
    with deps.uow() as uow:
        return uow.onboarding.get(cmd.org_id, cmd.flow_id)


@attrs.frozen(kw_only=True)
class ListStepChoices(Command[dict[str, list[StepChoice]]]):
    """What steps can point at, by step kind ('sign_waiver': the published waivers, 'fill_form': the forms)."""

    org_id: OrgId


@handles(ListStepChoices)
def list_step_choices(cmd: ListStepChoices, deps: Deps) -> dict[str, list[StepChoice]]:
    """Ask the step checks for each kind offered today."""
    with deps.uow() as uow:
        return {kind.value: list(deps.steps.choices(uow, cmd.org_id, kind)) for kind in StepKind if kind.available}


# --- progress, holds ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ClientOnboarding(Command[list[Progress]]):
    """A client's progress (x/N) through the flows that concern them.

    With `service_id`: the flows that hold bookings of that service (what the public booking page
    shows before a booking). Without: every flow with steps that applies to some service or that
    was started for the client (what the client page and the portal show).
    """

    org_id: OrgId
    client_id: ClientId
    service_id: ServiceId | None = None


@handles(ClientOnboarding)
def client_onboarding(cmd: ClientOnboarding, deps: Deps) -> list[Progress]:
    """Each concerned flow's progress, by flow name."""
    with deps.uow() as uow:
        uow.clients.get(cmd.org_id, cmd.client_id)
        return concerned_progress(uow, deps, cmd.org_id, cmd.client_id, cmd.service_id)


def concerned_progress(
    uow: UnitOfWork, deps: Deps, org_id: OrgId, client_id: ClientId, service_id: ServiceId | None = None
) -> list[Progress]:
    """`ClientOnboarding` inside the caller's unit of work (the portal's to-do list reads it in its own)."""
    started = {s.flow_id for s in uow.onboarding.starts_for(org_id, client_id)}
    flows = [
        f
        for f in uow.onboarding.flows(org_id)
        if f.steps
        and (f.applies_to(service_id) if service_id is not None else (f.all_services or f.services or f.id in started))
    ]
    return [client_progress(uow, deps, f, client_id) for f in flows]


@attrs.frozen
class HeldBooking:
    """A booking waiting for the client's onboarding, and why."""

    booking: Booking
    client: Client
    held_by: tuple[Progress, ...]

    @property
    def reason(self) -> str:
        """'Onboarding not complete: New clients 1/3'."""
        return hold_reason(list(self.held_by))


def held_among(
    uow: UnitOfWork, deps: Deps, flows: Sequence[OnboardingFlow], bookings: Sequence[Booking]
) -> list[HeldBooking]:
    """Of `bookings`, the requested ones some incomplete flow of `flows` holds, by start time."""
    held: list[HeldBooking] = []
    for b in sorted((b for b in bookings if b.status is BookingStatus.REQUESTED), key=lambda b: b.start):
        waiting = [
            p
            for p in (client_progress(uow, deps, f, b.client_id) for f in flows if f.applies_to(b.service_id))
            if not p.complete
        ]
        if waiting:
            held.append(HeldBooking(b, uow.clients.get(b.org_id, b.client_id), tuple(waiting)))
    return held


@attrs.frozen(kw_only=True)
class HeldBookings(Command[list[HeldBooking]]):
    """Requested bookings starting in [start, end) (or all of one client's) that wait for onboarding."""

    org_id: OrgId
    start: datetime
    end: datetime
    client_id: ClientId | None = None


@handles(HeldBookings)
def held_bookings(cmd: HeldBookings, deps: Deps) -> list[HeldBooking]:
    """Check each requested booking of a service some flow applies to; by start time."""
    start, end = require_utc(cmd.start, field="start"), require_utc(cmd.end, field="end")
    if end <= start or end - start > timedelta(days=366):
        raise ValidationError("Ask for a range of up to a year, ending after it starts.", field="end")
    with deps.uow() as uow:
        flows = [f for f in uow.onboarding.flows(cmd.org_id) if f.steps]
        if not flows:
            return []
        if cmd.client_id is not None:
            bookings: Sequence[Booking] = [
                b for b in uow.bookings.for_client(cmd.org_id, cmd.client_id) if start <= b.start < end
            ]
        else:
            bookings = uow.bookings.between(cmd.org_id, start, end)
        return held_among(uow, deps, flows, bookings)


# --- sending the flow, reminders ------------------------------------------------------------------


def _queue_to_client(uow: UnitOfWork, deps: Deps, client: Client, key: str, body: str, now: datetime) -> int:
    """Queue `body` to the client's phone and email (each when on file); how many were new."""
    queued = 0
    for channel, to in ((MessageChannel.SMS, client.phone), (MessageChannel.EMAIL, client.email)):
        if not to:
            continue
        message = outgoing(
            id=deps.ids.new_id(),
            org_id=client.org_id,
            key=f"{key}:{channel.value}",
            channel=channel,
            purpose=Purpose.TRANSACTIONAL,
            to=to,
            body=body,
            subject="Your onboarding" if channel is MessageChannel.EMAIL else None,
            now=now,
            client_id=client.id,
            template="onboarding",
            quiet_hours=True,
        )
        if uow.messages.add(message).id == message.id:
            queued += 1
    return queued


@attrs.frozen(kw_only=True)
class SendOnboarding(Command[Progress]):
    """The coach sends a client a flow: onboarding starts now (reminders follow) and the client is told what to do."""

    org_id: OrgId
    client_id: ClientId
    flow_id: UUID
    actor: Actor


@handles(SendOnboarding)
def send_onboarding(cmd: SendOnboarding, deps: Deps) -> Progress:
    """Record the start (the first one counts) and queue the message once per flow and client."""
    now = deps.clock.now()
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        client = uow.clients.get(cmd.org_id, cmd.client_id)
        flow = uow.onboarding.get(cmd.org_id, cmd.flow_id)
        if not flow.steps:
            raise ValidationError("This flow has no steps yet; add one in Setup → Onboarding first.", field="flow_id")
        p = client_progress(uow, deps, flow, client.id)
        if p.complete:
            raise ValidationError("This client has already completed this flow.", field="flow_id")
        if not (client.phone or client.email):
            raise ValidationError(
                "Add the client's email or phone first, so the flow can reach them.", field="client_id"
            )
        uow.onboarding.start(OnboardingStart(org_id=org.id, flow_id=flow.id, client_id=client.id, started_at=now))
        _queue_to_client(
            uow,
            deps,
            client,
            f"onboarding:{flow.id}:{client.id}:sent",
            reminder_text(org.name, _first(client), p, deps.links.portal_sign_in(org.slug)),
            now,
        )
        uow.commit()
    return p


def _first(client: Client) -> str:
    return client.name.split()[0] if client.name.split() else client.name


@attrs.frozen(kw_only=True)
class SendOnboardingReminders(Command[int]):
    """The worker's tick: queue each reminder (24 h, 72 h, 7 days after the start) that is due, once."""


@handles(SendOnboardingReminders)
def send_onboarding_reminders(cmd: SendOnboardingReminders, deps: Deps) -> int:
    """For each business owing reminders, in its own transaction; how many messages were queued."""
    now = deps.clock.now()
    before = now - REMINDERS[0].after
    with deps.uow() as uow:
        org_ids = uow.onboarding.orgs_with_due_reminders(before)
    return sum(_remind_org(org_id, now, before, deps) for org_id in org_ids)


def _remind_org(org_id: OrgId, now: datetime, before: datetime, deps: Deps) -> int:
    queued = 0
    with deps.uow() as uow:
        org = uow.orgs.get(org_id)
        for start in uow.onboarding.due_reminders(org_id, before):
            reminder = due_reminder(start, now)
            if reminder is None:
                continue
            flow = uow.onboarding.get(org_id, start.flow_id)
            p = client_progress(uow, deps, flow, start.client_id)
            if p.complete or not flow.steps:
                # Complete: nothing more is ever sent for it.
                uow.onboarding.mark_reminded(start, REMINDERS[-1].number)
                continue
            # The count moves first: a racing tick that lost it queues nothing, and the key holds anyway.
            if uow.onboarding.mark_reminded(start, reminder.number):
                client = uow.clients.get(org_id, start.client_id)
                body = reminder_text(org.name, _first(client), p, deps.links.portal_sign_in(org.slug))
                queued += _queue_to_client(uow, deps, client, reminder_key(flow.id, client.id, reminder), body, now)
        uow.commit()
    return queued
