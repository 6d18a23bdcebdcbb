"""The domain's input boundary: text checks, whole numbers, the date window, typed commands and library edges."""

from __future__ import annotations

import contextlib
import typing
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachos import CoachOS
from coachos.domain.accounts import ApiToken
from coachos.domain.availability import BusyBlock, DateOverride, compute_slots, is_offered
from coachos.domain.calendar import local_start, next_anchor, prev_anchor, visible_range
from coachos.domain.catalog import Service, SessionPackage
from coachos.domain.checks import check_text, check_whole
from coachos.domain.clients import Client, Consent
from coachos.domain.errors import ValidationError
from coachos.domain.ids import Actor, ClientId, CoachId, OrgId, PackageId, ServiceId
from coachos.domain.money import AMOUNT_LIMIT, Money
from coachos.domain.orgs import Coach, Organization
from coachos.domain.policy import LONGEST, BookingPolicy
from coachos.domain.quiet_hours import QuietHours, is_quiet, next_allowed
from coachos.domain.timezones import (
    MAX_DATE,
    MIN_DATE,
    check_date,
    check_instant,
    day_start,
    exists_locally,
    first_instant_at_or_after,
    label,
    local_to_utc,
    offset_changes,
    require_utc,
)
from coachos.domain.usecases import (
    HANDLERS,
    AddDateOverride,
    BookSession,
    CancelBooking,
    Command,
    CreateApiToken,
    CreateClient,
    CreateService,
    FindSlots,
    SellPackage,
    SetWeeklyHours,
    UpdateService,
)
from tests.helpers import MONDAY_NOON_UTC, World

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14, the furthest ahead
PLUS_14 = timezone(timedelta(hours=14))
MINUS_12 = timezone(timedelta(hours=-12))
NOW = MONDAY_NOON_UTC
HOUR = timedelta(hours=1)
ORG, COACH, SERVICE = OrgId(uuid4()), CoachId(uuid4()), ServiceId(uuid4())
SYSTEM = Actor("system")

#: Instants at and just past the edges of datetime's range and of the date window.
EDGE_INSTANTS = [
    datetime.min.replace(tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=PLUS_14),
    datetime(1899, 12, 31, 23, 59, tzinfo=UTC),
    datetime(2200, 1, 2, tzinfo=UTC),
    datetime(9999, 12, 31, 23, tzinfo=MINUS_12),
    datetime.max.replace(tzinfo=UTC),
]
EDGE_DATES = [date.min, date(1899, 12, 31), date(2200, 1, 2), date.max]
#: Wall-clock readings no zone shows at an instant of the window (a day's margin either side for offsets).
EDGE_LOCAL_DATES = [date.min, date(1899, 12, 30), date(2200, 1, 3), date.max]
#: Every character check_text refuses on one line: C0 and C1 controls, DEL and lone surrogates.
REFUSED = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0), 0xD800, 0xDFFF]]


def controlled_text(*, trimmable: bool = True) -> st.SearchStrategy[str]:
    """Text with a character that may not be stored in it (with `trimmable` False, never one trimming removes)."""
    return st.builds(
        lambda before, bad, after: before + bad + after,
        st.text(max_size=20),
        st.sampled_from([c for c in REFUSED if c not in "\n\r\t" and (trimmable or not c.isspace())]),
        st.text(max_size=20),
    )


def any_offset() -> st.SearchStrategy[timezone]:
    """A fixed UTC offset of less than a day either way."""
    return st.builds(
        timezone, st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59))
    )


def aware_datetimes() -> st.SearchStrategy[datetime]:
    """Any aware datetime datetime can represent, with any offset (year 1 to 9999)."""
    return st.datetimes(timezones=any_offset())


