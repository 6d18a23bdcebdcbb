"""The coach's setup pages: hours and date changes, services, packages, settings and API tokens."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS, CreateClient, FindSlots, Organization, Service
from coachos.domain.ids import Actor
from coachos.domain.usecases import Authenticate
from tests.web.support import csrf, sign_up

# The clock stands at Monday 2 March 2026 12:00 UTC; Wednesday 4 March is bookable under the default policy.
WEDNESDAY = date(2026, 3, 4)


def _org(core: CoachOS, slug: str = "peak") -> Organization:
    return core.read(lambda uow: uow.orgs.by_slug(slug))


def _service(core: CoachOS, org: Organization) -> Service:
    return core.read(lambda uow: uow.services.list(org.id))[0]


def _coach_id(core: CoachOS, org: Organization) -> Any:
    return core.read(lambda uow: uow.coaches.list(org.id))[0].id


def _wednesday_starts(core: CoachOS, org: Organization) -> list[str]:
    """Local start times offered on Wednesday 4 March for the first service."""
    tz = org.tz
    start = datetime(2026, 3, 4, tzinfo=tz).astimezone(UTC)
    slots = core.execute(
        FindSlots(
            org_id=org.id,
            coach_id=_coach_id(core, org),
            service_id=_service(core, org).id,
            start=start,
            end=start + timedelta(days=1),
        )
    )
    return [s.start.astimezone(tz).strftime("%H:%M") for s in slots]


def _week(**days: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form fields for the weekly hours: every day 09:00-17:00 unless given (mon=..., wed=...)."""
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    form: dict[str, list[str]] = {}
    for i, name in enumerate(names):
        periods = days.get(name, [("09:00", "17:00")])
        form[f"start_{i}"] = [s for s, _ in periods] + [""]
        form[f"end_{i}"] = [e for _, e in periods] + [""]
    return form


async def _post(client: Client, path: str, page: str, fields: dict[str, Any]) -> Any:
    token = await csrf(client, page)
    return await client.post(path, form={"csrf_token": token, **fields})


async def _post_multi(client: Client, path: str, page: str, fields: dict[str, list[str]]) -> Any:
    """POST a form whose fields repeat (the weekly hours), url-encoded by hand."""
    token = await csrf(client, page)
    body = urlencode([("csrf_token", token)] + [(k, v) for k, vs in fields.items() for v in vs])
    return await client.post(path, data=body.encode(), headers={"Content-Type": "application/x-www-form-urlencoded"})


async def _text(response: Any) -> str:
    text: str = await response.get_data(as_text=True)
    return text


class TestPages:
    async def test_every_setup_page_renders_for_a_signed_in_coach(self, client: Client) -> None:
        """The index and the four sections render with the nav and the org's zone abbreviation."""
        await sign_up(client)
        for path in ("/setup", "/setup/availability", "/setup/services", "/setup/packages", "/setup/settings"):
            response = await client.get(path)
            assert response.status_code == 200, path
            body = await _text(response)
            assert 'href="/setup"' in body
        settings = await _text(await client.get("/setup/settings"))
        assert "America/New_York (EST)" in settings
        assert "Clients can book from 12 hours to 60 days ahead." in settings

    async def test_setup_pages_need_a_session(self, client: Client) -> None:
        """A signed-out visitor is sent to log in."""
        for path in ("/setup", "/setup/availability", "/setup/services", "/setup/packages", "/setup/settings"):
            response = await client.get(path)
            assert response.status_code == 302
            assert response.headers["Location"].startswith("/login")


