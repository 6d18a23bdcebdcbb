"""Event automations, conditions and actions made on the page; to-dos on Today; birthdays on the profile."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS
from coachos.domain.automations import ConditionKind, SendMessage, TriggerKind
from coachos.domain.todos import Todo
from tests.web.support import csrf
from tests.web.test_api import ok, open_account, problem
from tests.web.test_automation_routes import PAGE, _automations, _post, _text
from tests.web.test_client_routes import Business, add, book, open_business, sell


def _event(**fields: str) -> dict[str, str]:
    return {
        "action": "create",
        "name": "Thank you",
        "trigger": "booking_created",
        "schedule": "",
        "threshold": "",
        "act": "send_sms",
        "body": "Thanks {client_first_name}!",
    } | fields


def _todos(core: CoachOS, biz: Business) -> list[Todo]:
    return list(core.read(lambda uow: uow.todos.open(biz.org.id)))


class TestEventAutomationsOnThePage:
    async def test_an_event_automation_with_conditions_is_stored_and_listed(
        self, client: Client, core: CoachOS
    ) -> None:
        """A booking-made SMS for VIPs of one service is stored as typed and described on the page."""
        biz = await open_business(client, core)
        response = await _post(client, _event(has_tag="VIP", service_is=str(biz.service.id), transactional="on"))
        assert response.status_code == 302
        [automation] = _automations(core)
        assert automation.trigger is TriggerKind.BOOKING_CREATED
        assert automation.schedule is None
        assert [(c.kind, c.value) for c in automation.conditions] == [
            (ConditionKind.HAS_TAG, "vip"),
            (ConditionKind.SERVICE_IS, str(biz.service.id)),
        ]
        assert automation.action == SendMessage(channel="sms", body="Thanks {client_first_name}!", transactional=True)
        page = await _text(await client.get(PAGE))
        assert "When a booking is made" in page
        assert "client has tag &#39;vip&#39;" in page
        assert f"service is {biz.service.name}" in page

    async def test_a_run_shows_its_client(self, client: Client, core: CoachOS) -> None:
        """After a booking, the run history names the client it ran for."""
        biz = await open_business(client, core)
        await _post(client, _event(act="create_todo", title="Call {client_name}"))
        jordan = add(core, biz, "Jordan Lee")
        sell(core, biz, jordan)
        book(core, biz, jordan, 3, 10)
        core.relay.relay_once(100)
        page = await _text(await client.get(PAGE))
        assert f'<a href="/clients/{jordan.id}">Jordan Lee</a>' in page

    @pytest.mark.parametrize(
        "fields",
        [
            _event(body="Hi {first_name}"),
            _event(body=""),
            _event(act="send_email", subject=""),
            _event(act="explode"),
            _event(trigger="sometimes"),
            _event(trigger="credits_low", threshold=""),
            _event(trigger="credits_low", threshold="two"),
            _event(trigger="client_inactive", threshold="0"),
            _event(trigger="birthday", service_is="00000000-0000-0000-0000-000000000001"),
            _event(service_is="00000000-0000-0000-0000-000000000001"),
            _event(service_is="not-a-service"),
            _event(status_is="vip"),
            _event(act="create_todo", title=""),
            _event(trigger="schedule", schedule=""),
        ],
    )
    async def test_bad_input_is_400_and_stores_nothing(
        self, client: Client, core: CoachOS, fields: dict[str, str]
    ) -> None:
        """A bad placeholder, a missing or wrong number, an unknown trigger, action or condition is a 400."""
        await open_business(client, core)
        response = await _post(client, fields)
        assert response.status_code == 400
        assert _automations(core) == []


class TestTodosOnToday:
    async def test_an_automations_todo_shows_on_today_and_is_ticked_off(self, client: Client, core: CoachOS) -> None:
        """A to-do made by an automation is on Today until its Done button is pressed."""
        biz = await open_business(client, core)
        await _post(client, _event(act="create_todo", title="Welcome {client_first_name}"))
        jordan = add(core, biz, "Jordan Lee")
        sell(core, biz, jordan)
        book(core, biz, jordan, 3, 10)
        core.relay.relay_once(100)
        assert "Welcome Jordan" in await _text(await client.get("/today"))
        [todo] = _todos(core, biz)
        token = await csrf(client, "/today")
        response = await client.post(f"/todos/{todo.id}/done", form={"csrf_token": token})
        assert response.status_code == 303
        assert _todos(core, biz) == []
        assert "Welcome Jordan" not in await _text(await client.get("/today"))

    async def test_another_businesss_todo_is_404(self, client: Client, web: Any, core: CoachOS) -> None:
        """Ticking off another business's to-do is 404 and leaves it open."""
        theirs = web.test_client()
        biz = await open_business(theirs, core, slug="other")
        await _post(theirs, _event(act="create_todo", title="Theirs"))
        sam = add(core, biz, "Sam Patel")
        sell(core, biz, sam)
        book(core, biz, sam, 3, 10)
        core.relay.relay_once(100)
        [todo] = _todos(core, biz)
        await open_business(client, core)
        token = await csrf(client, "/today")
        response = await client.post(f"/todos/{todo.id}/done", form={"csrf_token": token})
        assert response.status_code == 404
        assert len(_todos(core, biz)) == 1


