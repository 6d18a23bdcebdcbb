"""Event-triggered automations: what the outbox relay's "automations" consumer does with each event.

Booking events run the automations triggered by bookings made, completed or cancelled; a used
credit runs the 'credits low' ones when the package has that many credits or fewer left. Each
run's key names the booking (`booking_created:<booking id>`, `credits_low:<booking id>`, …), so
a booking requested and then confirmed runs 'booking created' once, and an event the relay
delivers twice, or two relays racing, run it once (the claim is a unique row; see
`automation_work`). Automations made after the event, or switched off, do not run for it. A
public-form booking held for a client on file ("maybe <client>") runs 'booking created' only once
the coach confirms it, and never 'booking cancelled' (see `_maybe_theirs`).
"""

from __future__ import annotations

from coachos.domain.automations import Automation, TriggerKind
from coachos.domain.events import (
    BookingCancelled,
    BookingCompleted,
    BookingConfirmed,
    BookingEvent,
    BookingRequested,
    CreditUsed,
    Event,
)
from coachos.domain.ids import ClientId, ServiceId
from coachos.domain.usecases._base import Deps
from coachos.domain.usecases.automation_work import run_for_client
from coachos.domain.usecases.relay import Relay

#: The relay consumer whose progress the automations keep.
CONSUMER = "automations"

_BOOKING_TRIGGERS: dict[type[BookingEvent], TriggerKind] = {
    BookingRequested: TriggerKind.BOOKING_CREATED,
    BookingConfirmed: TriggerKind.BOOKING_CREATED,
    BookingCompleted: TriggerKind.BOOKING_COMPLETED,
    BookingCancelled: TriggerKind.BOOKING_CANCELLED,
}


def subscribe_automations(relay: Relay) -> None:
    """Subscribe the automations consumer to the events that trigger automations (the composition root calls this)."""
    for event_type in (*_BOOKING_TRIGGERS, CreditUsed):
        relay.subscribe(CONSUMER, event_type, run_event_automations)


def run_event_automations(event: Event, deps: Deps) -> None:
    """Run, once each, the organisation's enabled automations that `event` triggers."""
    service_id: ServiceId | None = None
    if isinstance(event, BookingEvent) and type(event) in _BOOKING_TRIGGERS:
        trigger = _BOOKING_TRIGGERS[type(event)]
        key = f"{trigger.value}:{event.booking_id}"
        client_id: ClientId = event.client_id
        service_id = event.service_id
    elif isinstance(event, CreditUsed):
        trigger, key = TriggerKind.CREDITS_LOW, f"{TriggerKind.CREDITS_LOW.value}:{event.booking_id}"
    else:
        return
    with deps.uow() as uow:
        chosen = [a for a in uow.automations.list(event.org_id) if _fires(a, trigger, event)]
        if not chosen:
            return
        if isinstance(event, CreditUsed):
            client_id = uow.packages.get(event.org_id, event.package_id).client_id
    if isinstance(event, BookingRequested | BookingCancelled) and _maybe_theirs(deps, event):
        return
    now = deps.clock.now()
    for automation in chosen:
        run_for_client(
            deps, automation, key=key, due_at=event.occurred_at, client_id=client_id, now=now, service_id=service_id
        )


def _maybe_theirs(deps: Deps, event: BookingEvent) -> bool:
    """Whether the booking was made on the public form with a client's contact details, which proves
    nothing: the client on file hears nothing of it until the coach confirms it is them ('booking
    created' then runs, with the same run key). Its cancellation never runs: whether the coach had
    confirmed it first is not recorded, and a stranger's cancellation must not reach the client."""
    with deps.uow() as uow:
        booking = uow.bookings.get(event.org_id, event.booking_id)
    if isinstance(event, BookingRequested):
        return booking.identity_unconfirmed
    return booking.guest is not None and booking.guest.matched


def _fires(automation: Automation, trigger: TriggerKind, event: Event) -> bool:
    if not automation.enabled or automation.trigger is not trigger or event.occurred_at < automation.created_at:
        return False
    if isinstance(event, CreditUsed):
        return event.total - event.used <= (automation.threshold or 0)
    return True