class TestAvailability:
    async def test_new_weekly_hours_change_the_slots(self, client: Client, core: CoachOS) -> None:
        """Two periods on Wednesday replace its 09:00-17:00 and FindSlots offers only their start times."""
        await sign_up(client)
        org = _org(core)
        assert len(_wednesday_starts(core, org)) == 15
        response = await _post_multi(
            client,
            "/setup/availability",
            "/setup/availability",
            {"action": ["hours"], **_week(wed=[("10:00", "12:00"), ("14:00", "15:00")])},
        )
        assert response.status_code == 302
        assert _wednesday_starts(core, org) == ["10:00", "10:30", "11:00", "14:00"]
        page = await _text(await client.get("/setup/availability?saved=hours"))
        assert "Weekly hours saved." in page
        assert 'value="14:00"' in page

    async def test_empty_day_is_a_day_off(self, client: Client, core: CoachOS) -> None:
        """A weekday with no periods offers no slots."""
        await sign_up(client)
        await _post_multi(client, "/setup/availability", "/setup/availability", {"action": ["hours"], **_week(wed=[])})
        assert _wednesday_starts(core, _org(core)) == []

    async def test_end_before_start_shows_the_message_and_writes_nothing(self, client: Client, core: CoachOS) -> None:
        """A period ending before it starts re-shows the form with the domain's reason and the week is unchanged."""
        await sign_up(client)
        response = await _post_multi(
            client,
            "/setup/availability",
            "/setup/availability",
            {"action": ["hours"], **_week(wed=[("15:00", "10:00")])},
        )
        assert response.status_code == 400
        body = await _text(response)
        assert "Weekly hours on Wednesday must end after they start" in body
        assert 'value="15:00"' in body
        assert len(_wednesday_starts(core, _org(core))) == 15

    async def test_overlapping_periods_show_the_message_and_write_nothing(self, client: Client, core: CoachOS) -> None:
        """Overlapping periods on one day are refused with the domain's message."""
        await sign_up(client)
        response = await _post_multi(
            client,
            "/setup/availability",
            "/setup/availability",
            {"action": ["hours"], **_week(wed=[("09:00", "12:00"), ("11:00", "13:00")])},
        )
        assert response.status_code == 400
        assert "Two periods on the same day overlap" in await _text(response)
        assert len(_wednesday_starts(core, _org(core))) == 15

    async def test_day_off_then_removing_it(self, client: Client, core: CoachOS) -> None:
        """A whole day off empties that date's slots and is listed; removing it brings them back."""
        await sign_up(client)
        org = _org(core)
        response = await _post(
            client,
            "/setup/availability",
            "/setup/availability",
            {"action": "add_override", "on": WEDNESDAY.isoformat(), "kind": "off_day"},
        )
        assert response.status_code == 302
        assert _wednesday_starts(core, org) == []
        page = await _text(await client.get("/setup/availability"))
        assert "Wed 4 Mar 2026" in page
        assert "Whole day off" in page
        (override,) = core.read(
            lambda uow: uow.availability.overrides(org.id, _coach_id(core, org), WEDNESDAY, WEDNESDAY)
        )
        response = await _post(
            client,
            "/setup/availability",
            "/setup/availability",
            {"action": "remove_override", "override_id": str(override.id)},
        )
        assert response.status_code == 302
        assert len(_wednesday_starts(core, org)) == 15

    async def test_part_of_a_day_off_and_extra_hours(self, client: Client, core: CoachOS) -> None:
        """Time off removes its hours and extra hours add theirs, shown with the zone's abbreviation."""
        await sign_up(client)
        org = _org(core)
        for kind, start, end in (("off_part", "09:00", "16:00"), ("extra", "18:00", "19:00")):
            response = await _post(
                client,
                "/setup/availability",
                "/setup/availability",
                {"action": "add_override", "on": WEDNESDAY.isoformat(), "kind": kind, "start": start, "end": end},
            )
            assert response.status_code == 302
        assert _wednesday_starts(core, org) == ["16:00", "18:00"]
        page = await _text(await client.get("/setup/availability"))
        assert "Time off 09:00 to 16:00 EST" in page
        assert "Extra hours 18:00 to 19:00 EST" in page

    async def test_bad_override_shows_the_message_and_writes_nothing(self, client: Client, core: CoachOS) -> None:
        """Extra hours ending before they start are refused and no override is stored."""
        await sign_up(client)
        org = _org(core)
        response = await _post(
            client,
            "/setup/availability",
            "/setup/availability",
            {"action": "add_override", "on": WEDNESDAY.isoformat(), "kind": "extra", "start": "19:00", "end": "18:00"},
        )
        assert response.status_code == 400
        assert "The end time must be after the start time" in await _text(response)
        assert (
            core.read(lambda uow: uow.availability.overrides(org.id, _coach_id(core, org), WEDNESDAY, WEDNESDAY)) == []
        )

    async def test_other_orgs_override_is_404(self, web: Quart, core: CoachOS) -> None:
        """Removing another organisation's date change is 404 and leaves it in place."""
        other = web.test_client()
        await sign_up(other, email="sam@other.test", slug="other")
        await _post(
            other,
            "/setup/availability",
            "/setup/availability",
            {"action": "add_override", "on": WEDNESDAY.isoformat(), "kind": "off_day"},
        )
        theirs = _org(core, "other")
        (override,) = core.read(
            lambda uow: uow.availability.overrides(theirs.id, _coach_id(core, theirs), WEDNESDAY, WEDNESDAY)
        )
        mine = web.test_client()
        await sign_up(mine)
        response = await _post(
            mine,
            "/setup/availability",
            "/setup/availability",
            {"action": "remove_override", "override_id": str(override.id)},
        )
        assert response.status_code == 404
        assert _wednesday_starts(core, theirs) == []


