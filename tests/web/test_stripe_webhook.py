"""POST /webhooks/stripe: only bodies Stripe signed (unchanged, recently) are taken in, each event once."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from tests.helpers import World, make_world
from tests.unit.test_stripe_events import (  # noqa: F401  # the failing handler fixture
    FAILING,
    account_event,
    event_body,
    event_id,
    failing_handler,
    fresh_account,
    link,
    stored_event,
)
from tests.web.support import serving
from tests.web.test_log_privacy import logs  # noqa: F401  # the JSON-lines log buffer

SECRET = "whsec_test_platform_secret"
CONNECT_SECRET = "whsec_test_connect_secret"
ROUTE = "/webhooks/stripe"
TOLERANCE = 300


def sign(body: str | bytes, secret: str = SECRET, at: int | None = None) -> str:
    """The Stripe-Signature header Stripe sends: `t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>" under the secret>`."""
    t = int(time.time()) if at is None else at
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    mac = hmac.new(secret.encode("utf-8"), f"{t}.{text}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


async def post(app: Quart, body: str | bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    data = body.encode("utf-8") if isinstance(body, str) else body
    return await app.test_client().post(ROUTE, data=data, headers=headers)


@pytest.fixture
async def web(core: CoachOS) -> AsyncIterator[Quart]:
    """The web app with both of Stripe's endpoint secrets."""
    async with serving(
        core,
        stripe_webhook_secret=SECRET,
        stripe_connect_webhook_secret=CONNECT_SECRET,
        stripe_webhook_tolerance=TOLERANCE,
    ) as app:
        yield app


@pytest.fixture
def world(core: CoachOS) -> World:
    return make_world(core)


class TestSignature:
    async def test_a_signed_event_is_taken_in(self, web: Quart, core: CoachOS) -> None:
        """A body signed with the platform endpoint's secret is kept and answered 200."""
        body = event_body("customer.created")
        response = await post(web, body, sign(body))
        assert response.status_code == 200
        assert await response.get_json() == {"received": True, "duplicate": False}
        assert stored_event(core, event_id(body)) is not None

    async def test_the_connect_endpoints_secret_is_accepted_too(self, web: Quart, core: CoachOS) -> None:
        """A Connect event signed with the Connect endpoint's secret is kept with its account."""
        account = fresh_account()
        body = event_body("payment_intent.succeeded", account=account)
        response = await post(web, body, sign(body, CONNECT_SECRET))
        assert response.status_code == 200
        kept = stored_event(core, event_id(body))
        assert kept is not None
        assert kept.account == account

    @pytest.mark.parametrize(
        "signature",
        [
            None,
            "",
            "t=oops,v1=abc",
            "t=1700000000",
            "v1=" + "0" * 64,
        ],
    )
    async def test_a_missing_or_malformed_signature_is_refused(
        self, web: Quart, core: CoachOS, signature: str | None
    ) -> None:
        """No signature, or one that is not Stripe's shape, is a 400 and nothing is kept."""
        body = event_body()
        response = await post(web, body, signature)
        assert response.status_code == 400
        assert "not signed by Stripe" in await response.get_data(as_text=True)
        assert stored_event(core, event_id(body)) is None

    async def test_another_secret_is_refused(self, web: Quart, core: CoachOS) -> None:
        """A body signed with a secret that is not this endpoint's is a 400 and nothing is kept."""
        body = event_body()
        response = await post(web, body, sign(body, "whsec_someone_else"))
        assert response.status_code == 400
        assert stored_event(core, event_id(body)) is None

    @pytest.mark.parametrize("where", [0, 10, -2])
    async def test_a_body_changed_by_one_byte_is_refused(self, web: Quart, core: CoachOS, where: int) -> None:
        """Changing one byte of a signed body (anywhere) is a 400 and nothing is kept."""
        body = event_body().encode("utf-8")
        signature = sign(body)
        changed = bytearray(body)
        changed[where] = ord(" ") if changed[where] != ord(" ") else ord("\t")
        response = await post(web, bytes(changed), signature)
        assert response.status_code == 400
        assert stored_event(core, event_id(body.decode())) is None

    async def test_one_byte_more_is_refused(self, web: Quart, core: CoachOS) -> None:
        """A trailing newline added to a signed body is a 400: the check runs on the raw bytes."""
        body = event_body()
        response = await post(web, body + "\n", sign(body))
        assert response.status_code == 400
        assert stored_event(core, event_id(body)) is None

    async def test_a_signature_just_inside_the_tolerance_is_accepted(self, web: Quart, core: CoachOS) -> None:
        """A timestamp a little younger than the tolerance is accepted."""
        body = event_body()
        response = await post(web, body, sign(body, at=int(time.time()) - TOLERANCE + 30))
        assert response.status_code == 200
        assert stored_event(core, event_id(body)) is not None

    async def test_a_signature_older_than_the_tolerance_is_refused(self, web: Quart, core: CoachOS) -> None:
        """A correctly signed body whose timestamp is older than the tolerance (a replay) is a 400."""
        body = event_body()
        response = await post(web, body, sign(body, at=int(time.time()) - TOLERANCE - 30))
        assert response.status_code == 400
        assert stored_event(core, event_id(body)) is None

    async def test_no_secret_configured_is_a_503_saying_what_to_set(self, core: CoachOS) -> None:
        """Without a secret the route answers 503 naming the setting, and keeps nothing."""
        body = event_body()
        async with serving(core) as app:
            response = await post(app, body, sign(body))
        assert response.status_code == 503
        assert "COACHOS_STRIPE_WEBHOOK_SECRET" in await response.get_data(as_text=True)
        assert stored_event(core, event_id(body)) is None

    async def test_a_signed_body_that_is_not_an_event_is_a_400(self, web: Quart) -> None:
        """A signed body that is not a Stripe event is a 400 saying what is wrong."""
        body = json.dumps({"hello": "world"})
        response = await post(web, body, sign(body))
        assert response.status_code == 400
        assert "not a Stripe event" in await response.get_data(as_text=True)


