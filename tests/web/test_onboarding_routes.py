"""Setup → Onboarding: flows added, steps ordered, services chosen (CSRF); refusals store nothing; other orgs 404."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import Actor, BookSession, CoachOS, CreateClient
from coachos.adapters.memory import FakeSteps
from coachos.adapters.onboarding_steps import StepRegistry
from coachos.domain.onboarding import OnboardingFlow, Step, StepKind
from coachos.domain.usecases import AddOnboardingStep, CreateOnboardingFlow, UpdateOnboardingFlow
from tests.web.support import csrf, sign_up

PAGE = "/setup/onboarding"


@pytest.fixture(name="steps")
def fake_steps(core: CoachOS) -> FakeSteps:
    """Waivers and forms the tests say exist, plugged into the app's step registry."""
    fake = FakeSteps()
    registry = core.deps.steps
    assert isinstance(registry, StepRegistry)
    for kind in (StepKind.SIGN_WAIVER, StepKind.FILL_FORM):
        registry.register(kind, fake.source(kind))
    return fake


async def _post(client: Client, fields: dict[str, Any]) -> Any:
    token = await csrf(client, PAGE)
    return await client.post(PAGE, form={"csrf_token": token, **fields})


def _flows(core: CoachOS, slug: str = "peak") -> list[OnboardingFlow]:
    org = core.read(lambda uow: uow.orgs.by_slug(slug))
    return list(core.read(lambda uow: uow.onboarding.flows(org.id)))


def _offer(core: CoachOS, steps: FakeSteps, slug: str = "peak") -> tuple[Step, Step]:
    org = core.read(lambda uow: uow.orgs.by_slug(slug))
    return (
        steps.offer(org.id, StepKind.SIGN_WAIVER, uuid.uuid4(), "Liability waiver"),
        steps.offer(org.id, StepKind.FILL_FORM, uuid.uuid4(), "Health screening"),
    )


def _value(step: Step) -> str:
    return f"{step.kind.value}:{step.target}"