class TestServices:
    async def test_create_with_a_typed_price(self, client: Client, core: CoachOS) -> None:
        """A new service's price typed as '45.50' is stored exactly as 4550 minor units of the org's currency."""
        await sign_up(client)
        response = await _post(
            client,
            "/setup/services",
            "/setup/services",
            {"name": "Group bootcamp", "minutes": "45", "price": "45.50", "capacity": "8"},
        )
        assert response.status_code == 302
        org = _org(core)
        made = next(s for s in core.read(lambda uow: uow.services.list(org.id)) if s.name == "Group bootcamp")
        assert (made.price.amount_minor, made.price.currency) == (4550, "USD")
        assert (made.duration, made.capacity, made.uses_credit) == (timedelta(minutes=45), 8, False)

    async def test_bad_price_shows_the_message_and_writes_nothing(self, client: Client, core: CoachOS) -> None:
        """A price with three decimals re-shows the form with the reason and no service is added."""
        await sign_up(client)
        response = await _post(
            client,
            "/setup/services",
            "/setup/services",
            {"name": "Yoga", "minutes": "60", "price": "12.345", "capacity": "1"},
        )
        assert response.status_code == 400
        body = await _text(response)
        assert "USD amounts have at most 2 decimals" in body
        assert 'value="Yoga"' in body
        assert len(core.read(lambda uow: uow.services.list(_org(core).id))) == 1

    async def test_edit_changes_the_service(self, client: Client, core: CoachOS) -> None:
        """Editing the name, length and price stores them and the page shows the new values."""
        await sign_up(client)
        org = _org(core)
        pt = _service(core, org)
        response = await _post(
            client,
            f"/setup/services/{pt.id}",
            "/setup/services",
            {
                "action": "save",
                "name": "Strength",
                "minutes": "45",
                "price": "90",
                "capacity": "1",
                "uses_credit": "on",
            },
        )
        assert response.status_code == 302
        stored = core.read(lambda uow: uow.services.get(org.id, pt.id))
        assert (stored.name, stored.duration, stored.price.amount_minor, stored.uses_credit) == (
            "Strength",
            timedelta(minutes=45),
            9000,
            True,
        )
        assert "90.00 USD" in await _text(await client.get("/setup/services"))

    async def test_bad_edit_shows_the_message_and_writes_nothing(self, client: Client, core: CoachOS) -> None:
        """An edit with a bad price is refused with the reason and the service is unchanged."""
        await sign_up(client)
        org = _org(core)
        pt = _service(core, org)
        response = await _post(
            client,
            f"/setup/services/{pt.id}",
            "/setup/services",
            {"action": "save", "name": "Strength", "minutes": "45", "price": "12.345", "capacity": "1"},
        )
        assert response.status_code == 400
        assert "at most 2 decimals" in await _text(response)
        assert core.read(lambda uow: uow.services.get(org.id, pt.id)) == pt

    async def test_deactivate_stops_slots_and_activate_restores_them(self, client: Client, core: CoachOS) -> None:
        """A deactivated service is kept but offers no slots until it is offered again."""
        await sign_up(client)
        org = _org(core)
        pt = _service(core, org)
        await _post(client, f"/setup/services/{pt.id}", "/setup/services", {"action": "deactivate"})
        stored = core.read(lambda uow: uow.services.get(org.id, pt.id))
        assert not stored.active
        assert (stored.name, stored.uses_credit) == (pt.name, pt.uses_credit)
        assert "not offered" in await _text(await client.get("/setup/services"))
        await _post(client, f"/setup/services/{pt.id}", "/setup/services", {"action": "activate"})
        assert len(_wednesday_starts(core, org)) == 15

    async def test_other_orgs_service_is_404(self, web: Quart, core: CoachOS) -> None:
        """Editing or deactivating another organisation's service is 404 and changes nothing."""
        await sign_up(web.test_client(), email="sam@other.test", slug="other")
        theirs = _service(core, _org(core, "other"))
        mine = web.test_client()
        await sign_up(mine)
        for fields in (
            {"action": "deactivate"},
            {"action": "save", "name": "Mine now", "minutes": "30", "price": "1", "capacity": "1"},
            {"action": "save", "name": "Mine now", "minutes": "30", "price": "1.234", "capacity": "1"},
        ):
            response = await _post(mine, f"/setup/services/{theirs.id}", "/setup/services", fields)
            assert response.status_code == 404
        assert core.read(lambda uow: uow.services.get(theirs.org_id, theirs.id)) == theirs


