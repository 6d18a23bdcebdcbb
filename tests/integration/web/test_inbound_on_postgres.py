"""The inbound webhook and the phone numbers page on PostgreSQL, and twenty deliveries of one webhook at once."""

from __future__ import annotations

import asyncio

import pytest
from quart import Quart

from coachos import CoachOS
from tests.helpers import World
from tests.unit.test_inbound import clients_of, fresh_number, messages_of
from tests.web.test_inbound_sms import (  # noqa: F401  # collected again with this folder's `core`
    URL,
    TestBadInput,
    TestSignedTexts,
    number,
    post,
    sign,
    web,
    webhook,
    world,
)
from tests.web.test_phone_number_routes import TestPhoneNumbersPage  # noqa: F401

pytestmark = pytest.mark.postgres


class TestConcurrentDeliveries:
    async def test_the_same_webhook_twenty_times_at_once_stores_one_message(
        self,
        web: Quart,  # noqa: F811
        core: CoachOS,
        world: World,  # noqa: F811
        number: str,  # noqa: F811
    ) -> None:
        """Twenty signed deliveries of one text from a stranger, in flight together: all 200, one message, one lead."""
        form = webhook(number, "Hello, do you train on Sundays?", From=fresh_number())
        signature = sign(URL, form)
        responses = await asyncio.gather(*(post(web, form, signature=signature) for _ in range(20)))
        assert [r.status_code for r in responses] == [200] * 20
        assert len(messages_of(core, world.org.id)) == 1
        assert len(clients_of(core, world.org.id)) == 2  # the world's client and the one new lead
