"""Records the business keeps: organisations, coaches, clients, services and session packages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coachos.domain.catalog import Service, SessionPackage
from coachos.domain.clients import Channel, Client, ClientStatus, Consent
from coachos.domain.errors import ValidationError
from coachos.domain.ids import ClientId, CoachId, OrgId, PackageId, ServiceId
from coachos.domain.money import Money
from coachos.domain.orgs import Coach, Organization, check_slug
from coachos.domain.policy import BookingPolicy
from coachos.domain.quiet_hours import QuietHours

ORG = OrgId(UUID(int=1))
COACH = CoachId(UUID(int=2))
CLIENT = ClientId(UUID(int=3))
SERVICE = ServiceId(UUID(int=4))
PACKAGE = PackageId(UUID(int=5))
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

#: Well-formed slugs: runs of letters and digits joined by single hyphens, 3 to 40 characters in all.
slugs = (
    st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8), min_size=1, max_size=5)
    .map("-".join)
    .filter(lambda s: 3 <= len(s) <= 40)
)


def make_org(**changes: Any) -> Organization:
    """An organisation in New York, with `changes` applied."""
    fields: dict[str, Any] = {
        "id": ORG,
        "name": "Peak Coaching",
        "slug": "peak",
        "timezone": "America/New_York",
        "currency": "USD",
        "created_at": NOW,
    }
    return Organization(**(fields | changes))


def make_client(**changes: Any) -> Client:
    """A lead with only a name, with `changes` applied."""
    fields: dict[str, Any] = {"id": CLIENT, "org_id": ORG, "name": "Jordan Lee", "created_at": NOW}
    return Client(**(fields | changes))


def make_consent(channel: Channel | str = Channel.SMS, **changes: Any) -> Consent:
    """A consent given on the booking form at NOW."""
    fields: dict[str, Any] = {"channel": channel, "granted_at": NOW, "method": "booking_form"}
    return Consent(**(fields | changes))


def make_service(**changes: Any) -> Service:
    """A 60-minute one-to-one session at 80.00 USD, with `changes` applied."""
    fields: dict[str, Any] = {
        "id": SERVICE,
        "org_id": ORG,
        "name": "PT",
        "duration": timedelta(minutes=60),
        "price": Money(8000, "USD"),
    }
    return Service(**(fields | changes))


def make_package(**changes: Any) -> SessionPackage:
    """A ten-session package bought at NOW, unused, with `changes` applied."""
    fields: dict[str, Any] = {
        "id": PACKAGE,
        "org_id": ORG,
        "client_id": CLIENT,
        "name": "Ten pack",
        "total": 10,
        "price": Money(70000, "USD"),
        "purchased_at": NOW,
    }
    return SessionPackage(**(fields | changes))


class TestCheckSlug:
    """Public web-address names of organisations."""

    @pytest.mark.parametrize(
        ("typed", "stored"),
        [("peak", "peak"), ("Peak-Coaching", "peak-coaching"), ("  gym42 ", "gym42"), ("a1b", "a1b"), ("a-b", "a-b")],
    )
    def test_trims_and_lower_cases(self, typed: str, stored: str) -> None:
        """A slug is trimmed and lower-cased."""
        assert check_slug(typed) == stored

    def test_accepts_three_to_forty_characters(self) -> None:
        """Slugs of exactly 3 and exactly 40 characters are accepted."""
        assert check_slug("abc") == "abc"
        assert check_slug("a" * 40) == "a" * 40

    @pytest.mark.parametrize(
        "typed",
        [
            "",
            "ab",  # too short
            "a" * 41,  # too long
            "-peak",
            "peak-",
            "peak--coaching",
            "peak_coaching",
            "peak coaching",
            "peak.fit",
            "café",
            "peak/admin",
        ],
    )
    def test_refuses_unusable_slugs(self, typed: str) -> None:
        """Slugs of the wrong length or with other characters are refused, explaining the rule."""
        with pytest.raises(ValidationError, match="cannot be a web address name: use 3 to 40 lowercase") as caught:
            check_slug(typed)
        assert caught.value.field == "slug"

    @given(slugs)
    def test_accepts_every_well_formed_slug(self, slug: str) -> None:
        """Any 3-40 character slug of letters, digits and single inner hyphens is kept as is."""
        assert check_slug(slug) == slug


class TestOrganization:
    """The tenant: a coach's business."""

    def test_normalises_its_fields(self) -> None:
        """Name is trimmed, slug and currency normalised, the zone kept."""
        org = make_org(name="  Peak Coaching ", slug="Peak", currency="usd")
        assert org.name == "Peak Coaching"
        assert org.slug == "peak"
        assert org.currency == "USD"
        assert org.timezone == "America/New_York"

    def test_tz_is_the_zone_named(self) -> None:
        """tz gives the ZoneInfo of the organisation's time zone."""
        assert make_org(timezone="Europe/London").tz == ZoneInfo("Europe/London")

    def test_defaults_policy_and_quiet_hours(self) -> None:
        """Without them, the default booking policy and quiet hours apply."""
        org = make_org()
        assert org.policy == BookingPolicy()
        assert org.quiet_hours == QuietHours()

    @pytest.mark.parametrize("name", ["Mars/Base", "EST5EDTX", "America", "Europe/London "])
    def test_refuses_an_unknown_timezone(self, name: str) -> None:
        """An unknown zone is refused, naming the field 'timezone'."""
        with pytest.raises(ValidationError, match=r"is not a (known )?time zone") as caught:
            make_org(timezone=name)
        assert caught.value.field == "timezone"

    def test_refuses_a_bad_slug(self) -> None:
        """A malformed slug is refused, naming the field 'slug'."""
        with pytest.raises(ValidationError, match="web address name") as caught:
            make_org(slug="no")
        assert caught.value.field == "slug"

    def test_refuses_a_bad_currency(self) -> None:
        """A malformed currency is refused, naming the field 'currency'."""
        with pytest.raises(ValidationError, match="is not a currency code") as caught:
            make_org(currency="dollars")
        assert caught.value.field == "currency"

    def test_refuses_a_blank_name(self) -> None:
        """A blank name is refused, naming the field 'name'."""
        with pytest.raises(ValidationError, match="A name is required") as caught:
            make_org(name="   ")
        assert caught.value.field == "name"

    def test_changes_are_validated_too(self) -> None:
        """attrs.evolve to an unknown zone is refused like construction."""
        with pytest.raises(ValidationError, match="not a known time zone") as caught:
            attrs.evolve(make_org(), timezone="Nowhere/Town")
        assert caught.value.field == "timezone"