class TestPackages:
    async def test_sell_a_package_with_an_expiry_date(self, client: Client, core: CoachOS) -> None:
        """The package is stored for the client, expiring at the end of the chosen local day, and is listed."""
        await sign_up(client)
        org = _org(core)
        coach_id = _coach_id(core, org)
        jordan = core.execute(CreateClient(org_id=org.id, name="Jordan Lee", actor=Actor("coach", coach_id)))
        response = await _post(
            client,
            "/setup/packages",
            "/setup/packages",
            {
                "client_id": str(jordan.id),
                "name": "Ten pack",
                "sessions": "10",
                "price": "700",
                "expires_on": "2026-03-31",
            },
        )
        assert response.status_code == 302
        (package,) = core.read(lambda uow: uow.packages.for_client(org.id, jordan.id))
        assert (package.total, package.price.amount_minor) == (10, 70000)
        # The end of 31 March in New York (EDT, UTC-4 after the 8 March change) is 04:00 UTC on 1 April.
        assert package.expires_at == datetime(2026, 4, 1, 4, 0, tzinfo=UTC)
        page = await _text(await client.get("/setup/packages"))
        assert "Jordan Lee" in page
        assert "0 / 10" in page
        assert "700.00 USD" in page
        assert "End of Tue 31 Mar 2026 (EDT)" in page

    async def test_bad_input_shows_the_message_and_sells_nothing(self, client: Client, core: CoachOS) -> None:
        """A bad price or a missing client re-shows the form with the reason and no package is stored."""
        await sign_up(client)
        org = _org(core)
        jordan = core.execute(
            CreateClient(org_id=org.id, name="Jordan Lee", actor=Actor("coach", _coach_id(core, org)))
        )
        response = await _post(
            client,
            "/setup/packages",
            "/setup/packages",
            {"client_id": str(jordan.id), "name": "Ten pack", "sessions": "10", "price": "12.345"},
        )
        assert response.status_code == 400
        assert "at most 2 decimals" in await _text(response)
        response = await _post(
            client,
            "/setup/packages",
            "/setup/packages",
            {"client_id": "", "name": "Ten pack", "sessions": "10", "price": "1"},
        )
        assert response.status_code == 400
        assert "Choose the client" in await _text(response)
        assert core.read(lambda uow: uow.packages.recent(org.id)) == []

    async def test_other_orgs_client_is_404(self, web: Quart, core: CoachOS) -> None:
        """Selling to another organisation's client is 404 and sells nothing."""
        await sign_up(web.test_client(), email="sam@other.test", slug="other")
        theirs = _org(core, "other")
        stranger = core.execute(
            CreateClient(org_id=theirs.id, name="Stranger", actor=Actor("coach", _coach_id(core, theirs)))
        )
        mine = web.test_client()
        await sign_up(mine)
        response = await _post(
            mine,
            "/setup/packages",
            "/setup/packages",
            {"client_id": str(stranger.id), "name": "P", "sessions": "1", "price": "0"},
        )
        assert response.status_code == 404
        assert core.read(lambda uow: uow.packages.recent(theirs.id)) == []


