"""Refund pages: a package's or a booking's sales, what is still refundable, past refunds and their state.

`/packages/<id>/refund` and `/bookings/<id>/refund` show each sale of that package or booking (a
booking may have its own payment and late-cancel / no-show fees) with a form whose amount is prefilled
with what is left, and the credit rule in words. Posting refunds by card through Stripe or, for cash
and bank sales, records money handed back. Bad input (an amount that is not money, more than is left,
NUL bytes) is a 400 that writes nothing; another business's ids are 404; Stripe refusing is a 422 with
its reason; Stripe out of reach is a 503 saying the refund is pending and retried by itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import attrs
from quart import Blueprint, redirect, render_template, request, url_for

from coachos.domain.bookings import FeeKind
from coachos.domain.errors import (
    CoachOSError,
    NotFound,
    PaymentRefused,
    PaymentUnavailable,
    PolicyViolation,
    ValidationError,
)
from coachos.domain.ids import Actor, BookingId, OrgId, PackageId
from coachos.domain.money import Money
from coachos.domain.refunds import Refund
from coachos.domain.usecases import RefundPayment
from coachos.domain.usecases.refunds import Refundable, refundable
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required, require_principal
from coachos.ports.storage import UnitOfWork

bp = Blueprint("refunds", __name__)

#: The credit rule, as the page states it (domain/refunds.py is the one place it is applied).
CREDIT_RULE = (
    "A full refund of a package removes its unused credits (sessions already used stay used; a session "
    "booked for later keeps its credit until you cancel it). A partial refund removes as many unused "
    "credits as the money stands for (amount ÷ price per session, rounded down; never the ones in use). "
    "Refunding a booking does not cancel it: cancel it separately if you wish."
)
STATES = {"pending": "Pending at Stripe", "succeeded": "Refunded", "failed": "Refused by Stripe"}


@attrs.frozen
class SaleView:
    """One sale of the page's package or booking, what is left to refund, and its refunds."""

    key: str
    label: str
    can: Refundable
    refunds: list[Refund]

    @property
    def prefill(self) -> str:
        """What is left, as a person types it (e.g. 45.00)."""
        return str(self.can.left).split(" ")[0]


def _sales(uow: UnitOfWork, org_id: OrgId, keys: Mapping[str, str]) -> list[SaleView]:
    found = []
    for key, label in keys.items():
        try:
            can = refundable(uow, org_id, key)
        except NotFound:
            continue
        found.append(SaleView(key, label, can, list(uow.refunds.for_sale(org_id, key))))
    return found


def _package_page(uow: UnitOfWork, org_id: OrgId, package_id: UUID) -> dict[str, Any]:
    package = uow.packages.get(org_id, PackageId(package_id))
    keys = {f"sale:package:{package.id}": f"{package.name} ({package.price})"}
    return {
        "title": package.name,
        "client_id": package.client_id,
        "package": package,
        "sales": _sales(uow, org_id, keys),
        "action": url_for("refunds.package_refund", package_id=package.id),
    }


def _booking_page(uow: UnitOfWork, org_id: OrgId, booking_id: UUID) -> dict[str, Any]:
    booking = uow.bookings.get(org_id, BookingId(booking_id))
    keys = {f"sale:booking:{booking.id}": "Payment for the session"}
    keys |= {
        f"sale:fee:{booking.id}:{kind.value}": f"{kind.value.replace('_', ' ').capitalize()} fee" for kind in FeeKind
    }
    return {
        "title": "Session payment",
        "client_id": booking.client_id,
        "package": None,
        "sales": _sales(uow, org_id, keys),
        "action": url_for("refunds.booking_refund", booking_id=booking.id),
    }


async def _page(what: str, item_id: UUID, *, status: int = 200, **extra: Any) -> Any:
    who = require_principal()
    org = await core().read_async(lambda uow: uow.orgs.get(who.org_id))
    load = _package_page if what == "package" else _booking_page
    found = await core().read_async(lambda uow: load(uow, who.org_id, item_id))
    body = await render_template(
        "refund.html", org=org, rule=CREDIT_RULE, states=STATES, done=request.args.get("done") == "1", **found, **extra
    )
    return body, status


async def _post(what: str, item_id: UUID) -> Any:
    who = require_principal()
    form = dict(await request.form)
    # The page's own sales only: a key from another package or business is not refundable here.
    load = _package_page if what == "package" else _booking_page
    found = await core().read_async(lambda uow: load(uow, who.org_id, item_id))
    keys = {s.key: s for s in found["sales"]}
    sale = keys.get(form.get("sale", ""))
    if sale is None:
        return await _page(what, item_id, status=400, error=ValidationError("Choose a sale to refund.", field="sale"))
    try:
        amount = Money.parse(form.get("amount", ""), sale.can.gross.currency)
        await core().execute_async(
            RefundPayment(
                org_id=who.org_id,
                sale_key=sale.key,
                amount=amount,
                reason=form.get("reason", ""),
                actor=Actor("coach", who.coach_id),
            )
        )
    except (ValidationError, PolicyViolation) as exc:
        return await _page(what, item_id, status=400, error=exc, form=form)
    except PaymentRefused as exc:
        return await _page(what, item_id, status=422, error=_said("Stripe refused the refund", exc), form=form)
    except PaymentUnavailable:
        message = "Stripe could not be reached. The refund is pending and is asked again by itself; check back here."
        return await _page(what, item_id, status=503, error=CoachOSError(message), retry=True)
    if what == "package":
        return redirect(url_for("refunds.package_refund", package_id=item_id, done="1"), 303)
    return redirect(url_for("refunds.booking_refund", booking_id=item_id, done="1"), 303)


def _said(prefix: str, exc: CoachOSError) -> CoachOSError:
    return CoachOSError(f"{prefix}: {exc}")


@bp.route("/packages/<uuid:package_id>/refund")
@login_required
async def package_refund(package_id: UUID) -> Any:
    """A package's sale: what can still be refunded, the form, and its refunds."""
    return await _page("package", package_id)


@bp.route("/packages/<uuid:package_id>/refund", methods=["POST"])
@login_required
async def refund_package(package_id: UUID) -> Any:
    """Refund all or part of a package's sale."""
    return await _post("package", package_id)


@bp.route("/bookings/<uuid:booking_id>/refund")
@login_required
async def booking_refund(booking_id: UUID) -> Any:
    """A booking's payment and fees: what can still be refunded, the forms, and their refunds."""
    return await _page("booking", booking_id)


@bp.route("/bookings/<uuid:booking_id>/refund", methods=["POST"])
@login_required
async def refund_booking(booking_id: UUID) -> Any:
    """Refund all or part of a booking's payment or fee."""
    return await _post("booking", booking_id)


def sale_link(key: str) -> str | None:
    """The refund page of the sale with ledger key `key`, if it has one."""
    parts = key.split(":")
    try:
        if len(parts) >= 3 and parts[1] == "package":
            return url_for("refunds.package_refund", package_id=UUID(parts[2]))
        if len(parts) >= 3 and parts[1] in ("booking", "fee"):
            return url_for("refunds.booking_refund", booking_id=UUID(parts[2]))
    except ValueError:
        return None
    return None
