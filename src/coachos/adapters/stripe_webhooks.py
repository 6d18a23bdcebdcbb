"""Checking that a webhook request came from Stripe, with Stripe's own library.

Stripe signs `<timestamp>.<raw body>` with HMAC-SHA256 under the endpoint's secret and sends
`Stripe-Signature: t=<timestamp>,v1=<signature>`. The check must run on the body exactly as it
arrived: one byte more, less or changed fails it, and so does a timestamp older than the tolerance
(a captured request replayed later). Nothing vendor-shaped leaves this module: callers get the
body as text, or None.
"""

from __future__ import annotations

from collections.abc import Sequence

import stripe

#: The header Stripe signs every webhook request with.
SIGNATURE_HEADER = "Stripe-Signature"


def verified_body(raw: bytes, header: str | None, secrets: Sequence[str], tolerance: int) -> str | None:
    """The body as text if any of `secrets` signed it within `tolerance` seconds, else None.

    More than one secret: the platform's endpoint and the Connect endpoint each have their own,
    and both may deliver to the same URL. A signed body that is not JSON is still returned, so the
    caller can say what is wrong with it rather than that it is unsigned.
    """
    if not header:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    for secret in secrets:
        try:
            stripe.Webhook.construct_event(text, header, secret, tolerance)
        except stripe.SignatureVerificationError:
            continue
        except ValueError:
            # Raised after the signature matched: the body is signed but is not JSON.
            return text
        return text
    return None
