"""The public slots.json endpoint for booking widgets."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from quart import Quart

from coachos import CoachOS
from tests.web.support import sign_up


async def _service_path(web: Quart, core: CoachOS) -> str:
    await sign_up(web.test_client(), slug="peak", timezone="America/New_York")
    org = core.read(lambda uow: uow.orgs.by_slug("peak"))
    (service,) = core.read(lambda uow: uow.services.list(org.id))
    return f"/book/peak/{service.id}/slots.json"


class TestPublicSlotsJson:
    async def test_thirty_days_by_default_with_local_labels(self, web: Quart, core: CoachOS) -> None:
        """Without parameters it lists 30 local days of slots, each with the business's label and zone."""
        path = await _service_path(web, core)
        body = await (await web.test_client().get(path)).get_json()
        assert body["timezone"] == "America/New_York"
        tz = ZoneInfo("America/New_York")
        days = {datetime.fromisoformat(i["start"]).astimezone(tz).date() for i in body["items"]}
        assert max(days) == date(2026, 3, 31)  # 2 March (today, local) + 30 days, the last one included
        assert min(days) == date(2026, 3, 3)  # today's hours are inside the 12-hour minimum notice
        assert body["items"][0]["local"].endswith("EST")
        assert any(i["local"].endswith("EDT") for i in body["items"])  # the range crosses 8 March

    async def test_days_are_bounded(self, web: Quart, core: CoachOS) -> None:
        """Asking for more than 31 days, or nonsense, is a 400 naming the parameter."""
        path = await _service_path(web, core)
        client = web.test_client()
        for query in ("?days=90", "?days=abc", "?from=tomorrow"):
            response = await client.get(path + query, headers={"Accept": "application/json"})
            assert response.status_code == 400
            assert (await response.get_json())["errors"][0]["field"] == "days"

    async def test_unknown_business_is_404(self, web: Quart, core: CoachOS) -> None:
        """Another slug with this service id answers 404."""
        path = await _service_path(web, core)
        response = await web.test_client().get(
            path.replace("/peak/", "/nobody/"), headers={"Accept": "application/json"}
        )
        assert response.status_code == 404