class TestCoach:
    """Staff who take bookings."""

    def test_normalises_name_and_email(self) -> None:
        """Name is trimmed, email trimmed and lower-cased, and a new coach is active."""
        coach = Coach(id=COACH, org_id=ORG, name=" Alex Rivera ", email=" Alex@Peak.Test ")
        assert coach.name == "Alex Rivera"
        assert coach.email == "alex@peak.test"
        assert coach.active

    def test_refuses_a_bad_email(self) -> None:
        """A coach needs a real-looking email; a malformed one is refused with the field named."""
        with pytest.raises(ValidationError, match="is not an email address") as caught:
            Coach(id=COACH, org_id=ORG, name="Alex", email="alex at peak")
        assert caught.value.field == "email"

    def test_refuses_a_blank_name(self) -> None:
        """A blank coach name is refused with the field named."""
        with pytest.raises(ValidationError, match="A name is required") as caught:
            Coach(id=COACH, org_id=ORG, name="", email="alex@peak.test")
        assert caught.value.field == "name"


class TestConsent:
    """Permission to contact a client on one channel."""

    def test_converts_channel_and_time(self) -> None:
        """A channel given as text becomes a Channel and the time is kept in UTC."""
        consent = make_consent("email", granted_at=datetime(2026, 3, 2, 7, 0, tzinfo=ZoneInfo("America/New_York")))
        assert consent.channel is Channel.EMAIL
        assert consent.granted_at == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
        assert consent.granted_at.tzinfo is UTC

    def test_refuses_a_naive_time(self) -> None:
        """A consent time without a zone is refused, naming 'granted_at'."""
        with pytest.raises(ValidationError, match="granted_at has no time zone") as caught:
            make_consent(granted_at=datetime(2026, 3, 2, 12, 0))  # noqa: DTZ001  # naive on purpose
        assert caught.value.field == "granted_at"

    def test_refuses_an_unknown_channel(self) -> None:
        """A channel that does not exist is refused."""
        with pytest.raises(ValidationError, match="'fax' is not a channel; use one of: sms, email") as caught:
            make_consent("fax")
        assert caught.value.field == "channel"