def _settings(**changes: str) -> dict[str, str]:
    return {
        "name": "Peak Coaching",
        "timezone": "America/New_York",
        "timezone_other": "",
        "min_notice_hours": "12",
        "horizon_days": "60",
        "cancellation_hours": "24",
        "buffer_minutes": "0",
        "slot_interval_minutes": "30",
        "quiet_start": "21:00",
        "quiet_end": "08:00",
    } | changes


class TestSettings:
    async def test_changing_the_zone_is_stored_on_the_org_and_shown(self, client: Client, core: CoachOS) -> None:
        """A new zone is stored once on the organisation and Today and setup then show its abbreviation."""
        await sign_up(client)
        response = await _post(client, "/setup/settings", "/setup/settings", _settings(timezone="Europe/London"))
        assert response.status_code == 302
        org = _org(core)
        assert org.timezone == "Europe/London"
        assert "GMT" in await _text(await client.get("/today"))
        assert "EST" not in await _text(await client.get("/today"))
        assert "Europe/London (GMT)" in await _text(await client.get("/setup/settings"))
        assert "Europe/London (GMT)" in await _text(await client.get("/setup"))

    async def test_free_text_zone_wins_over_the_list(self, client: Client, core: CoachOS) -> None:
        """A zone typed in the free-text field is used instead of the selected one."""
        await sign_up(client)
        await _post(client, "/setup/settings", "/setup/settings", _settings(timezone_other="Europe/Madrid"))
        assert _org(core).timezone == "Europe/Madrid"

    async def test_unknown_zone_shows_the_message_and_writes_nothing(self, client: Client, core: CoachOS) -> None:
        """An unknown zone re-shows the form with the reason and the organisation is unchanged."""
        await sign_up(client)
        before = _org(core)
        response = await _post(
            client, "/setup/settings", "/setup/settings", _settings(name="Renamed", timezone_other="Mars/Base")
        )
        assert response.status_code == 400
        body = await _text(response)
        assert "not a known time zone" in body
        assert 'value="Renamed"' in body
        assert _org(core) == before

    async def test_policy_and_quiet_hours_are_stored_and_explained(self, client: Client, core: CoachOS) -> None:
        """New booking rules and quiet hours are stored and described in words."""
        await sign_up(client)
        await _post(
            client,
            "/setup/settings",
            "/setup/settings",
            _settings(
                min_notice_hours="2",
                horizon_days="30",
                cancellation_hours="48",
                buffer_minutes="15",
                slot_interval_minutes="15",
                quiet_start="22:00",
                quiet_end="07:00",
            ),
        )
        org = _org(core)
        assert org.policy.min_notice == timedelta(hours=2)
        assert org.policy.horizon == timedelta(days=30)
        assert org.policy.cancellation_window == timedelta(hours=48)
        assert org.policy.buffer == timedelta(minutes=15)
        assert org.policy.slot_interval == timedelta(minutes=15)
        assert (org.quiet_hours.start.hour, org.quiet_hours.end.hour) == (22, 7)
        page = await _text(await client.get("/setup/settings"))
        assert "Clients can book from 2 hours to 30 days ahead." in page
        assert "until 2 days before a session" in page
        assert "every 15 minutes, with 15 minutes kept free after each session" in page
        assert "between 22:00 and 07:00" in page

    async def test_bad_number_shows_the_message_and_writes_nothing(self, client: Client, core: CoachOS) -> None:
        """A slot interval under five minutes is refused with the reason and nothing changes."""
        await sign_up(client)
        before = _org(core)
        response = await _post(client, "/setup/settings", "/setup/settings", _settings(slot_interval_minutes="2"))
        assert response.status_code == 400
        assert "Slot interval (minutes) must be a whole number from 5" in await _text(response)
        assert _org(core) == before