class TestDelivery:
    async def test_a_redelivery_is_a_200_that_changes_nothing(self, web: Quart, core: CoachOS) -> None:
        """The same event delivered again is answered 200 as a duplicate."""
        body = event_body()
        first = await post(web, body, sign(body))
        again = await post(web, body, sign(body))
        assert first.status_code == again.status_code == 200
        assert await again.get_json() == {"received": True, "duplicate": True}

    async def test_an_unknown_type_is_kept_and_acknowledged(self, web: Quart, core: CoachOS) -> None:
        """An event type Coach OS has no handler for is kept and answered 200."""
        body = event_body("coachos_test.never_heard_of")
        response = await post(web, body, sign(body))
        assert response.status_code == 200
        assert stored_event(core, event_id(body)) is not None

    async def test_ten_concurrent_deliveries_keep_one_event(
        self, web: Quart, core: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """Ten deliveries of one account.updated at once: all 200, one of them new, the account updated."""
        account = fresh_account()
        link(core, world, account, clock)
        body = account_event(account, charges=True)
        responses = await asyncio.gather(*(post(web, body, sign(body)) for _ in range(10)))
        assert [r.status_code for r in responses] == [200] * 10
        answers = [await r.get_json() for r in responses]
        assert sum(1 for a in answers if not a["duplicate"]) == 1
        with core.deps.uow() as uow:
            status = uow.stripe.account(world.org.id)
        assert status is not None
        assert status.charges_enabled

    async def test_a_failing_handler_is_a_500_and_the_redelivery_is_processed_once(
        self,
        web: Quart,
        core: CoachOS,
        world: World,
        clock: FixedClock,
        failing_handler: list[str],  # noqa: F811  # the fixture imported above
    ) -> None:
        """A handler that fails after the event is kept: 500, nothing kept; Stripe's retry is processed, once."""
        account = fresh_account()
        link(core, world, account, clock)
        body = event_body(FAILING, account=account)
        failed = await post(web, body, sign(body))
        assert failed.status_code == 500
        assert stored_event(core, event_id(body)) is None
        retried = await post(web, body, sign(body))
        again = await post(web, body, sign(body))
        assert retried.status_code == again.status_code == 200
        assert await again.get_json() == {"received": True, "duplicate": True}
        assert failing_handler == [event_id(body), event_id(body)]


class TestLogPrivacy:
    async def test_logs_name_the_event_not_its_contents(
        self,
        web: Quart,
        core: CoachOS,
        world: World,
        clock: FixedClock,
        logs: io.StringIO,  # noqa: F811  # the fixture imported above
        failing_handler: list[str],  # noqa: F811  # the fixture imported above
    ) -> None:
        """Taking in, repeating, refusing and failing events logs ids and types, never the payload or signature."""
        account = fresh_account()
        link(core, world, account, clock)
        body = account_event(account, charges=True)
        signature = sign(body)
        await post(web, body, signature)
        await post(web, body, signature)
        await post(web, body + " ", signature)
        failing = event_body(FAILING, account=account, obj={"id": "cus_1", "email": "owner@private.test"})
        assert (await post(web, failing, sign(failing))).status_code == 500
        written = logs.getvalue()
        assert event_id(body) in written
        assert "stripe_webhook_refused" in written
        for secret in ("owner@private.test", signature.split("v1=")[1], SECRET):
            assert secret not in written, f"webhook contents in logs: {secret!r}"
