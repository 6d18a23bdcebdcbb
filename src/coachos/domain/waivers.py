"""Waivers: a business's texts clients sign, published as immutable versions, and the signatures on them.

A version is what a client reads and signs; once published it never changes (the database refuses
updates and deletes), and editing publishes version n+1. A version marked *material* changes what
clients agreed to, so a client whose latest signature is older than the latest material version has
to sign again; other versions (typos, wording) keep earlier signatures current. Version 1 is always
material: there is nothing before it to have signed.

The text a client is shown is the version's `html`, rendered once at publishing from the coach's
Markdown by `render_markdown` (a small safe subset; everything else is escaped) and stored, so the
bytes shown, hashed into the signature and printed in the PDF are the same forever, whatever later
versions of the renderer do.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from uuid import UUID

import attrs

from coachos.domain.checks import check_text, text
from coachos.domain.contact import check_name
from coachos.domain.errors import PolicyViolation, ValidationError
from coachos.domain.ids import ClientId, CoachId, OrgId, WaiverId, WaiverVersionId

#: The longest waiver text a coach may publish (a long waiver is a few thousand words).
MAX_BODY = 50_000
#: The most characters of drawn-signature path data accepted (a scribble of a few hundred points).
MAX_DRAWING = 20_000
#: Under this age (in whole years on the signing day) a client signs with a guardian.
AGE_OF_MAJORITY = 18
#: The words beside the e-signing box; stored verbatim with every signature.
ESIGN_CONSENT = (
    "I agree to sign this document electronically. My typed name (and drawing, if I drew one) is my signature "
    "and has the same effect as a handwritten one."
)
#: The size of the drawing pad, in the units the drawn path uses.
PAD_WIDTH, PAD_HEIGHT = 600, 200


def _check_title(value: str) -> str:
    return check_name(value, field="title")


def _check_body(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError("The waiver text must be text.", field="body")
    body = value.replace("\r\n", "\n").strip()
    if not body:
        raise ValidationError("Write the waiver's text before publishing it.", field="body")
    if len(body) > MAX_BODY:
        raise ValidationError(f"A waiver's text is limited to {MAX_BODY:,} characters.", field="body")
    return body


def text_hash(shown: str) -> str:
    """The SHA-256 (hex) of exactly the text shown, as UTF-8 bytes."""
    return hashlib.sha256(shown.encode("utf-8")).hexdigest()


@attrs.frozen(kw_only=True)
class Waiver:
    """A document clients sign; its words live in its versions."""

    id: WaiverId
    org_id: OrgId
    title: str = attrs.field(converter=_check_title)
    created_at: datetime


@attrs.frozen(kw_only=True)
class WaiverVersion:
    """One published, immutable text of a waiver."""

    id: WaiverVersionId
    org_id: OrgId
    waiver_id: WaiverId
    number: int
    #: The coach's Markdown, as written.
    body: str = attrs.field(validator=text(MAX_BODY, multiline=True))
    #: What clients are shown: `render_markdown(body)` at publishing, kept as it was.
    html: str
    material: bool
    published_at: datetime
    published_by: CoachId | None = None

    @property
    def sha256(self) -> str:
        """The hash of the text shown for this version."""
        return text_hash(self.html)


def _guardian_name(value: str) -> str:
    return check_name(value, field="guardian_name")


def _typed_name(value: str) -> str:
    return check_name(value, field="typed_name")


def _relationship(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            "Say how the guardian is related to the client (e.g. parent).", field="guardian_relationship"
        )
    v = value.strip()
    if len(v) > 100 or any(ord(c) < 32 for c in v):
        raise ValidationError(
            "The relationship is limited to 100 characters on one line.", field="guardian_relationship"
        )
    return v


@attrs.frozen(kw_only=True)
class Guardian:
    """The adult who signs for a minor: their name, how they are related, and their signature."""

    name: str = attrs.field(converter=_guardian_name)
    relationship: str = attrs.field(converter=_relationship)
    #: Their drawn signature (sanitised SVG), if they drew one; their typed name signs otherwise.
    drawing: str | None = None


@attrs.frozen(kw_only=True)
class WaiverSignature:
    """A client's signature on one version: what they saw (its hash), how they signed, when and from where.

    IP address and user agent are personal data kept as evidence: they are shown to the business
    and printed (the IP partly masked) in the PDF, never logged.
    """

    id: UUID
    org_id: OrgId
    client_id: ClientId
    waiver_id: WaiverId
    version_id: WaiverVersionId
    version_number: int
    text_sha256: str
    typed_name: str = attrs.field(converter=_typed_name)
    drawing: str | None
    consent_wording: str
    signed_at: datetime
    ip: str | None = None
    user_agent: str | None = None
    date_of_birth: date | None = None
    guardian: Guardian | None = None

    @property
    def method(self) -> str:
        """How it was signed, in words for the audit page."""
        drawn = self.drawing is not None or (self.guardian is not None and self.guardian.drawing is not None)
        return "typed name and drawn signature" if drawn else "typed name"


def latest(versions: Iterable[WaiverVersion]) -> WaiverVersion | None:
    """The newest version, or None before the first is published."""
    return max(versions, key=lambda v: v.number, default=None)


def required_number(versions: Iterable[WaiverVersion]) -> int | None:
    """The number of the newest material version (version 1 counts as material); None with no versions."""
    numbers = [v.number for v in versions if v.material or v.number == 1]
    return max(numbers, default=None)


def is_signed_current(versions: Sequence[WaiverVersion], signed_numbers: Iterable[int]) -> bool:
    """Whether a client who signed the versions numbered `signed_numbers` has signed what is required now.

    A waiver with no published version has nothing to sign, and nobody has signed it.
    """
    needed = required_number(versions)
    return needed is not None and any(n >= needed for n in signed_numbers)


def age_on(born: date, day: date) -> int:
    """Whole years from `born` to `day`."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def is_minor(born: date, day: date) -> bool:
    """Whether someone born on `born` is under the age of majority on `day`."""
    return age_on(born, day) < AGE_OF_MAJORITY


