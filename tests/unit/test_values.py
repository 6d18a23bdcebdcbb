"""Value objects and validation helpers: money, contact details, actors, booking policy and time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coachos.domain.contact import (
    check_email,
    check_name,
    normalise_phone,
    optional_email,
    optional_phone,
)
from coachos.domain.errors import CurrencyMismatch, ValidationError
from coachos.domain.ids import SYSTEM, Actor
from coachos.domain.money import MINOR_DIGITS, Money
from coachos.domain.policy import BookingPolicy
from coachos.domain.timezones import exists_locally, label, local_to_utc, require_utc, zone

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
KOLKATA = ZoneInfo("Asia/Kolkata")
COACH_ID = UUID("12345678-1234-5678-1234-567812345678")

amounts = st.integers(min_value=-(10**12), max_value=10**12)
currencies = st.sampled_from(["USD", "EUR", "GBP", "AUD", "JPY"])


class _NoOffset(tzinfo):
    """A tzinfo that declines to give an offset, which makes a datetime effectively naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


class TestMoney:
    """An amount in integer minor units of one currency."""

    def test_keeps_amount_and_currency(self) -> None:
        """An integer amount and a currency code are kept as given."""
        money = Money(4500, "USD")
        assert money.amount_minor == 4500
        assert money.currency == "USD"

    def test_zero_is_nothing_in_the_currency(self) -> None:
        """Money.zero gives an amount of 0 in the named currency."""
        assert Money.zero("eur") == Money(0, "EUR")

    @pytest.mark.parametrize("amount", [45.0, 45.5, 1e3])
    def test_refuses_float_amounts(self, amount: float) -> None:
        """A float amount is refused, naming the field and the type received."""
        with pytest.raises(ValidationError, match=r"whole minor units.*not float") as caught:
            Money(amount, "USD")  # type: ignore[arg-type]
        assert caught.value.field == "amount_minor"

    @pytest.mark.parametrize("amount", [True, False])
    def test_refuses_bool_amounts(self, amount: bool) -> None:
        """A bool is refused even though bool is a subclass of int."""
        with pytest.raises(ValidationError, match="not bool") as caught:
            Money(amount, "USD")
        assert caught.value.field == "amount_minor"

    @pytest.mark.parametrize("amount", ["4500", None])
    def test_refuses_non_numeric_amounts(self, amount: object) -> None:
        """Text or None as an amount is refused with the field named."""
        with pytest.raises(ValidationError, match="whole minor units") as caught:
            Money(amount, "USD")  # type: ignore[arg-type]
        assert caught.value.field == "amount_minor"

    @pytest.mark.parametrize(("given_code", "stored"), [("usd", "USD"), (" gbp ", "GBP"), ("Eur", "EUR")])
    def test_normalises_the_currency(self, given_code: str, stored: str) -> None:
        """The currency is trimmed and upper-cased."""
        assert Money(1, given_code).currency == stored

    @pytest.mark.parametrize("code", ["", "US", "USDD", "U5D", "US D", "€", "ÜSD", "dollars"])
    def test_refuses_a_malformed_currency(self, code: str) -> None:
        """Anything but three letters is refused, quoting the input and giving an example."""
        with pytest.raises(ValidationError, match="is not a currency code; use three letters such as USD") as caught:
            Money(1, code)
        assert caught.value.field == "currency"

    def test_adds_and_subtracts_in_one_currency(self) -> None:
        """Sums and differences of one currency stay in that currency."""
        assert Money(4500, "USD") + Money(550, "USD") == Money(5050, "USD")
        assert Money(4500, "USD") - Money(5000, "USD") == Money(-500, "USD")

    def test_multiplies_by_a_whole_number(self) -> None:
        """Multiplying by an int scales the amount."""
        assert Money(2500, "GBP") * 3 == Money(7500, "GBP")
        assert Money(2500, "GBP") * 0 == Money(0, "GBP")

    @pytest.mark.parametrize("times", [1.5, True])
    def test_refuses_to_multiply_by_anything_but_an_int(self, times: object) -> None:
        """Multiplying by a float or a bool is refused like a float amount."""
        with pytest.raises(ValidationError, match="whole minor units") as caught:
            Money(2500, "GBP") * times  # type: ignore[operator]
        assert caught.value.field == "amount_minor"

    def test_negation_flips_the_sign(self) -> None:
        """Negating an amount flips its sign and makes it negative."""
        assert -Money(300, "USD") == Money(-300, "USD")
        assert (-Money(300, "USD")).is_negative
        assert not Money(0, "USD").is_negative

    @pytest.mark.parametrize(
        "combine",
        [
            lambda a, b: a + b,
            lambda a, b: a - b,
            lambda a, b: a < b,
            lambda a, b: a <= b,
            lambda a, b: a > b,
            lambda a, b: a >= b,
        ],
        ids=["add", "subtract", "lt", "le", "gt", "ge"],
    )
    def test_refuses_to_combine_currencies(self, combine: object) -> None:
        """Adding, subtracting or comparing two currencies raises CurrencyMismatch naming both."""
        with pytest.raises(CurrencyMismatch, match=r"Cannot combine (USD with EUR|EUR with USD); convert first"):
            combine(Money(100, "USD"), Money(100, "EUR"))  # type: ignore[operator]

    def test_currency_mismatch_is_a_validation_error(self) -> None:
        """CurrencyMismatch is caught by handlers of ValidationError."""
        with pytest.raises(ValidationError):
            Money(1, "USD") + Money(1, "GBP")

    def test_orders_amounts_of_one_currency(self) -> None:
        """Amounts of one currency order by size, in all four comparisons."""
        small, large = Money(100, "USD"), Money(200, "USD")
        assert small < large
        assert small <= large
        assert small <= Money(100, "USD")
        assert large > small
        assert large >= small
        assert not large < small
        assert sorted([large, small, Money(-5, "USD")]) == [Money(-5, "USD"), small, large]

    def test_equality_needs_the_same_currency(self) -> None:
        """The same number in two currencies is not equal, and equal values hash alike."""
        assert Money(100, "USD") != Money(100, "EUR")
        assert Money(100, "usd") == Money(100, "USD")
        assert hash(Money(100, "usd")) == hash(Money(100, "USD"))

    def test_is_immutable(self) -> None:
        """Changing an amount after creation is refused."""
        money = Money(100, "USD")
        with pytest.raises(AttributeError):
            money.amount_minor = 5  # type: ignore[misc]

    @pytest.mark.parametrize(
        ("money", "text"),
        [
            (Money(4500, "USD"), "45.00 USD"),
            (Money(5, "EUR"), "0.05 EUR"),
            (Money(0, "GBP"), "0.00 GBP"),
            (Money(-5, "USD"), "-0.05 USD"),
            (Money(-12345, "USD"), "-123.45 USD"),
            (Money(100_000_00, "AUD"), "100000.00 AUD"),
        ],
    )
    def test_str_shows_major_units_and_currency(self, money: Money, text: str) -> None:
        """str() shows the amount with two decimals, a leading minus when negative, then the code."""
        assert str(money) == text

    @given(amounts, amounts, currencies)
    def test_addition_then_subtraction_returns_the_start(self, a: int, b: int, currency: str) -> None:
        """Adding then subtracting the same amount gives back the original."""
        assert Money(a, currency) + Money(b, currency) - Money(b, currency) == Money(a, currency)

    @given(amounts, amounts, currencies)
    def test_addition_commutes(self, a: int, b: int, currency: str) -> None:
        """a + b equals b + a."""
        assert Money(a, currency) + Money(b, currency) == Money(b, currency) + Money(a, currency)

    @given(amounts, amounts, currencies)
    def test_order_agrees_with_the_amounts(self, a: int, b: int, currency: str) -> None:
        """Money compares exactly as its integer amounts do."""
        assert (Money(a, currency) < Money(b, currency)) == (a < b)
        assert (Money(a, currency) <= Money(b, currency)) == (a <= b)

    @given(amounts, currencies)
    def test_str_round_trips_to_the_amount(self, amount: int, currency: str) -> None:
        """str() shows the currency's own number of decimals, and parsing it back gives the same money."""
        number, code = str(Money(amount, currency)).split(" ")
        assert code == currency
        assert int(number.replace(".", "")) == amount
        digits = MINOR_DIGITS.get(currency, 2)
        assert len(number.split(".")[1]) == digits if digits else "." not in number
        assert Money.parse(number, currency) == Money(amount, currency)

    @pytest.mark.parametrize(
        ("text", "currency", "minor"),
        [
            ("45", "USD", 4500),
            ("45.5", "USD", 4550),
            ("1,045.50", "GBP", 104550),
            ("1500", "JPY", 1500),
            ("2.125", "KWD", 2125),
        ],
    )
    def test_parse_is_exact(self, text: str, currency: str, minor: int) -> None:
        """Typed amounts become exact minor units, with the currency's own decimals."""
        assert Money.parse(text, currency) == Money(minor, currency)

    @pytest.mark.parametrize(
        ("text", "currency"), [("45.555", "USD"), ("10.5", "JPY"), ("abc", "USD"), ("1e3", "USD"), ("", "USD")]
    )
    def test_parse_refuses_what_is_not_an_amount(self, text: str, currency: str) -> None:
        """Too many decimals, words or exponents are refused with a message naming the amount."""
        with pytest.raises(ValidationError, match=r"amount|decimals") as caught:
            Money.parse(text, currency)
        assert caught.value.field == "amount"


