"""static/inbox.js counts SMS parts with the same GSM-7 character sets as domain/messaging.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

from coachos.domain.messaging import GSM7_BASIC, GSM7_EXTENSION

SCRIPT = Path(__file__).resolve().parents[2] / "src" / "coachos" / "entrypoints" / "web" / "static" / "inbox.js"


def js_set(name: str) -> frozenset[str]:
    """The characters of `const <name> = new Set("…")` in the script, read as the JSON string it is written as."""
    found = re.search(rf"const {name} = new Set\((\"(?:[^\"\\]|\\.)*\")\);", SCRIPT.read_text(encoding="utf-8"))
    assert found, f"{name} not found in {SCRIPT.name}"
    return frozenset(json.loads(found.group(1)))


class TestInboxScript:
    def test_the_script_knows_the_gsm7_basic_set(self) -> None:
        """The browser's live count treats exactly the server's basic characters as one septet each."""
        assert js_set("GSM7_BASIC") == GSM7_BASIC

    def test_the_script_knows_the_gsm7_extension(self) -> None:
        """The browser's live count treats exactly the server's escaped characters as two septets each."""
        assert js_set("GSM7_EXTENSION") == GSM7_EXTENSION
