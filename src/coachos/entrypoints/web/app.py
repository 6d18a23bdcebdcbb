"""The Quart application: `create_app(settings)` builds it; nothing connects until it starts serving."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import structlog
from hypercorn.middleware import ProxyFixMiddleware
from quart import Quart, Response, current_app, g, request
from quart_schema import Info, QuartSchema

from coachos import __name__ as package_name
from coachos._app import CoachOS, act_for
from coachos.bootstrap import READY_TIMEOUT, bootstrap
from coachos.domain.usecases import Authenticate
from coachos.entrypoints.web import formatting
from coachos.entrypoints.web.context import core, settings
from coachos.entrypoints.web.errors import RETRY_AFTER_SECONDS, register_error_handlers
from coachos.entrypoints.web.input_guard import refuse_unusable_input
from coachos.entrypoints.web.security import (
    ANON_COOKIE,
    CSRF_FIELD,
    SESSION_COOKIE,
    check_csrf,
    csrf_token,
    secret_key,
)
from coachos.entrypoints.web.views import BLUEPRINTS
from coachos.entrypoints.web.views.portal import onboarding_tasks, register_portal_tasks
from coachos.settings import Settings

log = structlog.get_logger("coachos.web")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: Where a form may be redirected when it sends the visitor to Stripe (Checkout, Connect onboarding).
#: Browsers apply `form-action` to the redirects a form's answer makes, so without these a 303 to Stripe
#: after "Buy by card", "Book and pay" or "Connect Stripe" is refused and the visitor stays put.
STRIPE_FORM_TARGETS = ("https://checkout.stripe.com", "https://connect.stripe.com")
DEFAULT_STRIPE_API = "https://api.stripe.com"


def content_security_policy(app_settings: Settings) -> str:
    """The CSP for these settings: forms may go to Stripe's pages when card payments are configured.

    A Stripe API base other than Stripe's own (a local stub in tests and development) serves those pages
    itself, so its origin is allowed too.
    """
    if not app_settings.stripe_secret_key:
        return CSP
    targets = list(STRIPE_FORM_TARGETS)
    if app_settings.stripe_api_url != DEFAULT_STRIPE_API:
        parts = urlsplit(app_settings.stripe_api_url)
        targets.append(f"{parts.scheme}://{parts.netloc}")
    return CSP.replace("form-action 'self'", "form-action 'self' " + " ".join(targets))


def asgi_app(app_settings: Settings) -> Any:
    """The app as served: wrapped to trust X-Forwarded-* from `proxy_hops` proxies, if configured."""
    app = create_app(app_settings)
    if app_settings.proxy_hops:
        return ProxyFixMiddleware(app, mode="legacy", trusted_hops=app_settings.proxy_hops)
    return app


def create_app(app_settings: Settings | None = None, *, coachos: CoachOS | None = None) -> Quart:
    """The web app: coach dashboard, public booking pages, JSON API and iCal feeds.

    Pass `coachos` to serve an existing instance (tests, embedding); otherwise one is built from
    the settings when serving starts and closed when it stops.
    """
    app_settings = app_settings or Settings.from_env()
    app = Quart(package_name, template_folder="entrypoints/web/templates", static_folder="entrypoints/web/static")
    app.config.update(
        COACHOS_SETTINGS=app_settings,
        COACHOS_SECRET=secret_key(app_settings),
        COACHOS_CSP=content_security_policy(app_settings),
        MAX_CONTENT_LENGTH=1024 * 1024,
        QUART_SCHEMA_CONVERT_CASING=False,
    )
    QuartSchema(
        app,
        info=Info(title="Coach OS API", version="1"),
        openapi_path="/openapi.json",
        swagger_ui_path="/api/docs",
        redoc_ui_path=None,
        scalar_ui_path=None,
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        security=[{"bearer": []}],
    )
    app.jinja_env.globals.update(csrf_token=csrf_token, csrf_field=CSRF_FIELD)
    app.jinja_env.filters.update(
        local_time=formatting.local_time, clock_time=formatting.clock_time, money=formatting.money
    )
    register_error_handlers(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    # The portal's "To do": onboarding steps and changed waivers (registering twice is once).
    register_portal_tasks(onboarding_tasks)

    @app.before_serving
    async def start() -> None:
        if coachos is not None:
            app.extensions["coachos"] = coachos
        else:
            app.extensions["coachos"] = bootstrap(app_settings)

    @app.after_serving
    async def stop() -> None:
        if coachos is None:
            app.extensions["coachos"].close()

    app.add_url_rule("/healthz", "healthz", _healthz)
    app.add_url_rule("/readyz", "readyz", _readyz)
    app.before_request(_identify)
    app.after_request(_finish)
    return app


#: Endpoints that must answer without signing anybody in (probes carry no cookies anyway).
_PROBES = frozenset({"healthz", "readyz"})


async def _healthz() -> Any:
    """Liveness: the process and its event loop answer (no database, no worker thread)."""
    return {"status": "ok", "request_id": g.request_id}


async def _readyz() -> Any:
    """Readiness: the database answers a trivial query within 2 seconds on a connection of its own."""
    await core().check_ready(READY_TIMEOUT)
    return {"status": "ready", "request_id": g.request_id}


async def _identify() -> None:
    """Request id, anonymous id, who is signed in, and the CSRF check — before every view."""
    g.started = time.perf_counter()
    # A caller's own request id is kept only if it looks like one: it goes into every log line.
    offered = request.headers.get("X-Request-ID", "")
    g.request_id = offered if _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=g.request_id)
    await refuse_unusable_input()
    act_for(None)
    if request.endpoint in _PROBES:
        g.principal = None  # probes never sign in: no worker thread, no database
        return
    g.anon_id = request.cookies.get(ANON_COOKIE) or ""
    if not g.anon_id:
        g.anon_id, g.new_anon = uuid.uuid4().hex, True
    g.principal = None
    bearer = request.headers.get("Authorization", "")
    if bearer.lower().startswith("bearer "):
        g.principal = await core().execute_async(Authenticate(token=bearer[7:].strip(), kind="api"))
        g.principal_via = "token"
    elif cookie := request.cookies.get(SESSION_COOKIE):
        g.principal = await core().execute_async(Authenticate(token=cookie))
    if g.principal is not None:
        structlog.contextvars.bind_contextvars(org_id=str(g.principal.org_id), coach_id=str(g.principal.coach_id))
        act_for(g.principal.org_id)
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        g.form_csrf = (await request.form).get(CSRF_FIELD, "")
    # A request no route takes (404, 405) reaches no view, so there is nothing to forge: it gets
    # the routing answer (with its Allow header) rather than a CSRF refusal.
    if request.routing_exception is None:
        check_csrf()


async def _finish(response: Response) -> Response:
    """Security headers, the anonymous cookie, and one log line per request (ids only, no query)."""
    cfg = settings()
    if g.get("new_anon"):
        response.set_cookie(
            ANON_COOKIE, g.anon_id, httponly=True, secure=cfg.cookie_secure, samesite="Lax", max_age=60 * 60 * 24 * 365
        )
    headers: dict[str, Any] = {
        "X-Request-ID": g.get("request_id", ""),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }
    if not request.path.startswith("/api/docs"):
        headers["Content-Security-Policy"] = current_app.config["COACHOS_CSP"]
    if response.status_code == 503:
        # Views that show a busy error inside their own page (status_of) get the hint too.
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    for name, value in headers.items():
        response.headers.setdefault(name, value)
    log.info(
        "request",
        method=request.method,
        # The route pattern, not the path: paths carry reset tokens, feed secrets and ids.
        route=request.url_rule.rule if request.url_rule else "unmatched",
        status=response.status_code,
        ms=round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1),
    )
    return response