class TestCheckName:
    """Names as people type them."""

    def test_trims_a_name(self) -> None:
        """Whitespace around a name is removed and the inside kept."""
        assert check_name("  Jordan  Lee \n") == "Jordan  Lee"

    @pytest.mark.parametrize("value", ["", "   ", "\t\n"])
    def test_refuses_a_blank_name(self, value: str) -> None:
        """An empty or whitespace-only name is refused."""
        with pytest.raises(ValidationError, match="A name is required") as caught:
            check_name(value)
        assert caught.value.field == "name"

    def test_accepts_two_hundred_characters(self) -> None:
        """A name of exactly 200 characters is accepted."""
        assert check_name("a" * 200) == "a" * 200

    def test_refuses_more_than_two_hundred_characters(self) -> None:
        """A name of 201 characters is refused, stating the limit."""
        with pytest.raises(ValidationError, match="limited to 200 characters") as caught:
            check_name("a" * 201)
        assert caught.value.field == "name"

    def test_limit_applies_after_trimming(self) -> None:
        """Spaces around a 200-character name do not count toward the limit."""
        assert check_name(" " + "b" * 200 + " ") == "b" * 200

    def test_keeps_non_ascii_letters(self) -> None:
        """Accents and non-Latin scripts are kept as written."""
        assert check_name("Zoë Ångström") == "Zoë Ångström"
        assert check_name("山田 太郎") == "山田 太郎"


