"""Taking in Stripe's webhook events exactly once, and what each type of event does.

Stripe delivers every event at least once, sometimes several times at once, sometimes late and
out of order. `ReceiveStripeEvent` keeps the event's id and applies its effects in ONE transaction:
the id's primary key lets only one delivery keep it, a delivery that finds it kept changes nothing,
and a handler that fails rolls the id back with everything else, so Stripe's next delivery (it
retries any answer that is not 2xx) is processed as if it were the first.

Handlers are registered by event type with `@on_stripe_event("account.updated")`; a type may have
several (a package's Checkout and a booking's both complete with `checkout.session.completed`), run in
the order they were registered, each ignoring events that are not its own (they tell by the
`coachos_kind` metadata we put on every Stripe object we create). A type without a handler is kept
and acknowledged, so later code can replay it from the stored payload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from coachos.domain.errors import NotFound, ValidationError
from coachos.domain.ids import OrgId
from coachos.domain.stripe_events import StripeEvent, account_status, parse_event
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.ports.storage import UnitOfWork

log = logging.getLogger(__name__)

#: What an event handler is: it changes stored state through the event's unit of work and never commits.
StripeHandler = Callable[[UnitOfWork, Deps, StripeEvent], None]
H = TypeVar("H", bound=StripeHandler)

log = logging.getLogger(__name__)

#: Which functions handle each Stripe event type; filled by `on_stripe_event` as modules are imported.
STRIPE_HANDLERS: dict[str, list[StripeHandler]] = {}


def on_stripe_event(*types: str) -> Callable[[H], H]:
    """Register the decorated function as something Coach OS does when Stripe sends an event of `types`."""

    def register(fn: H) -> H:
        for kind in types:
            handlers = STRIPE_HANDLERS.setdefault(kind, [])
            if fn in handlers:
                raise RuntimeError(f"{fn.__name__} is registered twice for Stripe event {kind}")
            handlers.append(fn)
        return fn

    return register


def metadata_kind(event: StripeEvent) -> str | None:
    """The `coachos_kind` we put in the metadata of the object the event is about, if any."""
    meta: Any = event.object.get("metadata")
    kind = meta.get("coachos_kind") if isinstance(meta, dict) else None
    return kind if isinstance(kind, str) else None


def from_connected_account(uow: UnitOfWork, event: StripeEvent, org_id: OrgId) -> bool:
    """Whether `event` came from the connected account of the business our metadata names.

    Clients' payments are direct charges, so their objects live on the coach's own Stripe account,
    which the coach controls: a coach could make a Checkout Session there whose metadata names ANOTHER
    business's package, booking or membership. Every handler acting on our metadata asks this first and
    ignores the event otherwise (logged with ids only). A platform event (no account) is never a client's.
    """
    account = uow.stripe.account(org_id) if event.account is not None else None
    if account is not None and account.account_id == event.account:
        return True
    log.warning(
        "stripe event ignored: its account is not the business's connected account: event=%s type=%s account=%s",
        event.id,
        event.type,
        event.account,
    )
    return False


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
    handlers = STRIPE_HANDLERS.get(event.type, [])
    try:
        with deps.uow() as uow:
            if not uow.stripe.record(event):
                return StripeEventReceived(
                    event_id=event.id, type=event.type, account=event.account, new=False, handled=False
                )
            for handler in handlers:
                handler(uow, deps, event)
            uow.commit()
    except (ValidationError, NotFound) as exc:
        # A signed event a handler cannot make sense of (an id that is no id, an amount out of range, a
        # record that is gone): its effects are rolled back and the event is kept and acknowledged, since
        # a refusal would make Stripe redeliver it for days and it would fail the same way every time.
        # Logged as an error: it may be money we could not book, to be looked at and replayed from the
        # stored payload.
        log.error("stripe event kept unapplied: event=%s type=%s reason=%s", event.id, event.type, type(exc).__name__)
        with deps.uow() as uow:
            new = uow.stripe.record(event)
            uow.commit()
        return StripeEventReceived(event_id=event.id, type=event.type, account=event.account, new=new, handled=False)
    return StripeEventReceived(
        event_id=event.id, type=event.type, account=event.account, new=True, handled=bool(handlers)
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
