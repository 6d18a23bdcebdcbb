"""The signed PDF: its recorded hash is the hash of the exact text the client was shown."""

from __future__ import annotations

import base64
import contextlib
import re
import zlib

from coachos import CoachOS
from coachos.adapters.waiver_pdf import signed_waiver_pdf
from coachos.domain.usecases import CreateWaiver, SignedCopy
from coachos.domain.waivers import text_hash
from tests.helpers import World
from tests.unit.test_waivers import SCRIBBLE, new_waiver, sign

_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.S)
_STRING = re.compile(rb"\(((?:[^()\\]|\\.)*)\)")


def pdf_text(pdf: bytes) -> str:
    """The text drawn in the PDF's content streams (enough of a PDF text extractor for our own documents)."""
    parts = []
    for raw in _STREAM.findall(pdf):
        data = raw.strip()
        if data.endswith(b"~>"):
            data = base64.a85decode(data[:-2])
        with contextlib.suppress(zlib.error):
            data = zlib.decompress(data)
        parts += [m.replace(rb"\(", b"(").replace(rb"\)", b")").decode("latin-1") for m in _STRING.findall(data)]
    return "\n".join(parts)


def metadata(pdf: bytes, key: str) -> str:
    found = re.search(rb"/" + key.encode() + rb" \(([^)]*)\)", pdf)
    assert found, key
    return found.group(1).decode()


class TestSignedPdf:
    def test_the_recorded_hash_is_the_hash_of_the_text_shown(self, app: CoachOS, world: World) -> None:
        """The audit page and metadata carry the signature's hash, which re-hashing the version's shown text gives."""
        waiver, version = new_waiver(app, world)
        s = sign(app, world, waiver, version, drawing=SCRIBBLE)
        org, client, w, v, sig = app.execute(SignedCopy(org_id=world.org.id, signature_id=s.id))
        pdf = signed_waiver_pdf(org, client, w, v, sig)
        assert pdf.startswith(b"%PDF-")
        recorded = metadata(pdf, "Subject").removeprefix("sha256:")
        assert recorded == s.text_sha256 == text_hash(v.html)
        text = pdf_text(pdf)
        assert s.text_sha256 in text
        assert "Audit trail" in text
        assert "Training has" in text
        assert "203.0.113.x" in text
        assert "203.0.113.7" not in text

    def test_the_audit_page_names_the_method_and_guardian(self, app: CoachOS, world: World) -> None:
        """A typed-only signature says so; the user agent is printed."""
        waiver, version = new_waiver(app, world)
        s = sign(app, world, waiver, version)
        pdf = signed_waiver_pdf(*app.execute(SignedCopy(org_id=world.org.id, signature_id=s.id)))
        text = pdf_text(pdf)
        assert "electronic signature: typed name," in text
        assert "Mozilla/5.0 (iPhone)" in text

    def test_any_text_and_markup_characters_make_a_pdf(self, app: CoachOS, world: World) -> None:
        """Greek, Japanese, emoji and markup characters in the text and the name still make a PDF with the hash."""
        waiver, version = app.execute(
            CreateWaiver(
                org_id=world.org.id,
                title="Ελληνικά 日本 💪 <b>&",
                body="# Ελληνικά 日本 💪\n\n**bold *it* & <x>** ' \" ü\n\n1. a\n- b",
                actor=world.me,
            )
        )
        s = sign(app, world, waiver, version, typed_name="Zoë 日本 <b>")
        pdf = signed_waiver_pdf(*app.execute(SignedCopy(org_id=world.org.id, signature_id=s.id)))
        assert s.text_sha256 in pdf_text(pdf)