class TestNormalisePhone:
    """Phone numbers in E.164 form."""

    @pytest.mark.parametrize(
        ("typed", "stored"),
        [
            ("+14155550100", "+14155550100"),
            ("+1 415 555 0100", "+14155550100"),
            ("+1-415-555-0100", "+14155550100"),
            ("+1 (415) 555-0100", "+14155550100"),
            ("+1.415.555.0100", "+14155550100"),
            ("+44 7700 900123", "+447700900123"),
            ("0044 7700 900123", "+447700900123"),
            ("00447700900123", "+447700900123"),
            ("  +61 2 9999 0000  ", "+61299990000"),
            ("+44\u00a07700\u00a0900123", "+447700900123"),
        ],
    )
    def test_normalises_to_e164(self, typed: str, stored: str) -> None:
        """Spaces, dashes, dots, brackets and a 00 prefix are turned into + and digits."""
        assert normalise_phone(typed) == stored

    @pytest.mark.parametrize(
        "typed",
        [
            "415 555 0100",  # no country code
            "(415) 555-0100",
            "07700 900123",  # national UK form
            "4155550100",
            "+0 415 555 0100",  # country codes never start with 0
            "+123456",  # too short
            "+1234567890123456",  # 16 digits: too long
            "+1 415 555 O1OO",  # letters
            "+1 415 555 0100 ext 2",
            "++14155550100",
            "+",
            "",
            "tel:+14155550100",
            "+44 \u0667\u0667\u0660\u0660 900123",  # Arabic-Indic digits are not E.164
        ],
    )
    def test_refuses_numbers_without_a_usable_country_code(self, typed: str) -> None:
        """Numbers that cannot be put in E.164 form are refused with an example of what works."""
        with pytest.raises(ValidationError, match=r"need the country code, e\.g\. \+1 415 555 0100") as caught:
            normalise_phone(typed)
        assert caught.value.field == "phone"

    def test_accepts_the_shortest_and_longest_lengths(self) -> None:
        """Seven to fifteen digits after the + are accepted."""
        assert normalise_phone("+1234567") == "+1234567"
        assert normalise_phone("+123456789012345") == "+123456789012345"

    @given(st.from_regex(r"\A\+[1-9][0-9]{6,14}\Z"))
    def test_e164_numbers_are_left_as_they_are(self, number: str) -> None:
        """A number already in E.164 form is returned unchanged."""
        assert normalise_phone(number) == number

    @given(st.from_regex(r"\A\+[1-9][0-9]{6,14}\Z"), st.data())
    def test_punctuation_never_changes_the_result(self, number: str, data: st.DataObject) -> None:
        """Spaces, dashes, dots and brackets between the digits do not change the result."""
        punctuated = "".join(ch + data.draw(st.sampled_from(["", " ", "-", ".", "(", ")"])) for ch in number)
        assert normalise_phone(punctuated) == number

    @given(st.from_regex(r"\A\+[1-9][0-9]{6,14}\Z"))
    def test_double_zero_prefix_means_plus(self, number: str) -> None:
        """00 in place of + gives the same number."""
        assert normalise_phone("00" + number[1:]) == number

    def test_optional_phone_turns_blank_into_none(self) -> None:
        """A missing or blank phone becomes None; a real one is normalised."""
        assert optional_phone(None) is None
        assert optional_phone("") is None
        assert optional_phone("   ") is None
        assert optional_phone("+1 415 555 0100") == "+14155550100"

    def test_optional_phone_still_refuses_a_bad_number(self) -> None:
        """A present but unusable phone is refused, not dropped."""
        with pytest.raises(ValidationError, match="country code") as caught:
            optional_phone("555 0100")
        assert caught.value.field == "phone"


