"""POST /webhooks/twilio/sms: only requests Twilio signed for this address are taken in; others store nothing."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
from quart import Quart
from twilio.request_validator import RequestValidator

from coachos import Channel, CoachOS
from coachos.domain.messages import Direction
from coachos.domain.sms_keywords import OPT_OUT_CONFIRMATION
from tests.helpers import World, make_world
from tests.unit.test_inbound import CLIENT_PHONE, add_number, clients_of, fresh_number, fresh_sid, messages_of
from tests.web.support import csrf, serving, sign_up
from tests.web.test_log_privacy import logs  # noqa: F401  # the JSON-lines log buffer

TOKEN = "test-twilio-auth-token"
PUBLIC = "http://coachos.test"
ROUTE = "/webhooks/twilio/sms"
URL = PUBLIC + ROUTE
XML = "text/xml"


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    """The X-Twilio-Signature Twilio would send for `params` posted to `url`."""
    return str(RequestValidator(token).compute_signature(url, params))


def webhook(world_number: str, body: str = "Running 5 min late", **extra: str) -> dict[str, str]:
    """The form Twilio posts for an incoming text (the fields the route reads, and some it ignores)."""
    return {
        "MessageSid": fresh_sid(),
        "AccountSid": "AC" + "0" * 32,
        "From": CLIENT_PHONE,
        "To": world_number,
        "Body": body,
        "NumMedia": "0",
        **extra,
    }


async def post(app: Quart, form: dict[str, str], *, signature: str | None, path: str = ROUTE) -> Any:
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    return await app.test_client().post(path, form=form, headers=headers)


@pytest.fixture
async def web(core: CoachOS) -> AsyncIterator[Quart]:
    """The web app with a Twilio auth token to check signatures with."""
    async with serving(core, twilio_auth_token=TOKEN, public_url=PUBLIC) as app:
        yield app


@pytest.fixture
def world(core: CoachOS) -> World:
    return make_world(core)


@pytest.fixture
def number(core: CoachOS, world: World) -> str:
    """The business's Twilio number."""
    return add_number(core, world).number


def nothing_stored(core: CoachOS, world: World) -> bool:
    return messages_of(core, world.org.id) == [] and len(clients_of(core, world.org.id)) == 1


class TestSignedTexts:
    async def test_a_signed_text_is_stored_and_answered_with_empty_twiml(
        self, web: Quart, core: CoachOS, world: World, number: str
    ) -> None:
        """A text signed for the public URL is stored in the client's thread; Twilio is told to do nothing more."""
        form = webhook(number)
        response = await post(web, form, signature=sign(URL, form))
        assert response.status_code == 200
        assert response.mimetype == XML
        assert "<Response/>" in await response.get_data(as_text=True)
        (stored,) = messages_of(core, world.org.id)
        assert (stored.direction, stored.body, stored.client_id, stored.provider_id) == (
            Direction.IN,
            "Running 5 min late",
            world.client.id,
            form["MessageSid"],
        )

    async def test_no_csrf_token_is_needed_but_other_forms_still_need_one(self, web: Quart, number: str) -> None:
        """The webhook is exempt by its own mark; a cookie-less POST to any other form is still refused."""
        form = webhook(number)
        assert (await post(web, form, signature=sign(URL, form))).status_code == 200
        refused = await web.test_client().post("/login", form={"email": "a@b.test", "password": "x" * 12})
        assert refused.status_code == 403

    async def test_a_text_delivered_again_is_stored_once(
        self, web: Quart, core: CoachOS, world: World, number: str
    ) -> None:
        """Twilio repeating the same MessageSid gets 200 each time and one stored message."""
        form = webhook(number)
        for _ in range(3):
            assert (await post(web, form, signature=sign(URL, form))).status_code == 200
        assert len(messages_of(core, world.org.id)) == 1

    async def test_stop_withdraws_consent_and_queues_the_confirmation(
        self, web: Quart, core: CoachOS, world: World, number: str
    ) -> None:
        """'Stop!' through the webhook withdraws SMS consent and queues one opt-out confirmation; TwiML stays empty."""
        form = webhook(number, "Stop!")
        response = await post(web, form, signature=sign(URL, form))
        assert "<Response/>" in await response.get_data(as_text=True)
        client = core.read(lambda uow: uow.clients.get(world.org.id, world.client.id))
        assert client.consent(Channel.SMS) is None
        replies = [m for m in messages_of(core, world.org.id) if m.outgoing]
        assert [(m.template, m.key, m.quiet_hours) for m in replies] == [
            (OPT_OUT_CONFIRMATION, f"inbound:{form['MessageSid']}:reply", False)
        ]

    async def test_a_text_to_a_number_no_business_has_is_answered_and_dropped(
        self, web: Quart, core: CoachOS, world: World, number: str
    ) -> None:
        """A signed text to an unknown number gets 200 and empty TwiML (so Twilio does not retry) and stores nothing."""
        form = webhook(fresh_number())
        response = await post(web, form, signature=sign(URL, form))
        assert response.status_code == 200
        assert "<Response/>" in await response.get_data(as_text=True)
        assert nothing_stored(core, world)

    async def test_the_query_string_is_part_of_what_is_signed(self, web: Quart, core: CoachOS, number: str) -> None:
        """A webhook URL configured with a query string validates with it, and not without it."""
        form = webhook(number)
        assert (await post(web, form, signature=sign(URL + "?v=1", form), path=ROUTE + "?v=1")).status_code == 200
        form = webhook(number)
        assert (await post(web, form, signature=sign(URL, form), path=ROUTE + "?v=1")).status_code == 403

    async def test_behind_a_tls_proxy_the_public_url_is_what_counts(
        self, core: CoachOS, world: World, number: str
    ) -> None:
        """Behind a proxy the app is reached over http on another host; Twilio signed the public https URL."""
        public = "https://coach.example.com"
        async with serving(core, twilio_auth_token=TOKEN, public_url=public) as app:
            form = webhook(number)
            assert (await post(app, form, signature=sign(public + ROUTE, form))).status_code == 200
            form = webhook(number)
            as_seen = "http://localhost" + ROUTE  # what the app itself sees
            assert (await post(app, form, signature=sign(as_seen, form))).status_code == 403
        assert len(messages_of(core, world.org.id)) == 1