class TestCheckText:
    """check_text: the one rule for text that is stored."""

    @pytest.mark.parametrize("bad", REFUSED, ids=lambda c: f"U+{ord(c):04X}")
    def test_refuses_control_characters_on_one_line(self, bad: str) -> None:
        """NUL, every other C0/C1 control, DEL and a lone surrogate are refused in one-line text, naming the field."""
        with pytest.raises(ValidationError, match="control character") as caught:
            check_text(f"Jo{bad}rdan", field="name", max_len=200)
        assert caught.value.field == "name"

    def test_long_text_keeps_line_breaks_and_tabs(self) -> None:
        """Multiline text may hold newlines, carriage returns and tabs."""
        notes = "Knee:\r\n\tlow impact only\nAsk about shoes"
        assert check_text(notes, field="notes", max_len=1000, multiline=True) == notes

    @pytest.mark.parametrize("bad", ["\x00", "\x0b", "\x1b", "\x7f", "\x85", "\ud800"], ids=repr)
    def test_long_text_still_refuses_the_other_controls(self, bad: str) -> None:
        """Multiline text refuses NUL, escape, DEL, C1 controls and lone surrogates all the same."""
        with pytest.raises(ValidationError, match="control character") as caught:
            check_text(f"line one\n{bad}", field="notes", max_len=1000, multiline=True)
        assert caught.value.field == "notes"

    def test_refuses_what_is_not_text_and_text_too_long(self) -> None:
        """A number in place of text, or text over the limit, is refused naming the field."""
        with pytest.raises(ValidationError, match="must be text") as caught:
            check_text(42, field="reason", max_len=200)
        assert caught.value.field == "reason"
        with pytest.raises(ValidationError, match="limited to 200") as caught:
            check_text("x" * 201, field="reason", max_len=200)
        assert caught.value.field == "reason"

    @given(st.text(max_size=40))
    def test_refuses_exactly_the_control_and_surrogate_categories(self, value: str) -> None:
        """Any one-line text is accepted exactly when none of its characters is a control (Cc) or surrogate (Cs)."""
        storable = not any(unicodedata.category(c) in ("Cc", "Cs") for c in value)
        try:
            check_text(value, field="name", max_len=100)
        except ValidationError:
            assert not storable
        else:
            assert storable


def _records() -> dict[str, Callable[[str], object]]:
    """Records that carry free text, each built with `text` in one of its text fields."""
    me = Actor("coach", uuid4())
    return {
        "client name": lambda t: Client(id=ClientId(uuid4()), org_id=ORG, name=t, created_at=NOW),
        "client notes": lambda t: Client(id=ClientId(uuid4()), org_id=ORG, name="Jo", created_at=NOW, notes=t),
        "client tags": lambda t: Client(id=ClientId(uuid4()), org_id=ORG, name="Jo", created_at=NOW, tags=[t]),
        "client email": lambda t: Client(id=ClientId(uuid4()), org_id=ORG, name="Jo", created_at=NOW, email=t),
        "client phone": lambda t: Client(id=ClientId(uuid4()), org_id=ORG, name="Jo", created_at=NOW, phone=t),
        "service name": lambda t: Service(
            id=ServiceId(uuid4()), org_id=ORG, name=t, duration=timedelta(hours=1), price=Money(0, "USD")
        ),
        "package name": lambda t: SessionPackage(
            id=PackageId(uuid4()),
            org_id=ORG,
            client_id=ClientId(uuid4()),
            name=t,
            total=5,
            price=Money(0, "USD"),
            purchased_at=NOW,
        ),
        "coach name": lambda t: Coach(id=COACH, org_id=ORG, name=t, email="a@b.test"),
        "business name": lambda t: Organization(
            id=ORG, name=t, slug="peak", timezone="UTC", currency="USD", created_at=NOW
        ),
        "slug": lambda t: Organization(id=ORG, name="Peak", slug=t, timezone="UTC", currency="USD", created_at=NOW),
        "token name": lambda t: ApiToken(
            id=uuid4(), org_id=ORG, coach_id=COACH, name=t, token_digest="d", created_at=NOW
        ),
        "consent method": lambda t: Consent(channel="sms", granted_at=NOW, method=t),
        "consent wording": lambda t: Consent(channel="sms", granted_at=NOW, method="form", wording=t),
        "booking note": lambda t: BookSession(
            org_id=ORG, coach_id=COACH, service_id=SERVICE, client_id=ClientId(uuid4()), start=NOW, actor=me, note=t
        ),
        "idempotency key": lambda t: BookSession(
            org_id=ORG,
            coach_id=COACH,
            service_id=SERVICE,
            client_id=ClientId(uuid4()),
            start=NOW,
            actor=me,
            idempotency_key=t,
        ),
        "cancel reason": lambda t: CancelBooking(org_id=ORG, booking_id=uuid4(), actor=me, reason=t),  # type: ignore[arg-type]
    }