class TestCheckEmail:
    """Email addresses, checked modestly."""

    @pytest.mark.parametrize(
        ("typed", "stored"),
        [
            ("jordan@example.com", "jordan@example.com"),
            ("  Jordan.Lee@Example.COM ", "jordan.lee@example.com"),
            ("first+tag@sub.example.co.uk", "first+tag@sub.example.co.uk"),
            ("zoë@exämple.de", "zoë@exämple.de"),
        ],
    )
    def test_trims_and_lower_cases(self, typed: str, stored: str) -> None:
        """An address is trimmed and lower-cased."""
        assert check_email(typed) == stored

    @pytest.mark.parametrize(
        "typed",
        [
            "",
            "jordan",
            "jordan@",
            "@example.com",
            "jordan@example",
            "jordan@example.c",
            "jordan@@example.com",
            "jor dan@example.com",
            "jordan@exa mple.com",
            "jordan@.com",
            "jordan@example.com.",
        ],
    )
    def test_refuses_what_is_not_an_address(self, typed: str) -> None:
        """Malformed addresses are refused, quoting the input and showing the expected shape."""
        with pytest.raises(ValidationError, match=r"is not an email address \(expected something like name@") as caught:
            check_email(typed)
        assert caught.value.field == "email"

    def test_refuses_addresses_longer_than_254_characters(self) -> None:
        """An address of 255 characters is refused; 254 is accepted."""
        domain = "@example.com"
        assert check_email("a" * (254 - len(domain)) + domain)
        with pytest.raises(ValidationError, match="is not an email address") as caught:
            check_email("a" * (255 - len(domain)) + domain)
        assert caught.value.field == "email"

    def test_optional_email_turns_blank_into_none(self) -> None:
        """A missing or blank email becomes None; a real one is checked."""
        assert optional_email(None) is None
        assert optional_email(" ") is None
        assert optional_email("A@B.io") == "a@b.io"
        with pytest.raises(ValidationError, match="is not an email address") as caught:
            optional_email("nope")
        assert caught.value.field == "email"


