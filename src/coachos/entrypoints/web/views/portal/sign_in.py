"""Signing in to the portal: ask for a link and code, confirm a link with a button, enter a code, sign out."""

from __future__ import annotations

from typing import Any

from quart import redirect, render_template, request, url_for

from coachos.domain.errors import CoachOSError, Fault, NotAuthenticated
from coachos.domain.usecases import ClientSignOut, RequestClientSignIn, SignInWithCode, SignInWithLink
from coachos.entrypoints.web.context import core, settings
from coachos.entrypoints.web.errors import status_of
from coachos.entrypoints.web.security import CLIENT_COOKIE
from coachos.entrypoints.web.views.portal._shared import bp, business, set_client_cookie, signed_in


def _address() -> str:
    return request.remote_addr or ""


@bp.route("/sign-in", methods=["GET", "POST"])
async def sign_in(slug: str) -> Any:
    """Ask for a sign-in link and code by email (or text); the answer is the same for every contact."""
    org = await business(slug)
    if request.method == "GET" and await signed_in(org) is not None:
        return redirect(url_for("portal.home", slug=slug), 303)
    error: CoachOSError | None = None
    contact = ""
    if request.method == "POST":
        form = await request.form
        contact = form.get("contact", "")
        try:
            await core().execute_async(
                RequestClientSignIn(
                    org_id=org.id,
                    contact=contact,
                    address=_address(),
                    link_base=f"{settings().public_url}{url_for('portal.sign_in', slug=slug)}/",
                )
            )
        except Fault:
            raise  # ours, not the caller's: answered and logged by the error handler
        except CoachOSError as exc:
            error = exc
        else:
            return await render_template("portal/check_messages.html", business=org, contact=contact, error=None)
    page = await render_template("portal/sign_in.html", business=org, contact=contact, error=error)
    return page, status_of(error) if error else 200


@bp.route("/sign-in/code", methods=["POST"])
async def sign_in_with_code(slug: str) -> Any:
    """Sign in with the six-digit code from the message; wrong codes count towards locking it."""
    org = await business(slug)
    form = await request.form
    contact = form.get("contact", "")
    try:
        signed = await core().execute_async(
            SignInWithCode(
                org_id=org.id,
                contact=contact,
                code=form.get("code", ""),
                address=_address(),
                previous=request.cookies.get(CLIENT_COOKIE, ""),
            )
        )
    except Fault:
        raise
    except CoachOSError as exc:
        page = await render_template("portal/check_messages.html", business=org, contact=contact, error=exc)
        return page, status_of(exc)
    return set_client_cookie(redirect(url_for("portal.home", slug=slug), 303), signed.session_token)


@bp.route("/sign-in/<token>", methods=["GET"])
async def confirm_link(slug: str, token: str) -> Any:
    """The page a sign-in link opens: it only asks to confirm (mail scanners open links; GET, HEAD sign nobody in)."""
    org = await business(slug)
    return await render_template("portal/confirm.html", business=org, token=token)


@bp.route("/sign-in/<token>", methods=["POST"])
async def use_link(slug: str, token: str) -> Any:
    """Use the link once and sign in; an unknown, used, replaced, expired or other business's link gets one answer."""
    org = await business(slug)
    try:
        signed = await core().execute_async(
            SignInWithLink(org_id=org.id, token=token, previous=request.cookies.get(CLIENT_COOKIE, ""))
        )
    except NotAuthenticated as exc:
        page = await render_template("portal/sign_in.html", business=org, contact="", error=exc)
        return page, 401
    return set_client_cookie(redirect(url_for("portal.home", slug=slug), 303), signed.session_token)


@bp.route("/sign-out", methods=["POST"])
async def sign_out(slug: str) -> Any:
    """End this browser's client session; back to the sign-in page (or the booking page it came from)."""
    org = await business(slug)
    token = request.cookies.get(CLIENT_COOKIE, "")
    await core().execute_async(ClientSignOut(org_id=org.id, token=token))
    back = (await request.form).get("next", "")
    # Only our own booking pages: an open redirect would let a link send a client anywhere.
    target = back if back.startswith(f"/book/{slug}") else url_for("portal.sign_in", slug=slug)
    response = redirect(target, 303)
    response.delete_cookie(CLIENT_COOKIE)
    return response
