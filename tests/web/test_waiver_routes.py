"""Waivers through the real app on the fakes: Setup → Waivers, the client's signing page, the panel and its PDF."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.links import SignedLinks, waiver_token
from coachos.adapters.memory import MemoryStore
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.domain.clients import Client as ClientRecord
from coachos.domain.messages import MessageChannel, Purpose
from coachos.domain.usecases import CreateWaiver, ListWaivers
from coachos.domain.waivers import MAX_BODY, MAX_DRAWING, Waiver, WaiverSignature, WaiverVersion
from tests.unit.test_waiver_pdf import pdf_text
from tests.unit.test_waivers import SCRIBBLE, TEXT
from tests.web.support import csrf
from tests.web.test_client_routes import Business, add, open_business, text
from tests.web.test_log_privacy import logs  # noqa: F401  # the fixture

SECRET = "test-secret-key"


@pytest.fixture
def core(clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on fakes whose links are signed with the web app's test secret."""
    with bootstrap(
        Settings(database_url="memory://"),
        uow=MemoryStore().unit_of_work,
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
        links=SignedLinks("http://coachos.test", lambda: SECRET, clock),
    ) as built:
        yield built


def waivers_of(core: CoachOS, biz: Business) -> list[tuple[Waiver, tuple[WaiverVersion, ...]]]:
    return [(r.waiver, r.versions) for r in core.execute(ListWaivers(org_id=biz.org.id))]


def signatures_of(core: CoachOS, biz: Business, who: ClientRecord) -> list[WaiverSignature]:
    return list(core.read(lambda uow: uow.waivers.signatures(biz.org.id, who.id)))


def new_waiver(core: CoachOS, biz: Business) -> tuple[Waiver, WaiverVersion]:
    return core.execute(CreateWaiver(org_id=biz.org.id, title="Liability waiver", body=TEXT, actor=biz.me))


def sign_path(core: CoachOS, biz: Business, who: ClientRecord, waiver: Waiver, clock: FixedClock) -> str:
    return f"/c/{biz.org.slug}/waivers/{waiver_token(SECRET, clock, biz.org.id, who.id, waiver.id)}"


async def signing_form(client: Client, path: str) -> dict[str, str]:
    """The hidden fields of the signing page, and a CSRF token for this browser."""
    page = (await text(client, path))[1]
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)"', page))
    return {k: v for k, v in fields.items() if k in ("csrf_token", "version_id", "shown_sha256")}


def signed_form(form: dict[str, str], **kw: str) -> dict[str, str]:
    values = form | {"typed_name": "Jordan Lee", "consent": "yes", "date_of_birth": "1990-02-28"}
    return values | kw


class TestSetupWaivers:
    async def test_write_publish_and_see_versions(self, client: Client, core: CoachOS) -> None:
        """Writing publishes version 1; publishing again with 'material' makes version 2; both are listed."""
        biz = await open_business(client, core)
        token = await csrf(client, "/setup/waivers")
        made = await client.post("/setup/waivers", form={"csrf_token": token, "title": "Liability", "body": TEXT})
        assert made.status_code == 303
        ((waiver, versions),) = waivers_of(core, biz)
        assert [v.number for v in versions] == [1]
        page = (await text(client, f"/setup/waivers/{waiver.id}"))[1]
        assert "<strong>risks</strong>" in page
        assert "Publish version 2" in page
        published = await client.post(
            f"/setup/waivers/{waiver.id}", form={"csrf_token": token, "body": TEXT + "\n\nMore.", "material": "yes"}
        )
        assert published.status_code == 303
        assert [(v.number, v.material) for v in waivers_of(core, biz)[0][1]] == [(1, True), (2, True)]
        assert "yes (material change)" in (await text(client, f"/setup/waivers/{waiver.id}"))[1]
        assert "Waivers" in (await text(client, "/setup"))[1]

    @pytest.mark.parametrize(
        ("body", "material", "message"),
        [
            (TEXT + "\n\nMore.", "", "material"),
            (TEXT, "no", "same as the current"),
            ("x" * (MAX_BODY + 1), "no", "limited to"),
            ("   ", "no", "Write the waiver"),
        ],
    )
    async def test_a_refused_version_stores_nothing(
        self, client: Client, core: CoachOS, body: str, material: str, message: str
    ) -> None:
        """No material choice, unchanged, huge or empty text: 400 with the reason, and no new version."""
        biz = await open_business(client, core)
        waiver, _ = new_waiver(core, biz)
        token = await csrf(client, "/setup/waivers")
        form = {"csrf_token": token, "body": body, "material": material}
        response = await client.post(f"/setup/waivers/{waiver.id}", form=form)
        assert response.status_code == 400
        assert message in await response.get_data(as_text=True)
        assert len(waivers_of(core, biz)[0][1]) == 1

    async def test_nul_and_missing_csrf_are_refused(self, client: Client, core: CoachOS) -> None:
        """A NUL in the text or a missing CSRF token is refused and nothing is stored."""
        biz = await open_business(client, core)
        token = await csrf(client, "/setup/waivers")
        nul = await client.post("/setup/waivers", form={"csrf_token": token, "title": "T", "body": "a\x00b"})
        assert nul.status_code == 400
        forged = await client.post("/setup/waivers", form={"title": "T", "body": "Fine text"})
        assert forged.status_code == 403
        assert waivers_of(core, biz) == []

    async def test_another_business_waiver_is_not_found(self, web: Quart, core: CoachOS) -> None:
        """Another business's waiver id is a 404 to read and to publish to."""
        mine, theirs = web.test_client(), web.test_client()
        await open_business(mine, core, "peak")
        other = await open_business(theirs, core, "other")
        waiver, _ = new_waiver(core, other)
        assert (await mine.get(f"/setup/waivers/{waiver.id}")).status_code == 404
        token = await csrf(mine, "/setup/waivers")
        form = {"csrf_token": token, "body": "Hijacked", "material": "yes"}
        assert (await mine.post(f"/setup/waivers/{waiver.id}", form=form)).status_code == 404
        assert len(waivers_of(core, other)[0][1]) == 1


