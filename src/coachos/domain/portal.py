"""Clients' own side: signing in by a one-time link or code, client sessions, the portal's to-do list.

A client has no password. They ask for a sign-in at their business's portal and get one message
(email, or a text if they agreed to texts) holding both a link and a six-digit code. Both are
stored only as SHA-256 digests, live 15 minutes, work once, and asking again replaces them. The
link is a long random token (at least 128 bits), so a fast digest is enough; the code is short, so
it also locks after `MAX_CODE_FAILURES` wrong tries.

A client session belongs to one business: the portal of any other business does not know it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import attrs

from coachos.domain.contact import check_email, normalise_phone
from coachos.domain.errors import ValidationError
from coachos.domain.ids import ClientId, OrgId

SIGN_IN_LIFETIME = timedelta(minutes=15)
CLIENT_SESSION_LIFETIME = timedelta(days=30)
MAX_CODE_FAILURES = 5
CODE_DIGITS = 6

#: Fixed-window counters (scope names as stored, at most 16 characters): sign-ins asked per contact and per address.
SIGN_IN_BY_CONTACT = "portal-contact"
SIGN_IN_BY_ADDRESS = "portal-address"
#: Sign-in messages per contact, and per network address, in SIGN_IN_WINDOW (more are silently not sent).
SIGN_INS_PER_CONTACT = 3
SIGN_INS_PER_ADDRESS = 20
SIGN_IN_WINDOW = timedelta(minutes=15)
#: Wrong codes per network address in SIGN_IN_WINDOW past which every further code is refused.
CODE_TRIES_PER_ADDRESS = 30
CODE_BY_ADDRESS = "portal-code-addr"

#: Why a client's account may be anonymised but some rows are kept: shown on the portal and to the coach.
KEPT_ON_DELETION = (
    "Your bookings and payments stay as records without your name or contact details, because the "
    "business must keep its accounts (tax and bookkeeping law). Signed waivers and health-screening "
    "and other form answers are kept as records where the law requires (they cannot be changed). "
    "Everything else — your contact details, notes and consents — is erased."
)


def digest(secret: str) -> str:
    """The SHA-256 hex digest under which a link token or a code is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def code_digest(client_id: ClientId, code: str) -> str:
    """A code's digest, salted with its client so the same code for two clients is stored differently."""
    return digest(f"{client_id}:{code}")


def code_from(token: str) -> str:
    """Six decimal digits drawn from a random token (its 256 bits make the modulo's bias negligible)."""
    number = int.from_bytes(hashlib.sha256(token.encode()).digest(), "big") % 10**CODE_DIGITS
    return f"{number:0{CODE_DIGITS}d}"


def check_code(value: str) -> str:
    """A code as typed (spaces ignored), if it has the right shape."""
    code = "".join(str(value or "").split())
    if len(code) != CODE_DIGITS or not code.isdigit():
        raise ValidationError(f"Enter the {CODE_DIGITS}-digit code from your message.", field="code")
    return code


@attrs.frozen
class Contact:
    """An email or a phone number as a client typed it to sign in, normalised."""

    email: str | None
    phone: str | None

    def key(self, org_id: OrgId) -> str:
        """What the throttling counters store: a digest per business, so mistyped contacts are not kept."""
        return digest(f"{org_id}:{self.email or self.phone or ''}")


def parse_contact(value: str) -> Contact:
    """An email (if it has an @) or a phone number, normalised; ValidationError if it is neither."""
    text = str(value or "").strip()
    if not text or len(text) > 254:
        raise ValidationError("Enter the email or phone number your coach has for you.", field="contact")
    if "@" in text:
        return Contact(email=check_email(text), phone=None)
    try:
        return Contact(email=None, phone=normalise_phone(text))
    except ValidationError:
        raise ValidationError(
            "That is neither an email nor a phone number; enter the one your coach has for you.", field="contact"
        ) from None


@attrs.frozen(kw_only=True)
class SignInChallenge:
    """The live sign-in link and code of one client (at most one: a new one replaces it)."""

    org_id: OrgId
    client_id: ClientId
    link_digest: str = attrs.field(repr=False)
    code_digest: str = attrs.field(repr=False)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    failures: int = 0


@attrs.frozen(kw_only=True)
class ContactChange:
    """A signed-in client's new email or phone, waiting for the code sent to it (at most one per client)."""

    org_id: OrgId
    client_id: ClientId
    email: str | None = attrs.field(repr=False)
    phone: str | None = attrs.field(repr=False)
    code_digest: str = attrs.field(repr=False)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    failures: int = 0


def change_code_digest(client_id: ClientId, code: str) -> str:
    """A contact-change code's digest (apart from sign-in codes: one can never stand for the other)."""
    return digest(f"change:{client_id}:{code}")


#: Contact-change codes asked for per client in SIGN_IN_WINDOW.
CHANGES_PER_CLIENT = 3
CHANGE_BY_CLIENT = "portal-change"


@attrs.frozen(kw_only=True)
class ClientSession:
    """A signed-in client's browser in one business's portal; the cookie holds the secret, storage its digest."""

    token_digest: str = attrs.field(repr=False)
    org_id: OrgId
    client_id: ClientId
    created_at: datetime
    expires_at: datetime

    def is_live(self, now: datetime) -> bool:
        """Whether the session may still be used at `now`."""
        return now < self.expires_at


@attrs.frozen
class PortalTask:
    """Something the client still has to do, listed under "To do" on the portal's home (a waiver, a form)."""

    title: str
    url: str
    done: bool = False
    #: The heading the task is listed under, e.g. "New clients: 1/3 steps done" (tasks of one group are adjacent).
    group: str = ""


#: Templates whose bodies an export leaves out: they hold sign-in secrets that may still work.
SECRET_TEMPLATES = frozenset({"portal_sign_in", "portal_contact_change"})


def plain(value: object) -> object:
    """`value` as JSON-ready data: attrs records as dicts, times in ISO 8601 UTC, ids and enums as text."""
    if attrs.has(type(value)):
        fields: tuple[attrs.Attribute[object], ...] = attrs.fields(type(value))  # type: ignore[arg-type]  # checked by has()
        return {f.name: plain(getattr(value, f.name)) for f in fields if f.repr is not False}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(str(v) for v in value)
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    return str(getattr(value, "value", value))


def flat_rows(export: dict[str, object]) -> list[tuple[str, int, str, str]]:
    """An export as (section, record number, field, value) rows: one CSV for every section."""
    rows: list[tuple[str, int, str, str]] = []

    def walk(section: str, index: int, prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(section, index, f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and value and any(isinstance(v, dict | list) for v in value):
            for n, inner in enumerate(value):
                walk(section, index, f"{prefix}[{n}]", inner)
        else:
            text = "; ".join(map(str, value)) if isinstance(value, list) else "" if value is None else str(value)
            rows.append((section, index, prefix, text))

    for section, content in export.items():
        records = content if isinstance(content, list) else [content]
        for index, record in enumerate(records):
            walk(section, index, "", record)
    return rows