def altered(form: dict[str, str], name: str) -> dict[str, str]:
    changed = dict(form)
    changed[name] = changed[name] + "1" if name != "Body" else "STOP"
    return changed


class TestUnsignedTexts:
    @pytest.mark.parametrize("name", ["MessageSid", "AccountSid", "From", "To", "Body", "NumMedia"])
    async def test_any_altered_parameter_is_refused(
        self, web: Quart, core: CoachOS, world: World, number: str, name: str
    ) -> None:
        """Changing any one field after Twilio signed the form is a 403 and nothing is stored."""
        form = webhook(number)
        response = await post(web, altered(form, name), signature=sign(URL, form))
        assert response.status_code == 403
        assert nothing_stored(core, world)

    async def test_an_added_or_removed_parameter_is_refused(
        self, web: Quart, core: CoachOS, world: World, number: str
    ) -> None:
        """A field added to, or left out of, the signed form is a 403."""
        form = webhook(number)
        signature = sign(URL, form)
        assert (await post(web, {**form, "Extra": "1"}, signature=signature)).status_code == 403
        fewer = {k: v for k, v in form.items() if k != "NumMedia"}
        assert (await post(web, fewer, signature=signature)).status_code == 403
        assert nothing_stored(core, world)

    @pytest.mark.parametrize("signature", [None, "", "not-a-signature", "A" * 28])
    async def test_a_missing_or_malformed_signature_is_refused(
        self, web: Quart, core: CoachOS, world: World, number: str, signature: str | None
    ) -> None:
        """No X-Twilio-Signature header, an empty one or a made-up one is a 403."""
        response = await post(web, webhook(number), signature=signature)
        assert response.status_code == 403
        assert nothing_stored(core, world)

    async def test_a_signature_made_with_another_token_is_refused(
        self, web: Quart, core: CoachOS, world: World, number: str
    ) -> None:
        """A form signed with another account's auth token is a 403."""
        form = webhook(number)
        assert (await post(web, form, signature=sign(URL, form, token="another-token"))).status_code == 403
        assert nothing_stored(core, world)

    @pytest.mark.parametrize(
        "url",
        [
            "http://elsewhere.test" + ROUTE,
            "https://coachos.test" + ROUTE,
            PUBLIC + "/webhooks/twilio/status",
            PUBLIC + ROUTE + "/",
            PUBLIC + ROUTE + "?x=1",
        ],
    )
    async def test_a_signature_for_another_url_is_refused(
        self, web: Quart, core: CoachOS, world: World, number: str, url: str
    ) -> None:
        """A form Twilio signed for another address (host, scheme, path or query) is a 403."""
        form = webhook(number)
        assert (await post(web, form, signature=sign(url, form))).status_code == 403
        assert nothing_stored(core, world)

    async def test_without_an_auth_token_every_text_is_refused(self, core: CoachOS, world: World, number: str) -> None:
        """With COACHOS_TWILIO_AUTH_TOKEN unset nothing can be checked, so nothing is taken in."""
        async with serving(core, public_url=PUBLIC) as app:
            form = webhook(number)
            response = await post(app, form, signature=sign(URL, form, token=""))
            assert response.status_code == 403
            assert "COACHOS_TWILIO_AUTH_TOKEN" in await response.get_data(as_text=True)
        assert nothing_stored(core, world)

    async def test_get_is_not_allowed(self, web: Quart) -> None:
        """The route takes POSTs only."""
        response = await web.test_client().get(ROUTE)
        assert response.status_code == 405


