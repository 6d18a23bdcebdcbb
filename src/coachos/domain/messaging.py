"""Messages as the domain sees them: what a provider said about a sent SMS, and how many parts an SMS costs."""

from __future__ import annotations

from typing import Literal

import attrs


@attrs.frozen
class SentSms:
    """A provider's receipt for an SMS it accepted: its own id for the message and the status it reported."""

    provider_id: str
    #: The provider's word, e.g. "queued", "sent"; later changes arrive on the status callback.
    status: str


# GSM 03.38 basic character set (the escape 0x1B is not text and is left out).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: Characters reached through the escape, so each costs two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

Encoding = Literal["GSM-7", "UCS-2"]
_SINGLE = {"GSM-7": 160, "UCS-2": 70}
# A concatenated part gives up 7 septets (GSM-7) or 3 UTF-16 units (UCS-2) to its header.
_PART = {"GSM-7": 153, "UCS-2": 67}


@attrs.frozen
class SmsSegments:
    """How an SMS body travels: its encoding, its length in that encoding's units, and the parts it is billed as."""

    encoding: Encoding
    #: Septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2 (an emoji counts 2).
    units: int
    parts: int


def _costs(body: str) -> tuple[Encoding, list[int]]:
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in body):
        return "GSM-7", [2 if c in GSM7_EXTENSION else 1 for c in body]
    return "UCS-2", [2 if ord(c) > 0xFFFF else 1 for c in body]


def count_segments(body: str) -> SmsSegments:
    """The encoding, length and number of parts of `body`: one part up to 160 GSM-7 / 70 UCS-2 units,
    else parts of 153 / 67 units each.

    A character is never split between parts (an escaped GSM-7 character or a UTF-16 surrogate
    pair moves whole to the next part), as phones and Twilio split them, so a long body can take
    one part more than its length divided by the part size. An empty body is still one part.
    """
    encoding, costs = _costs(body)
    units = sum(costs)
    if units <= _SINGLE[encoding]:
        return SmsSegments(encoding, units, 1)
    size, parts, used = _PART[encoding], 1, 0
    for cost in costs:
        if used + cost > size:
            parts, used = parts + 1, 0
        used += cost
    return SmsSegments(encoding, units, parts)
