"""The automations page: add, switch on and off, run history in the business's zone, and refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.domain.automations import Automation
from coachos.domain.usecases import RunDueAutomations
from tests.web.support import csrf, sign_up

PAGE = "/setup/automations"


async def _post(client: Client, fields: dict[str, Any]) -> Any:
    token = await csrf(client, PAGE)
    return await client.post(PAGE, form={"csrf_token": token, **fields})


async def _text(response: Any) -> str:
    text: str = await response.get_data(as_text=True)
    return text


def _automations(core: CoachOS, slug: str = "peak") -> list[Automation]:
    org = core.read(lambda uow: uow.orgs.by_slug(slug))
    return list(core.read(lambda uow: uow.automations.list(org.id)))


def _create(**fields: str) -> dict[str, str]:
    return {"action": "create", "name": "Monday tag", "schedule": "0 9 * * 1", "tag": "weekly", "status": ""} | fields


class TestAutomationsPage:
    async def test_create_run_and_see_the_history_in_local_time(
        self, client: Client, core: CoachOS, clock: FixedClock
    ) -> None:
        """An automation added on the page runs when due, and its run shows at 09:00 EDT, the business's clock."""
        await sign_up(client)
        response = await _post(client, _create())
        assert response.status_code == 302
        [automation] = _automations(core)
        assert automation.schedule.expression == "0 9 * * 1"
        assert automation.enabled
        clock.set(datetime(2026, 3, 9, 13, 0, 30, tzinfo=UTC))  # Monday 09:00 EDT, after the clocks changed
        core.execute(RunDueAutomations())
        body = await _text(await client.get(PAGE))
        assert "Mon 9 Mar 2026, 09:00 EDT" in body
        assert "America/New_York (EDT)" in body
        assert "<td>done</td>" in body

    async def test_switch_off_and_on(self, client: Client, core: CoachOS) -> None:
        """Switching an automation off and on again is stored."""
        await sign_up(client)
        await _post(client, _create())
        [automation] = _automations(core)
        assert (await _post(client, {"action": "disable", "automation_id": str(automation.id)})).status_code == 302
        assert not _automations(core)[0].enabled
        assert (await _post(client, {"action": "enable", "automation_id": str(automation.id)})).status_code == 302
        assert _automations(core)[0].enabled

    async def test_page_needs_a_session(self, client: Client) -> None:
        """A signed-out visitor is sent to log in."""
        response = await client.get(PAGE)
        assert response.status_code == 302

    async def test_other_orgs_automation_is_404(self, web: Quart, core: CoachOS) -> None:
        """Switching off another organisation's automation is 404 and leaves it on."""
        other = web.test_client()
        await sign_up(other, email="sam@other.test", slug="other")
        await _post(other, _create())
        [theirs] = _automations(core, "other")
        mine = web.test_client()
        await sign_up(mine)
        response = await _post(mine, {"action": "disable", "automation_id": str(theirs.id)})
        assert response.status_code == 404
        assert _automations(core, "other")[0].enabled
        assert "Monday tag" not in await _text(await mine.get(PAGE))

    @pytest.mark.parametrize(
        "fields",
        [
            _create(schedule="every monday"),
            _create(schedule="0 9 * * 8"),
            _create(schedule="0 9 31 2 *"),
            _create(schedule="9999 * * * *"),
            _create(schedule="0 9 * * 1\x00"),
            _create(name="Monday\x00tag"),
            _create(tag="week\x00ly"),
            _create(status="vip"),
            _create(name=""),
            {"action": "explode"},
        ],
    )
    async def test_bad_input_is_400_and_stores_nothing(
        self, client: Client, core: CoachOS, fields: dict[str, str]
    ) -> None:
        """A bad schedule, name, tag or status (NUL, out of range, unknown) is a 400 and nothing is stored."""
        await sign_up(client)
        response = await _post(client, fields)
        assert response.status_code == 400
        assert _automations(core) == []

    async def test_a_bad_automation_id_is_404(self, client: Client) -> None:
        """An id that is not a UUID is 404, as for any id not in this business."""
        await sign_up(client)
        response = await _post(client, {"action": "enable", "automation_id": "not-an-id"})
        assert response.status_code == 404