class TestBirthdayOnTheProfile:
    async def _save(self, client: Client, biz: Business, client_id: Any, birthday: str) -> Any:
        token = await csrf(client, f"/clients/{client_id}")
        return await client.post(
            f"/clients/{client_id}",
            form={
                "csrf_token": token,
                "panel": "profile",
                "name": "Jordan Lee",
                "phone": "",
                "email": "",
                "timezone": "",
                "status": "lead",
                "tags": "",
                "birthday": birthday,
            },
        )

    async def test_a_birthday_is_saved_shown_and_cleared(self, client: Client, core: CoachOS) -> None:
        """The profile form stores a birthday, the page shows it, and an empty field clears it."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        assert (await self._save(client, biz, jordan.id, "1990-02-28")).status_code == 303
        assert core.read(lambda uow: uow.clients.get(biz.org.id, jordan.id)).birthday == date(1990, 2, 28)
        panel = await _text(await client.get(f"/clients/{jordan.id}/panels/profile"))
        assert "28 February" in panel
        await self._save(client, biz, jordan.id, "")
        assert core.read(lambda uow: uow.clients.get(biz.org.id, jordan.id)).birthday is None

    async def test_a_bad_birthday_is_400_and_changes_nothing(self, client: Client, core: CoachOS) -> None:
        """A birthday that is not a date shows the form again with its error and stores nothing."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee", birthday="1990-05-01")
        response = await self._save(client, biz, jordan.id, "31/02/1990")
        assert response.status_code == 400
        assert "Write the birthday as a date" in await _text(response)
        assert core.read(lambda uow: uow.clients.get(biz.org.id, jordan.id)).birthday == date(1990, 5, 1)


class TestBirthdayInTheApi:
    async def test_a_client_made_with_a_birthday_answers_it(self, client: Client, core: CoachOS) -> None:
        """POST /api/v1/clients stores the birthday and answers it as an ISO date."""
        account = await open_account(client, core)
        made = await ok(
            await client.post(
                "/api/v1/clients", json={"name": "Jordan Lee", "birthday": "2000-02-29"}, headers=account.bearer
            ),
            201,
        )
        assert made["birthday"] == "2000-02-29"
        got = await ok(await client.get(f"/api/v1/clients/{made['id']}", headers=account.bearer))
        assert got["birthday"] == "2000-02-29"

    @pytest.mark.parametrize("birthday", ["2000-02-30", "1800-01-01", "yesterday", 19900101])
    async def test_a_bad_birthday_is_a_problem_naming_it(self, client: Client, core: CoachOS, birthday: object) -> None:
        """A birthday that is not a date from 1900 to 2200 is a 400 problem naming the field."""
        account = await open_account(client, core)
        body = await problem(
            await client.post(
                "/api/v1/clients", json={"name": "Jordan Lee", "birthday": birthday}, headers=account.bearer
            ),
            400,
        )
        assert [e["field"] for e in body["errors"]] == ["birthday"]
