"""Who is asking, and whether a state-changing request really comes from our own pages (CSRF)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from quart import current_app, g, redirect, request, url_for
from werkzeug.exceptions import Forbidden, Unauthorized

from coachos.domain.accounts import Principal
from coachos.settings import Settings

SESSION_COOKIE = "coachos_session"
ANON_COOKIE = "coachos_anon"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

P = ParamSpec("P")
R = TypeVar("R")


def secret_key(settings: Settings) -> str:
    """The configured secret, or one made once and kept in `.coachos-secret` (embedded use)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(".coachos-secret")
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _binding() -> str:
    """What a CSRF token is bound to: the session secret if signed in, else the anonymous cookie."""
    return request.cookies.get(SESSION_COOKIE) or g.get("anon_id") or ""


def csrf_token() -> str:
    """The CSRF token for this browser, for forms (hidden field) and scripts (header)."""
    key = current_app.config["COACHOS_SECRET"].encode()
    return hmac.new(key, b"csrf|" + _binding().encode(), hashlib.sha256).hexdigest()


#: The mark `csrf_exempt` leaves on a view function.
_CSRF_EXEMPT = "_coachos_csrf_exempt"
F = TypeVar("F", bound=Callable[..., Any])


def csrf_exempt(view: F) -> F:
    """Exempt one view from the CSRF check: only for callers that prove themselves another way.

    A provider's webhook (Twilio signs each request with the account's auth token) carries no
    cookie and no CSRF token; the view must check that proof itself before doing anything. The
    mark sits on the view function, so the exemption is visible at the route and covers nothing else.
    """
    setattr(view, _CSRF_EXEMPT, True)
    return view


def _exempt_view() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, _CSRF_EXEMPT, False))


def check_csrf() -> None:
    """Refuse a state-changing request whose CSRF token is missing or wrong (API tokens, `csrf_exempt` views exempt)."""
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