class TestOnboardingSetup:
    async def test_create_order_choose_services_and_delete(
        self, client: Client, core: CoachOS, steps: FakeSteps
    ) -> None:
        """A flow is built on the page step by step, reordered, given a service and deleted."""
        await sign_up(client)
        waiver, form = _offer(core, steps)
        assert (await _post(client, {"action": "create", "name": "New clients"})).status_code == 302
        [flow] = _flows(core)
        for step in (waiver, form):
            response = await _post(client, {"action": "add_step", "flow_id": str(flow.id), "step": _value(step)})
            assert response.status_code == 302
        await _post(client, {"action": "up", "flow_id": str(flow.id), "index": "1"})
        assert _flows(core)[0].steps == (form, waiver)
        service = core.read(lambda uow: list(uow.services.list(flow.org_id)))[0]
        await _post(
            client,
            {"action": "update", "flow_id": str(flow.id), "name": "Before training", "service_id": str(service.id)},
        )
        [saved] = _flows(core)
        assert (saved.name, saved.services, saved.all_services) == ("Before training", frozenset({service.id}), False)
        body = await (await client.get(PAGE)).get_data(as_text=True)
        for shown in ("Health screening", "Before training", f"Bookings of {service.name} wait"):
            assert shown in body
        await _post(client, {"action": "remove", "flow_id": str(flow.id), "index": "0"})
        assert _flows(core)[0].steps == (waiver,)
        await _post(client, {"action": "delete", "flow_id": str(flow.id)})
        assert _flows(core) == []

    async def test_posting_without_csrf_is_refused(self, client: Client, core: CoachOS) -> None:
        """A post without the CSRF token stores nothing."""
        await sign_up(client)
        response = await client.post(PAGE, form={"action": "create", "name": "New clients"})
        assert response.status_code in (400, 403)
        assert _flows(core) == []

    @pytest.mark.parametrize(
        "fields",
        [
            {"action": "create", "name": ""},
            {"action": "create", "name": "x" * 101},
            {"action": "create", "name": "bad\x07name"},
            {"action": "add_step", "step": "buy_package:" + str(uuid.uuid4())},
            {"action": "add_step", "step": "sign_waiver:" + str(uuid.uuid4())},
            {"action": "add_step", "step": "sign_waiver:not-a-uuid"},
            {"action": "up", "index": "0"},
            {"action": "remove", "index": "-1"},
            {"action": "remove", "index": "7"},
            {"action": "juggle"},
        ],
    )
    async def test_bad_input_is_400_and_stores_nothing(
        self, client: Client, core: CoachOS, steps: FakeSteps, fields: dict[str, str]
    ) -> None:
        """Bad names, billing steps, unknown targets, impossible moves and unknown actions are 400; nothing changes."""
        await sign_up(client)
        waiver, _ = _offer(core, steps)
        await _post(client, {"action": "create", "name": "New clients"})
        [flow] = _flows(core)
        await _post(client, {"action": "add_step", "flow_id": str(flow.id), "step": _value(waiver)})
        before = _flows(core)
        response = await _post(client, {"flow_id": str(flow.id), **fields})
        assert response.status_code == 400
        assert _flows(core) == before
        assert 'role="alert"' in await response.get_data(as_text=True)

    async def test_other_orgs_flow_is_404(self, web: Quart, client: Client, core: CoachOS, steps: FakeSteps) -> None:
        """Editing or deleting another business's flow, or choosing its service, is 404 and changes nothing."""
        other = web.test_client()
        await sign_up(other, email="sam@other.test", slug="other")
        await _post(other, {"action": "create", "name": "Theirs"})
        [theirs] = _flows(core, "other")
        [their_service] = core.read(lambda uow: list(uow.services.list(theirs.org_id)))
        await sign_up(client)
        for fields in (
            {"action": "delete"},
            {"action": "update", "name": "Mine now"},
            {"action": "remove", "index": "0"},
        ):
            assert (await _post(client, {"flow_id": str(theirs.id), **fields})).status_code == 404
        await _post(client, {"action": "create", "name": "Mine"})
        [mine] = _flows(core)
        response = await _post(
            client, {"action": "update", "flow_id": str(mine.id), "name": "Mine", "service_id": str(their_service.id)}
        )
        assert response.status_code == 404
        assert _flows(core, "other") == [theirs]
        assert _flows(core)[0].services == frozenset()


async def _held_booking(web: Quart, client: Client, core: CoachOS, steps: FakeSteps) -> tuple[Any, Any, Any]:
    """A business whose PT waits for a two-step flow, a client with email, and their requested session tomorrow."""
    await sign_up(client)
    org = core.read(lambda uow: uow.orgs.by_slug("peak"))
    (coach,) = core.read(lambda uow: uow.coaches.list(org.id))
    (service,) = core.read(lambda uow: uow.services.list(org.id))
    me = Actor("coach", coach.id)
    waiver, form = _offer(core, steps)
    flow = core.execute(CreateOnboardingFlow(org_id=org.id, name="New clients", actor=me))
    for step in (waiver, form):
        core.execute(
            AddOnboardingStep(org_id=org.id, flow_id=flow.id, kind=step.kind.value, target=step.target, actor=me)
        )
    core.execute(
        UpdateOnboardingFlow(
            org_id=org.id,
            flow_id=flow.id,
            name="New clients",
            all_services=False,
            service_ids=frozenset({service.id}),
            actor=me,
        )
    )
    quinn = core.execute(CreateClient(org_id=org.id, name="Quinn Avery", email="quinn@example.com", actor=me))
    booking = core.execute(
        BookSession(
            org_id=org.id,
            coach_id=coach.id,
            service_id=service.id,
            client_id=quinn.id,
            start=datetime(2026, 3, 3, 15, 0, tzinfo=UTC),
            allow_without_credit=True,
            confirm=True,
            actor=me,
        )
    )
    steps.complete(org.id, quinn.id, waiver)
    return org, quinn, booking