class TestActor:
    """Who did something, and how storage writes it."""

    def test_coach_and_client_carry_an_id(self) -> None:
        """A coach or client actor is shown as kind:uuid."""
        assert str(Actor("coach", COACH_ID)) == f"coach:{COACH_ID}"
        assert str(Actor("client", COACH_ID)) == f"client:{COACH_ID}"

    def test_system_has_no_id(self) -> None:
        """The system actor is shown as just 'system'."""
        assert str(SYSTEM) == "system"
        assert Actor("system") == SYSTEM

    @pytest.mark.parametrize("kind", ["coach", "client"])
    def test_refuses_a_person_without_an_id(self, kind: str) -> None:
        """A coach or client actor without an id is refused."""
        with pytest.raises(ValidationError, match="coach or client actor needs an id") as caught:
            Actor(kind)  # type: ignore[arg-type]
        assert caught.value.field == "actor"

    def test_refuses_a_system_actor_with_an_id(self) -> None:
        """The system actor given an id is refused."""
        with pytest.raises(ValidationError, match="the system actor has none") as caught:
            Actor("system", COACH_ID)
        assert caught.value.field == "actor"

    @pytest.mark.parametrize("kind", ["admin", "", "Coach"])
    def test_refuses_an_unknown_kind(self, kind: str) -> None:
        """An unknown kind is refused, quoting it."""
        with pytest.raises(ValidationError, match=f"Unknown actor kind '{kind}'") as caught:
            Actor(kind, COACH_ID)  # type: ignore[arg-type]
        assert caught.value.field == "actor"

    def test_parses_what_str_writes(self) -> None:
        """Parsing the text of an actor gives the same actor back."""
        for actor in (Actor("coach", COACH_ID), Actor("client", COACH_ID), SYSTEM):
            assert Actor.parse(str(actor)) == actor

    @given(st.sampled_from(["coach", "client"]), st.uuids())
    def test_round_trips_any_person(self, kind: str, id_: UUID) -> None:
        """Any coach or client actor survives str then parse."""
        actor = Actor(kind, id_)  # type: ignore[arg-type]
        assert Actor.parse(str(actor)) == actor

    def test_parse_refuses_a_person_without_an_id(self) -> None:
        """Parsing a bare 'coach' is refused like building one."""
        with pytest.raises(ValidationError, match="needs an id") as caught:
            Actor.parse("coach")
        assert caught.value.field == "actor"

    def test_parse_refuses_an_unknown_kind(self) -> None:
        """Parsing an unknown kind is refused, quoting it."""
        with pytest.raises(ValidationError, match="Unknown actor kind 'robot'") as caught:
            Actor.parse(f"robot:{COACH_ID}")
        assert caught.value.field == "actor"

    def test_parse_refuses_a_malformed_id(self) -> None:
        """Parsing an id that is not a UUID raises the UUID parser's error (storage is corrupt)."""
        with pytest.raises(ValueError, match="badly formed hexadecimal UUID string"):
            Actor.parse("coach:not-a-uuid")