class TestClient:
    """A person who trains with the coach, or might."""

    def test_minimal_client_is_a_lead_with_nothing_else(self) -> None:
        """With only a name, a client is a lead with no contact details, consents, notes or tags."""
        client = make_client()
        assert client.status is ClientStatus.LEAD
        assert client.phone is None
        assert client.email is None
        assert client.timezone is None
        assert client.consents == ()
        assert client.notes == ""
        assert client.tags == frozenset()

    def test_normalises_contact_details(self) -> None:
        """Phone goes to E.164, email is lower-cased, name is trimmed."""
        client = make_client(name=" Jordan Lee ", phone="+1 (212) 555-0101", email="Jordan@Example.com")
        assert client.name == "Jordan Lee"
        assert client.phone == "+12125550101"
        assert client.email == "jordan@example.com"

    @pytest.mark.parametrize("field", ["phone", "email", "timezone"])
    @pytest.mark.parametrize("blank", ["", "   ", None])
    def test_blank_optional_fields_become_none(self, field: str, blank: str | None) -> None:
        """An empty or whitespace-only phone, email or zone is stored as None."""
        assert getattr(make_client(**{field: blank}), field) is None

    def test_refuses_a_phone_without_country_code(self) -> None:
        """A national-format phone is refused, naming 'phone'."""
        with pytest.raises(ValidationError, match="need the country code") as caught:
            make_client(phone="(212) 555-0101")
        assert caught.value.field == "phone"

    def test_refuses_a_bad_email(self) -> None:
        """A malformed email is refused, naming 'email'."""
        with pytest.raises(ValidationError, match="is not an email address") as caught:
            make_client(email="jordan@")
        assert caught.value.field == "email"

    def test_keeps_a_known_timezone(self) -> None:
        """The client's own zone is kept when it exists."""
        assert make_client(timezone="Europe/London").timezone == "Europe/London"

    def test_refuses_an_unknown_timezone(self) -> None:
        """An unknown zone is refused, naming 'timezone'."""
        with pytest.raises(ValidationError, match="not a known time zone") as caught:
            make_client(timezone="Europe/Atlantis")
        assert caught.value.field == "timezone"

    def test_status_given_as_text_becomes_the_enum(self) -> None:
        """A status given as text is stored as a ClientStatus."""
        assert make_client(status="active").status is ClientStatus.ACTIVE

    def test_refuses_an_unknown_status(self) -> None:
        """A status that does not exist is refused, listing the ones that do."""
        with pytest.raises(ValidationError, match="'dormant' is not a status; use one of: lead, active") as caught:
            make_client(status="dormant")
        assert caught.value.field == "status"

    def test_finds_the_consent_for_a_channel(self) -> None:
        """consent() returns the consent for a channel, or None when none was given."""
        sms = make_consent(Channel.SMS)
        email = make_consent(Channel.EMAIL, method="coach_entered")
        client = make_client(consents=(sms, email))
        assert client.consent(Channel.SMS) == sms
        assert client.consent(Channel.EMAIL) == email
        assert client.consent(Channel.EMAIL_MARKETING) is None

    def test_refuses_two_consents_for_one_channel(self) -> None:
        """Two consents for SMS are refused, naming 'consents'."""
        first = make_consent(Channel.SMS)
        second = make_consent(Channel.SMS, granted_at=NOW + timedelta(days=1), method="sms_keyword")
        with pytest.raises(ValidationError, match="at most one consent per channel") as caught:
            make_client(consents=(first, second))
        assert caught.value.field == "consents"

    def test_accepts_ten_thousand_characters_of_notes(self) -> None:
        """Notes of exactly 10,000 characters are accepted."""
        assert len(make_client(notes="n" * 10_000).notes) == 10_000

    def test_refuses_longer_notes(self) -> None:
        """Notes of 10,001 characters are refused, stating the limit."""
        with pytest.raises(ValidationError, match="Notes are limited to 10,000 characters") as caught:
            make_client(notes="n" * 10_001)
        assert caught.value.field == "notes"

    def test_normalises_tags(self) -> None:
        """Tags are trimmed, lower-cased, de-duplicated and blanks dropped."""
        client = make_client(tags=["VIP", " vip ", "Morning Person", "", "   "])
        assert client.tags == frozenset({"vip", "morning person"})

    def test_accepts_any_collection_of_tags(self) -> None:
        """Tags given as a set, tuple or frozenset all end up a frozenset."""
        for given_tags in ({"a"}, ("a",), frozenset({"a"})):
            assert make_client(tags=given_tags).tags == frozenset({"a"})

    def test_refuses_a_single_string_of_tags(self) -> None:
        """A bare string is refused rather than split into one tag per letter."""
        with pytest.raises(ValidationError, match="collection of words, not one string") as caught:
            make_client(tags="vip")
        assert caught.value.field == "tags"

    def test_refuses_long_tags(self) -> None:
        """A tag over 50 characters is refused; 50 is accepted."""
        assert make_client(tags=["t" * 50]).tags == frozenset({"t" * 50})
        with pytest.raises(ValidationError, match="Tags are limited to 50 characters") as caught:
            make_client(tags=["t" * 51])
        assert caught.value.field == "tags"

    @given(st.lists(st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=50)))
    def test_tags_are_always_trimmed_lowercase_and_non_blank(self, tags: list[str]) -> None:
        """Whatever printable tags are given, every stored tag is trimmed, lower-case and non-empty."""
        for tag in make_client(tags=tags).tags:
            assert tag
            assert tag == tag.strip()
            assert tag == tag.lower()


