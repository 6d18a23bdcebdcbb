"""Choosing a service and a time, booking it, and the confirmation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import attrs
from quart import g, redirect, render_template, request, url_for

from coachos.domain.bookings import GuestConsent
from coachos.domain.catalog import PackageOffer
from coachos.domain.clients import Client
from coachos.domain.errors import CoachOSError, Conflict, Fault, NotFound, SlotUnavailable, ValidationError
from coachos.domain.ids import OrgId, ServiceId
from coachos.domain.orgs import Organization
from coachos.domain.timezones import check_date, day_start, label
from coachos.domain.usecases import (
    BookAsClient,
    BookAsGuest,
    ClientOnboarding,
    FindSlots,
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
                        org_id=org.id, client_id=me.id, service_id=service.id, start=start, idempotency_key=key
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


@bp.route("/book/<slug>/booked/<token>")
async def booked(slug: str, token: str) -> Any:
    """The confirmation: what was booked, when (in the business's zone) and the link to manage it."""
    org_id, booking_id = read_manage_token(token)
    held = await core().read_async(lambda uow: _held(uow, org_id, booking_id))
    if held.org.slug != slug:
        raise NotFound("This booking link is not valid or has expired; please contact your coach.")
    viewer = viewer_zone(request.args.get("tz")) or viewer_zone(held.timezone)
    return await render_template(
        "public/confirmation.html",
        h=held,
        when=label(held.booking.start, held.org.tz),
        yours=your_time(held.booking.start, held.org, viewer),
        manage_url=f"{settings().public_url}{url_for('public.manage', token=token)}",
    )
