"""Setup → Onboarding: flows added, steps ordered, services chosen (CSRF); refusals store nothing; other orgs 404."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS
from coachos.adapters.memory import FakeSteps
from coachos.adapters.onboarding_steps import StepRegistry
from coachos.domain.onboarding import OnboardingFlow, Step, StepKind
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