class TestService:
    """Something clients book."""

    def test_defaults_to_one_to_one_using_a_credit(self) -> None:
        """A service defaults to capacity 1, using a credit, active."""
        service = make_service()
        assert service.capacity == 1
        assert service.uses_credit
        assert service.active

    @pytest.mark.parametrize("duration", [timedelta(minutes=1), timedelta(minutes=45), timedelta(hours=12)])
    def test_accepts_whole_minutes_up_to_twelve_hours(self, duration: timedelta) -> None:
        """Durations of whole minutes from 1 minute to 12 hours are accepted."""
        assert make_service(duration=duration).duration == duration

    @pytest.mark.parametrize("duration", [timedelta(0), timedelta(minutes=-30), timedelta(hours=12, minutes=1)])
    def test_refuses_durations_out_of_range(self, duration: timedelta) -> None:
        """A duration of zero, below zero or over 12 hours is refused, naming 'duration'."""
        with pytest.raises(ValidationError, match="more than 0 minutes and at most 12 hours") as caught:
            make_service(duration=duration)
        assert caught.value.field == "duration"

    @pytest.mark.parametrize("duration", [timedelta(minutes=45, seconds=30), timedelta(seconds=59)])
    def test_refuses_part_minutes(self, duration: timedelta) -> None:
        """A duration that is not a whole number of minutes is refused, naming 'duration'."""
        with pytest.raises(ValidationError, match="Durations are whole minutes") as caught:
            make_service(duration=duration)
        assert caught.value.field == "duration"

    def test_free_service_is_allowed(self) -> None:
        """A price of zero is accepted."""
        assert make_service(price=Money(0, "USD")).price == Money(0, "USD")

    def test_refuses_a_negative_price(self) -> None:
        """A negative price is refused, naming 'price'."""
        with pytest.raises(ValidationError, match="A price cannot be negative") as caught:
            make_service(price=Money(-1, "USD"))
        assert caught.value.field == "price"

    @pytest.mark.parametrize("capacity", [1, 3, 500])
    def test_accepts_capacity_one_to_five_hundred(self, capacity: int) -> None:
        """Capacities from 1 to 500 are accepted."""
        assert make_service(capacity=capacity).capacity == capacity

    @pytest.mark.parametrize("capacity", [0, -1, 501, True, 2.0, "3"])
    def test_refuses_other_capacities(self, capacity: object) -> None:
        """Zero, negatives, over 500, bools, floats and text are refused, naming 'capacity'."""
        with pytest.raises(ValidationError, match="Capacity is a whole number from 1 to 500") as caught:
            make_service(capacity=capacity)
        assert caught.value.field == "capacity"

    def test_refuses_a_blank_name(self) -> None:
        """A service needs a name."""
        with pytest.raises(ValidationError, match="A name is required") as caught:
            make_service(name=" ")
        assert caught.value.field == "name"


