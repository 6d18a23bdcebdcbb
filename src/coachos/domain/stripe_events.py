"""Stripe's webhook events as Coach OS keeps them, and what it knows of each business's connected account.

An event is kept exactly once, by the id Stripe gave it (`evt_…`), whichever of Stripe's
deliveries arrives first; the rest change nothing. Platform events and Connect events share one
route and one table: a Connect event names the connected account it happened in (`account`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from coachos.domain.errors import ValidationError
from coachos.domain.ids import OrgId

#: Stripe's ids: a prefix, an underscore and letters and digits (`evt_1Nx…`, `acct_1Nx…`).
_STRIPE_ID = re.compile(r"^[a-z]+_[A-Za-z0-9]{1,250}$", re.ASCII)
#: Event types: dotted lower-case words (`account.updated`, `checkout.session.completed`).
_EVENT_TYPE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+){1,5}$", re.ASCII)
#: The largest event Coach OS keeps (Stripe's are a few kilobytes; the web server caps the body anyway).
MAX_EVENT_BYTES = 512 * 1024


@attrs.frozen(kw_only=True)
class StripeEvent:
    """One event Stripe sent: its id, type, the connected account it concerns (None: the platform's own)."""

    id: str
    type: str
    account: str | None
    #: When Stripe made the event (its `created`, whole seconds), which orders events about one object.
    created: datetime
    livemode: bool
    #: The whole event as Stripe sent it (kept for replays and audits; never logged).
    payload: Mapping[str, Any]
    received_at: datetime

    @property
    def object(self) -> Mapping[str, Any]:
        """The object the event is about (`data.object`), or an empty mapping."""
        data = self.payload.get("data")
        found = data.get("object") if isinstance(data, Mapping) else None
        return found if isinstance(found, Mapping) else {}


@attrs.frozen(kw_only=True)
class StripeAccount:
    """A business's connected Stripe account and whether it can take charges, as Stripe last told us."""

    org_id: OrgId
    account_id: str
    charges_enabled: bool
    details_submitted: bool
    #: The `created` of the newest `account.updated` applied; None until the first one arrives.
    status_at: datetime | None
    updated_at: datetime


def stripe_id(value: object, field: str) -> str:
    """`value` if it is shaped like a Stripe id, else a ValidationError naming `field`."""
    if not isinstance(value, str) or not _STRIPE_ID.fullmatch(value):
        raise ValidationError(f"'{field}' must be a Stripe id such as evt_1A2b3C.", field=field)
    return value


def parse_event(body: str, received_at: datetime) -> StripeEvent:
    """The event in a webhook's JSON body; a ValidationError naming the first field that is not Stripe's shape."""
    if len(body.encode("utf-8")) > MAX_EVENT_BYTES:
        raise ValidationError(f"The event is larger than {MAX_EVENT_BYTES // 1024} KB; Stripe's never are.")
    try:
        payload = json.loads(body)
    except ValueError:
        raise ValidationError("The body is not JSON; Stripe sends each event as a JSON object.") from None
    if not isinstance(payload, dict) or payload.get("object") != "event":
        raise ValidationError("The body is not a Stripe event (its 'object' must be \"event\").", field="object")
    kind = payload.get("type")
    if not isinstance(kind, str) or not _EVENT_TYPE.fullmatch(kind):
        raise ValidationError("'type' must be a Stripe event type such as account.updated.", field="type")
    account = payload.get("account")
    created = payload.get("created")
    # bool is an int in Python; a true/false `created` is not a time.
    if not isinstance(created, int) or isinstance(created, bool) or not 0 < created < 2**40:
        raise ValidationError("'created' must be a Unix time in seconds.", field="created")
    livemode = payload.get("livemode")
    if not isinstance(livemode, bool):
        raise ValidationError("'livemode' must be true or false.", field="livemode")
    return StripeEvent(
        id=stripe_id(payload.get("id"), "id"),
        type=kind,
        account=None if account is None else stripe_id(account, "account"),
        created=datetime.fromtimestamp(created, UTC),
        livemode=livemode,
        payload=payload,
        received_at=received_at,
    )


def account_status(event: StripeEvent, org_id: OrgId) -> StripeAccount:
    """What an `account.updated` event says about the business's account (missing flags read as false)."""
    obj = event.object
    account_id = obj.get("id", event.account)
    return StripeAccount(
        org_id=org_id,
        account_id=stripe_id(account_id, "data.object.id"),
        charges_enabled=obj.get("charges_enabled") is True,
        details_submitted=obj.get("details_submitted") is True,
        status_at=event.created,
        updated_at=event.received_at,
    )