def masked_ip(ip: str | None) -> str:
    """An IP address with its last part hidden (IPv4: last octet; IPv6: all but the first three groups)."""
    if not ip:
        return "not recorded"
    if "." in ip and ":" not in ip:
        head = ip.rsplit(".", 1)[0]
        return f"{head}.x"
    groups = ip.split(":")
    return ":".join(groups[:3]) + ":x:x:x:x:x"


# --- Markdown: a small safe subset -------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,3})\s+(.*)$")
_BULLET = re.compile(r"^[-*]\s+(.*)$")
_NUMBERED = re.compile(r"^\d{1,3}[.)]\s+(.*)$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![*\w])[*_](?![\s*_])(.+?)(?<![\s*_])[*_](?![*\w])")


def _inline(line: str) -> str:
    escaped = html.escape(line, quote=True)
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    return _ITALIC.sub(r"<em>\1</em>", escaped)


def render_markdown(body: str) -> str:
    """`body` as HTML: `#`-`###` headings, paragraphs, `-`/`*` and numbered lists, **bold** and *italic*.

    Everything else (HTML tags, links, images) is escaped and shows as typed, so the result is
    safe to show as it is. Output is deterministic: one element per line.
    """
    out: list[str] = []
    para: list[str] = []
    list_tag: str | None = None

    def close_para() -> None:
        if para:
            out.append("<p>" + "<br>".join(_inline(p) for p in para) + "</p>")
            para.clear()

    def close_list() -> None:
        nonlocal list_tag
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    for raw in _check_body(body).split("\n"):
        line = raw.strip()
        if not line:
            close_para()
            close_list()
            continue
        if heading := _HEADING.match(line):
            close_para()
            close_list()
            level = len(heading.group(1)) + 1
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            continue
        item = _BULLET.match(line)
        tag = "ul" if item else None
        if not item and (item := _NUMBERED.match(line)):
            tag = "ol"
        if item and tag:
            close_para()
            if list_tag != tag:
                close_list()
                out.append(f"<{tag}>")
                list_tag = tag
            out.append(f"<li>{_inline(item.group(1))}</li>")
            continue
        close_list()
        para.append(line)
    close_para()
    close_list()
    return "\n".join(out)


