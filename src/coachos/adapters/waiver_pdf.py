"""The signed copy of a waiver as a PDF, made with reportlab: the text as signed, the signatures, an audit page.

Everything is drawn from the stored records with reportlab's built-in fonts: no file, font or URL is
ever fetched, so making a PDF needs no network and cannot be made to reach one. The hash of the text
shown is printed on the audit page and also kept in the document's metadata (subject and
keywords), so anyone can check it against the version's text.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Path
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from coachos.domain.clients import Client
from coachos.domain.orgs import Organization
from coachos.domain.timezones import label
from coachos.domain.waivers import (
    PAD_HEIGHT,
    PAD_WIDTH,
    Waiver,
    WaiverSignature,
    WaiverVersion,
    drawing_commands,
    masked_ip,
)

_LINE = re.compile(r"^<(h[2-4]|p|li)>(.*)</\1>$")
_STYLES = getSampleStyleSheet()
_BODY = _STYLES["BodyText"]
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=8, leading=10)
_MONO = ParagraphStyle("mono", parent=_BODY, fontName="Courier", fontSize=8, leading=10)
_HEADINGS = {"h2": _STYLES["Heading2"], "h3": _STYLES["Heading3"], "h4": _STYLES["Heading4"]}


def _markup(inline: str) -> str:
    """Our stored inline HTML in reportlab's paragraph markup (already escaped by the renderer)."""
    return (
        inline.replace("<strong>", "<b>")
        .replace("</strong>", "</b>")
        .replace("<em>", "<i>")
        .replace("</em>", "</i>")
        .replace("<br>", "<br/>")
        .replace("&#x27;", "&#39;")
    )


def text_flowables(shown: str) -> list[Flowable]:
    """The version's shown HTML (one element per line, see `render_markdown`) as paragraphs."""
    out: list[Flowable] = []
    for line in shown.splitlines():
        found = _LINE.match(line)
        if found is None:
            continue  # <ul>, </ul>, <ol>, </ol>: the items carry their own bullets
        tag, inner = found.groups()
        if tag == "li":
            out.append(Paragraph(_markup(inner), _BODY, bulletText="•"))
        else:
            out.append(Paragraph(_markup(inner), _HEADINGS.get(tag, _BODY)))
    return out


def _drawing(svg: str | None, width: float = 80 * mm) -> Flowable | None:
    """A drawn signature (our own sanitised SVG) redrawn as vector lines, or None."""
    if svg is None:
        return None
    scale = width / PAD_WIDTH
    d = Drawing(width, PAD_HEIGHT * scale)
    path = Path(strokeColor=colors.black, strokeWidth=1.2, fillColor=None)
    for name, args in drawing_commands(svg):
        # SVG's y grows downwards, the PDF's upwards.
        pts = [(args[i] * scale, (PAD_HEIGHT - args[i + 1]) * scale) for i in range(0, len(args), 2)]
        if name == "M":
            path.moveTo(*pts[0])
        elif name == "L":
            path.lineTo(*pts[0])
        elif name == "C":
            path.curveTo(*pts[0], *pts[1], *pts[2])
        elif name == "Q":
            path.curveTo(*pts[0], *pts[0], *pts[1])
    d.add(path)
    return d


def _when(at: datetime, org: Organization) -> str:
    return f"{at.strftime('%Y-%m-%d %H:%M:%S')} UTC ({label(at, org.tz)})"


def _audit_rows(
    org: Organization, client: Client, waiver: Waiver, version: WaiverVersion, s: WaiverSignature
) -> list[list[Flowable]]:
    rows: list[tuple[str, str, ParagraphStyle]] = [
        ("Business", org.name, _SMALL),
        ("Document", f"{waiver.title}, version {version.number}", _SMALL),
        ("Version published", _when(version.published_at, org), _SMALL),
        ("Client record", f"{client.name} (id {client.id})", _SMALL),
        ("Signed by (typed name)", s.typed_name, _SMALL),
        ("Signed at", _when(s.signed_at, org), _SMALL),
        ("Method", f"electronic signature: {s.method}, through a signed link sent by the business", _SMALL),
        ("Consent to sign electronically", f"ticked, with the words: “{s.consent_wording}”", _SMALL),
        ("SHA-256 of the text shown", s.text_sha256, _MONO),
        ("IP address (partly masked)", masked_ip(s.ip), _SMALL),
        ("User agent", s.user_agent or "not recorded", _SMALL),
        ("Signature id", str(s.id), _MONO),
    ]
    if s.date_of_birth is not None:
        rows.append(("Date of birth (as entered)", s.date_of_birth.isoformat(), _SMALL))
    if s.guardian is not None:
        rows.append(("Guardian", f"{s.guardian.name} ({s.guardian.relationship})", _SMALL))
    return [[Paragraph(escape(k), _SMALL), Paragraph(escape(v), style)] for k, v, style in rows]


def signed_waiver_pdf(
    org: Organization, client: Client, waiver: Waiver, version: WaiverVersion, signature: WaiverSignature
) -> bytes:
    """The signed copy: the version's text as shown, the signature block, then the audit page."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"{waiver.title} (version {version.number}), signed",
        author=org.name,
        subject=f"sha256:{signature.text_sha256}",
        keywords=[f"sha256:{signature.text_sha256}", f"signature:{signature.id}"],
        creator="Coach OS",
        invariant=1,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
    )
    story: list[Flowable] = [
        Paragraph(escape(org.name), _STYLES["Title"]),
        Paragraph(f"{escape(waiver.title)} <font size=9>(version {version.number})</font>", _STYLES["Heading1"]),
        *text_flowables(version.html),
        Spacer(1, 8 * mm),
        Paragraph("Signature", _STYLES["Heading2"]),
        Paragraph(
            f"Signed by <b>{escape(signature.typed_name)}</b> on {escape(_when(signature.signed_at, org))}.", _BODY
        ),
    ]
    drawn = _drawing(signature.drawing)
    if drawn is not None:
        story.append(drawn)
    if signature.guardian is not None:
        g = signature.guardian
        story.append(
            Paragraph(f"Guardian: <b>{escape(g.name)}</b> ({escape(g.relationship)}), signing for a minor.", _BODY)
        )
        guardian_drawn = _drawing(g.drawing)
        if guardian_drawn is not None:
            story.append(guardian_drawn)
    table = Table(_audit_rows(org, client, waiver, version, signature), colWidths=[45 * mm, 125 * mm])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
            ]
        )
    )
    story += [PageBreak(), Paragraph("Audit trail", _STYLES["Heading1"]), table]
    doc.build(story)
    return buffer.getvalue()
