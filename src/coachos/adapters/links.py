"""Signed links into the web app, for messages: the same tokens the public manage pages accept.

The manage link is an itsdangerous token over (org id, booking id), signed with the app's secret
and timestamped by the app's clock; `coachos.entrypoints.web.views.public` reads it with
`manage_serializer` from here, so the worker and the web app can never disagree on its shape.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from coachos.domain.ids import BookingId, ClientId, OrgId, WaiverId
from coachos.ports.clock import Clock
from coachos.settings import Settings

#: What manage tokens are salted with (a token made for anything else never passes as one).
MANAGE_SALT = "manage-booking"
#: What form-filling tokens are salted with (a manage or sign-in token never passes as one).
FORM_SALT = "fill-form"
#: What waiver-signing tokens are salted with.
WAIVER_SALT = "sign-waiver"
#: How long a waiver-signing link works.
WAIVER_LINK_AGE = timedelta(days=7)
#: Where the embedded default keeps the secret it made, when none is configured.
SECRET_FILE = Path(".coachos-secret")


def secret_from_settings(settings: Settings) -> str:
    """The configured secret, or one made once and kept in `.coachos-secret` (embedded use)."""
    if settings.secret_key:
        return settings.secret_key
    if not SECRET_FILE.exists():
        SECRET_FILE.write_text(secrets.token_urlsafe(48))
        SECRET_FILE.chmod(0o600)
    return SECRET_FILE.read_text().strip()


def manage_serializer(secret: str, clock: Clock, *, salt: str = MANAGE_SALT) -> URLSafeTimedSerializer:
    """The serializer of manage tokens (or of `salt`'s), timestamping with `clock` so link expiry follows app time."""

    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock.now().timestamp())

    return URLSafeTimedSerializer(secret, salt=salt, signer=ClockSigner)


def waiver_serializer(secret: str, clock: Clock) -> URLSafeTimedSerializer:
    """The serializer of waiver-signing tokens: [org id, client id, waiver id], salted apart from manage tokens."""
    return manage_serializer(secret, clock, salt=WAIVER_SALT)


def waiver_token(secret: str, clock: Clock, org_id: OrgId, client_id: ClientId, waiver_id: WaiverId) -> str:
    """A signed, timestamped token naming the organisation, client and waiver."""
    return str(waiver_serializer(secret, clock).dumps([str(org_id), str(client_id), str(waiver_id)]))


def form_serializer(secret: str, clock: Clock) -> URLSafeTimedSerializer:
    """The serializer of form-filling tokens over (org id, client id, form id), timestamped by `clock`."""

    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock.now().timestamp())

    return URLSafeTimedSerializer(secret, salt=FORM_SALT, signer=ClockSigner)


class SignedLinks:
    """Links under the public URL; the secret is read on first use, so building this touches no file."""

    def __init__(self, public_url: str, secret: Callable[[], str], clock: Clock) -> None:
        self._base = public_url.rstrip("/")
        self._secret = secret
        self._clock = clock
        self._resolved: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> SignedLinks:
        """Links under `COACHOS_PUBLIC_URL`, signed with the app's secret."""
        return cls(settings.public_url, lambda: secret_from_settings(settings), clock)

    def manage_booking(self, org_id: OrgId, booking_id: BookingId) -> str:
        """The client's signed manage link."""
        if self._resolved is None:
            self._resolved = self._secret()
        token = manage_serializer(self._resolved, self._clock).dumps([str(org_id), str(booking_id)])
        return f"{self._base}/manage/{token}"

    def sign_waiver(self, org_id: OrgId, client_id: ClientId, waiver_id: WaiverId, *, slug: str) -> str:
        """The client's signed link to sign the waiver, under the organisation's client pages."""
        if self._resolved is None:
            self._resolved = self._secret()
        token = waiver_token(self._resolved, self._clock, org_id, client_id, waiver_id)
        return f"{self._base}/c/{slug}/waivers/{token}"

    def client_page(self, client_id: ClientId) -> str:
        """The client's page in the dashboard."""
        return f"{self._base}/clients/{client_id}"

    def portal_sign_in(self, slug: str) -> str:
        """Where a client signs in to the business's portal (by a one-time link or code sent to them)."""
        return f"{self._base}/c/{slug}/sign-in"

    def fill_form(self, org_id: OrgId, client_id: ClientId, form_id: UUID, *, slug: str) -> str:
        """The client's signed link to fill in a form, under the business's own address."""
        if self._resolved is None:
            self._resolved = self._secret()
        token = form_serializer(self._resolved, self._clock).dumps([str(org_id), str(client_id), str(form_id)])
        return f"{self._base}/c/{slug}/forms/{token}"
