"""Currencies are the active ISO 4217 codes, from a table generated from a maintained list."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from coachos.domain import _iso4217
from coachos.domain.errors import ValidationError
from coachos.domain.ids import OrgId
from coachos.domain.money import MINOR_DIGITS, Money, check_currency
from coachos.domain.orgs import Organization
from coachos.tools import gen_currencies


class TestGeneratedTable:
    def test_generated_module_matches_the_pinned_iso4217_package(self) -> None:
        """domain/_iso4217.py is exactly what `python -m coachos.tools.gen_currencies` writes from the package."""
        written = Path(_iso4217.__file__).read_text(encoding="utf-8")
        assert written == gen_currencies.render(), "run `python -m coachos.tools.gen_currencies` and commit the result"

    def test_money_uses_the_generated_table(self) -> None:
        """Money's minor digits are the generated ISO table, with the list's exponents (JPY 0, KWD 3, USD 2)."""
        assert MINOR_DIGITS is _iso4217.MINOR_DIGITS
        assert (MINOR_DIGITS["JPY"], MINOR_DIGITS["KWD"], MINOR_DIGITS["USD"]) == (0, 3, 2)
        assert len(MINOR_DIGITS) > 150


class TestCheckCurrency:
    @pytest.mark.parametrize(("code", "digits"), [("USD", 2), ("GBP", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3)])
    def test_accepts_codes_in_use(self, code: str, digits: int) -> None:
        """Codes in use are accepted, lower case too, with their minor digits."""
        assert check_currency(code.lower()) == code
        assert MINOR_DIGITS[code] == digits

    @pytest.mark.parametrize(
        "code",
        [
            "ZZZ",  # three letters, but no currency
            "XXX",  # ISO's "no currency"
            "XTS",  # ISO's code for testing
            "XAU",  # gold: no minor unit, not money a client pays in
            "USN",  # a fund code (US dollar next day)
            "DEM",  # withdrawn in 2002
        ],
    )
    def test_refuses_codes_that_are_no_currency_in_use(self, code: str) -> None:
        """Well-formed codes that are no currency in use are refused, naming the field 'currency'."""
        with pytest.raises(ValidationError, match=rf"'{code}' is not a currency code in use") as caught:
            check_currency(code)
        assert caught.value.field == "currency"

    def test_money_refuses_zzz(self) -> None:
        """Money in 'ZZZ' is refused, whether built or parsed."""
        with pytest.raises(ValidationError) as built:
            Money(100, "ZZZ")
        with pytest.raises(ValidationError) as parsed:
            Money.parse("1.00", "zzz")
        assert built.value.field == parsed.value.field == "currency"

    def test_an_organisation_in_zzz_is_refused(self) -> None:
        """A business cannot be set up in 'ZZZ'."""
        with pytest.raises(ValidationError) as caught:
            Organization(
                id=OrgId(uuid.uuid4()),
                name="Peak Coaching",
                slug="peak",
                timezone="America/New_York",
                currency="ZZZ",
                created_at=datetime(2026, 3, 2, tzinfo=UTC),
            )
        assert caught.value.field == "currency"

    @pytest.mark.parametrize(("money", "text"), [(Money(1500, "JPY"), "1500 JPY"), (Money(2125, "KWD"), "2.125 KWD")])
    def test_str_uses_the_list_digits(self, money: Money, text: str) -> None:
        """Amounts show the decimals the ISO list gives their currency."""
        assert str(money) == text