class TestSigningPage:
    async def test_shows_the_version_branded_and_hashes_exactly_what_is_shown(
        self, web: Quart, core: CoachOS, clock: FixedClock
    ) -> None:
        """The page shows the stored HTML byte for byte, under the business's name; the signature's hash is of it."""
        biz = await open_business(web.test_client(), core)
        jordan = add(core, biz, "Jordan Lee")
        waiver, version = new_waiver(core, biz)
        guest = web.test_client()
        path = sign_path(core, biz, jordan, waiver, clock)
        status, page = await text(guest, path)
        assert status == 200
        assert biz.org.name in page
        assert "Coach OS" not in page
        assert version.html in page
        head = await guest.head(path)
        assert head.status_code == 200
        assert signatures_of(core, biz, jordan) == []
        form = await signing_form(guest, path)
        assert form["shown_sha256"] == hashlib.sha256(version.html.encode()).hexdigest()
        signed = await guest.post(path, form=signed_form(form, drawing=SCRIBBLE), headers={"User-Agent": "TestPhone/1"})
        assert signed.status_code == 303
        (s,) = signatures_of(core, biz, jordan)
        assert s.text_sha256 == hashlib.sha256(version.html.encode()).hexdigest()
        assert s.user_agent == "TestPhone/1"
        assert s.drawing is not None
        done = (await text(guest, signed.headers["Location"]))[1]
        assert "your signature is recorded" in done
        pdf = await guest.get(f"{path}/signed.pdf")
        assert pdf.status_code == 200
        assert pdf.mimetype == "application/pdf"
        assert s.text_sha256 in pdf_text(await pdf.get_data())

    async def test_a_double_submit_signs_once(self, web: Quart, core: CoachOS, clock: FixedClock) -> None:
        """Submitting the same form twice stores one signature."""
        biz = await open_business(web.test_client(), core)
        jordan = add(core, biz, "Jordan Lee")
        waiver, _ = new_waiver(core, biz)
        guest = web.test_client()
        path = sign_path(core, biz, jordan, waiver, clock)
        form = signed_form(await signing_form(guest, path))
        assert (await guest.post(path, form=form)).status_code == 303
        assert (await guest.post(path, form=form)).status_code == 303
        assert len(signatures_of(core, biz, jordan)) == 1

    @pytest.mark.parametrize(
        ("change", "status"),
        [
            ({"typed_name": "Jordan\x00Lee"}, 400),
            ({"typed_name": "J" * 300}, 400),
            ({"consent": ""}, 400),
            ({"drawing": '"/><script>alert(1)</script>'}, 400),
            ({"drawing": "M 1 1" + " L 2 2" * (MAX_DRAWING // 5)}, 400),
            ({"date_of_birth": "not a date"}, 400),
            ({"date_of_birth": ""}, 400),
            ({"version_id": "nope"}, 400),
            ({"shown_sha256": "0" * 64}, 409),
            ({"csrf_token": "forged"}, 403),
        ],
    )
    async def test_bad_input_is_refused_and_nothing_is_signed(
        self, web: Quart, core: CoachOS, clock: FixedClock, change: dict[str, str], status: int
    ) -> None:
        """NUL, huge or missing fields, unsafe drawings, another text's hash or a forged CSRF token sign nothing."""
        biz = await open_business(web.test_client(), core)
        jordan = add(core, biz, "Jordan Lee")
        waiver, _ = new_waiver(core, biz)
        guest = web.test_client()
        path = sign_path(core, biz, jordan, waiver, clock)
        response = await guest.post(path, form=signed_form(await signing_form(guest, path), **change))
        assert response.status_code == status
        assert signatures_of(core, biz, jordan) == []

    async def test_forged_expired_and_other_business_links_are_not_found(
        self, web: Quart, core: CoachOS, clock: FixedClock
    ) -> None:
        """A forged token, a token under another business's address, or one older than 7 days is a 404."""
        biz = await open_business(web.test_client(), core, "peak")
        other = await open_business(web.test_client(), core, "other")
        jordan = add(core, biz, "Jordan Lee")
        waiver, _ = new_waiver(core, biz)
        guest = web.test_client()
        path = sign_path(core, biz, jordan, waiver, clock)
        form = signed_form(await signing_form(guest, path))
        forged = waiver_token("another-secret", clock, biz.org.id, jordan.id, waiver.id)
        assert (await guest.get(f"/c/peak/waivers/{forged}")).status_code == 404
        assert (await guest.post(f"/c/peak/waivers/{forged}", form=form)).status_code == 404
        assert (await guest.get(path.replace("/c/peak/", f"/c/{other.org.slug}/"))).status_code == 404
        their_waiver, _ = new_waiver(core, other)
        mixed = waiver_token(SECRET, clock, biz.org.id, jordan.id, their_waiver.id)
        assert (await guest.get(f"/c/peak/waivers/{mixed}")).status_code == 404
        clock.advance(timedelta(days=7, minutes=1))
        assert (await guest.get(path)).status_code == 404
        assert (await guest.post(path, form=form)).status_code == 404
        assert signatures_of(core, biz, jordan) == []

    async def test_a_minor_signs_with_a_guardian(self, web: Quart, core: CoachOS, clock: FixedClock) -> None:
        """A client under 18 by their birthday needs the guardian's name and relationship."""
        biz = await open_business(web.test_client(), core)
        kai = add(core, biz, "Kai Young", birthday="2012-05-01")
        waiver, _ = new_waiver(core, biz)
        guest = web.test_client()
        path = sign_path(core, biz, kai, waiver, clock)
        page = (await text(guest, path))[1]
        assert "date_of_birth" not in page
        form = await signing_form(guest, path)
        refused = await guest.post(path, form=signed_form(form, typed_name="Kai Young"))
        assert refused.status_code == 400
        assert signatures_of(core, biz, kai) == []
        fields = {"guardian_name": "Robin Young", "guardian_relationship": "Parent", "guardian_drawing": SCRIBBLE}
        assert (await guest.post(path, form=signed_form(form, typed_name="Kai Young", **fields))).status_code == 303
        (s,) = signatures_of(core, biz, kai)
        assert s.guardian is not None
        assert s.guardian.name == "Robin Young"


class TestWaiversPanel:
    async def test_send_link_sign_and_download(self, web: Quart, client: Client, core: CoachOS) -> None:
        """The panel says not signed, queues the signing link, then shows the signed version with its PDF."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee", email="jordan@example.net")
        waiver, version = new_waiver(core, biz)
        fragment = (await text(client, f"/clients/{jordan.id}/panels/waivers"))[1]
        assert "not signed" in fragment
        assert "Send signing link" in fragment
        token = await csrf(client, f"/clients/{jordan.id}")
        sent = await client.post(
            f"/clients/{jordan.id}/waivers/{waiver.id}/send", form={"csrf_token": token, "channel": "email"}
        )
        assert sent.status_code == 303
        (message,) = core.read(lambda uow: list(uow.messages.for_client(biz.org.id, jordan.id)))
        assert (message.channel, message.purpose, message.quiet_hours) == (
            MessageChannel.EMAIL,
            Purpose.TRANSACTIONAL,
            False,
        )
        link = re.search(r"http://coachos\.test(/c/peak/waivers/\S+)", message.body)
        assert link
        guest = web.test_client()
        form = signed_form(await signing_form(guest, link.group(1)), drawing=SCRIBBLE)
        assert (await guest.post(link.group(1), form=form)).status_code == 303
        fragment = (await text(client, f"/clients/{jordan.id}/panels/waivers"))[1]
        assert "signed" in fragment
        assert "Send signing link" not in fragment
        assert 'alt="Drawn signature of Jordan Lee"' in fragment
        assert "<path" not in fragment  # the drawing is an image, never inline markup
        (s,) = signatures_of(core, biz, jordan)
        pdf = await client.get(f"/clients/{jordan.id}/waivers/signatures/{s.id}.pdf")
        assert pdf.status_code == 200
        assert version.sha256 in pdf_text(await pdf.get_data())

    async def test_refused_send_and_other_ids(self, web: Quart, client: Client, core: CoachOS) -> None:
        """No email on file is a 400 with the reason; other businesses' or clients' ids are 404; nothing queued."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        sam = add(core, biz, "Sam Patel")
        waiver, _ = new_waiver(core, biz)
        token = await csrf(client, f"/clients/{jordan.id}")
        refused = await client.post(
            f"/clients/{jordan.id}/waivers/{waiver.id}/send", form={"csrf_token": token, "channel": "email"}
        )
        assert refused.status_code == 400
        assert "no email address" in await refused.get_data(as_text=True)
        other_client = web.test_client()
        other = await open_business(other_client, core, "other")
        stranger = add(core, other, "Stranger", email="s@example.net")
        their_waiver, _ = new_waiver(core, other)
        for path in (
            f"/clients/{stranger.id}/waivers/{their_waiver.id}/send",
            f"/clients/{jordan.id}/waivers/{their_waiver.id}/send",
        ):
            response = await client.post(path, form={"csrf_token": token, "channel": "email"})
            assert response.status_code == 404, path
        assert core.read(lambda uow: list(uow.messages.for_client(other.org.id, stranger.id))) == []
        assert core.read(lambda uow: list(uow.messages.for_client(biz.org.id, jordan.id))) == []
        guest = web.test_client()
        link = f"/c/peak/waivers/{waiver_token(SECRET, core.clock, biz.org.id, jordan.id, waiver.id)}"
        await guest.post(link, form=signed_form(await signing_form(guest, link)))
        (s,) = signatures_of(core, biz, jordan)
        assert (await client.get(f"/clients/{sam.id}/waivers/signatures/{s.id}.pdf")).status_code == 404
        assert (await other_client.get(f"/clients/{jordan.id}/waivers/signatures/{s.id}.pdf")).status_code == 404
        assert (await other_client.get(f"/clients/{jordan.id}/panels/waivers")).status_code == 404


class TestWaiverLogPrivacy:
    async def test_signing_logs_no_name_ip_agent_or_token(
        self,
        web: Quart,
        client: Client,
        core: CoachOS,
        clock: FixedClock,
        logs: io.StringIO,  # noqa: F811  # the imported fixture
    ) -> None:
        """The signing flow logs request lines with no typed name, guardian, user agent or link token."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Barnabus Thistlewood", birthday="2012-05-01")
        waiver, _ = new_waiver(core, biz)
        guest = web.test_client()
        path = sign_path(core, biz, jordan, waiver, clock)
        token = path.rsplit("/", 1)[1]
        form = signed_form(
            await signing_form(guest, path),
            typed_name="Barnabus Thistlewood",
            guardian_name="Ottoline Brackenbury",
            guardian_relationship="Grandmother",
        )
        agent = "SecretAgentBrowser/7.7"
        assert (await guest.post(path, form=form, headers={"User-Agent": agent})).status_code == 303
        (s,) = signatures_of(core, biz, jordan)
        await guest.get(f"{path}/signed.pdf")
        await client.get(f"/clients/{jordan.id}/panels/waivers")
        await client.get(f"/clients/{jordan.id}/waivers/signatures/{s.id}.pdf")
        written = logs.getvalue()
        assert written.count('"event": "request"') >= 5
        for secret in ("Barnabus", "Thistlewood", "Ottoline", "Brackenbury", agent, token, "127.0.0.1"):
            assert secret not in written, secret
