"""Choosing a service and a time, booking it, and the confirmation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import attrs
import structlog
from quart import g, redirect, render_template, request, url_for

from coachos.domain.bookings import BookingStatus, GuestConsent
from coachos.domain.catalog import PackageOffer
from coachos.domain.clients import Client
from coachos.domain.errors import CoachOSError, Conflict, Fault, NotFound, SlotUnavailable, ValidationError
from coachos.domain.ids import BookingId, OrgId, ServiceId
from coachos.domain.orgs import Organization
from coachos.domain.timezones import check_date, day_start, label
from coachos.domain.usecases import (
    BookAsClient,
    BookAsGuest,
    ClientOnboarding,
    FindSlots,
    StartBookingCheckout,
)
from coachos.entrypoints.web.context import core, settings
from coachos.entrypoints.web.errors import status_of
from coachos.entrypoints.web.views.portal._shared import signed_in
from coachos.entrypoints.web.views.public._blueprint import bp
from coachos.entrypoints.web.views.public._shared import (
    SMS_WORDING,
    SlotLine,
    _catalogue,
    _held,
    _offered_service,
    _slots,
    _week,
    _week_links,
    _with_coach,
    by_day,
    manage_token,
    marketing_wording,
    parse_start,
    read_manage_token,
    viewer_zone,
    your_time,
)
from coachos.ports.storage import UnitOfWork

log = structlog.get_logger("coachos.web.booking")

# --- booking pages -----------------------------------------------------------------------------


@attrs.frozen
class BeforeFirst:
    """A signed-in client's steps before a service's bookings are confirmed, summed over the flows holding it."""

    done: int
    total: int

    @property
    def complete(self) -> bool:
        """Nothing left to do."""
        return self.done >= self.total


async def before_first(org: Organization, me: Client | None, service_id: ServiceId) -> BeforeFirst | None:
    """What a signed-in client still has to do before this service is confirmed; None for guests or no flow."""
    if me is None:
        return None
    found = await core().execute_async(ClientOnboarding(org_id=org.id, client_id=me.id, service_id=service_id))
    if not found:
        return None
    return BeforeFirst(done=sum(p.done_count for p in found), total=sum(p.total for p in found))


@bp.route("/book/<slug>")
async def services(slug: str) -> Any:
    """The business's name and the services it offers, with price and length."""
    org, offered = await core().read_async(lambda uow: _catalogue(uow, slug))
    me = await signed_in(org)
    payments_on = core().deps.payments is not None
    packs = await core().read_async(lambda uow: _packages_for_sale(uow, org.id, payments_on))
    return await render_template(
        "public/services.html", business=org, services=offered, me=me, offers=packs[0], cards=packs[1]
    )


def _packages_for_sale(uow: UnitOfWork, org_id: OrgId, payments_on: bool) -> tuple[list[PackageOffer], bool]:
    """The packages on sale, and whether the business can take cards for them now."""
    account = uow.stripe.account(org_id) if payments_on else None
    return list(uow.packages.offers(org_id, active_only=True)), account is not None and account.charges_enabled


@bp.route("/book/<slug>/<uuid:service_id>")
async def slots(slug: str, service_id: UUID) -> Any:
    """A week of bookable times, in the visitor's zone and the business's."""
    app = core()
    now = app.clock.now()
    org, service, coach = await app.read_async(lambda uow: _with_coach(uow, slug, service_id))
    viewer = viewer_zone(request.args.get("tz"))
    week = _week(request.args.get("week"), org, now)
    found = await _slots(org, service, coach.id, week)
    me = await signed_in(org)
    return await render_template(
        "public/slots.html",
        onboarding=await before_first(org, me, service.id),
        business=org,
        service=service,
        days=by_day(found, org, viewer),
        week=week,
        links=_week_links(org, week, now),
        tz=viewer.key if viewer else "",
        wants_tz=True,
    )


#: Most days one public slots.json request may ask for.
MAX_PUBLIC_DAYS = 31


@bp.route("/book/<slug>/<uuid:service_id>/slots.json")
async def slots_json(slug: str, service_id: UUID) -> Any:
    """Bookable times as JSON for `days` (1-31, default 30) local days from `from` (a local date, default today).

    For booking widgets embedded elsewhere; times are UTC with the business's local label beside.
    """
    app = core()
    org, service, coach = await app.read_async(lambda uow: _with_coach(uow, slug, service_id))
    try:
        days = int(request.args.get("days", "30"))
        first = date.fromisoformat(request.args["from"]) if request.args.get("from") else None
    except ValueError:
        raise ValidationError("Use days=1..31 and from=YYYY-MM-DD.", field="days") from None
    if not 1 <= days <= MAX_PUBLIC_DAYS:
        raise ValidationError(f"Ask for 1 to {MAX_PUBLIC_DAYS} days of slots.", field="days")
    if first is not None:
        check_date(first, field="from")
        check_date(first + timedelta(days=days), field="from")
    first = first or app.clock.now().astimezone(org.tz).date()
    start, end = day_start(first, org.tz), day_start(first + timedelta(days=days), org.tz)
    found = await app.execute_async(
        FindSlots(org_id=org.id, coach_id=coach.id, service_id=service.id, start=start, end=end)
    )
    return {
        "timezone": org.timezone,
        "items": [
            {
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "seats_left": s.seats_left,
                "local": label(s.start, org.tz),
            }
            for s in found
        ],
    }


