"""The one route that takes in texts: Twilio's incoming-message webhook for every business's numbers.

Twilio signs each request (`X-Twilio-Signature`, an HMAC of the URL it called and the form it sent,
keyed by the account's auth token). The route checks that signature against the address Twilio
was given, which is `COACHOS_PUBLIC_URL` plus this path (behind a TLS proxy the app itself sees
another scheme, host or port), before reading anything; a missing, wrong or stale signature is a
403 and nothing is stored. Having no cookie and no CSRF token, the route is exempt from the CSRF
check by its own mark (`csrf_exempt`): the signature is its proof of origin.

It answers with empty TwiML: replies to keywords are queued as messages and sent by the worker,
so they are stored, counted and retried like every other text.
"""

from __future__ import annotations

from typing import Any

import structlog
from quart import Blueprint, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import Forbidden

from coachos.adapters.twilio_sms import twilio_signature_valid
from coachos.domain.errors import ValidationError
from coachos.domain.usecases import ReceiveSms, SmsReceived
from coachos.entrypoints.web.context import core, settings
from coachos.entrypoints.web.security import csrf_exempt

log = structlog.get_logger("coachos.web.inbound")

bp = Blueprint("inbound", __name__)

#: What Twilio is told to do after a text: nothing (replies go through the worker).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?>\n<Response/>'
SIGNATURE_HEADER = "X-Twilio-Signature"
#: Where Twilio posts incoming texts (each number's "A message comes in" webhook).
ROUTE = "/webhooks/twilio/sms"
#: The form fields of Twilio's webhook the route uses.
FIELDS = ("MessageSid", "From", "To", "Body")
REFUSED = "This request is not signed by Twilio for this address; nothing was stored."


def signed_url() -> str:
    """The address Twilio called, as it was configured there: the public URL, this path and the query."""
    query = request.query_string.decode("utf-8")
    return settings().public_url + request.path + (f"?{query}" if query else "")


def _each_once(form: MultiDict[str, str]) -> None:
    """Refuse a repeated field: the signature would cover every value, the use case would read only one."""
    for name in form:
        if len(form.getlist(name)) > 1:
            raise ValidationError(f"The field '{name}' was sent more than once; Twilio sends each once.", field=name)


def _fields(form: MultiDict[str, str]) -> dict[str, str]:
    missing = [name for name in FIELDS if name not in form]
    if missing:
        raise ValidationError(f"Missing Twilio field(s): {', '.join(missing)}.", field=missing[0])
    return {name: form[name] for name in FIELDS}


@bp.post(ROUTE)
@csrf_exempt
async def twilio_sms() -> Any:
    """Take in a text sent to one of the businesses' numbers (configure it as the number's "A message comes in" URL)."""
    token = settings().twilio_auth_token
    form = await request.form
    _each_once(form)
    if not token:
        log.warning("inbound_sms_refused", reason="no_auth_token")
        raise Forbidden(REFUSED + " Set COACHOS_TWILIO_AUTH_TOKEN to take in texts.")
    if not twilio_signature_valid(token, signed_url(), form, request.headers.get(SIGNATURE_HEADER)):
        log.warning("inbound_sms_refused", reason="bad_signature")
        raise Forbidden(REFUSED)
    fields = _fields(form)
    received: SmsReceived | None = await core().execute_async(
        ReceiveSms(message_sid=fields["MessageSid"], to=fields["To"], sender=fields["From"], body=fields["Body"])
    )
    if received is None:
        # The number is no business's (any more): say nothing about it, store nothing.
        log.info("inbound_sms", outcome="unknown_number")
    else:
        m = received.message
        log.info(
            "inbound_sms",
            outcome="duplicate" if received.duplicate else "stored",
            org_id=str(m.org_id),
            message_id=str(m.id),
            client_id=str(m.client_id),
            new_lead=received.new_lead,
            keyword=None if received.keyword is None else received.keyword.value,
            reply_id=None if received.reply is None else str(received.reply.id),
        )
    return EMPTY_TWIML, 200, {"Content-Type": "text/xml; charset=utf-8"}