class TestBookingPolicy:
    """An organisation's booking rules."""

    def test_has_sensible_defaults(self) -> None:
        """Defaults: 12h notice, 60 days ahead, 24h cancellation, no buffer, 30-minute slots."""
        policy = BookingPolicy()
        assert policy.min_notice == timedelta(hours=12)
        assert policy.horizon == timedelta(days=60)
        assert policy.cancellation_window == timedelta(hours=24)
        assert policy.buffer == timedelta(0)
        assert policy.slot_interval == timedelta(minutes=30)

    def test_accepts_zero_where_zero_makes_sense(self) -> None:
        """No notice, no cancellation window and no buffer are all allowed."""
        policy = BookingPolicy(min_notice=timedelta(0), cancellation_window=timedelta(0), buffer=timedelta(0))
        assert policy.min_notice == timedelta(0)

    @pytest.mark.parametrize("field", ["min_notice", "cancellation_window", "buffer"])
    def test_refuses_negative_durations(self, field: str) -> None:
        """A negative notice, cancellation window or buffer is refused, naming the field."""
        with pytest.raises(ValidationError, match=f"{field} cannot be negative") as caught:
            BookingPolicy(**{field: timedelta(minutes=-1)})
        assert caught.value.field == field

    @pytest.mark.parametrize("field", ["horizon", "slot_interval"])
    @pytest.mark.parametrize("value", [timedelta(0), timedelta(minutes=-30)])
    def test_refuses_empty_horizon_and_interval(self, field: str, value: timedelta) -> None:
        """A horizon or slot interval of zero or less is refused, naming the field."""
        with pytest.raises(ValidationError, match=f"{field} must be longer than zero") as caught:
            BookingPolicy(**{field: value})
        assert caught.value.field == field

    @pytest.mark.parametrize("field", ["min_notice", "horizon", "cancellation_window", "buffer", "slot_interval"])
    def test_refuses_numbers_in_place_of_durations(self, field: str) -> None:
        """A plain number where a timedelta belongs is refused, naming the field."""
        with pytest.raises(ValidationError, match=field) as caught:
            BookingPolicy(**{field: 30})  # type: ignore[arg-type]
        assert caught.value.field == field

    def test_refuses_slot_intervals_under_five_minutes(self) -> None:
        """A slot interval of 4 minutes 59 seconds is refused; exactly 5 minutes is accepted."""
        assert BookingPolicy(slot_interval=timedelta(minutes=5)).slot_interval == timedelta(minutes=5)
        with pytest.raises(ValidationError, match="at least 5 minutes") as caught:
            BookingPolicy(slot_interval=timedelta(minutes=5) - timedelta(seconds=1))
        assert caught.value.field == "slot_interval"


class TestZone:
    """Looking up IANA time zones by name."""

    @pytest.mark.parametrize("name", ["Europe/London", "America/New_York", "Asia/Kolkata", "UTC"])
    def test_returns_a_known_zone(self, name: str) -> None:
        """A known IANA name gives the ZoneInfo of that name."""
        assert zone(name) == ZoneInfo(name)
        assert zone(name).key == name

    @pytest.mark.parametrize(
        "name", ["Mars/Olympus_Mons", "Europe/Londn", "America", "Europe/", "../etc/passwd", "/etc/localtime"]
    )
    def test_refuses_an_unknown_zone(self, name: str) -> None:
        """An unknown name, a folder of the zone database or a path is refused with an example."""
        with pytest.raises(ValidationError, match=r"is not a known time zone; use an IANA name such as") as caught:
            zone(name)
        assert caught.value.field == "timezone"

    @pytest.mark.parametrize("name", ["", " Europe/London", "Europe/London "])
    def test_refuses_blank_or_padded_names(self, name: str) -> None:
        """An empty name or one with spaces around it is refused."""
        with pytest.raises(ValidationError, match="is not a time zone name") as caught:
            zone(name)
        assert caught.value.field == "timezone"

    def test_refuses_something_that_is_not_text(self) -> None:
        """A non-string is refused rather than crashing."""
        with pytest.raises(ValidationError, match="is not a time zone name") as caught:
            zone(None)  # type: ignore[arg-type]
        assert caught.value.field == "timezone"