RECORDS = _records()


class TestRecordsAndCommandsRefuseControlCharacters:
    """Every free-text field of a record or command goes through the same check."""

    @pytest.mark.parametrize("build", RECORDS.values(), ids=RECORDS.keys())
    def test_a_nul_in_any_text_field_is_a_validation_error(self, build: Callable[[str], object]) -> None:
        """A NUL byte in any free-text field is a ValidationError naming a field, not a value that reaches storage."""
        with pytest.raises(ValidationError) as caught:
            build("peak\x00coaching")
        assert caught.value.field

    @pytest.mark.parametrize("build", RECORDS.values(), ids=RECORDS.keys())
    @given(bad=controlled_text())
    @settings(max_examples=25)
    def test_no_record_ever_holds_a_control_character(self, build: Callable[[str], object], bad: str) -> None:
        """Text with a control character is refused, or trimmed away where it is whitespace at the end of a name."""
        try:
            made = build(bad)
        except ValidationError:
            return
        assert not _holds_control_characters(made), made


def _holds_control_characters(record: object) -> bool:
    values = [getattr(record, f.name) for f in attrs.fields(type(record))]
    texts = [v for v in values if isinstance(v, str)] + [t for v in values if isinstance(v, frozenset) for t in v]
    return any(unicodedata.category(c) in ("Cc", "Cs") for text in texts for c in text)


def _snapshot(app: CoachOS, world: World) -> Any:
    """Everything the commands below could write in the world's business."""

    def read(uow: Any) -> Any:
        org_id = world.org.id
        return (
            tuple(uow.clients.list(org_id, limit=1000)),
            tuple(uow.services.list(org_id)),
            tuple(uow.packages.for_client(org_id, world.client.id)),
            tuple(uow.bookings.between(org_id, NOW - timedelta(days=1), NOW + timedelta(days=400))),
            tuple(uow.accounts.api_tokens_of(org_id, world.coach.id)),
        )

    return app.read(read)


class TestNothingReachesARepository:
    """Text with control characters is refused before any repository is written."""

    @settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        bad=controlled_text(trimmable=False),
        which=st.sampled_from(["name", "notes", "tags", "service", "package", "note", "key"]),
    )
    def test_commands_with_control_characters_write_nothing(
        self, app: CoachOS, world: World, bad: str, which: str
    ) -> None:
        """Any command carrying text with a control character (not trimmable space) is refused and writes nothing."""
        before = _snapshot(app, world)
        me, org_id = world.me, world.org.id
        slot = datetime(2026, 3, 3, 14, tzinfo=UTC)
        commands: dict[str, Callable[[], Command[Any]]] = {
            "name": lambda: CreateClient(org_id=org_id, name=bad, actor=me),
            "notes": lambda: CreateClient(org_id=org_id, name="Kim", notes=bad, actor=me),
            "tags": lambda: CreateClient(org_id=org_id, name="Kim", tags=frozenset({bad}), actor=me),
            "service": lambda: CreateService(
                org_id=org_id, name=bad, duration=timedelta(hours=1), price=Money(0, "USD"), actor=me
            ),
            "package": lambda: SellPackage(
                org_id=org_id, client_id=world.client.id, name=bad, sessions=1, price=Money(0, "USD"), actor=me
            ),
            "note": lambda: BookSession(
                org_id=org_id,
                coach_id=world.coach.id,
                service_id=world.pt.id,
                client_id=world.client.id,
                start=slot,
                actor=me,
                note=bad,
            ),
            "key": lambda: BookSession(
                org_id=org_id,
                coach_id=world.coach.id,
                service_id=world.pt.id,
                client_id=world.client.id,
                start=slot,
                actor=me,
                idempotency_key=bad,
            ),
        }
        with pytest.raises(ValidationError):
            app.execute(commands[which]())
        assert _snapshot(app, world) == before

    def test_an_api_token_named_with_a_nul_is_not_stored(self, app: CoachOS, world: World) -> None:
        """Naming an API token with a NUL byte is refused and no token is stored."""
        with pytest.raises(ValidationError) as caught:
            app.execute(CreateApiToken(org_id=world.org.id, coach_id=world.coach.id, name="ci\x00bot"))
        assert caught.value.field == "name"
        assert app.read(lambda uow: list(uow.accounts.api_tokens_of(world.org.id, world.coach.id))) == []


