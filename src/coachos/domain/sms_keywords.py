"""The words people text to stop, restart or ask about a business's texts, and what we answer.

Carriers and Twilio expect every business number to honour these: a text that is nothing but one
of them (in any case, with spaces and punctuation around it) opts the sender out, back in, or
asks for help. A text that merely contains one ("Can we stop at 5?") is conversation.
"""

from __future__ import annotations

import enum
import re
import unicodedata


class Keyword(enum.StrEnum):
    """What a keyword text asks for."""

    #: Send me nothing more (withdraws SMS and SMS marketing consent).
    STOP = "stop"
    #: Text me again (records SMS consent).
    START = "start"
    #: Who is this, and how do I stop it?
    HELP = "help"


#: Each keyword as it is matched: upper case, inner spaces (or hyphens) as one space.
KEYWORDS: dict[str, Keyword] = {
    **dict.fromkeys(
        ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT"), Keyword.STOP
    ),
    **dict.fromkeys(("START", "UNSTOP", "YES"), Keyword.START),
    **dict.fromkeys(("HELP", "INFO"), Keyword.HELP),
}

#: Longest text worth looking at: anything longer is conversation whatever it says.
_LONGEST = 64
_SEPARATORS = re.compile(r"[\s\-_]+")

#: The templates of the replies to keywords. They answer what the person just sent, so they go
#: at once (no quiet hours) and even to someone who has just opted out (the confirmation is the
#: one text an opted-out number still gets).
OPT_OUT_CONFIRMATION = "opt_out_confirmation"
OPT_IN_CONFIRMATION = "opt_in_confirmation"
HELP_REPLY = "sms_help"
REPLY_TEMPLATES = frozenset({OPT_OUT_CONFIRMATION, OPT_IN_CONFIRMATION, HELP_REPLY})


def _is_word_character(c: str) -> bool:
    return unicodedata.category(c)[0] in "LN"


def parse_keyword(body: str) -> Keyword | None:
    """The keyword `body` consists of, or None when it is anything else.

    Case does not matter (full-width and other compatibility forms count as their plain letters);
    anything that is not a letter or digit around the word is ignored (" stop. ", "Stop!",
    "*STOP*"); inside it, runs of spaces, hyphens or underscores count as one space ("opt-out").
    """
    if len(body) > _LONGEST:
        return None
    word = unicodedata.normalize("NFKC", body).upper()
    start, end = 0, len(word)
    while start < end and not _is_word_character(word[start]):
        start += 1
    while end > start and not _is_word_character(word[end - 1]):
        end -= 1
    return KEYWORDS.get(_SEPARATORS.sub(" ", word[start:end]))


def reply_template(keyword: Keyword) -> str:
    """The template of the reply to `keyword`."""
    return {Keyword.STOP: OPT_OUT_CONFIRMATION, Keyword.START: OPT_IN_CONFIRMATION, Keyword.HELP: HELP_REPLY}[keyword]


def reply_text(keyword: Keyword, business: str) -> str:
    """The reply to `keyword` from `business`: plain GSM-7 text (straight apostrophes), one SMS part when it can be."""
    if keyword is Keyword.STOP:
        return f"{business}: you're unsubscribed and will get no more texts from us. Reply START to get them again."
    if keyword is Keyword.START:
        return f"{business}: you're subscribed to texts about your sessions again. Reply STOP to unsubscribe."
    return f"{business}: texts about your sessions. Reply STOP to unsubscribe, START to resubscribe."