def check_body(body: object) -> str:
    """The waiver text trimmed, with LF line breaks; a ValidationError if empty, too long or unstorable."""
    checked = _check_body(body)
    return check_text(checked, field="body", max_len=MAX_BODY, multiline=True)


# --- drawn signatures -----------------------------------------------------------------------------

_NUMBER = r"-?\d{1,5}(?:\.\d{1,3})?"
_ARGS = {"M": 2, "L": 2, "Q": 4, "C": 6}
_TOKEN = re.compile(rf"([MLCQ])|({_NUMBER})")


def parse_drawing(path: str) -> list[tuple[str, tuple[float, ...]]]:
    """The commands of drawn path data: M/L/Q/C with absolute numbers only; a ValidationError otherwise."""
    if len(path) > MAX_DRAWING:
        raise ValidationError("The drawn signature is too detailed; clear it and sign again.", field="drawing")
    bad = ValidationError("The drawn signature could not be read; clear it and sign again.", field="drawing")
    if re.fullmatch(rf"[\sMLCQ,]*(?:{_NUMBER}[\sMLCQ,]*)*", path) is None:
        raise bad
    commands: list[tuple[str, tuple[float, ...]]] = []
    current: str | None = None
    numbers: list[float] = []
    for match in _TOKEN.finditer(path):
        if match.group(1):
            if current is not None:
                commands.append((current, tuple(numbers)))
            current, numbers = match.group(1), []
        else:
            if current is None:
                raise bad
            numbers.append(float(match.group(2)))
    if current is not None:
        commands.append((current, tuple(numbers)))
    if not commands or commands[0][0] != "M":
        raise bad
    for name, args in commands:
        if len(args) != _ARGS[name] or any(not (-10 <= a <= max(PAD_WIDTH, PAD_HEIGHT) + 10) for a in args):
            raise bad
    return commands


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def drawing_svg(path: str) -> str | None:
    """A standalone SVG of the drawn path, rebuilt from its parsed commands (so nothing else can be in it).

    Empty path data (nothing drawn) is None.
    """
    if not path.strip():
        return None
    commands = parse_drawing(path)
    d = " ".join(name + " " + " ".join(_number(a) for a in args) for name, args in commands)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {PAD_WIDTH} {PAD_HEIGHT}">'
        f'<path d="{d}" fill="none" stroke="#000" stroke-width="2"/></svg>'
    )


_SVG_PATH = re.compile(r'<path d="([^"]*)"')


def drawing_commands(svg: str) -> list[tuple[str, tuple[float, ...]]]:
    """The commands of an SVG made by `drawing_svg` (for drawing it again, e.g. into a PDF)."""
    found = _SVG_PATH.search(svg)
    return parse_drawing(found.group(1)) if found else []


class ResignRequired(PolicyViolation):
    """A waiver the client signed has changed materially since: booking waits for the new signature."""

    code = "waiver_resign_required"


def resign_message(titles: Sequence[str]) -> str:
    """Why booking waits, worded for the client and the coach alike."""
    names = ", ".join(f"“{t}”" for t in titles)
    return (
        f"Booking is on hold: {names} changed since it was signed, and the change needs a new signature. "
        "Your coach can send the signing link; once it is signed, booking works again."
    )


#: Why booking waits, for a visitor on the public form (who may not be the client whose email they typed).
GUEST_RESIGN_MESSAGE = "Booking is on hold until some paperwork is brought up to date. Please contact your coach."