class TestRequireUtc:
    """Making sure instants are aware and in UTC."""

    def test_converts_an_aware_instant_to_utc(self) -> None:
        """An instant in New York comes back as the same instant in UTC."""
        instant = datetime(2026, 1, 15, 9, 0, tzinfo=NEW_YORK)
        result = require_utc(instant)
        assert result == instant
        assert result.tzinfo is UTC
        assert result.hour == 14

    def test_keeps_a_utc_instant(self) -> None:
        """An instant already in UTC is returned equal."""
        instant = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
        assert require_utc(instant) == instant

    def test_accepts_a_fixed_offset(self) -> None:
        """A fixed-offset datetime is converted to UTC."""
        instant = datetime(2026, 1, 15, 9, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
        assert require_utc(instant) == datetime(2026, 1, 15, 3, 30, tzinfo=UTC)

    def test_refuses_a_naive_datetime(self) -> None:
        """A naive datetime is refused, naming the default field 'at'."""
        with pytest.raises(ValidationError, match="at has no time zone; pass an aware datetime") as caught:
            require_utc(datetime(2026, 1, 15, 9, 0))  # noqa: DTZ001  # naive on purpose
        assert caught.value.field == "at"

    def test_names_the_given_field(self) -> None:
        """The refusal names the field the caller passes."""
        with pytest.raises(ValidationError, match="starts_at has no time zone") as caught:
            require_utc(datetime(2026, 1, 15, 9, 0), field="starts_at")  # noqa: DTZ001  # naive on purpose
        assert caught.value.field == "starts_at"

    def test_refuses_a_zone_without_an_offset(self) -> None:
        """A tzinfo that gives no offset counts as naive and is refused."""
        with pytest.raises(ValidationError, match="has no time zone") as caught:
            require_utc(datetime(2026, 1, 15, 9, 0, tzinfo=_NoOffset()))
        assert caught.value.field == "at"


class TestLocalToUtc:
    """Turning a wall-clock time in a zone into a UTC instant."""

    def test_ordinary_winter_time(self) -> None:
        """09:00 in New York in January is 14:00 UTC."""
        assert local_to_utc(datetime(2026, 1, 15, 9, 0), NEW_YORK) == datetime(2026, 1, 15, 14, 0, tzinfo=UTC)  # noqa: DTZ001

    def test_ordinary_summer_time(self) -> None:
        """09:00 in New York in July is 13:00 UTC."""
        assert local_to_utc(datetime(2026, 7, 15, 9, 0), NEW_YORK) == datetime(2026, 7, 15, 13, 0, tzinfo=UTC)  # noqa: DTZ001

    def test_result_is_in_utc(self) -> None:
        """The result carries the UTC zone."""
        result = local_to_utc(datetime(2026, 1, 15, 9, 0), KOLKATA)  # noqa: DTZ001
        assert result is not None
        assert result.tzinfo is UTC
        assert result == datetime(2026, 1, 15, 3, 30, tzinfo=UTC)

    @pytest.mark.parametrize("minute", [0, 30, 59])
    def test_time_in_the_spring_gap_is_none(self, minute: int) -> None:
        """02:xx on the night New York springs forward never happens, so there is no instant."""
        naive = datetime(2026, 3, 8, 2, minute)  # noqa: DTZ001
        assert not exists_locally(naive, NEW_YORK)
        assert local_to_utc(naive, NEW_YORK) is None

    def test_edges_of_the_spring_gap_exist(self) -> None:
        """01:59 and 03:00 on the spring-forward night both happen."""
        assert local_to_utc(datetime(2026, 3, 8, 1, 59), NEW_YORK) == datetime(2026, 3, 8, 6, 59, tzinfo=UTC)  # noqa: DTZ001
        assert local_to_utc(datetime(2026, 3, 8, 3, 0), NEW_YORK) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # noqa: DTZ001

    def test_london_gap_is_none(self) -> None:
        """01:30 on the night London springs forward is None."""
        assert local_to_utc(datetime(2026, 3, 29, 1, 30), LONDON) is None  # noqa: DTZ001

    def test_repeated_time_gives_the_first_occurrence(self) -> None:
        """01:30 on the night New York falls back is the earlier (EDT) instant."""
        naive = datetime(2026, 11, 1, 1, 30)  # noqa: DTZ001
        assert exists_locally(naive, NEW_YORK)
        assert local_to_utc(naive, NEW_YORK) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)

    def test_repeated_time_ignores_a_fold_on_the_input(self) -> None:
        """Even a naive time marked fold=1 gives the first occurrence."""
        naive = datetime(2026, 11, 1, 1, 30, fold=1)  # noqa: DTZ001
        assert local_to_utc(naive, NEW_YORK) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)

    @given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)))  # noqa: DTZ001
    def test_result_shows_the_asked_wall_time(self, naive: datetime) -> None:
        """When there is an instant, a clock in the zone shows the asked time then; otherwise it is a gap."""
        result = local_to_utc(naive, NEW_YORK)
        if result is None:
            assert not exists_locally(naive, NEW_YORK)
        else:
            assert result.tzinfo is UTC
            assert result.astimezone(NEW_YORK).replace(tzinfo=None) == naive

    @given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)))  # noqa: DTZ001
    def test_no_gaps_in_a_zone_without_daylight_saving(self, naive: datetime) -> None:
        """Every wall-clock time happens in Kolkata."""
        assert local_to_utc(naive, KOLKATA) is not None


