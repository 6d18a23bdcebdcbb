"""Taking in Stripe's webhook events exactly once, and what each type of event does.

Stripe delivers every event at least once, sometimes several times at once, sometimes late and
out of order. `ReceiveStripeEvent` keeps the event's id and applies its effects in ONE transaction:
the id's primary key lets only one delivery keep it, a delivery that finds it kept changes nothing,
and a handler that fails rolls the id back with everything else, so Stripe's next delivery (it
retries any answer that is not 2xx) is processed as if it were the first.

Handlers are registered by event type with `@on_stripe_event("account.updated")`; a type without
a handler is kept and acknowledged, so later code can replay it from the stored payload.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from coachos.domain.stripe_events import StripeEvent, account_status, parse_event
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.ports.storage import UnitOfWork

#: What an event handler is: it changes stored state through the event's unit of work and never commits.
StripeHandler = Callable[[UnitOfWork, Deps, StripeEvent], None]
H = TypeVar("H", bound=StripeHandler)

#: Which function handles each Stripe event type; filled by `on_stripe_event` as modules are imported.
STRIPE_HANDLERS: dict[str, StripeHandler] = {}


def on_stripe_event(*types: str) -> Callable[[H], H]:
    """Register the decorated function as what Coach OS does when Stripe sends an event of `types`."""

    def register(fn: H) -> H:
        for kind in types:
            if kind in STRIPE_HANDLERS:
                raise RuntimeError(f"Stripe event {kind} already has a handler: {STRIPE_HANDLERS[kind].__name__}")
            STRIPE_HANDLERS[kind] = fn
        return fn

    return register


@attrs.frozen(kw_only=True)
class StripeEventReceived:
    """What became of a delivery: the event's id and type, and whether it was new and had a handler."""

    event_id: str
    type: str
    account: str | None
    #: False when the event was kept before (a redelivery): nothing changed this time.
    new: bool
    #: Whether a handler for its type ran (False for types Coach OS only keeps).
    handled: bool


@attrs.frozen(kw_only=True)
class ReceiveStripeEvent(Command[StripeEventReceived]):
    """A webhook body whose Stripe signature the caller has checked: the event as JSON text."""

    body: str


@handles(ReceiveStripeEvent)
def receive_stripe_event(cmd: ReceiveStripeEvent, deps: Deps) -> StripeEventReceived:
    """Keep the event once and apply its handler in the same transaction."""
    event = parse_event(cmd.body, deps.clock.now())
    handler = STRIPE_HANDLERS.get(event.type)
    with deps.uow() as uow:
        if not uow.stripe.record(event):
            return StripeEventReceived(
                event_id=event.id, type=event.type, account=event.account, new=False, handled=False
            )
        if handler is not None:
            handler(uow, deps, event)
        uow.commit()
    return StripeEventReceived(
        event_id=event.id, type=event.type, account=event.account, new=True, handled=handler is not None
    )


@on_stripe_event("account.updated")
def account_updated(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """Record whether the business's connected account can take charges, unless a newer event already did.

    An account no business has connected is only kept (it may be another platform's, or connected later).
    """
    del deps  # every handler gets the ports; this one needs only the unit of work
    account_id: Any = event.object.get("id", event.account)
    org_id = uow.stripe.account_owner(account_id) if isinstance(account_id, str) else None
    if org_id is None:
        return
    uow.stripe.update_account(account_status(event, org_id))
