"""The signed-in client's packages: what they own (with payment state), what they can buy, and paying by card.

Buying goes to Stripe Checkout; the page Stripe sends the client back to shows the package's state as
OUR database knows it (set by the webhook), never what the return address claims.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import attrs
from quart import redirect, render_template, request, url_for

from coachos.domain.catalog import PackageOffer, SessionPackage
from coachos.domain.clients import Client
from coachos.domain.errors import CoachOSError, CorruptRecord, Fault, NotFound
from coachos.domain.ids import PackageId, PackageOfferId
from coachos.domain.orgs import Organization
from coachos.domain.rows import unreadable_in
from coachos.domain.usecases import StartPackageCheckout
from coachos.entrypoints.web.context import core, settings
from coachos.entrypoints.web.errors import status_of
from coachos.entrypoints.web.unreadable import report
from coachos.entrypoints.web.views.portal._shared import bp, portal_client
from coachos.ports.storage import UnitOfWork

#: Seconds between reloads of the return page while the payment is being confirmed.
REFRESH_SECONDS = 3


@attrs.frozen
class PackagesView:
    """What the portal's Packages page shows."""

    owned: list[SessionPackage]
    offers: list[PackageOffer]
    #: Whether the business can take cards now (payments configured, connected account able to charge).
    cards: bool
    #: The client's packages and the offers that could not be read (shown as a marker, the rest listed).
    unreadable: tuple[CorruptRecord, ...] = ()


def _view(uow: UnitOfWork, org: Organization, client: Client, payments_on: bool) -> PackagesView:
    mine = uow.packages.for_client(org.id, client.id)
    offers = uow.packages.offers(org.id, active_only=True)
    account = uow.stripe.account(org.id) if payments_on else None
    cards = account is not None and account.charges_enabled
    return PackagesView(
        owned=sorted(mine, key=lambda p: p.purchased_at, reverse=True),
        offers=list(offers),
        cards=cards,
        unreadable=unreadable_in(mine, offers),
    )


async def _page(org: Organization, client: Client, *, error: CoachOSError | None = None) -> Any:
    app = core()
    found = await app.read_async(lambda uow: _view(uow, org, client, app.deps.payments is not None))
    page = await render_template(
        "portal/packages.html", business=org, me=client, view=found, error=error, unreadable=report(found.unreadable)
    )
    return page, status_of(error) if error else 200


@bp.route("/packages")
async def packages(slug: str) -> Any:
    """The client's packages with their payment state, and the packages they can buy."""
    org, client = await portal_client(slug)
    return await _page(org, client)


def _urls(org: Organization) -> tuple[str, str]:
    base = settings().public_url
    success = base + url_for("portal.package_paid", slug=org.slug, package_id=UUID(int=0)).replace(
        str(UUID(int=0)), "{package_id}"
    )
    return success, base + url_for("portal.packages", slug=org.slug)


async def _checkout(org: Organization, client: Client, **which: Any) -> Any:
    success, cancel = _urls(org)
    try:
        started = await core().execute_async(
            StartPackageCheckout(org_id=org.id, client_id=client.id, success_url=success, cancel_url=cancel, **which)
        )
    except (Fault, NotFound):
        raise
    except CoachOSError as exc:
        return await _page(org, client, error=exc)
    return redirect(started.url, 303)


def _uuid(text: str | None) -> UUID:
    try:
        return UUID(text or "")
    except ValueError:
        raise NotFound("No such package in this business.") from None


@bp.route("/packages/buy", methods=["POST"])
async def buy(slug: str) -> Any:
    """Buy one of the business's packages by card: off to Stripe Checkout."""
    org, client = await portal_client(slug)
    form = await request.form
    return await _checkout(org, client, offer_id=PackageOfferId(_uuid(form.get("offer_id"))))


@bp.route("/packages/<uuid:package_id>/pay", methods=["POST"])
async def pay(slug: str, package_id: UUID) -> Any:
    """Pay by card for a package the coach sold (waiting for the client's card payment)."""
    org, client = await portal_client(slug)
    return await _checkout(org, client, package_id=PackageId(package_id))


@bp.route("/packages/<uuid:package_id>/paid")
async def package_paid(slug: str, package_id: UUID) -> Any:
    """Where Stripe sends the client back: the payment state as Coach OS has it (refreshing while it waits)."""
    org, client = await portal_client(slug)
    package = await core().read_async(lambda uow: uow.packages.get(org.id, PackageId(package_id)))
    if package.client_id != client.id:
        raise NotFound("No such package in this business.")
    return await render_template(
        "portal/package_paid.html", business=org, me=client, package=package, refresh=REFRESH_SECONDS
    )