class TestWholeNumbers:
    """Integers are range-checked before they can reach a 32- or 64-bit column."""

    @pytest.mark.parametrize("value", [2**63, 10**30, -(2**63) - 1, AMOUNT_LIMIT, -AMOUNT_LIMIT])
    def test_money_refuses_amounts_beyond_the_limit(self, value: int) -> None:
        """Amounts of 10^15 minor units or more either way (2^63, 10^30) are refused, naming amount_minor."""
        with pytest.raises(ValidationError, match="limited to") as caught:
            Money(value, "USD")
        assert caught.value.field == "amount_minor"

    def test_money_accepts_amounts_up_to_the_limit(self) -> None:
        """The largest amount either way is accepted."""
        assert Money(AMOUNT_LIMIT - 1, "USD").amount_minor == AMOUNT_LIMIT - 1
        assert Money(1 - AMOUNT_LIMIT, "USD").is_negative

    def test_a_typed_price_beyond_the_limit_is_refused(self) -> None:
        """A price typed with too many digits is refused like any other amount beyond the limit."""
        with pytest.raises(ValidationError) as caught:
            Money.parse("100000000000000000000", "USD")
        assert caught.value.field == "amount_minor"

    def test_check_whole_names_the_field(self) -> None:
        """check_whole refuses bools, floats and numbers out of range, naming the field, and returns the rest."""
        assert check_whole(5, field="sessions", minimum=1, maximum=10) == 5
        for bad in (True, 5.0, 0, 11, 2**63):
            with pytest.raises(ValidationError, match="whole number from 1 to 10") as caught:
                check_whole(bad, field="sessions", minimum=1, maximum=10)
            assert caught.value.field == "sessions"

    @pytest.mark.parametrize("sessions", [0, 1001, 2**63, 10**30])
    def test_package_sessions_are_checked_on_the_command(self, sessions: int) -> None:
        """SellPackage refuses a session count outside 1..1000 as it is made, naming `sessions`."""
        with pytest.raises(ValidationError) as caught:
            SellPackage(**VALID[SellPackage] | {"sessions": sessions})
        assert caught.value.field == "sessions"

    @pytest.mark.parametrize("capacity", [2**63, 10**30])
    def test_service_capacity_beyond_the_column_is_refused(self, capacity: int) -> None:
        """A capacity of 2^63 or 10^30 is refused, naming capacity."""
        with pytest.raises(ValidationError) as caught:
            Service(
                id=ServiceId(uuid4()),
                org_id=ORG,
                name="Class",
                duration=timedelta(hours=1),
                price=Money(0, "USD"),
                capacity=capacity,
            )
        assert caught.value.field == "capacity"

    @pytest.mark.parametrize("field", sorted(LONGEST))
    def test_policy_lengths_are_bounded(self, field: str) -> None:
        """Each policy length is accepted up to its limit and refused past it (100000 days too), naming it."""
        assert getattr(BookingPolicy(**{field: LONGEST[field]}), field) == LONGEST[field]
        for too_long in (LONGEST[field] + timedelta(seconds=1), timedelta(days=100_000)):
            with pytest.raises(ValidationError, match="at most") as caught:
                BookingPolicy(**{field: too_long})
            assert caught.value.field == field

    def test_every_policy_length_fits_a_32_bit_column_of_seconds(self) -> None:
        """The longest allowed policy length, in seconds, fits the INTEGER columns that store it."""
        assert all(length.total_seconds() < 2**31 for length in LONGEST.values())