class TestWhereTheCoachSeesIt:
    async def test_today_lists_the_client_whose_onboarding_holds_a_session(
        self, web: Quart, client: Client, core: CoachOS, steps: FakeSteps
    ) -> None:
        """Today names the client and the reason their session stays requested."""
        _, quinn, booking = await _held_booking(web, client, core, steps)
        assert booking.status.value == "requested"
        body = await (await client.get("/today")).get_data(as_text=True)
        assert "Waiting for onboarding" in body
        assert f'<a href="/clients/{quinn.id}">Quinn Avery</a> — Tue 3 Mar' in body
        assert "stays requested: Onboarding not complete: New clients 1/2." in body

    async def test_today_has_no_section_without_holds(self, client: Client) -> None:
        """Without flows Today shows no onboarding section."""
        await sign_up(client)
        assert "Waiting for onboarding" not in await (await client.get("/today")).get_data(as_text=True)

    async def test_client_panel_shows_progress_and_sends_the_flow(
        self, web: Quart, client: Client, core: CoachOS, steps: FakeSteps
    ) -> None:
        """The Onboarding panel shows 1/2 with each step and the held session; sending queues one email."""
        org, quinn, _ = await _held_booking(web, client, core, steps)
        response = await client.get(f"/clients/{quinn.id}/panels/onboarding")
        fragment = await response.get_data(as_text=True)
        assert response.status_code == 200
        for shown in (
            "New clients",
            "1/2",
            "✓ Sign a waiver: Liability waiver",
            "○ Fill in a form: Health screening",
            "stays requested — Onboarding not complete: New clients 1/2",
        ):
            assert shown in fragment
        [flow] = _flows(core)
        token = await csrf(client, f"/clients/{quinn.id}")
        response = await client.post(
            f"/clients/{quinn.id}/onboarding/send", form={"csrf_token": token, "flow_id": str(flow.id)}
        )
        assert response.status_code == 303
        sent = core.read(lambda uow: uow.messages.by_key(org.id, f"onboarding:{flow.id}:{quinn.id}:sent:email"))
        assert sent is not None
        assert "1/2" in sent.body

    async def test_sending_another_orgs_flow_is_refused(
        self, web: Quart, client: Client, core: CoachOS, steps: FakeSteps
    ) -> None:
        """Sending with a flow id of another business is 404; another business's client's panel is 404."""
        _, quinn, _ = await _held_booking(web, client, core, steps)
        other = web.test_client()
        await sign_up(other, email="sam@other.test", slug="other")
        await _post(other, {"action": "create", "name": "Theirs"})
        [theirs] = _flows(core, "other")
        token = await csrf(client, f"/clients/{quinn.id}")
        response = await client.post(
            f"/clients/{quinn.id}/onboarding/send", form={"csrf_token": token, "flow_id": str(theirs.id)}
        )
        assert response.status_code == 404
        assert (await other.get(f"/clients/{quinn.id}/panels/onboarding")).status_code == 404

    async def test_sending_a_complete_flow_is_400_and_queues_nothing(
        self, web: Quart, client: Client, core: CoachOS, steps: FakeSteps
    ) -> None:
        """Sending a flow the client has completed shows the panel with the reason and queues no message."""
        org, quinn, _ = await _held_booking(web, client, core, steps)
        [flow] = _flows(core)
        for step in flow.steps:
            steps.complete(org.id, quinn.id, step)
        token = await csrf(client, f"/clients/{quinn.id}")
        response = await client.post(
            f"/clients/{quinn.id}/onboarding/send", form={"csrf_token": token, "flow_id": str(flow.id)}
        )
        assert response.status_code == 400
        assert "already completed this flow" in await response.get_data(as_text=True)
        found = core.read(lambda uow: uow.messages.for_client(org.id, quinn.id))
        assert [m for m in found if (m.key or "").startswith("onboarding:")] == []