class TestApiTokens:
    async def test_secret_shown_once_works_until_revoked(self, client: Client, core: CoachOS) -> None:
        """The new token's secret appears once, authenticates as the coach, and stops working when revoked."""
        await sign_up(client)
        org = _org(core)
        response = await _post(client, "/setup/tokens", "/setup/settings", {"name": "Zapier"})
        assert response.status_code == 201
        assert response.headers["Cache-Control"] == "no-store"
        body = await _text(response)
        found = re.search(r'value="(coa_[^"]+)"', body)
        assert found
        secret = found.group(1)
        assert "shown only this once" in body
        principal = core.execute(Authenticate(token=secret, kind="api"))
        assert principal is not None
        assert principal.org_id == org.id
        listing = await _text(await client.get("/setup/settings"))
        assert "Zapier" in listing
        assert secret not in listing
        (token,) = core.read(lambda uow: uow.accounts.api_tokens_of(org.id, _coach_id(core, org)))
        response = await _post(client, f"/setup/tokens/{token.id}/revoke", "/setup/settings", {})
        assert response.status_code == 302
        assert core.execute(Authenticate(token=secret, kind="api")) is None
        assert "revoked" in await _text(await client.get("/setup/settings"))

    async def test_nameless_token_is_refused(self, client: Client, core: CoachOS) -> None:
        """A token without a name is refused with a message and none is made."""
        await sign_up(client)
        org = _org(core)
        response = await _post(client, "/setup/tokens", "/setup/settings", {"name": ""})
        assert response.status_code == 400
        assert core.read(lambda uow: uow.accounts.api_tokens_of(org.id, _coach_id(core, org))) == []

    async def test_other_orgs_token_is_404(self, web: Quart, core: CoachOS) -> None:
        """Revoking another organisation's token is 404 and it keeps working."""
        other = web.test_client()
        await sign_up(other, email="sam@other.test", slug="other")
        made = await _text(await _post(other, "/setup/tokens", "/setup/settings", {"name": "Theirs"}))
        found = re.search(r'value="(coa_[^"]+)"', made)
        assert found
        theirs = _org(core, "other")
        (token,) = core.read(lambda uow: uow.accounts.api_tokens_of(theirs.id, _coach_id(core, theirs)))
        mine = web.test_client()
        await sign_up(mine)
        response = await _post(mine, f"/setup/tokens/{token.id}/revoke", "/setup/settings", {})
        assert response.status_code == 404
        assert core.execute(Authenticate(token=found.group(1), kind="api")) is not None
