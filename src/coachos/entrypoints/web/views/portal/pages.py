"""The signed-in client's own pages: sessions and credits, details, notifications, their data, deleting the account."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs
from quart import Response, redirect, render_template, request, url_for

from coachos.domain.bookings import Booking
from coachos.domain.catalog import SessionPackage
from coachos.domain.clients import Channel, Client
from coachos.domain.consent import CLIENT_REQUEST, LABELS
from coachos.domain.errors import CoachOSError, Fault, NotFound, ValidationError
from coachos.domain.ids import Actor, BookingId
from coachos.domain.orgs import Organization
from coachos.domain.portal import KEPT_ON_DELETION, PortalTask, flat_rows
from coachos.domain.timezones import label
from coachos.domain.usecases import (
    CancelBooking,
    ConfirmContactChange,
    DeletionRequested,
    ExportClientData,
    RecordConsent,
    RequestAccountDeletion,
    RequestContactChange,
    UpdateClient,
    WithdrawConsent,
)
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.errors import status_of
from coachos.entrypoints.web.views.portal._shared import bp, portal_client
from coachos.entrypoints.web.views.portal.tasks import portal_tasks
from coachos.entrypoints.web.views.public._shared import manage_token
from coachos.ports.storage import UnitOfWork


@attrs.frozen
class SessionLine:
    """A booking as the client sees it: what, when (the business's clock, with its zone) and where to manage it."""

    booking: Booking
    service: str
    when: str
    manage_url: str | None
    #: Inside the cancellation window: cancelling keeps the credit.
    late: bool = False


@attrs.frozen
class Home:
    """What the portal's home shows."""

    upcoming: list[SessionLine]
    past: list[SessionLine]
    packages: list[SessionPackage]
    tasks: list[PortalTask]


def _home(uow: UnitOfWork, org: Organization, client: Client, now: datetime) -> Home:
    services = {s.id: s.name for s in uow.services.list(org.id)}
    bookings = list(uow.bookings.for_client(org.id, client.id))
    packages = [p for p in uow.packages.for_client(org.id, client.id) if p.expires_at is None or p.expires_at > now]
    upcoming: list[SessionLine] = []
    past: list[SessionLine] = []
    for b in bookings:
        ahead = b.status.is_open and b.start > now
        line = SessionLine(
            booking=b,
            service=services.get(b.service_id, "Session"),
            when=label(b.start, org.tz),
            manage_url=url_for("portal.booking", slug=org.slug, booking_id=b.id) if ahead else None,
            late=ahead and now > b.start - org.policy.cancellation_window,
        )
        (upcoming if ahead else past).append(line)
    return Home(upcoming=upcoming, past=past[::-1], packages=packages, tasks=portal_tasks(uow, org, client))


@bp.route("/")
async def home(slug: str) -> Any:
    """The client's sessions (upcoming and past), credits per package with expiry, and what is still to do."""
    org, client = await portal_client(slug)
    now = core().clock.now()
    found = await core().read_async(lambda uow: _home(uow, org, client, now))
    window_hours = int(org.policy.cancellation_window.total_seconds() // 3600)
    return await render_template("portal/home.html", business=org, me=client, home=found, window_hours=window_hours)


async def _own_booking(org: Organization, client: Client, booking_id: UUID) -> Booking:
    """The client's own booking, or 404: another client's booking is as unknown as a missing one."""
    booking = await core().read_async(lambda uow: uow.bookings.get(org.id, BookingId(booking_id)))
    if booking.client_id != client.id:
        raise NotFound("No such booking in this business.")
    return booking


@bp.route("/bookings/<uuid:booking_id>")
async def booking(slug: str, booking_id: UUID) -> Any:
    """One of the client's bookings: its page, where it can be moved or cancelled by the business's policy."""
    org, client = await portal_client(slug)
    found = await _own_booking(org, client, booking_id)
    return redirect(url_for("public.manage", token=manage_token(found)), 303)


@bp.route("/bookings/<uuid:booking_id>/cancel", methods=["POST"])
async def cancel(slug: str, booking_id: UUID) -> Any:
    """Cancel one of the client's bookings; inside the cancellation window the credit is kept, as the policy says."""
    org, client = await portal_client(slug)
    found = await _own_booking(org, client, booking_id)
    await core().execute_async(CancelBooking(org_id=org.id, booking_id=found.id, actor=Actor("client", client.id)))
    return redirect(url_for("portal.home", slug=slug), 303)


@bp.route("/details", methods=["GET", "POST"])
async def details(slug: str) -> Any:
    """The client's name and time zone; email and phone are changed by the business (they are how one signs in)."""
    org, client = await portal_client(slug)
    error: CoachOSError | None = None
    saved = False
    if request.method == "POST":
        form = await request.form
        try:
            client = await core().execute_async(
                UpdateClient(
                    org_id=org.id,
                    client_id=client.id,
                    actor=Actor("client", client.id),
                    name=form.get("name", ""),
                    timezone=form.get("timezone") or None,
                )
            )
            saved = True
        except Fault:
            raise
        except CoachOSError as exc:
            error = exc
    page = await render_template("portal/details.html", business=org, me=client, error=error, saved=saved)
    return page, status_of(error) if error else 200


@bp.route("/details/contact", methods=["POST"])
async def change_contact(slug: str) -> Any:
    """Send a code to a new email (or phone, with consent to texts); the contact changes only once it is used."""
    org, client = await portal_client(slug)
    form = await request.form
    error: CoachOSError | None = None
    try:
        await core().execute_async(
            RequestContactChange(org_id=org.id, client_id=client.id, contact=form.get("contact", ""))
        )
    except Fault:
        raise
    except CoachOSError as exc:
        error = exc
    page = await render_template(
        "portal/details.html", business=org, me=client, error=error, saved=False, pending=error is None
    )
    return page, status_of(error) if error else 200


@bp.route("/details/contact/confirm", methods=["POST"])
async def confirm_contact(slug: str) -> Any:
    """Use the code sent to the new contact; from then on it is the one on file (and signs in)."""
    org, client = await portal_client(slug)
    form = await request.form
    try:
        client = await core().execute_async(
            ConfirmContactChange(org_id=org.id, client_id=client.id, code=form.get("code", ""))
        )
    except Fault:
        raise
    except CoachOSError as exc:
        page = await render_template(
            "portal/details.html", business=org, me=client, error=exc, saved=False, pending=True
        )
        return page, status_of(exc)
    return await render_template("portal/details.html", business=org, me=client, error=None, saved=True)


def consent_wording(org: Organization, channel: Channel) -> str:
    """The words a client agrees to when they turn a kind of message on in the portal."""
    return f"I agree to receive {LABELS[channel].lower()} from {org.name}. I can turn this off here at any time."


@bp.route("/notifications", methods=["GET", "POST"])
async def notifications(slug: str) -> Any:
    """Which messages the client agrees to, per channel and purpose; each change is recorded with its time and words."""
    org, client = await portal_client(slug)
    error: CoachOSError | None = None
    if request.method == "POST":
        form = await request.form
        try:
            channel = Channel(form.get("channel", ""))
        except ValueError:
            channel = None
        me = Actor("client", client.id)
        try:
            if channel is None or form.get("action") not in ("give", "withdraw"):
                raise ValidationError("Choose a kind of message and whether to turn it on or off.", field="channel")
            if form.get("action") == "give":
                await core().execute_async(
                    RecordConsent(
                        org_id=org.id,
                        client_id=client.id,
                        channel=channel,
                        method=CLIENT_REQUEST,
                        actor=me,
                        wording=consent_wording(org, channel),
                    )
                )
            else:
                await core().execute_async(
                    WithdrawConsent(
                        org_id=org.id,
                        client_id=client.id,
                        channel=channel,
                        actor=me,
                        method=CLIENT_REQUEST,
                        wording="Turned off in the client portal.",
                    )
                )
        except Fault:
            raise
        except CoachOSError as exc:
            error = exc
        else:
            return redirect(url_for("portal.notifications", slug=slug), 303)
    rows = [(channel, LABELS[channel], client.consent(channel), consent_wording(org, channel)) for channel in LABELS]
    page = await render_template("portal/notifications.html", business=org, me=client, rows=rows, error=error)
    return page, status_of(error) if error else 200


@bp.route("/data")
async def data(slug: str) -> Any:
    """Where the client downloads everything the business holds about them, and asks to delete their account."""
    org, client = await portal_client(slug)
    requested = await core().execute_async(DeletionRequested(org_id=org.id, client_id=client.id))
    return await render_template(
        "portal/data.html",
        business=org,
        me=client,
        requested=label(requested, org.tz) if requested else None,
        kept=KEPT_ON_DELETION,
    )


@bp.route("/data.json")
async def data_json(slug: str) -> Any:
    """All the client's data as one JSON file."""
    org, client = await portal_client(slug)
    export = await core().execute_async(ExportClientData(org_id=org.id, client_id=client.id))
    body = json.dumps(export, indent=2, ensure_ascii=False)
    return _download(body, "application/json", f"{slug}-my-data.json")


@bp.route("/data.csv")
async def data_csv(slug: str) -> Any:
    """All the client's data as one CSV file: section, record number, field, value."""
    org, client = await portal_client(slug)
    export = await core().execute_async(ExportClientData(org_id=org.id, client_id=client.id))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "record", "field", "value"])
    writer.writerows(flat_rows(export))
    return _download(out.getvalue(), "text/csv", f"{slug}-my-data.csv")


def _download(body: str, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/delete", methods=["POST"])
async def request_deletion(slug: str) -> Any:
    """Ask the business to delete the account; a coach approves it."""
    org, client = await portal_client(slug)
    await core().execute_async(RequestAccountDeletion(org_id=org.id, client_id=client.id))
    return redirect(url_for("portal.data", slug=slug), 303)
