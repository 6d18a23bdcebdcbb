"""The inbox pages, the client page's Messages panel and the unread counts, through the real app on the fakes."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import attrs
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import Actor, CoachOS, CreateClient, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.domain.clients import Client as ClientRecord
from coachos.domain.ids import OrgId
from coachos.domain.inbox import MAX_REPLY
from coachos.domain.messages import Direction, Message, MessageChannel, MessageStatus, Purpose, outgoing
from coachos.domain.orgs import Coach, Organization
from coachos.domain.usecases import RecordConsent
from coachos.logs import configure_logging, reset_logging
from tests.web.support import csrf, sign_up

#: 10:00 in New York on Monday 2 March 2026: outside quiet hours.
DAYTIME = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
_FORM_ID = re.compile(r'name="form_id" value="([0-9a-f-]{36})"')


@pytest.fixture
def store() -> MemoryStore:
    """The fake's storage, so a test can plant an unreadable row."""
    return MemoryStore()


@pytest.fixture
def core(store: MemoryStore, clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on the fake `store`, at 10:00 New York time."""
    clock.set(DAYTIME)
    with bootstrap(
        Settings(database_url="memory://"),
        uow=store.unit_of_work,
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
    ) as built:
        yield built


@attrs.frozen
class Biz:
    """A signed-up business with a client who texts."""

    org: Organization
    coach: Coach
    jordan: ClientRecord

    @property
    def me(self) -> Actor:
        """The owner as actor."""
        return Actor("coach", self.coach.id)


async def open_business(client: Client, core: CoachOS, slug: str = "peak") -> Biz:
    """Sign up (the client stays signed in) and add Jordan, who has a phone and agreed to texts."""
    await sign_up(client, email=f"alex@{slug}.test", slug=slug)
    org = core.read(lambda uow: uow.orgs.by_slug(slug))
    (coach,) = core.read(lambda uow: uow.coaches.list(org.id))
    me = Actor("coach", coach.id)
    jordan = core.execute(CreateClient(org_id=org.id, name="Jordan Lee", phone="+12125550101", actor=me))
    core.execute(
        RecordConsent(
            org_id=org.id, client_id=jordan.id, channel="sms", method="coach_entered", wording="Yes to texts", actor=me
        )
    )
    return Biz(org, coach, jordan)


def texted(core: CoachOS, org_id: OrgId, client_id: UUID, body: str, at: datetime) -> Message:
    """Store a text from the client, as the inbound handler does."""
    message = Message(
        id=uuid4(),
        org_id=org_id,
        direction=Direction.IN,
        channel=MessageChannel.SMS,
        purpose=Purpose.TRANSACTIONAL,
        status=MessageStatus.RECEIVED,
        to="+12125550100",
        sender="+12125550101",
        body=body,
        created_at=at,
        not_before=at,
        provider_id=f"SM{uuid4().hex}",
        client_id=client_id,  # type: ignore[arg-type]
    )
    with core.deps.uow() as uow:
        uow.messages.add(message)
        uow.commit()
    return message


def to_jordan(biz: Biz, key: str, body: str, *, at: datetime = DAYTIME, **kw: object) -> Message:
    """An outgoing text to Jordan, queued at `at`."""
    return outgoing(
        id=uuid4(),
        org_id=biz.org.id,
        key=key,
        channel=MessageChannel.SMS,
        purpose=Purpose.TRANSACTIONAL,
        to="+12125550101",
        body=body,
        now=at,
        client_id=biz.jordan.id,
        **kw,  # type: ignore[arg-type]
    )


def stored(core: CoachOS, biz: Biz, client_id: UUID | None = None) -> list[Message]:
    return core.read(lambda uow: uow.messages.for_client(biz.org.id, client_id or biz.jordan.id))  # type: ignore[arg-type]


async def page(client: Client, path: str) -> tuple[int, str]:
    response = await client.get(path)
    return response.status_code, await response.get_data(as_text=True)


async def reply_form(client: Client, path: str) -> dict[str, str]:
    """The CSRF token (of the page, or the panel's page) and the form id a reply form carries."""
    token = await csrf(client, path.split("/panels/")[0])
    found = _FORM_ID.search((await page(client, path))[1])
    assert found, f"no reply form on {path}"
    return {"csrf_token": token, "form_id": found.group(1)}


class TestConversationList:
    async def test_lists_conversations_with_unread_badges_and_org_times(self, client: Client, core: CoachOS) -> None:
        """Each client with messages is a row: name, unread badge, preview and the time on the New York clock."""
        biz = await open_business(client, core)
        texted(core, biz.org.id, biz.jordan.id, "Running 5 min late", DAYTIME - timedelta(minutes=30))
        status, html = await page(client, "/inbox")
        assert status == 200
        assert f'<a href="/inbox/{biz.jordan.id}">' in html
        assert "Jordan Lee" in html
        assert ">1 unread</span>" in html
        assert "Running 5 min late" in html
        assert "Mon 2 Mar, 09:30 EST" in html

    async def test_the_main_navigation_shows_the_unread_count(self, client: Client, core: CoachOS) -> None:
        """Every coach page's Inbox link carries the business's unread count."""
        biz = await open_business(client, core)
        texted(core, biz.org.id, biz.jordan.id, "one", DAYTIME)
        texted(core, biz.org.id, biz.jordan.id, "two", DAYTIME)
        for path in ("/today", "/clients", "/inbox"):
            html = (await page(client, path))[1]
            assert re.search(r'<a href="/inbox" class="nav-inbox">Inbox <span class="badge unread"[^>]*>2</span>', html)

    async def test_empty_inbox_says_how_conversations_start(self, client: Client, core: CoachOS) -> None:
        """With no messages the page explains what will appear there."""
        await open_business(client, core)
        assert "No messages yet" in (await page(client, "/inbox"))[1]

    async def test_pages_link_to_older_conversations(self, client: Client, core: CoachOS) -> None:
        """With more conversations than a page holds, an 'Older' link leads to the next page."""
        biz = await open_business(client, core)
        for i in range(31):
            other = core.execute(CreateClient(org_id=biz.org.id, name=f"Client {i:02}", actor=biz.me))
            texted(core, biz.org.id, other.id, "hi", DAYTIME - timedelta(minutes=i))
        first = (await page(client, "/inbox"))[1]
        assert '<a href="/inbox?page=2">Older →</a>' in first
        second = (await page(client, "/inbox?page=2"))[1]
        assert "Client 30" in second
        assert "Client 00" not in second

    @pytest.mark.parametrize("bad", ["0", "x", "10001"])
    async def test_a_bad_page_number_is_a_400(self, client: Client, core: CoachOS, bad: str) -> None:
        """A page that is no whole number from 1 to 10,000 is refused with a reason."""
        await open_business(client, core)
        assert (await page(client, f"/inbox?page={bad}"))[0] == 400

    async def test_signed_out_visitors_are_sent_to_log_in(self, client: Client) -> None:
        """The inbox is only for signed-in coaches."""
        response = await client.get("/inbox")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


class TestThread:
    async def test_opening_a_thread_shows_it_and_marks_it_read(self, client: Client, core: CoachOS) -> None:
        """The thread shows the new message marked new, then the unread count is gone everywhere."""
        biz = await open_business(client, core)
        texted(core, biz.org.id, biz.jordan.id, "Can we move to 6?", DAYTIME)
        status, html = await page(client, f"/inbox/{biz.jordan.id}")
        assert status == 200
        assert "Can we move to 6?" in html
        assert 'class="msg msg-in msg-new"' in html
        assert "Mon 2 Mar, 10:00 EST" in html
        assert "Reply by text to +12125550101" in html
        assert "1 text message: 0/160 characters (GSM-7)" in html
        assert core.read(lambda uow: uow.messages.unread_count(biz.org.id)) == 0
        assert "unread" not in (await page(client, "/inbox"))[1].split("<main>")[1]

    async def test_outgoing_messages_show_their_delivery_status(self, client: Client, core: CoachOS) -> None:
        """Queued for later, delivered and failed messages each say where they stand, failures with the reason."""
        biz = await open_business(client, core)
        with core.deps.uow() as uow:
            later = to_jordan(biz, "a", "Reminder", not_before=DAYTIME + timedelta(hours=12))
            done, bad = to_jordan(biz, "b", "Done"), to_jordan(biz, "c", "Bad")
            uow.messages.add(later)
            uow.messages.add(attrs.evolve(done, status=MessageStatus.DELIVERED))
            uow.messages.add(attrs.evolve(bad, status=MessageStatus.FAILED, last_error="The number is not a mobile."))
            uow.commit()
        html = (await page(client, f"/inbox/{biz.jordan.id}"))[1]
        assert "Scheduled</span>: will send at" in html
        assert "Mon 2 Mar, 22:00 EST" in html
        assert ">Delivered</span>" in html
        assert "Not sent</span>: The number is not a mobile." in html

    async def test_another_business_client_is_not_found(self, client: Client, core: CoachOS, web: Quart) -> None:
        """A client of another business answers 404, to read and to reply."""
        other = web.test_client()
        theirs = await open_business(other, core, slug="other-biz")
        texted(core, theirs.org.id, theirs.jordan.id, "private", DAYTIME)
        await open_business(client, core)
        assert (await page(client, f"/inbox/{theirs.jordan.id}"))[0] == 404
        assert (await page(client, f"/clients/{theirs.jordan.id}/panels/messages"))[0] == 404
        fields = {"csrf_token": await csrf(client, "/inbox"), "form_id": str(uuid4()), "body": "hi"}
        response = await client.post(f"/inbox/{theirs.jordan.id}", form=fields)
        assert response.status_code == 404
        assert [m.body for m in stored(core, theirs)] == ["private"]
        assert core.read(lambda uow: uow.messages.unread_count(theirs.org.id)) == 1


class TestReply:
    async def test_a_reply_is_queued_once_however_often_the_form_is_sent(self, client: Client, core: CoachOS) -> None:
        """Posting the same form twice queues one text, and the thread says it goes out in a moment."""
        biz = await open_business(client, core)
        fields = await reply_form(client, f"/inbox/{biz.jordan.id}")
        first = await client.post(f"/inbox/{biz.jordan.id}", form=fields | {"body": "See you at 6!"})
        second = await client.post(f"/inbox/{biz.jordan.id}", form=fields | {"body": "See you at 6!"})
        assert first.status_code == second.status_code == 303
        assert first.headers["Location"] == second.headers["Location"]
        (reply,) = stored(core, biz)
        assert (reply.body, reply.channel, reply.status, reply.key) == (
            "See you at 6!",
            MessageChannel.SMS,
            MessageStatus.QUEUED,
            f"reply:{fields['form_id']}",
        )
        html = (await page(client, first.headers["Location"].split("#")[0]))[1]
        assert "Reply queued; it goes out in a moment." in html
        assert ">Queued</span>" in html

    async def test_a_reply_in_quiet_hours_says_when_it_will_go(
        self, client: Client, core: CoachOS, clock: FixedClock
    ) -> None:
        """Written at 22:30 New York time, the reply waits and the page says 08:00 EST the next morning."""
        biz = await open_business(client, core)
        clock.set(datetime(2026, 3, 3, 3, 30, tzinfo=UTC))
        fields = await reply_form(client, f"/inbox/{biz.jordan.id}")
        response = await client.post(f"/inbox/{biz.jordan.id}", form=fields | {"body": "Tomorrow works"})
        html = (await page(client, response.headers["Location"].split("#")[0]))[1]
        assert "Reply queued: it will send at" in html
        assert "Tue 3 Mar, 08:00 EST</time>, after quiet hours." in html
        (reply,) = stored(core, biz)
        assert reply.not_before == datetime(2026, 3, 3, 13, 0, tzinfo=UTC)

    async def test_a_reply_without_the_csrf_token_is_refused(self, client: Client, core: CoachOS) -> None:
        """A form without the CSRF token is a 403 and queues nothing."""
        biz = await open_business(client, core)
        fields = await reply_form(client, f"/inbox/{biz.jordan.id}")
        response = await client.post(f"/inbox/{biz.jordan.id}", form={"form_id": fields["form_id"], "body": "hi"})
        assert response.status_code == 403
        assert stored(core, biz) == []

    @pytest.mark.parametrize(
        ("body", "says"),
        [
            ("", "Write a message before sending."),
            ("bell\x07", "control character"),
            ("€" * (MAX_REPLY + 1), "limited to 1,600 characters"),
        ],
    )
    async def test_a_bad_reply_is_a_400_with_the_reason_and_nothing_stored(
        self, client: Client, core: CoachOS, body: str, says: str
    ) -> None:
        """A refused reply shows the thread again with the reason, the typed text and its SMS part count."""
        biz = await open_business(client, core)
        fields = await reply_form(client, f"/inbox/{biz.jordan.id}")
        response = await client.post(f"/inbox/{biz.jordan.id}", form=fields | {"body": body})
        assert response.status_code == 400
        html = await response.get_data(as_text=True)
        assert says in html
        assert f'value="{fields["form_id"]}"' in html
        if body.startswith("€"):
            assert "text messages: 3202 characters (GSM-7, 153 per part)" in html
        assert stored(core, biz) == []

    async def test_a_nul_character_is_refused_before_the_view(self, client: Client, core: CoachOS) -> None:
        """NUL cannot be stored: the request is a 400 naming the form, and nothing is queued."""
        biz = await open_business(client, core)
        fields = await reply_form(client, f"/inbox/{biz.jordan.id}")
        response = await client.post(f"/inbox/{biz.jordan.id}", form=fields | {"body": "nul\x00here"})
        assert response.status_code == 400
        assert stored(core, biz) == []

    async def test_a_form_without_its_id_is_a_400(self, client: Client, core: CoachOS) -> None:
        """A reply form missing its id is refused (it could not be kept from sending twice)."""
        biz = await open_business(client, core)
        fields = await reply_form(client, f"/inbox/{biz.jordan.id}")
        response = await client.post(
            f"/inbox/{biz.jordan.id}", form={"csrf_token": fields["csrf_token"], "form_id": "nope", "body": "hi"}
        )
        assert response.status_code == 400
        assert "reload the page" in await response.get_data(as_text=True)
        assert stored(core, biz) == []

    async def test_a_client_without_consent_or_email_cannot_be_written_to(self, client: Client, core: CoachOS) -> None:
        """The thread says why no reply is possible and what to do instead of showing a form."""
        biz = await open_business(client, core)
        sam = core.execute(CreateClient(org_id=biz.org.id, name="Sam Patel", phone="+12125550102", actor=biz.me))
        html = (await page(client, f"/inbox/{sam.id}"))[1]
        assert "has not agreed to text messages" in html
        assert 'name="form_id"' not in html


class TestMessagesPanel:
    async def test_the_panel_shows_latest_messages_a_reply_form_and_a_link(self, client: Client, core: CoachOS) -> None:
        """The client page's Messages panel shows the conversation's end, the reply box and a link to the thread."""
        biz = await open_business(client, core)
        texted(core, biz.org.id, biz.jordan.id, "Is 6 ok?", DAYTIME)
        status, html = await page(client, f"/clients/{biz.jordan.id}/panels/messages")
        assert status == 200
        assert "Is 6 ok?" in html
        assert f'<a href="/inbox/{biz.jordan.id}">Open the conversation (1 unread)</a>' in html
        assert f'action="/clients/{biz.jordan.id}/messages"' in html
        assert core.read(lambda uow: uow.messages.unread_count(biz.org.id)) == 1  # a glance marks nothing read

    async def test_a_reply_from_the_panel_is_queued_and_shown(self, client: Client, core: CoachOS) -> None:
        """Replying from the client page queues the text once and returns to the page with a confirmation."""
        biz = await open_business(client, core)
        path = f"/clients/{biz.jordan.id}/panels/messages"
        fields = await reply_form(client, path)
        for _ in range(2):
            response = await client.post(f"/clients/{biz.jordan.id}/messages", form=fields | {"body": "Yes, 6 is fine"})
            assert response.status_code == 303
        assert response.headers["Location"] == f"/clients/{biz.jordan.id}?saved=messages#panel-messages"
        assert [m.body for m in stored(core, biz)] == ["Yes, 6 is fine"]
        assert "Reply queued" in (await page(client, response.headers["Location"].split("#")[0]))[1]
        assert ">Queued</span>" in (await page(client, path))[1]

    async def test_a_refused_reply_from_the_panel_shows_the_page_with_the_reason(
        self, client: Client, core: CoachOS
    ) -> None:
        """An empty reply re-shows the client page with the Messages panel inline and the reason; nothing is stored."""
        biz = await open_business(client, core)
        fields = await reply_form(client, f"/clients/{biz.jordan.id}/panels/messages")
        response = await client.post(f"/clients/{biz.jordan.id}/messages", form=fields | {"body": "  "})
        assert response.status_code == 400
        html = await response.get_data(as_text=True)
        assert "Write a message before sending." in html
        assert stored(core, biz) == []

    async def test_permanent_failures_show_on_the_panel(self, client: Client, core: CoachOS) -> None:
        """A text that could not be sent, even behind newer messages, is named with its reason on the client page."""
        biz = await open_business(client, core)
        failed = to_jordan(biz, "booking:1:reminder-24h", "Reminder", at=DAYTIME - timedelta(days=1))
        with core.deps.uow() as uow:
            uow.messages.add(attrs.evolve(failed, status=MessageStatus.FAILED, last_error="The client opted out."))
            uow.commit()
        for i in range(6):
            texted(core, biz.org.id, biz.jordan.id, f"newer {i}", DAYTIME + timedelta(minutes=i))
        html = (await page(client, f"/clients/{biz.jordan.id}/panels/messages"))[1]
        assert "1 earlier message could not be sent" in html
        assert "Sun 1 Mar, 10:00 EST</time>: The client opted out." in html
        assert "newer 5" in html
        assert "newer 0" not in html


class TestToday:
    async def test_today_names_unread_messages(self, client: Client, core: CoachOS) -> None:
        """Unread texts from clients are listed under Needs attention with a link to the inbox."""
        biz = await open_business(client, core)
        texted(core, biz.org.id, biz.jordan.id, "hello", DAYTIME)
        html = (await page(client, "/today"))[1]
        assert '<a href="/inbox">1 unread message</a> from clients in your inbox.' in html
        await page(client, f"/inbox/{biz.jordan.id}")
        assert "unread message" not in (await page(client, "/today"))[1]


class TestUnreadableMessages:
    async def test_an_unreadable_message_leaves_the_rest_of_each_page(
        self, client: Client, core: CoachOS, store: MemoryStore
    ) -> None:
        """A stored message that cannot be read is named on the inbox, the thread and the panel; the rest shows."""
        biz = await open_business(client, core)
        texted(core, biz.org.id, biz.jordan.id, "readable", DAYTIME)
        store.add_unreadable("messages", uuid4(), biz.org.id, client_id=biz.jordan.id)
        for path in ("/inbox", f"/inbox/{biz.jordan.id}", f"/clients/{biz.jordan.id}/panels/messages"):
            status, html = await page(client, path)
            assert status == 200, path
            assert "1 message could not be read" in html, path
            assert "readable" in html, path


class TestLogs:
    async def test_reading_and_replying_log_ids_only(self, client: Client, core: CoachOS) -> None:
        """The thread, a reply and the panel log no message body, phone or client name."""
        biz = await open_business(client, core)
        texted(core, biz.org.id, biz.jordan.id, "My knee still hurts after Tuesday", DAYTIME)
        buffer = io.StringIO()
        configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=buffer)
        try:
            fields = await reply_form(client, f"/inbox/{biz.jordan.id}")
            await client.post(f"/inbox/{biz.jordan.id}", form=fields | {"body": "Rest it until Friday, Jordan"})
            await page(client, f"/clients/{biz.jordan.id}/panels/messages")
            await page(client, "/inbox")
        finally:
            reset_logging()
        logged = buffer.getvalue()
        assert '"reply_queued"' in logged
        for secret in ("knee", "Rest it until Friday", "Jordan", "2125550101"):
            assert secret not in logged, secret
