"""Twilio's status callback: signed reports move a message forward; anything unsigned is refused and stores nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import uuid4

import attrs
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from twilio.request_validator import RequestValidator

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.domain.messages import Message, MessageChannel, MessageStatus, Purpose, outgoing
from coachos.entrypoints.web.security import _CSRF_EXEMPT
from tests.helpers import World, make_world
from tests.web.support import serving

TOKEN = "stub-auth-token"
PUBLIC = "https://coach.example"
PATH = "/webhooks/twilio/status"


@pytest.fixture
async def web(core: CoachOS) -> AsyncIterator[Quart]:
    """The web app, serving, with a Twilio auth token and a public URL behind a TLS proxy."""
    async with serving(core, twilio_auth_token=TOKEN, public_url=PUBLIC) as app:
        yield app


@pytest.fixture
def world(core: CoachOS) -> World:
    return make_world(core)


def sent(core: CoachOS, world: World, clock: FixedClock, sid: str | None = "SMsent1") -> Message:
    """A text the worker claimed and, with `sid`, recorded as sent."""
    message = outgoing(
        id=uuid4(),
        org_id=world.org.id,
        key=f"test:{uuid4()}",
        channel=MessageChannel.SMS,
        purpose=Purpose.TRANSACTIONAL,
        to="+12125550101",
        body="See you at 9",
        now=clock.now(),
    )
    with core.deps.uow() as uow:
        uow.messages.add(message)
        [claim] = [
            c
            for c in uow.messages.claim_due(clock.now(), clock.now() + timedelta(minutes=5), 100)
            if c.message.id == message.id
        ]
        if sid is not None:
            uow.messages.settle(claim, attrs.evolve(claim.message, status=MessageStatus.SENT, provider_id=sid))
        uow.commit()
    return message


def stored(core: CoachOS, message: Message) -> Message:
    with core.deps.uow() as uow:
        return uow.messages.get(message.org_id, message.id)


def signed(url: str, form: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, form)}


def report(sid: str, status: str, **more: str) -> dict[str, str]:
    return {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32, **more}


class TestStatusCallback:
    async def test_a_signed_delivered_report_marks_the_message_delivered(
        self, client: Client, core: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """Twilio's signed 'delivered' for a sent text answers 204 and stores the delivery."""
        message = sent(core, world, clock)
        url = f"{PUBLIC}{PATH}?m={message.id}"
        form = report("SMsent1", "delivered")
        response = await client.post(f"{PATH}?m={message.id}", form=form, headers=signed(url, form))
        assert response.status_code == 204
        assert stored(core, message).status is MessageStatus.DELIVERED

    async def test_a_report_racing_the_worker_is_found_by_our_id(
        self, client: Client, core: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """A report arriving before the worker stored Twilio's id finds the message by the `m` in the signed URL."""
        message = sent(core, world, clock, sid=None)
        url = f"{PUBLIC}{PATH}?m={message.id}"
        form = report("SMearly", "sent")
        response = await client.post(f"{PATH}?m={message.id}", form=form, headers=signed(url, form))
        assert response.status_code == 204
        after = stored(core, message)
        assert (after.status, after.provider_id) == (MessageStatus.SENT, "SMearly")

    async def test_undelivered_with_an_error_code_is_failed_with_a_reason(
        self, client: Client, core: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """'undelivered' with 30005 fails the text with a reason a coach can read."""
        message = sent(core, world, clock)
        form = report("SMsent1", "undelivered", ErrorCode="30005")
        response = await client.post(PATH, form=form, headers=signed(f"{PUBLIC}{PATH}", form))
        assert response.status_code == 204
        after = stored(core, message)
        assert after.status is MessageStatus.FAILED
        assert after.last_error == "Not delivered: the number does not exist or is no longer in service."

    async def test_an_unknown_sid_is_accepted_and_stores_nothing(
        self, client: Client, core: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """A valid report for a message no business has answers 204 (so Twilio stops) and changes nothing."""
        message = sent(core, world, clock)
        form = report("SMunknown", "delivered")
        response = await client.post(PATH, form=form, headers=signed(f"{PUBLIC}{PATH}", form))
        assert response.status_code == 204
        assert stored(core, message).status is MessageStatus.SENT

    @pytest.mark.parametrize(
        "case", ["altered parameter", "missing header", "wrong token", "other url", "altered message id"]
    )
    async def test_an_unsigned_report_is_refused_and_stores_nothing(
        self, client: Client, core: CoachOS, world: World, clock: FixedClock, case: str
    ) -> None:
        """A report whose signature does not match the public URL, form and token is 403 and changes nothing."""
        message = sent(core, world, clock)
        url = f"{PUBLIC}{PATH}?m={message.id}"
        form = report("SMsent1", "delivered")
        headers = signed(url, form)
        path = f"{PATH}?m={message.id}"
        if case == "altered parameter":
            form = report("SMsent1", "failed")
        elif case == "missing header":
            headers = {}
        elif case == "wrong token":
            headers = signed(url, form, token="another-token")
        elif case == "other url":
            headers = signed(f"http://127.0.0.1:8000{PATH}?m={message.id}", form)
        else:
            path = f"{PATH}?m={uuid4()}"
        response = await client.post(path, form=form, headers=headers)
        assert response.status_code == 403
        assert stored(core, message).status is MessageStatus.SENT

    async def test_a_report_without_a_sid_is_a_bad_request(self, client: Client) -> None:
        """A signed form missing MessageSid is answered 400."""
        form = {"MessageStatus": "delivered"}
        response = await client.post(PATH, form=form, headers=signed(f"{PUBLIC}{PATH}", form))
        assert response.status_code == 400

    async def test_without_a_twilio_auth_token_every_report_is_refused(
        self, core: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """With no auth token configured nothing can be verified, so every report is 403."""
        message = sent(core, world, clock)
        async with serving(core, public_url=PUBLIC) as app:
            form = report("SMsent1", "delivered")
            response = await app.test_client().post(PATH, form=form, headers=signed(f"{PUBLIC}{PATH}", form))
        assert response.status_code == 403
        assert stored(core, message).status is MessageStatus.SENT

    async def test_only_this_route_is_exempt_from_csrf(self, web: Quart) -> None:
        """The status callback is marked exempt from the CSRF check, and no view outside /webhooks/ is."""
        exempt = {name for name, view in web.view_functions.items() if getattr(view, _CSRF_EXEMPT, False)}
        webhooks = {rule.endpoint for rule in web.url_map.iter_rules() if rule.rule.startswith("/webhooks/")}
        assert "twilio_status.twilio_status" in exempt
        assert exempt <= webhooks

    async def test_another_post_without_a_csrf_token_is_still_refused(self, client: Client) -> None:
        """The exemption is per route: a sign-in form posted without its token is still 403."""
        response = await client.post("/login", form={"email": "a@b.test", "password": "x"})
        assert response.status_code == 403