class TestSessionPackage:
    """Sessions bought in advance."""

    def test_new_package_has_all_credits(self) -> None:
        """An unused package of 10 has 10 remaining and is usable."""
        package = make_package()
        assert package.remaining == 10
        assert package.usable(NOW)
        assert not package.is_expired(NOW)

    def test_remaining_is_total_less_used(self) -> None:
        """A package of 10 with 7 used has 3 remaining."""
        assert make_package(used=7).remaining == 3

    def test_using_the_last_credit_leaves_none(self) -> None:
        """A fully used package has none remaining and is not usable."""
        package = make_package(total=5, used=5)
        assert package.remaining == 0
        assert not package.usable(NOW)

    @pytest.mark.parametrize("used", [-1, 11])
    def test_refuses_used_outside_zero_to_total(self, used: int) -> None:
        """Used below zero or above the total is refused, naming 'used'."""
        with pytest.raises(ValidationError, match="Used sessions must be between 0 and the total") as caught:
            make_package(used=used)
        assert caught.value.field == "used"

    @pytest.mark.parametrize("total", [0, -3, 1001, True, 2.5])
    def test_refuses_totals_out_of_range(self, total: object) -> None:
        """Totals outside 1-1000, bools and floats are refused, naming 'total'."""
        with pytest.raises(ValidationError, match="A package holds from 1 to 1000 sessions") as caught:
            make_package(total=total)
        assert caught.value.field == "total"

    def test_refuses_a_negative_price(self) -> None:
        """A negative package price is refused, naming 'price'."""
        with pytest.raises(ValidationError, match="price cannot be negative") as caught:
            make_package(price=Money(-100, "USD"))
        assert caught.value.field == "price"

    @pytest.mark.parametrize("expires_at", [NOW, NOW - timedelta(seconds=1)])
    def test_refuses_expiry_not_after_purchase(self, expires_at: datetime) -> None:
        """An expiry at or before the purchase is refused, naming 'expires_at'."""
        with pytest.raises(ValidationError, match="must expire after it was bought") as caught:
            make_package(expires_at=expires_at)
        assert caught.value.field == "expires_at"

    def test_expires_at_the_expiry_instant(self) -> None:
        """A package is usable just before its expiry and expired from the expiry itself."""
        expires = NOW + timedelta(days=30)
        package = make_package(expires_at=expires)
        before = expires - timedelta(microseconds=1)
        assert not package.is_expired(before)
        assert package.usable(before)
        assert package.is_expired(expires)
        assert not package.usable(expires)
        assert package.is_expired(expires + timedelta(days=1))

    def test_without_expiry_never_expires(self) -> None:
        """A package without an expiry is not expired even years later."""
        assert not make_package().is_expired(NOW + timedelta(days=3650))

    @given(st.integers(1, 1000), st.data())
    def test_remaining_and_usable_agree(self, total: int, data: st.DataObject) -> None:
        """remaining is total minus used, and an unexpired package is usable exactly when some remain."""
        used = data.draw(st.integers(0, total))
        package = make_package(total=total, used=used)
        assert package.remaining == total - used
        assert package.usable(NOW) == (used < total)