class TestLabel:
    """Showing an instant as local time with its zone abbreviation."""

    def test_winter_time_says_est(self) -> None:
        """14:00 UTC on 3 March 2026 shows as 09:00 EST in New York."""
        assert label(datetime(2026, 3, 3, 14, 0, tzinfo=UTC), NEW_YORK) == "Tue 3 Mar 2026, 09:00 EST"

    def test_summer_time_says_edt(self) -> None:
        """13:00 UTC on 14 July 2026 shows as 09:00 EDT in New York."""
        assert label(datetime(2026, 7, 14, 13, 0, tzinfo=UTC), NEW_YORK) == "Tue 14 Jul 2026, 09:00 EDT"

    def test_london_summer_says_bst(self) -> None:
        """Noon UTC in June shows as 13:00 BST in London."""
        assert label(datetime(2026, 6, 1, 12, 0, tzinfo=UTC), LONDON) == "Mon 1 Jun 2026, 13:00 BST"

    def test_day_can_change_across_zones(self) -> None:
        """An instant late on one UTC day can be the next day locally."""
        assert label(datetime(2026, 1, 15, 20, 0, tzinfo=UTC), KOLKATA) == "Fri 16 Jan 2026, 01:30 IST"

    def test_repeated_hour_is_told_apart_by_the_abbreviation(self) -> None:
        """The two 01:30s of New York's fall-back night show EDT then EST."""
        first = label(datetime(2026, 11, 1, 5, 30, tzinfo=UTC), NEW_YORK)
        second = label(datetime(2026, 11, 1, 6, 30, tzinfo=UTC), NEW_YORK)
        assert first == "Sun 1 Nov 2026, 01:30 EDT"
        assert second == "Sun 1 Nov 2026, 01:30 EST"