class TestDateWindow:
    """Dates and instants are accepted from 1900-01-01 to 2200-01-01."""

    def test_dates_at_the_window_edges(self) -> None:
        """The window's first and last dates are accepted; the days just outside are refused, naming the field."""
        assert check_date(MIN_DATE) == date(1900, 1, 1)
        assert check_date(MAX_DATE) == date(2200, 1, 1)
        for outside in (date(1899, 12, 31), date(2200, 1, 2), date.min, date.max):
            with pytest.raises(ValidationError, match="1900-01-01 to 2200-01-01") as caught:
                check_date(outside, field="on")
            assert caught.value.field == "on"

    def test_a_datetime_or_text_is_not_a_date(self) -> None:
        """check_date refuses a datetime and a string, naming the field."""
        for wrong in (NOW, "2026-03-03"):
            with pytest.raises(ValidationError, match="must be a date") as caught:
                check_date(wrong, field="on")
            assert caught.value.field == "on"

    @pytest.mark.parametrize("instant", EDGE_INSTANTS, ids=str)
    def test_instants_outside_the_window_are_refused_without_overflow(self, instant: datetime) -> None:
        """Instants near year 1 or 9999 (with offsets that would overflow a conversion) are a ValidationError."""
        with pytest.raises(ValidationError, match="1900-01-01 to 2200-01-01") as caught:
            require_utc(instant, field="start")
        assert caught.value.field == "start"

    def test_instants_inside_the_window_in_any_zone_are_kept(self) -> None:
        """The first and last instants of the window are accepted, with their zone as given."""
        first = datetime(1900, 1, 1, tzinfo=UTC)
        last = datetime(2200, 1, 1, 23, 59, 59, tzinfo=UTC)
        assert check_instant(first) == first
        assert require_utc(last.astimezone(PLUS_14)) == last

    @given(aware_datetimes())
    def test_require_utc_only_ever_raises_validation_errors(self, instant: datetime) -> None:
        """Any aware datetime at all is either converted to UTC or refused with a ValidationError."""
        try:
            converted = require_utc(instant)
        except ValidationError:
            assert not datetime(1900, 1, 1, tzinfo=UTC) <= instant < datetime(2200, 1, 2, tzinfo=UTC)
        else:
            assert converted == instant


def _slots(**edge: Any) -> Any:
    args: dict[str, Any] = {
        "coach_id": COACH,
        "service_id": SERVICE,
        "duration": timedelta(hours=1),
        "capacity": 1,
        "rules": [],
        "overrides": [],
        "busy": [],
        "policy": BookingPolicy(),
        "tz": NEW_YORK,
        "now": NOW,
        "start": NOW,
        "end": NOW + timedelta(days=7),
    }
    return compute_slots(**(args | edge))