class TestBadInput:
    async def test_a_nul_byte_is_refused(self, web: Quart, core: CoachOS, world: World, number: str) -> None:
        """A NUL character in the body is a 400, even signed; nothing is stored."""
        form = webhook(number, "late\x00")
        assert (await post(web, form, signature=sign(URL, form))).status_code == 400
        assert nothing_stored(core, world)

    async def test_a_huge_body_is_refused(self, web: Quart, core: CoachOS, world: World, number: str) -> None:
        """A form over the 1 MiB request limit is a 413; nothing is stored."""
        form = webhook(number, "x" * (1024 * 1024 + 10))
        assert (await post(web, form, signature=sign(URL, form))).status_code == 413
        assert nothing_stored(core, world)

    async def test_a_body_over_the_message_limit_is_refused(
        self, web: Quart, core: CoachOS, world: World, number: str
    ) -> None:
        """A signed text longer than any message we store is a 400 naming the body."""
        form = webhook(number, "x" * 20_001)
        response = await web.test_client().post(
            ROUTE, form=form, headers={"X-Twilio-Signature": sign(URL, form), "Accept": "application/json"}
        )
        assert response.status_code == 400
        assert (await response.get_json())["errors"][0]["field"] == "body"
        assert nothing_stored(core, world)

    @pytest.mark.parametrize("missing", ["MessageSid", "From", "To", "Body"])
    async def test_a_missing_field_is_refused(
        self, web: Quart, core: CoachOS, world: World, number: str, missing: str
    ) -> None:
        """A signed form without one of the fields the route needs is a 400 naming it."""
        form = {k: v for k, v in webhook(number).items() if k != missing}
        response = await web.test_client().post(
            ROUTE, form=form, headers={"X-Twilio-Signature": sign(URL, form), "Accept": "application/json"}
        )
        assert response.status_code == 400
        assert (await response.get_json())["errors"][0]["field"] == missing
        assert nothing_stored(core, world)

    async def test_a_repeated_field_is_refused(self, web: Quart, core: CoachOS, world: World, number: str) -> None:
        """A form naming Body twice, signed over both values, is a 400: the route would read only one of them."""
        form = webhook(number)
        pairs = [*form.items(), ("Body", "STOP")]
        signature = str(RequestValidator(TOKEN).compute_signature(URL, _Multi(form, {"Body": [form["Body"], "STOP"]})))
        response = await web.test_client().post(
            ROUTE,
            data=urlencode(pairs).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
                "Accept": "application/json",
            },
        )
        assert response.status_code == 400
        assert (await response.get_json())["errors"][0]["field"] == "Body"
        assert nothing_stored(core, world)

    @pytest.mark.parametrize(("sender", "field"), [("12", "From"), ("not a phone", "From")])
    async def test_a_malformed_sender_is_refused(
        self, web: Quart, core: CoachOS, world: World, number: str, sender: str, field: str
    ) -> None:
        """A sender that is not a phone number is a 400; nothing is stored."""
        form = webhook(number, From=sender)
        assert (await post(web, form, signature=sign(URL, form))).status_code == 400
        assert nothing_stored(core, world)


class _Multi(dict[str, str]):
    """A form with repeated fields, as the Twilio validator reads one (its `getall`)."""

    def __init__(self, first: dict[str, str], many: dict[str, list[str]]) -> None:
        super().__init__(first)
        self._many = many

    def getall(self, name: str) -> list[str]:
        return self._many.get(name, [self[name]])


class TestLogPrivacy:
    async def test_texts_log_ids_only(
        self,
        web: Quart,
        core: CoachOS,
        world: World,
        number: str,
        logs: io.StringIO,  # noqa: F811  # the fixture imported above
    ) -> None:
        """Stored, repeated, keyword, refused and unknown-number texts log ids and outcomes, never a phone or text."""
        secret_body = "Zanzibar quokka at the Harrowgate studio"
        stranger = "+447700900461"
        forms = [webhook(number, secret_body), webhook(number, "STOP", From=stranger), webhook(fresh_number())]
        forms.append(forms[0])
        for form in forms:
            assert (await post(web, form, signature=sign(URL, form))).status_code == 200
        refused = webhook(number, secret_body)
        assert (await post(web, refused, signature=sign(URL, refused, token="wrong"))).status_code == 403
        written = logs.getvalue()
        lines = [json.loads(line) for line in written.splitlines() if line.strip()]
        outcomes = [line.get("outcome") for line in lines if line.get("event") == "inbound_sms"]
        assert outcomes == ["stored", "stored", "unknown_number", "duplicate"]
        assert any(line.get("event") == "inbound_sms_refused" for line in lines)
        for secret in [
            secret_body,
            "Zanzibar",
            CLIENT_PHONE,
            CLIENT_PHONE[2:],
            stranger,
            stranger[3:],
            number,
            number[2:],
        ]:
            assert secret not in written, f"personal data in logs: {secret!r}"
        for secret in ["Jordan", "Text from"]:
            assert secret not in written, f"a client's name in logs: {secret!r}"


class TestSignUpStillWorks:
    async def test_the_csrf_exempt_mark_does_not_leak_to_other_routes(self, web: Quart) -> None:
        """Signing up with a CSRF token still works, and without one is still refused."""
        client = web.test_client()
        assert (await sign_up(client)).status_code == 302
        token = await csrf(client, "/setup/settings")
        assert token
        refused = await client.post("/setup/tokens", form={"name": "x"})
        assert refused.status_code == 403
