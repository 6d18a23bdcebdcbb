"""Sign-up (with onboarding), log-in, log-out and password reset."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from quart import Blueprint, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from coachos.domain.errors import CoachOSError, Fault, Throttled
from coachos.domain.money import Money
from coachos.domain.usecases import (
    LogIn,
    LogOut,
    RequestPasswordReset,
    ResetPassword,
    SignUp,
)
from coachos.domain.usecases.accounts import FirstService
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


def _unsafe_path(path: str) -> bool:
    # Browsers read a backslash as a slash and drop tabs and newlines inside URLs, so a slash followed
    # by a backslash, or by a tab and a slash, means "//evil": another site. Only plain paths pass.
    return (
        not path.startswith("/")
        or path.startswith("//")
        or "\\" in path
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path)
        or bool(urlsplit(path).scheme or urlsplit(path).netloc)
    )


def safe_next(target: str | None) -> str:
    """`target` if it is a path on this site (also once percent-decoded), else the dashboard: no open redirects."""
    if not target or len(target) > 2000 or _unsafe_path(target) or _unsafe_path(unquote(target)):
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
        except Fault:
            raise  # ours, not the caller's: answered and logged by the error handler
        except CoachOSError as exc:
            error = exc
    return await render_template("signup.html", form=form, error=error, zones=COMMON_ZONES), 400 if error else 200


def _sign_up_command(form: dict[str, str]) -> SignUp:
    """The whole sign-up form read into one command; any unreadable field is a ValidationError.

    The first service and the working hours are read before anything is written, so a mistake in
    them refuses the form and leaves no half-made account behind.
    """
    currency = form.get("currency") or "USD"
    minutes = whole_number(
        form.get("service_minutes") or "60", field="service_minutes", label="Minutes", minimum=5, maximum=720
    )
    price = Money.parse(form.get("service_price") or "0", currency)
    start = time_of_day(form.get("day_start") or "09:00", field="day_start", label="Day starts")
    end = time_of_day(form.get("day_end") or "17:00", field="day_end", label="Day ends")
    days = {
        whole_number(d.strip(), field="days", label="Days", minimum=0, maximum=6)
        for d in form.get("days", "0,1,2,3,4").split(",")
        if d.strip()
    }
    return SignUp(
        business_name=form.get("business_name", ""),
        slug=form.get("slug", ""),
        timezone=form.get("timezone", ""),
        currency=currency,
        name=form.get("name", ""),
        email=form.get("email", ""),
        password=form.get("password", ""),
        service=FirstService(
            name=(form.get("service_name") or "Personal training").strip(),
            duration=timedelta(minutes=minutes),
            price=price,
        ),
        hours=[(d, start, end) for d in sorted(days)],
    )


async def _sign_up(form: dict[str, str]) -> Any:
    app = core()
    await app.execute_async(_sign_up_command(form))
    try:
        logged = await app.execute_async(
            LogIn(email=form.get("email", ""), password=form.get("password", ""), address=request.remote_addr or "")
        )
    except Fault:
        raise  # ours, not the caller's: answered and logged by the error handler
    except CoachOSError:
        # The account exists now; showing the sign-up form again would only say the email is taken.
        return redirect(url_for("account.login"))
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
        except Fault:
            raise  # ours, not the caller's: answered and logged by the error handler
        except CoachOSError as exc:
            error = exc
        else:
            old = request.cookies.get(SESSION_COOKIE)
            if old:
                await core().execute_async(LogOut(token=old))
            return await _start_session(logged.session_token, safe_next(request.args.get("next")))
    if isinstance(error, Throttled):
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
        return await render_template("login.html", error=error, email=email), 429, headers
    return await render_template("login.html", error=error, email=email), 200 if error is None else 401


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
    """Ask for a password-reset email (the page says the same whether the email exists, or was throttled)."""
    sent = False
    error = None
    if request.method == "POST":
        form = await request.form
        try:
            await core().execute_async(
                RequestPasswordReset(
                    email=form.get("email", ""),
                    link_base=f"{settings().public_url}/reset/",
                    address=request.remote_addr or "",
                )
            )
            sent = True
        except Fault:
            raise  # ours, not the caller's: answered and logged by the error handler
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
            await core().execute_async(
                ResetPassword(token=token, password=form.get("password", ""), address=request.remote_addr or "")
            )
        except Fault:
            raise  # ours, not the caller's: answered and logged by the error handler
        except CoachOSError as exc:
            error = exc
        else:
            return redirect(url_for("account.login", reset=1))
    return await render_template("reset.html", error=error), 400 if error else 200


@bp.route("/")
async def home() -> Any:
    """Signed-in coaches go to today; others to log in."""
    return redirect(url_for("today.today") if principal() else url_for("account.login"))


__all__ = ["bp", "login_required"]