class TestLibraryEdges:
    """Slot, quiet-hour, zone and calendar functions given edge values raise ValidationError, not OverflowError."""

    @pytest.mark.parametrize("instant", EDGE_INSTANTS, ids=str)
    @pytest.mark.parametrize("field", ["now", "start", "end"])
    def test_compute_slots_refuses_edge_instants(self, instant: datetime, field: str) -> None:
        """compute_slots with now, start or end near year 1 or 9999 is a ValidationError naming that argument."""
        with pytest.raises(ValidationError) as caught:
            _slots(**{field: instant})
        assert caught.value.field == field

    def test_compute_slots_refuses_durations_no_day_can_hold(self) -> None:
        """A session longer than a day (timedelta.max among them) is refused, naming duration."""
        for duration in (timedelta(days=1, seconds=1), timedelta.max):
            with pytest.raises(ValidationError) as caught:
                _slots(duration=duration)
            assert caught.value.field == "duration"

    @pytest.mark.parametrize("instant", EDGE_INSTANTS, ids=str)
    def test_quiet_hours_and_busy_blocks_refuse_edge_instants(self, instant: datetime) -> None:
        """Quiet hours, busy blocks, labels and clock changes refuse instants near year 1 or 9999 (ValidationError)."""
        calls: list[Callable[[], object]] = [
            lambda: is_quiet(instant, QuietHours(), TOKYO),
            lambda: next_allowed(instant, QuietHours(), KIRITIMATI),
            lambda: is_offered([], instant),
            lambda: BusyBlock(instant, NOW),
            lambda: label(instant, TOKYO),
            lambda: offset_changes(TOKYO, instant, NOW),
        ]
        for call in calls:
            with pytest.raises(ValidationError):
                call()

    @pytest.mark.parametrize("day", EDGE_DATES, ids=str)
    def test_zone_and_calendar_helpers_refuse_edge_dates(self, day: date) -> None:
        """Local-day helpers and calendar views refuse dates near year 1 or 9999 with a ValidationError."""
        calls: list[Callable[[], object]] = [
            lambda: day_start(day, TOKYO),
            lambda: visible_range("month", day, TOKYO),
            lambda: next_anchor("month", day),
            lambda: prev_anchor("day", day),
            lambda: local_start(day, time(9), TOKYO),
            lambda: DateOverride(id=uuid4(), coach_id=COACH, on=day, available=False),
        ]
        for call in calls:
            with pytest.raises(ValidationError):
                call()

    @pytest.mark.parametrize("day", EDGE_LOCAL_DATES, ids=str)
    def test_wall_clock_helpers_refuse_readings_outside_the_window(self, day: date) -> None:
        """Wall-clock conversions refuse readings no zone shows inside the window with a ValidationError."""
        local = datetime.combine(day, time(23, 59) if day > MAX_DATE else time(0))
        for call in (first_instant_at_or_after, local_to_utc, exists_locally):
            with pytest.raises(ValidationError) as caught:
                call(local, KIRITIMATI)
            assert caught.value.field == "local"

    @settings(max_examples=200)
    @given(instant=aware_datetimes(), field=st.sampled_from(["now", "start", "end"]))
    def test_compute_slots_never_raises_anything_but_validation_errors(self, instant: datetime, field: str) -> None:
        """Any aware datetime as now, start or end gives slots or a ValidationError, never another exception."""
        with contextlib.suppress(ValidationError):
            _slots(**{field: instant})

    @settings(max_examples=200)
    @given(instant=aware_datetimes(), zone=st.sampled_from([TOKYO, NEW_YORK, KIRITIMATI, ZoneInfo("UTC")]))
    def test_quiet_hours_never_raise_anything_but_validation_errors(self, instant: datetime, zone: ZoneInfo) -> None:
        """Any aware datetime through is_quiet and next_allowed gives an answer or a ValidationError."""
        for call in (is_quiet, next_allowed):
            with contextlib.suppress(ValidationError):
                call(instant, QuietHours(start=time(21), end=time(8)), zone)

    @settings(max_examples=200)
    @given(day=st.dates(), view=st.sampled_from(["day", "week", "month"]))
    def test_calendar_views_never_raise_anything_but_validation_errors(self, day: date, view: Any) -> None:
        """Any date through the calendar's range and paging gives an answer or a ValidationError."""
        for call in (lambda: visible_range(view, day, KIRITIMATI), lambda: next_anchor(view, day)):
            with contextlib.suppress(ValidationError):
                call()

    @settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(start=aware_datetimes(), length=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=3)))
    def test_find_slots_never_raises_anything_but_validation_errors(
        self, app: CoachOS, world: World, start: datetime, length: timedelta
    ) -> None:
        """FindSlots from any aware datetime gives slots or a ValidationError, never an OverflowError."""
        try:
            end = start + length
        except OverflowError:
            return  # the caller's own arithmetic, before Coach OS is involved
        with contextlib.suppress(ValidationError):
            app.execute(
                FindSlots(org_id=world.org.id, coach_id=world.coach.id, service_id=world.pt.id, start=start, end=end)
            )

    def test_sell_package_refuses_an_expiry_of_9999(self, app: CoachOS, world: World) -> None:
        """A package expiring on 9999-12-31 is refused naming expires_at, and nothing is sold."""
        before = _snapshot(app, world)
        with pytest.raises(ValidationError) as caught:
            app.execute(
                SellPackage(
                    org_id=world.org.id,
                    client_id=world.client.id,
                    name="Forever",
                    sessions=5,
                    price=Money(0, "USD"),
                    actor=world.me,
                    expires_at=datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
                )
            )
        assert caught.value.field == "expires_at"
        assert _snapshot(app, world) == before

    def test_a_date_override_on_9999_is_refused(self, app: CoachOS, world: World) -> None:
        """A day off on 9999-12-31 is refused naming `on`."""
        with pytest.raises(ValidationError) as caught:
            app.execute(
                AddDateOverride(
                    org_id=world.org.id, coach_id=world.coach.id, on=date(9999, 12, 31), available=False, actor=world.me
                )
            )
        assert caught.value.field == "on"