@bp.route("/book/<slug>/<uuid:service_id>/book", methods=["GET", "POST"])
async def book(slug: str, service_id: UUID) -> Any:
    """The booking form for one slot; posting it books (once per form) and shows the confirmation."""
    org, service = await core().read_async(lambda uow: _offered_service(uow, slug, service_id))
    start = parse_start(request.args.get("start"))
    viewer = viewer_zone(request.args.get("tz"))
    form: Mapping[str, str] = {}
    error: CoachOSError | None = None
    key = uuid.uuid4().hex
    marketing = marketing_wording(org.name)
    me = await signed_in(org)
    if request.method == "POST":
        form = await request.form
        key = form.get("idempotency_key") or key
        try:
            if me is not None:
                # Signed in: the client's own details and credits (the only public booking that uses credits).
                booking = await core().execute_async(
                    BookAsClient(
                        org_id=org.id,
                        client_id=me.id,
                        service_id=service.id,
                        start=start,
                        idempotency_key=key,
                        agree_to_fees=form.get("agree_to_fees") == "yes",
                    )
                )
            else:
                booking = await core().execute_async(
                    BookAsGuest(
                        org_id=org.id,
                        service_id=service.id,
                        start=start,
                        name=form.get("name", ""),
                        phone=form.get("phone"),
                        email=form.get("email"),
                        sms_consent=form.get("sms_consent") == "yes",
                        consent_wording=SMS_WORDING,
                        marketing=tuple(
                            GuestConsent(channel=field, wording=words)
                            for field, words in marketing.items()
                            if form.get(field) == "yes"
                        ),
                        idempotency_key=key,
                        # The key is this visitor's: the same key from anybody else is another key.
                        visitor=g.anon_id,
                        timezone=viewer.key if viewer else None,
                        agree_to_fees=form.get("agree_to_fees") == "yes",
                    )
                )
        except Fault:
            raise  # ours, not the caller's: answered and logged by the error handler
        except CoachOSError as exc:
            error = exc
            if isinstance(exc, Conflict) and not isinstance(exc, SlotUnavailable):
                key = uuid.uuid4().hex  # this form's key was spent on another booking
        else:
            token = manage_token(booking)
            if booking.status is BookingStatus.HELD:
                # Paid when booked: straight to Stripe Checkout; the confirmation page offers it again.
                return await _to_checkout(slug, token, booking.org_id, booking.id, viewer.key if viewer else None)
            return redirect(url_for("public.booked", slug=slug, token=token, tz=viewer.key if viewer else None))
    page = await render_template(
        "public/book.html",
        business=org,
        service=service,
        start=SlotLine(start, label(start, org.tz)),
        yours=your_time(start, org, viewer),
        tz=viewer.key if viewer else "",
        form=form,
        error=error,
        key=key,
        wording=SMS_WORDING,
        marketing=marketing,
        wants_tz=request.method == "GET",
        me=me,
        onboarding=await before_first(org, me, service.id),
    )
    return page, status_of(error) if error else 200


async def _to_checkout(slug: str, token: str, org_id: OrgId, booking_id: BookingId, tz: str | None) -> Any:
    """303 to the held booking's Stripe Checkout; back to its page (which says why) when Stripe cannot be reached."""
    page = f"{settings().public_url}{url_for('public.booked', slug=slug, token=token, tz=tz)}"
    try:
        session = await core().execute_async(
            StartBookingCheckout(
                org_id=org_id,
                booking_id=booking_id,
                success_url=f"{page}{'&' if '?' in page else '?'}paid=1",
                cancel_url=page,
            )
        )
    except Fault:
        raise
    except CoachOSError as exc:
        log.warning("booking_checkout_refused", booking_id=str(booking_id), code=exc.code)
        return redirect(url_for("public.booked", slug=slug, token=token, tz=tz, checkout="failed"), 303)
    return redirect(session.url, 303)


@bp.route("/book/<slug>/booked/<token>/pay", methods=["POST"])
async def pay(slug: str, token: str) -> Any:
    """Go (again) to Stripe Checkout for a booking held for its payment."""
    org_id, booking_id = read_manage_token(token)
    held = await core().read_async(lambda uow: _held(uow, org_id, booking_id))
    if held.org.slug != slug:
        raise NotFound("This booking link is not valid or has expired; please contact your coach.")
    return await _to_checkout(slug, token, org_id, booking_id, request.args.get("tz"))


@bp.route("/book/<slug>/booked/<token>")
async def booked(slug: str, token: str) -> Any:
    """The confirmation: what was booked, when (in the business's zone) and the link to manage it."""
    org_id, booking_id = read_manage_token(token)
    held = await core().read_async(lambda uow: _held(uow, org_id, booking_id))
    if held.org.slug != slug:
        raise NotFound("This booking link is not valid or has expired; please contact your coach.")
    viewer = viewer_zone(request.args.get("tz")) or viewer_zone(held.timezone)
    hold_ends = held.booking.hold_expires_at
    return await render_template(
        "public/confirmation.html",
        h=held,
        token=token,
        hold_until=label(hold_ends, held.org.tz) if hold_ends else None,
        checkout_failed=request.args.get("checkout") == "failed",
        # Back from Checkout: Stripe's webhook may still be on its way, so the page says so and reloads.
        returned_paid=request.args.get("paid") == "1",
        when=label(held.booking.start, held.org.tz),
        yours=your_time(held.booking.start, held.org, viewer),
        manage_url=f"{settings().public_url}{url_for('public.manage', token=token)}",
    )
