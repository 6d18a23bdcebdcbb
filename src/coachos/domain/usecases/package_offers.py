"""The coach's package offers: the packages clients can buy themselves (by card, from the portal)."""

from __future__ import annotations

from typing import Any

import attrs

from coachos.domain.catalog import PackageOffer
from coachos.domain.checks import whole
from coachos.domain.errors import CurrencyMismatch
from coachos.domain.ids import Actor, OrgId, PackageOfferId
from coachos.domain.money import Money
from coachos.domain.rows import Rows
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.ports.storage import UnitOfWork


@attrs.frozen(kw_only=True)
class CreatePackageOffer(Command[PackageOffer]):
    """List a package clients can buy themselves."""

    org_id: OrgId
    name: str
    sessions: int = attrs.field(validator=whole(1, 1000))
    price: Money
    actor: Actor
    validity_days: int | None = attrs.field(default=None, validator=whole(1, 3660, optional=True))


def _same_currency(uow: UnitOfWork, org_id: OrgId, price: Money) -> None:
    currency = uow.orgs.get(org_id).currency
    if price.currency != currency:
        raise CurrencyMismatch(f"Prices in this business are in {currency}; {price.currency} was given.", field="price")


@handles(CreatePackageOffer)
def create_package_offer(cmd: CreatePackageOffer, deps: Deps) -> PackageOffer:
    """Store the new offer, active."""
    with deps.uow() as uow:
        _same_currency(uow, cmd.org_id, cmd.price)
        offer = PackageOffer(
            id=PackageOfferId(deps.ids.new_id()),
            org_id=cmd.org_id,
            name=cmd.name,
            sessions=cmd.sessions,
            price=cmd.price,
            created_at=deps.clock.now(),
            validity_days=cmd.validity_days,
        )
        uow.packages.add_offer(offer)
        uow.commit()
    return offer


#: A sentinel for "leave the validity as it is" (None means "never expires").
KEEP = -1


@attrs.frozen(kw_only=True)
class UpdatePackageOffer(Command[PackageOffer]):
    """Change an offer; None keeps a field. `active=False` withdraws it (packages sold from it stay)."""

    org_id: OrgId
    offer_id: PackageOfferId
    actor: Actor
    name: str | None = None
    sessions: int | None = None
    price: Money | None = None
    #: Days a package bought from it lasts; None: no limit; KEEP (the default): unchanged.
    validity_days: int | None = KEEP
    active: bool | None = None


@handles(UpdatePackageOffer)
def update_package_offer(cmd: UpdatePackageOffer, deps: Deps) -> PackageOffer:
    """Validate the changes as CreatePackageOffer does and store them."""
    asked: dict[str, Any] = {
        f: getattr(cmd, f) for f in ("name", "sessions", "price", "active") if getattr(cmd, f) is not None
    }
    if cmd.validity_days != KEEP:
        asked["validity_days"] = cmd.validity_days
    with deps.uow() as uow:
        if cmd.price is not None:
            _same_currency(uow, cmd.org_id, cmd.price)
        current = uow.packages.offer(cmd.org_id, cmd.offer_id)
        updated = attrs.evolve(current, **asked)
        if updated != current:
            uow.packages.update_offer(updated)
            uow.commit()
    return updated


@attrs.frozen(kw_only=True)
class ListPackageOffers(Command[Rows[PackageOffer]]):
    """The business's offers (only those on sale with `active_only`)."""

    org_id: OrgId
    active_only: bool = False


@handles(ListPackageOffers)
def list_package_offers(cmd: ListPackageOffers, deps: Deps) -> Rows[PackageOffer]:
    """Read the offers, cheapest first."""
    with deps.uow() as uow:
        return uow.packages.offers(cmd.org_id, active_only=cmd.active_only)
