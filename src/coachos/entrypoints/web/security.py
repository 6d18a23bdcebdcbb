"""Who is asking, and whether a state-changing request really comes from our own pages (CSRF)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from quart import current_app, g, redirect, request, url_for
from werkzeug.exceptions import Forbidden, Unauthorized

from coachos.adapters.links import secret_from_settings
from coachos.domain.accounts import Principal
from coachos.settings import Settings

SESSION_COOKIE = "coachos_session"
ANON_COOKIE = "coachos_anon"
#: A signed-in client's portal session (one business); kept apart from the coach's session cookie.
CLIENT_COOKIE = "coachos_client"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

P = ParamSpec("P")
R = TypeVar("R")


def secret_key(settings: Settings) -> str:
    """The configured secret, or one made once and kept in `.coachos-secret` (embedded use)."""
    return secret_from_settings(settings)


def _binding() -> str:
    """What a CSRF token is bound to: the coach's or else the client's session secret if signed in, else the
    anonymous cookie."""
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(CLIENT_COOKIE) or g.get("anon_id") or ""


def csrf_token() -> str:
    """The CSRF token for this browser, for forms (hidden field) and scripts (header)."""
    key = current_app.config["COACHOS_SECRET"].encode()
    return hmac.new(key, b"csrf|" + _binding().encode(), hashlib.sha256).hexdigest()


#: The attribute `csrf_exempt` sets on a view function.
_CSRF_EXEMPT = "coachos_csrf_exempt"


def csrf_exempt(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Exempt this one view from the CSRF check: for provider webhooks (Twilio), which post without our
    cookies or token and prove who they are by a signature the view checks itself.

    An explicit mark on the view, so the exemption is visible where the route is written and the global
    check stays as strict as it is for every other route.
    """
    setattr(view, _CSRF_EXEMPT, True)
    return view


def _exempt_view() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, _CSRF_EXEMPT, False))


def check_csrf() -> None:
    """Refuse a state-changing request whose CSRF token is missing or wrong (API tokens and views marked
    `csrf_exempt` are exempt)."""
    if request.method in SAFE_METHODS or g.get("principal_via") == "token" or _exempt_view():
        return
    if principal() is None and request.path.startswith("/api/"):
        # No cookie session and no token: nothing ambient to forge; the API answers 401 itself.
        return
    sent = request.headers.get(CSRF_HEADER) or g.get("form_csrf") or ""
    if not _binding() or not hmac.compare_digest(sent, csrf_token()):
        raise Forbidden("This form has expired or did not come from this site. Reload the page and try again.")


def principal() -> Principal | None:
    """The signed-in coach (or API token) of this request, if any."""
    found: Principal | None = g.get("principal")
    return found


def require_principal() -> Principal:
    """The principal, or 401 for the API."""
    found = principal()
    if found is None:
        raise Unauthorized("Sign in, or send a valid API token as 'Authorization: Bearer …'.")
    return found


def login_required(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[Any]]:
    """Pages for signed-in coaches: others are sent to the login page and brought back after."""

    @wraps(view)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        if principal() is None:
            return redirect(url_for("account.login", next=request.full_path.rstrip("?")))
        return await view(*args, **kwargs)

    return wrapper
