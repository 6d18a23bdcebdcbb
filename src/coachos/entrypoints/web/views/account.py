"""Sign-up (with onboarding), log-in, log-out and password reset."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from quart import Blueprint, g, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from coachos.domain.contact import check_name
from coachos.domain.errors import CoachOSError
from coachos.domain.ids import Actor
from coachos.domain.money import Money
from coachos.domain.usecases import (
    CreateService,
    LogIn,
    LogOut,
    RequestPasswordReset,
    ResetPassword,
    SetWeeklyHours,
    SignUp,
)
from coachos.entrypoints.web.context import core, settings
from coachos.entrypoints.web.parsing import time_of_day, whole_number
from coachos.entrypoints.web.security import SESSION_COOKIE, login_required, principal

bp = Blueprint("account", __name__)

#: Common zones offered first in the sign-up form; any IANA name is accepted.
COMMON_ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Melbourne",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Pacific/Auckland",
    "UTC",
]


def _safe_next(target: str | None) -> str:
    """Only same-site paths may be redirected to after log-in (no open redirects)."""
    if not target:
        return url_for("today.today")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("today.today")
    return target


async def _start_session(token: str, destination: str) -> WerkzeugResponse:
    response = await make_response(redirect(destination))
    cfg = settings()
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, secure=cfg.cookie_secure, samesite="Lax", max_age=60 * 60 * 24 * 14
    )
    return response  # type: ignore[return-value]


@bp.route("/signup", methods=["GET", "POST"])
async def signup() -> Any:
    """Open an account: business, time zone, first service and weekly hours in one form."""
    form: dict[str, str] = {}
    error = None
    if request.method == "POST":
        form = dict(await request.form)
        try:
            return await _sign_up(form)
        except CoachOSError as exc:
            error = exc
    return await render_template("signup.html", form=form, error=error, zones=COMMON_ZONES), 400 if error else 200


async def _sign_up(form: dict[str, str]) -> Any:
    app = core()
    # Read the first service and hours first, so a mistake in them refuses the form before anything is written.
    service_name = check_name(form.get("service_name") or "Personal training", field="service_name")
    price = Money.parse(form.get("service_price") or "0", form.get("currency", "USD"))
    minutes = whole_number(
        form.get("service_minutes") or "60", field="service_minutes", label="Minutes", minimum=1, maximum=720
    )
    start = time_of_day(form.get("day_start") or "09:00", field="day_start", label="Day starts")
    end = time_of_day(form.get("day_end") or "17:00", field="day_end", label="Day ends")
    days = [
        whole_number(d, field="days", label="Days", minimum=0, maximum=6)
        for d in form.get("days", "0,1,2,3,4").split(",")
        if d.strip()
    ]
    org, coach = await app.execute_async(
        SignUp(
            business_name=form.get("business_name", ""),
            slug=form.get("slug", ""),
            timezone=form.get("timezone", ""),
            currency=form.get("currency", "USD"),
            name=form.get("name", ""),
            email=form.get("email", ""),
            password=form.get("password", ""),
        )
    )
    me = Actor("coach", coach.id)
    await app.execute_async(
        CreateService(
            org_id=org.id,
            name=service_name,
            duration=timedelta(minutes=minutes),
            price=price,
            actor=me,
        )
    )
    await app.execute_async(
        SetWeeklyHours(org_id=org.id, coach_id=coach.id, hours=[(d, start, end) for d in days], actor=me)
    )
    logged = await app.execute_async(
        LogIn(email=form.get("email", ""), password=form.get("password", ""), address=request.remote_addr or "")
    )
    return await _start_session(logged.session_token, url_for("today.today", welcome=1))


@bp.route("/login", methods=["GET", "POST"])
async def login() -> Any:
    """Sign in with email and password; a new session id every time."""
    error = None
    email = ""
    if request.method == "POST":
        form = await request.form
        email = form.get("email", "")
        try:
            logged = await core().execute_async(
                LogIn(email=email, password=form.get("password", ""), address=request.remote_addr or "")
            )
        except CoachOSError as exc:
            error = exc
        else:
            old = request.cookies.get(SESSION_COOKIE)
            if old:
                await core().execute_async(LogOut(token=old))
            return await _start_session(logged.session_token, _safe_next(request.args.get("next")))
    status = 200 if error is None else (429 if error.code == "throttled" else 401)
    return await render_template("login.html", error=error, email=email), status


@bp.route("/logout", methods=["POST"])
async def logout() -> Any:
    """End this browser's session."""
    if token := request.cookies.get(SESSION_COOKIE):
        await core().execute_async(LogOut(token=token))
    response = await make_response(redirect(url_for("account.login")))
    response.delete_cookie(SESSION_COOKIE)
    return response


@bp.route("/forgot", methods=["GET", "POST"])
async def forgot() -> Any:
    """Ask for a password-reset email (the page says the same whether or not the email exists)."""
    sent = False
    error = None
    if request.method == "POST":
        form = await request.form
        try:
            await core().execute_async(
                RequestPasswordReset(email=form.get("email", ""), link_base=f"{settings().public_url}/reset/")
            )
            sent = True
        except CoachOSError as exc:
            error = exc
    return await render_template("forgot.html", sent=sent, error=error)


@bp.route("/reset/<token>", methods=["GET", "POST"])
async def reset(token: str) -> Any:
    """Choose a new password from an emailed link."""
    error = None
    if request.method == "POST":
        form = await request.form
        try:
            await core().execute_async(ResetPassword(token=token, password=form.get("password", "")))
        except CoachOSError as exc:
            error = exc
        else:
            return redirect(url_for("account.login", reset=1))
    return await render_template("reset.html", error=error), 400 if error else 200


@bp.route("/")
async def home() -> Any:
    """Signed-in coaches go to today; others to log in."""
    return redirect(url_for("today.today") if principal() else url_for("account.login"))


@bp.route("/healthz")
async def health() -> Any:
    """Liveness: the process answers and can reach its database."""
    await core().read_async(lambda uow: uow.outbox.pending(limit=1))
    return {"status": "ok", "request_id": g.request_id}


__all__ = ["bp", "login_required"]
