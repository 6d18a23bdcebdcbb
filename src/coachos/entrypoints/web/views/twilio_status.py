"""Twilio's delivery reports (status callbacks) for the SMS the worker sent.

Twilio posts a form to the status callback URL the sender gave it (`<public URL>/webhooks/twilio/status
?m=<our message id>`), signed with the account's auth token in `X-Twilio-Signature` over that exact
URL and the form. A report whose signature does not check out is refused with 403 and changes
nothing; a valid one for a message no business has (an unknown MessageSid) is answered 204, so
Twilio stops retrying it, and changes nothing either.
"""

from __future__ import annotations

from quart import Blueprint, Response, request
from werkzeug.exceptions import BadRequest, Forbidden

from coachos.adapters.twilio_sms import twilio_signature_valid
from coachos.bootstrap import STATUS_CALLBACK_PATH
from coachos.domain.usecases import RecordDeliveryStatus
from coachos.entrypoints.web.context import core, settings
from coachos.entrypoints.web.security import csrf_exempt

bp = Blueprint("twilio_status", __name__)


def signed_url() -> str:
    """The URL Twilio signed: the public URL (what Twilio was given, even behind a TLS proxy) plus path and query."""
    query = request.query_string.decode("latin-1")
    return f"{settings().public_url}{request.path}" + (f"?{query}" if query else "")


@bp.post(STATUS_CALLBACK_PATH)
@csrf_exempt
async def twilio_status() -> Response:
    """Record a delivery report from Twilio (signed; exempt from CSRF by this route's own rule)."""
    form = await request.form
    params = {name: form.get(name, "") for name in form}
    token = settings().twilio_auth_token
    if token is None or not twilio_signature_valid(
        token, signed_url(), params, request.headers.get("X-Twilio-Signature")
    ):
        raise Forbidden("The request is not signed by Twilio for this URL.")
    sid, status = params.get("MessageSid", "").strip(), params.get("MessageStatus", "").strip()
    if not sid or not status or len(sid) > 100:
        raise BadRequest("A delivery report needs MessageSid and MessageStatus.")
    await core().execute_async(
        RecordDeliveryStatus(
            provider_id=sid,
            status=status[:32],
            error_code=params.get("ErrorCode", "").strip()[:16] or None,
            message_id=request.args.get("m") or None,
        )
    )
    return Response(status=204)
