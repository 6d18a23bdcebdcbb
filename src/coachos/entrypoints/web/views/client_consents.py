"""The client page's consent forms: record a consent with its words, withdraw one saying how, or apply a booking's.

They post to the clients blueprint (the panel itself is loaded with the others, see clients.py); a
refused form shows the page again with the consent panel open, the reason, and nothing written.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from quart import redirect, request, url_for

from coachos.domain.errors import ValidationError
from coachos.domain.ids import Actor, BookingId, ClientId
from coachos.domain.usecases import ApplyBookingConsents, RecordConsent, WithdrawConsent
from coachos.entrypoints.web.consent_view import GIVE_METHODS, WITHDRAW_METHODS, chosen_method
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required, require_principal
from coachos.entrypoints.web.views.clients import bp, show_refused


def _saved(client_id: UUID) -> Any:
    return redirect(url_for("clients.detail", client_id=client_id, saved="consent", _anchor="panel-consent"), 303)


@bp.route("/clients/<uuid:client_id>/consents", methods=["POST"])
@login_required
async def record_consent(client_id: UUID) -> Any:
    """Record that the client agreed to one channel and purpose, with the words they agreed to."""
    who = require_principal()
    form = dict(await request.form)
    try:
        await core().execute_async(
            RecordConsent(
                org_id=who.org_id,
                client_id=ClientId(client_id),
                channel=form.get("channel", ""),
                method=chosen_method(form.get("method"), GIVE_METHODS),
                wording=form.get("wording", "").strip() or None,
                actor=Actor("coach", who.coach_id),
            )
        )
    except ValidationError as exc:
        return await show_refused(client_id, "consent", form, exc)
    return _saved(client_id)


@bp.route("/clients/<uuid:client_id>/consents/withdraw", methods=["POST"])
@login_required
async def withdraw_consent(client_id: UUID) -> Any:
    """Withdraw the client's consent to one channel and purpose, noting how and (optionally) in which words."""
    who = require_principal()
    form = dict(await request.form)
    try:
        await core().execute_async(
            WithdrawConsent(
                org_id=who.org_id,
                client_id=ClientId(client_id),
                channel=form.get("channel", ""),
                method=chosen_method(form.get("method"), WITHDRAW_METHODS),
                wording=form.get("wording", "").strip() or None,
                actor=Actor("coach", who.coach_id),
            )
        )
    except ValidationError as exc:
        return await show_refused(client_id, "consent", form, exc)
    return _saved(client_id)


def _booking_id(value: str | None) -> BookingId:
    try:
        return BookingId(UUID(value or ""))
    except ValueError:
        raise ValidationError("Choose a booking of this client.", field="booking_id") from None


@bp.route("/clients/<uuid:client_id>/consents/from-booking", methods=["POST"])
@login_required
async def apply_booking_consents(client_id: UUID) -> Any:
    """Give the client the consents ticked on the public form of one of their (confirmed) bookings."""
    who = require_principal()
    form = dict(await request.form)
    try:
        await core().execute_async(
            ApplyBookingConsents(
                org_id=who.org_id,
                client_id=ClientId(client_id),
                booking_id=_booking_id(form.get("booking_id")),
                actor=Actor("coach", who.coach_id),
            )
        )
    except ValidationError as exc:
        return await show_refused(client_id, "consent", form, exc)
    return _saved(client_id)
