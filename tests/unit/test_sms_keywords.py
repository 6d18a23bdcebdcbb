"""The SMS keyword parser: a text that is only a keyword (any case, any punctuation around it) and nothing else."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coachos.domain.messaging import count_segments
from coachos.domain.sms_keywords import KEYWORDS, Keyword, parse_keyword, reply_text

STOP_WORDS = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT"]
START_WORDS = ["START", "UNSTOP", "YES"]
HELP_WORDS = ["HELP", "INFO"]
EVERY = [(w, Keyword.STOP) for w in STOP_WORDS] + [(w, Keyword.START) for w in START_WORDS]
EVERY += [(w, Keyword.HELP) for w in HELP_WORDS]

#: Punctuation and symbols beyond ASCII: inverted marks, ellipsis, curly quotes, guillemets, CJK stops, emoji.
OTHER_MARKS = "\u00a1\u00bf\u2026\u201c\u201d\u2018\u2019\u00ab\u00bb\u3002\uff01\U0001f64f\U0001f600"
#: What may surround a keyword: spaces (no-break and ideographic too), line breaks, punctuation, symbols.
AROUND = st.text(alphabet=string.whitespace + string.punctuation + OTHER_MARKS + "\u00a0\u3000", max_size=8)


def random_case(draw: st.DrawFn, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.lower() if flip else c.upper() for c, flip in zip(word, flips, strict=True))


@st.composite
def dressed(draw: st.DrawFn) -> tuple[str, Keyword]:
    word, keyword = draw(st.sampled_from(EVERY))
    word = random_case(draw, word)
    if " " in word:
        word = word.replace(" ", draw(st.sampled_from([" ", "  ", "-", "\t", " - ", "_"])))
    return draw(AROUND) + word + draw(AROUND), keyword


class TestParseKeyword:
    def test_the_lists_are_exactly_the_issues(self) -> None:
        """The keyword table holds exactly the words the issue names, each with its meaning."""
        assert dict(EVERY) == KEYWORDS

    @pytest.mark.parametrize(("word", "keyword"), EVERY)
    def test_each_word_alone_is_its_keyword(self, word: str, keyword: Keyword) -> None:
        """Each keyword, as it is written in the list, parses to its meaning."""
        assert parse_keyword(word) is keyword

    @pytest.mark.parametrize(
        ("body", "keyword"),
        [
            (" stop. ", Keyword.STOP),
            ("Stop!", Keyword.STOP),
            ("opt out", Keyword.STOP),
            ("Opt-Out", Keyword.STOP),
            ("OPT   OUT!!", Keyword.STOP),
            ("*STOP*", Keyword.STOP),
            ("stop 🙏", Keyword.STOP),
            ("\uff33\uff34\uff2f\uff30", Keyword.STOP),  # full-width letters
            ("\nunsubscribe\n", Keyword.STOP),
            ("Yes!", Keyword.START),
            ("unstop", Keyword.START),
            ("help?", Keyword.HELP),
            ("Info.", Keyword.HELP),
        ],
    )
    def test_examples(self, body: str, keyword: Keyword) -> None:
        """Case, spaces and punctuation around the word, and full-width letters, do not matter."""
        assert parse_keyword(body) is keyword

    @pytest.mark.parametrize(
        "body",
        [
            "",
            "   ",
            "!!!",
            "Can we stop at 5?",
            "stop it",
            "please stop",
            "cancel my booking tomorrow",
            "yes please",
            "yes, 9am works",
            "S T O P",
            "stopp",
            "st0p",
            "opt in",
            "out",
            "opt",
            "helpful",
            "ending",
            "stop\nstart",
            "Running 5 min late",
        ],
    )
    def test_anything_more_than_the_word_is_conversation(self, body: str) -> None:
        """A text that contains a keyword among other words, or only resembles one, is not a keyword."""
        assert parse_keyword(body) is None

    @given(dressed())
    def test_any_case_and_any_surrounding_punctuation(self, case: tuple[str, Keyword]) -> None:
        """A keyword in any mix of cases, wrapped in any spaces, punctuation and emoji, is still that keyword."""
        body, keyword = case
        assert parse_keyword(body) is keyword

    @given(
        dressed(),
        st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=10),
        st.booleans(),
    )
    def test_another_word_beside_it_makes_it_conversation(
        self, case: tuple[str, Keyword], other: str, before: bool
    ) -> None:
        """Adding another word before or after a keyword makes the text conversation, unless the whole is a keyword."""
        body, _ = case
        joined = f"{other} {body}" if before else f"{body} {other}"
        core = " ".join(joined.upper().replace("-", " ").replace("_", " ").split())
        core = core.strip(string.punctuation + OTHER_MARKS + " ")
        if core in KEYWORDS:
            return  # e.g. "opt" + "out": the whole text is a keyword again
        assert parse_keyword(joined) is None

    @given(st.text(max_size=200))
    def test_never_fails_on_any_text(self, body: str) -> None:
        """Any text at all parses to a keyword or to None; the parser never raises."""
        assert parse_keyword(body) in (None, *Keyword)

    def test_a_long_text_is_never_a_keyword(self) -> None:
        """A text longer than any keyword with its trimmings is conversation, whatever it ends with."""
        assert parse_keyword(" " * 100 + "STOP") is None


class TestReplies:
    @pytest.mark.parametrize("keyword", list(Keyword))
    def test_replies_name_the_business_and_fit_one_plain_part(self, keyword: Keyword) -> None:
        """Each reply names the business, says how to stop, and is one GSM-7 SMS part for a usual name."""
        body = reply_text(keyword, "Peak Coaching")
        assert body.startswith("Peak Coaching: ")
        assert "STOP" in body or keyword is Keyword.STOP
        segments = count_segments(body)
        assert (segments.encoding, segments.parts) == ("GSM-7", 1)
