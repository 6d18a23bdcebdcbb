"""The Today page: the day's sessions in the business's zone, credits left, and what needs attention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quart import Quart

from coachos import Actor, BookSession, CoachOS, CreateClient, Money, SellPackage
from coachos.adapters.clock import FixedClock
from tests.web.support import sign_up


async def _business(web: Quart, core: CoachOS, slug: str) -> tuple[object, object, object]:
    await sign_up(web.test_client(), slug=slug, email=f"alex@{slug}.test")
    org = core.read(lambda uow: uow.orgs.by_slug(slug))
    (coach,) = core.read(lambda uow: uow.coaches.list(org.id))
    (service,) = core.read(lambda uow: uow.services.list(org.id))
    return org, coach, service


class TestToday:
    async def test_lists_todays_sessions_with_zone_credits_and_attention(
        self, web: Quart, core: CoachOS, clock: FixedClock
    ) -> None:
        """Today's booking shows at its New York time with EST, the client's credits, and a request to confirm."""
        coach_client = web.test_client()
        await sign_up(coach_client, slug="peak")
        org = core.read(lambda uow: uow.orgs.by_slug("peak"))
        (coach,) = core.read(lambda uow: uow.coaches.list(org.id))
        (service,) = core.read(lambda uow: uow.services.list(org.id))
        me = Actor("coach", coach.id)
        client = core.execute(CreateClient(org_id=org.id, name="Quinn Avery", actor=me))
        core.execute(
            SellPackage(org_id=org.id, client_id=client.id, name="Pair", sessions=2, price=Money(0, "USD"), actor=me)
        )
        now = clock.now()
        clock.set(now - timedelta(days=2))  # book with enough notice, then come back to "today"
        today_10 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 EST
        core.execute(
            BookSession(
                org_id=org.id,
                coach_id=coach.id,
                service_id=service.id,
                client_id=client.id,
                start=today_10,
                confirm=True,
                actor=me,
            )
        )
        core.execute(
            BookSession(
                org_id=org.id,
                coach_id=coach.id,
                service_id=service.id,
                client_id=client.id,
                start=today_10 + timedelta(days=1),
                actor=me,
            )
        )
        other_org, other_coach, other_service = await _business(web, core, "elsewhere")
        stranger = core.execute(
            CreateClient(org_id=other_org.id, name="Zed Stranger", actor=Actor("coach", other_coach.id))  # type: ignore[attr-defined]
        )
        core.execute(
            SellPackage(
                org_id=other_org.id,  # type: ignore[attr-defined]
                client_id=stranger.id,
                name="One",
                sessions=1,
                price=Money(0, "USD"),
                actor=Actor("coach", other_coach.id),  # type: ignore[attr-defined]
            )
        )
        core.execute(
            BookSession(
                org_id=other_org.id,
                coach_id=other_coach.id,
                service_id=other_service.id,  # type: ignore[attr-defined]
                client_id=stranger.id,
                start=today_10 + timedelta(hours=2),
                actor=Actor("coach", other_coach.id),
            )  # type: ignore[attr-defined]
        )
        clock.set(now)
        page = await (await coach_client.get("/today")).get_data(as_text=True)
        assert "10:00\u201311:00 EST" in page
        assert "Quinn Avery" in page
        assert "0 credits left" in page  # both credits are used by the two bookings
        assert "Needs attention" in page
        assert "Confirm" in page
        assert "Tue 3 Mar, 10:00 EST" in page
        assert "Zed Stranger" not in page
