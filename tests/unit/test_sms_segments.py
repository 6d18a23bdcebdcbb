"""Counting the parts an SMS body is billed as (GSM-7 and UCS-2)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from coachos.domain.messaging import GSM7_BASIC, GSM7_EXTENSION, SmsSegments, count_segments

basic = st.text(alphabet=sorted(GSM7_BASIC))
gsm = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION))
#: Characters outside GSM-7 in the Basic Multilingual Plane (one UTF-16 unit each).
bmp_non_gsm = st.characters(min_codepoint=0x100, max_codepoint=0xD7FF).filter(
    lambda c: c not in GSM7_BASIC and c not in GSM7_EXTENSION
)
bmp = st.text(alphabet=st.one_of(st.sampled_from(sorted(GSM7_BASIC)), bmp_non_gsm))


class TestCountSegments:
    """count_segments(body)."""

    def test_160_gsm_characters_fit_one_part(self) -> None:
        """160 GSM-7 characters are one part; the 161st makes two parts of 153."""
        assert count_segments("a" * 160) == SmsSegments("GSM-7", 160, 1)
        assert count_segments("a" * 161) == SmsSegments("GSM-7", 161, 2)
        assert count_segments("a" * 306) == SmsSegments("GSM-7", 306, 2)
        assert count_segments("a" * 307) == SmsSegments("GSM-7", 307, 3)

    def test_an_empty_body_is_one_part(self) -> None:
        """An empty body is still billed as one part."""
        assert count_segments("") == SmsSegments("GSM-7", 0, 1)

    def test_extension_characters_count_double(self) -> None:
        """€, [, ], {, } and friends take two septets, so 80 of them fill a single part."""
        assert count_segments("€" * 80) == SmsSegments("GSM-7", 160, 1)
        assert count_segments("a" * 159 + "€") == SmsSegments("GSM-7", 161, 2)
        assert count_segments("[]{}") == SmsSegments("GSM-7", 8, 1)

    def test_an_escaped_character_is_not_split_between_parts(self) -> None:
        """A two-septet character that would straddle a part boundary moves whole to the next part."""
        # 152 septets then € (2): the first part can hold only 153, so € opens part two.
        assert count_segments("a" * 152 + "€" + "a" * 152).parts == 3
        assert count_segments("a" * 151 + "€" + "a" * 153).parts == 2

    def test_one_curly_apostrophe_makes_the_whole_body_ucs2(self) -> None:
        """A single character outside GSM-7 (a curly apostrophe) switches to UCS-2: 70 per part, 67 when split."""
        assert count_segments("I\u2019m" + "a" * 67) == SmsSegments("UCS-2", 70, 1)
        assert count_segments("I\u2019m" + "a" * 68) == SmsSegments("UCS-2", 71, 2)

    def test_an_emoji_counts_as_two_units(self) -> None:
        """An emoji outside the BMP is a surrogate pair: 35 of them fill one UCS-2 part."""
        assert count_segments("\U0001f4aa" * 35) == SmsSegments("UCS-2", 70, 1)
        assert count_segments("\U0001f4aa" * 36) == SmsSegments("UCS-2", 72, 2)

    def test_a_surrogate_pair_is_not_split_between_parts(self) -> None:
        """An emoji that would straddle a part boundary moves whole to the next part."""
        assert count_segments("a" * 66 + "\U0001f4aa" + "a" * 66).parts == 3
        assert count_segments("a" * 65 + "\U0001f4aa" + "a" * 67).parts == 2

    @given(basic)
    def test_basic_gsm_text_is_length_over_153(self, body: str) -> None:
        """Plain GSM-7 text takes one part up to 160 characters, else ceil(length / 153)."""
        expected = 1 if len(body) <= 160 else math.ceil(len(body) / 153)
        assert count_segments(body) == SmsSegments("GSM-7", len(body), expected)

    @given(bmp)
    def test_bmp_text_with_a_non_gsm_character_is_length_over_67(self, text: str) -> None:
        """Text with any non-GSM character in the BMP takes one part up to 70 characters, else ceil(length / 67)."""
        body = text + "\u2019"
        expected = 1 if len(body) <= 70 else math.ceil(len(body) / 67)
        assert count_segments(body) == SmsSegments("UCS-2", len(body), expected)

    @given(gsm)
    def test_gsm_units_count_extensions_twice(self, body: str) -> None:
        """GSM-7 units are the length plus one for each extension character."""
        result = count_segments(body)
        assert result.encoding == "GSM-7"
        assert result.units == len(body) + sum(c in GSM7_EXTENSION for c in body)

    @given(st.text())
    def test_parts_are_enough_and_never_wasteful(self, body: str) -> None:
        """Any body takes at least one part, enough parts to hold its units, and at most one more than that."""
        result = count_segments(body)
        single, part = (160, 153) if result.encoding == "GSM-7" else (70, 67)
        assert result.encoding == "UCS-2" or all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in body)
        if result.units <= single:
            assert result.parts == 1
        else:
            least = math.ceil(result.units / part)
            assert least <= result.parts <= least + max(1, result.parts // 2)

    @given(gsm, st.sampled_from(["\u2019", "\U0001f600", "\u00e7", "\u4e2d"]))
    def test_adding_a_non_gsm_character_never_lowers_the_parts(self, body: str, extra: str) -> None:
        """Adding one non-GSM character to GSM-7 text gives UCS-2 and never fewer parts."""
        before, after = count_segments(body), count_segments(body + extra)
        assert after.encoding == "UCS-2"
        assert after.parts >= before.parts