#: A well-typed example of some commands.
VALID: dict[type[Command[Any]], dict[str, Any]] = {
    CreateService: {"org_id": ORG, "name": "PT", "duration": HOUR, "price": Money(0, "USD"), "actor": SYSTEM},
    BookSession: {
        "org_id": ORG,
        "coach_id": COACH,
        "service_id": SERVICE,
        "client_id": ClientId(uuid4()),
        "start": NOW,
        "actor": SYSTEM,
    },
    SetWeeklyHours: {"org_id": ORG, "coach_id": COACH, "hours": [(0, time(9), time(17))], "actor": SYSTEM},
    SellPackage: {
        "org_id": ORG,
        "client_id": ClientId(uuid4()),
        "name": "Pack",
        "sessions": 5,
        "price": Money(0, "USD"),
        "actor": SYSTEM,
    },
    AddDateOverride: {"org_id": ORG, "coach_id": COACH, "on": date(2026, 3, 10), "available": False, "actor": SYSTEM},
    UpdateService: {"org_id": ORG, "service_id": SERVICE, "actor": SYSTEM, "capacity": 3},
    FindSlots: {"org_id": ORG, "coach_id": COACH, "service_id": SERVICE, "start": NOW, "end": NOW + HOUR},
    CreateClient: {"org_id": ORG, "name": "Jo", "actor": SYSTEM, "tags": {"vip"}},
}
#: A command, one of its fields and a value of the wrong type for it.
WRONG_TYPES: list[tuple[type[Command[Any]], str, object]] = [
    (CreateService, "price", 4500),
    (CreateService, "org_id", str(ORG)),
    (BookSession, "start", "2026-03-03T14:00:00Z"),
    (BookSession, "confirm", "yes"),
    (SetWeeklyHours, "hours", [(0, "09:00", "17:00")]),
    (SetWeeklyHours, "hours", [(0, time(9))]),
    (SellPackage, "sessions", "5"),
    (AddDateOverride, "on", NOW),
    (UpdateService, "capacity", True),
    (FindSlots, "end", 1234),
    (CreateClient, "tags", {"vip", 7}),
]


class TestCommandTypes:
    """Commands check the types of their fields as they are made."""

    def test_create_service_with_minutes_as_an_int_names_duration(self) -> None:
        """CreateService(duration=60) is a ValidationError saying a duration is a timedelta, not a TypeError."""
        with pytest.raises(ValidationError, match=r"duration must be a length of time \(timedelta\), not int") as got:
            CreateService(org_id=ORG, name="PT", duration=60, price=Money(0, "USD"), actor=SYSTEM)  # type: ignore[arg-type]
        assert got.value.field == "duration"

    @pytest.mark.parametrize(
        ("command", "field", "wrong"), WRONG_TYPES, ids=[f"{c.__name__}.{f}" for c, f, _ in WRONG_TYPES]
    )
    def test_a_wrong_type_names_its_field(self, command: type[Command[Any]], field: str, wrong: object) -> None:
        """A value of the wrong type in a command is a ValidationError naming that field; the right types pass."""
        command(**VALID[command])
        with pytest.raises(ValidationError, match=f"(?i)^{field} must be") as caught:
            command(**VALID[command] | {field: wrong})
        assert caught.value.field == field

    def test_every_registered_command_checks_its_field_types(self) -> None:
        """Every command the use-case table routes runs the base class's type check (none replaces it)."""
        assert HANDLERS
        for command in HANDLERS:
            assert command.__attrs_post_init__ is Command.__attrs_post_init__, command.__name__
            typing.get_type_hints(command)  # every annotation resolves at run time (no NameError)
