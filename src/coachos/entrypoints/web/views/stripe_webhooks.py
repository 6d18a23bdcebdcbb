"""The one route Stripe delivers webhook events to, for the platform's events and connected accounts' alike.

Stripe signs each request (`Stripe-Signature`, an HMAC of the timestamp and the raw body under the
endpoint's secret). The route checks it on the raw body before reading anything: a missing or
wrong signature, a body changed by one byte, or a timestamp older than the tolerance is a 400 and
nothing is stored. With no secret configured it answers 503, so Stripe keeps the event and retries
once the secret is set. Having no cookie and no CSRF token, the route is exempt from the CSRF check
by its own mark (`csrf_exempt`): the signature is its proof of origin.

An event is kept once whatever number of times Stripe delivers it (see
domain/usecases/stripe_events.py). Logs name the event's id, type and account only, never its contents.
"""

from __future__ import annotations

from typing import Any

import structlog
from quart import Blueprint, request
from werkzeug.exceptions import BadRequest, ServiceUnavailable

from coachos.adapters.stripe_webhooks import SIGNATURE_HEADER, verified_body
from coachos.domain.usecases import ReceiveStripeEvent, StripeEventReceived
from coachos.entrypoints.web.context import core, settings
from coachos.entrypoints.web.security import csrf_exempt

log = structlog.get_logger("coachos.web.stripe")

bp = Blueprint("stripe_webhooks", __name__)

#: Where Stripe posts events (the URL of both the platform's and the Connect webhook endpoint).
ROUTE = "/webhooks/stripe"
REFUSED = (
    "This request is not signed by Stripe with this endpoint's secret, or its signature is too old; nothing was stored."
)
NOT_SET_UP = (
    "Stripe webhooks are not set up here yet: set COACHOS_STRIPE_WEBHOOK_SECRET (and "
    "COACHOS_STRIPE_CONNECT_WEBHOOK_SECRET for a separate Connect endpoint) to the endpoint's "
    "signing secret (whsec_…). Nothing was stored; Stripe will retry."
)


@bp.post(ROUTE)
@csrf_exempt
async def stripe_webhook() -> Any:
    """Take in an event Stripe sends (configure this URL as the webhook endpoint, for Connect events too)."""
    s = settings()
    secrets = [secret for secret in (s.stripe_webhook_secret, s.stripe_connect_webhook_secret) if secret]
    if not secrets:
        log.warning("stripe_webhook_refused", reason="no_secret")
        raise ServiceUnavailable(NOT_SET_UP)
    raw = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    body = verified_body(raw, request.headers.get(SIGNATURE_HEADER), secrets, s.stripe_webhook_tolerance)
    if body is None:
        log.warning("stripe_webhook_refused", reason="bad_signature")
        raise BadRequest(REFUSED)
    received: StripeEventReceived = await core().execute_async(ReceiveStripeEvent(body=body))
    log.info(
        "stripe_webhook",
        outcome="stored" if received.new else "duplicate",
        event_id=received.event_id,
        event_type=received.type,
        account=received.account,
        handled=received.handled,
    )
    return {"received": True, "duplicate": not received.new}, 200
