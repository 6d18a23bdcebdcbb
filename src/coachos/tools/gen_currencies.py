"""Write src/coachos/domain/_iso4217.py from the `iso4217` package: the currencies money may be in.

    python -m coachos.tools.gen_currencies

The domain may import nothing but the standard library and attrs, so the ISO 4217 list is copied
into a small generated module instead of being imported at run time. `iso4217` (a dev dependency,
pinned in pyproject.toml) ships the official list one as published by the ISO 4217 maintenance
agency; tests/unit/test_currencies.py fails when the generated module and the pinned package
disagree, so taking a new list means: raise the pin, run this, commit both.

Kept: every code with a minor unit. Left out: fund codes (CLF, USN, …, not what a client pays
in) and the codes with no minor unit: precious metals, SDR and bond units, XTS (testing) and XXX
(no currency).
"""

from __future__ import annotations

import sys
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "domain" / "_iso4217.py"

HEADER = '''"""ISO 4217 currencies and the digits of their minor units (GENERATED: do not edit).

Made by `python -m coachos.tools.gen_currencies` from the iso4217 package, ISO 4217 list one
published {published}. Fund codes and codes without a minor unit (XXX, XTS, metals) are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

#: When the ISO 4217 list this module was made from was published.
PUBLISHED: Final = "{published}"

#: Every active currency code, with how many decimals its minor unit has (USD 2, JPY 0, KWD 3).
MINOR_DIGITS: Final[Mapping[str, int]] = MappingProxyType(
    {{
'''

FOOTER = """    }
)
"""


def currencies() -> tuple[str, dict[str, int]]:
    """The list's publication date and its active, non-fund codes with their minor digits."""
    import iso4217  # a dev dependency, needed only when regenerating

    digits: dict[str, int] = {}
    for entry in iso4217.raw_xml.findall("CcyTbl/CcyNtry"):
        code, minor, name = entry.find("Ccy"), entry.find("CcyMnrUnts"), entry.find("CcyNm")
        if code is None or minor is None or code.text is None or minor.text is None:
            continue  # a territory with no currency of its own (e.g. Antarctica)
        if name is not None and name.get("IsFund") == "true":
            continue
        if minor.text.strip().isdigit():
            digits[code.text.strip()] = int(minor.text.strip())
    return str(iso4217.__published__), dict(sorted(digits.items()))


def render() -> str:
    """The text of the generated module for the installed iso4217 package."""
    published, digits = currencies()
    lines = "".join(f'        "{code}": {n},\n' for code, n in digits.items())
    return HEADER.format(published=published) + lines + FOOTER


def main() -> None:
    """Write the module, saying what changed."""
    text = render()
    old = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    if old == text:
        print(f"{TARGET} is up to date.")
        return
    TARGET.write_text(text, encoding="utf-8")
    print(f"Wrote {TARGET}.", file=sys.stderr)


if __name__ == "__main__":
    main()
