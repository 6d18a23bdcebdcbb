"""Use cases that keep what a coach sells up to date: editing and retiring services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs

from coachos.domain.catalog import Service
from coachos.domain.errors import CurrencyMismatch
from coachos.domain.events import ServiceUpdated
from coachos.domain.ids import Actor, OrgId, ServiceId
from coachos.domain.money import Money
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases.setup import require_card_payments

#: The fields UpdateService may change.
EDITABLE = ("name", "duration", "price", "capacity", "uses_credit", "active", "pay_at_booking")


@attrs.frozen(kw_only=True)
class UpdateService(Command[Service]):
    """Change a service; None keeps a field as it is. `active=False` retires it (no new bookings)."""

    org_id: OrgId
    service_id: ServiceId
    actor: Actor
    name: str | None = None
    duration: timedelta | None = None
    price: Money | None = None
    capacity: int | None = None
    uses_credit: bool | None = None
    active: bool | None = None
    pay_at_booking: bool | None = None


@handles(UpdateService)
def update_service(cmd: UpdateService, deps: Deps) -> Service:
    """Validate the new values exactly as CreateService does and store them; an unchanged service writes nothing.

    Existing bookings keep the times and prices they were made with; the change applies to new ones.
    """
    asked: dict[str, Any] = {f: getattr(cmd, f) for f in EDITABLE if getattr(cmd, f) is not None}
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        current = uow.services.get(cmd.org_id, cmd.service_id)
        if cmd.price is not None and cmd.price.currency != org.currency:
            raise CurrencyMismatch(
                f"Prices in this business are in {org.currency}; {cmd.price.currency} was given.",
                field="price",
            )
        if cmd.pay_at_booking:
            require_card_payments(deps)
        updated = attrs.evolve(current, **asked)  # the converters and checks of Service run here
        if updated == current:
            return current
        uow.services.update(updated)
        uow.emit(
            ServiceUpdated(
                org_id=cmd.org_id,
                occurred_at=deps.clock.now(),
                actor=str(cmd.actor),
                service_id=cmd.service_id,
                changed=tuple(sorted(f for f in asked if getattr(updated, f) != getattr(current, f))),
            )
        )
        uow.commit()
    return updated
