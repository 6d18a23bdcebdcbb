"""The client's waiver-signing page, reached by a signed link: `/c/<org-slug>/waivers/<token>`.

The token (see `adapters.links.waiver_token`) names the business, the client and the waiver and
lasts `WAIVER_LINK_AGE`; it is the client's identity here, so a forged, expired or other
business's token is a 404 page like any unknown address. GET and HEAD only show the waiver (mail
scanners open links); POST signs, once: a second submit finds the first signature. The page shows
the version's stored HTML exactly as stored, and the form sends back the hash of those bytes, so
what is recorded is what was on the screen. IP and user agent are stored, never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from uuid import UUID

from itsdangerous import BadData
from quart import Blueprint, Response, current_app, redirect, render_template, request, url_for

from coachos.adapters.links import WAIVER_LINK_AGE, waiver_serializer
from coachos.adapters.waiver_pdf import signed_waiver_pdf
from coachos.domain.errors import CoachOSError, NotFound, ValidationError
from coachos.domain.ids import ClientId, OrgId, WaiverId, WaiverVersionId
from coachos.domain.timezones import label
from coachos.domain.usecases import ReadWaiverToSign, SignedCopy, SignWaiver, ToSign
from coachos.domain.waivers import ESIGN_CONSENT, is_minor
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.errors import status_of
from coachos.entrypoints.web.parsing import calendar_date

bp = Blueprint("waiver_signing", __name__)

_GONE = "This signing link is not valid or has expired; please ask your coach for a new one."


def read_waiver_token(token: str) -> tuple[OrgId, ClientId, WaiverId]:
    """The business, client and waiver a signing token names; NotFound if forged or too old."""
    serializer = waiver_serializer(current_app.config["COACHOS_SECRET"], core().clock)
    try:
        org_id, client_id, waiver_id = serializer.loads(token, max_age=int(WAIVER_LINK_AGE.total_seconds()))
        return OrgId(UUID(org_id)), ClientId(UUID(client_id)), WaiverId(UUID(waiver_id))
    except (BadData, ValueError, TypeError):
        raise NotFound(_GONE) from None


async def _to_sign(slug: str, token: str) -> ToSign:
    org_id, client_id, waiver_id = read_waiver_token(token)
    try:
        page = await core().execute_async(ReadWaiverToSign(org_id=org_id, client_id=client_id, waiver_id=waiver_id))
    except NotFound:
        raise NotFound(_GONE) from None
    if page.org.slug != slug:
        raise NotFound(_GONE)
    return page


async def _page(
    slug: str, token: str, *, form: Mapping[str, str] | None = None, error: CoachOSError | None = None
) -> Any:
    page = await _to_sign(slug, token)
    today = core().clock.now().astimezone(page.org.tz).date()
    body = await render_template(
        "waivers/sign.html",
        p=page,
        token=token,
        consent_words=ESIGN_CONSENT,
        minor=page.client.birthday is not None and is_minor(page.client.birthday, today),
        signed_label=label(page.signed.signed_at, page.org.tz) if page.signed else None,
        form=form or {},
        error=error,
    )
    return body, status_of(error) if error else 200


@bp.route("/c/<slug>/waivers/<token>")
async def sign_page(slug: str, token: str) -> Any:
    """The waiver's current version, with the form to sign it (showing never signs)."""
    return await _page(slug, token)


def _birth_date(form: Mapping[str, str]) -> date | None:
    text = (form.get("date_of_birth") or "").strip()
    return calendar_date(text, field="date_of_birth", label="Date of birth") if text else None


def _version_id(text: str | None) -> WaiverVersionId:
    try:
        return WaiverVersionId(UUID(text or ""))
    except ValueError:
        raise ValidationError("The form is incomplete; reload the page and sign again.", field="version_id") from None


@bp.route("/c/<slug>/waivers/<token>", methods=["POST"])
async def sign(slug: str, token: str) -> Any:
    """Sign the version shown; a second submit of the same form finds the first signature."""
    page = await _to_sign(slug, token)
    form = dict(await request.form)
    try:
        await core().execute_async(
            SignWaiver(
                org_id=page.org.id,
                client_id=page.client.id,
                waiver_id=page.waiver.id,
                version_id=_version_id(form.get("version_id")),
                shown_sha256=form.get("shown_sha256", ""),
                typed_name=form.get("typed_name", ""),
                consent=form.get("consent") == "yes",
                drawing=form.get("drawing", ""),
                date_of_birth=_birth_date(form),
                guardian_name=form.get("guardian_name", ""),
                guardian_relationship=form.get("guardian_relationship", ""),
                guardian_drawing=form.get("guardian_drawing", ""),
                ip=request.remote_addr,
                user_agent=request.headers.get("User-Agent"),
            )
        )
    except NotFound:
        raise
    except ValidationError as exc:
        return await _page(slug, token, form=form, error=exc)
    except CoachOSError as exc:
        # The waiver changed under the client (Conflict): show the new text, keep nothing they typed.
        return await _page(slug, token, error=exc)
    return redirect(url_for("waiver_signing.sign_page", slug=slug, token=token, signed=1), 303)


@bp.route("/c/<slug>/waivers/<token>/signed.pdf")
async def signed_pdf(slug: str, token: str) -> Any:
    """The client's own signed copy of the current version, as a PDF."""
    page = await _to_sign(slug, token)
    if page.signed is None:
        raise NotFound("You have not signed this version yet.")
    copy = await core().execute_async(SignedCopy(org_id=page.org.id, signature_id=page.signed.id))
    return pdf_response(signed_waiver_pdf(*copy), f"{page.waiver.title} v{page.signed.version_number}")


def pdf_response(pdf: bytes, name: str) -> Response:
    """A PDF download named after `name` (ASCII letters, digits and dashes only)."""
    safe = "".join(c if c.isascii() and c.isalnum() else "-" for c in name).strip("-")[:80] or "waiver"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{safe}.pdf"', "Cache-Control": "private, no-store"},
    )
