"""Waivers: the safe Markdown subset, drawn signatures, minors, versions and who has signed what, on the fakes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.domain.clients import Client
from coachos.domain.errors import Conflict, NotFound, ValidationError
from coachos.domain.messages import MessageChannel, MessageStatus, Purpose
from coachos.domain.usecases import (
    ClientWaivers,
    CreateClient,
    CreateWaiver,
    ListWaivers,
    PublishWaiverVersion,
    ReadWaiverToSign,
    SendWaiverLink,
    SignedCopy,
    SignWaiver,
    WaiverSigned,
)
from coachos.domain.waivers import (
    ESIGN_CONSENT,
    MAX_BODY,
    MAX_DRAWING,
    Waiver,
    WaiverSignature,
    WaiverVersion,
    drawing_svg,
    is_minor,
    masked_ip,
    render_markdown,
    text_hash,
)
from tests.helpers import World, make_world

TEXT = "# Liability waiver\n\nTraining has **risks**.\n\n- I am fit to train\n- I tell my coach about *injuries*"
SCRIBBLE = "M 10 10 L 50 60 Q 70 80 90 100 C 100 110 120 130 140 150"


def new_waiver(app: CoachOS, world: World, body: str = TEXT) -> tuple[Waiver, WaiverVersion]:
    return app.execute(CreateWaiver(org_id=world.org.id, title="Liability waiver", body=body, actor=world.me))


def sign(
    app: CoachOS, world: World, waiver: Waiver, version: WaiverVersion, client: Client | None = None, **kw: object
) -> WaiverSignature:
    values: dict[str, object] = {
        "org_id": world.org.id,
        "client_id": (client or world.client).id,
        "waiver_id": waiver.id,
        "version_id": version.id,
        "shown_sha256": text_hash(version.html),
        "typed_name": "Jordan Lee",
        "consent": True,
        "date_of_birth": date(1990, 2, 28),
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (iPhone)",
    }
    values.update(kw)
    return app.execute(SignWaiver(**values))  # type: ignore[arg-type]


def publish(app: CoachOS, world: World, waiver: Waiver, body: str, *, material: bool) -> WaiverVersion:
    return app.execute(
        PublishWaiverVersion(org_id=world.org.id, waiver_id=waiver.id, body=body, material=material, actor=world.me)
    )


def signed(app: CoachOS, world: World, waiver: Waiver, client: Client | None = None) -> bool:
    return app.execute(WaiverSigned(org_id=world.org.id, client_id=(client or world.client).id, waiver_id=waiver.id))


class TestMarkdown:
    def test_headings_lists_bold_and_italic_become_html(self) -> None:
        """Headings, paragraphs, lists, bold and italic are the only markup produced."""
        html = render_markdown(TEXT)
        assert html.splitlines() == [
            "<h2>Liability waiver</h2>",
            "<p>Training has <strong>risks</strong>.</p>",
            "<ul>",
            "<li>I am fit to train</li>",
            "<li>I tell my coach about <em>injuries</em></li>",
            "</ul>",
        ]

    def test_html_and_links_are_escaped(self) -> None:
        """Tags, scripts and links in the text show as typed, never as markup."""
        html = render_markdown('<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror="y">')
        assert "<script" not in html
        assert "<img" not in html
        assert "&lt;script&gt;" in html
        assert "&quot;y&quot;" in html

    def test_numbered_lists(self) -> None:
        """Numbered lines become an ordered list."""
        assert render_markdown("1. one\n2. two") == "<ol>\n<li>one</li>\n<li>two</li>\n</ol>"

    def test_empty_and_huge_text_are_refused(self) -> None:
        """A waiver needs text, and not more than the limit."""
        with pytest.raises(ValidationError):
            render_markdown("   ")
        with pytest.raises(ValidationError):
            render_markdown("a" * (MAX_BODY + 1))


class TestDrawing:
    def test_path_data_becomes_a_path_only_svg(self) -> None:
        """Drawn path data is rebuilt into an SVG holding one path of M/L/Q/C commands."""
        svg = drawing_svg(SCRIBBLE)
        assert svg is not None
        assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
        assert svg.count("<path") == 1
        assert 'd="M 10 10 L 50 60 Q 70 80 90 100 C 100 110 120 130 140 150"' in svg

    def test_nothing_drawn_is_none(self) -> None:
        """Empty path data means the client only typed their name."""
        assert drawing_svg("  ") is None

    @pytest.mark.parametrize(
        "path",
        [
            '"/><script>alert(1)</script>',
            "M 10 10 A 5 5 0 0 1 20 20",
            "L 10 10",
            "M 10",
            "M 10 10 L 1e9 5",
            "M 10 10 Z",
            "M 99999 10",
        ],
    )
    def test_anything_else_is_refused(self, path: str) -> None:
        """Markup, other commands, missing numbers and points off the pad are refused."""
        with pytest.raises(ValidationError):
            drawing_svg(path)

    def test_too_much_drawing_is_refused(self) -> None:
        """Path data is limited in size."""
        with pytest.raises(ValidationError, match="too detailed"):
            drawing_svg("M 1 1" + " L 2 2" * (MAX_DRAWING // 5))


class TestValues:
    def test_minor_by_birthday(self) -> None:
        """Someone is a minor until their eighteenth birthday."""
        assert is_minor(date(2008, 3, 3), date(2026, 3, 2))
        assert not is_minor(date(2008, 3, 2), date(2026, 3, 2))

    def test_ip_is_partly_masked(self) -> None:
        """The audit page shows the network part of an IP, not the host."""
        assert masked_ip("203.0.113.7") == "203.0.113.x"
        assert masked_ip("2001:db8:85a3:8d3:1319:8a2e:370:7348").startswith("2001:db8:85a3:x")
        assert masked_ip(None) == "not recorded"


class TestVersions:
    def test_creating_publishes_version_one(self, app: CoachOS, world: World) -> None:
        """A new waiver has version 1, material, showing its rendered text."""
        waiver, version = new_waiver(app, world)
        assert (version.number, version.material, version.html) == (1, True, render_markdown(TEXT))
        rows = app.execute(ListWaivers(org_id=world.org.id))
        assert [r.waiver.id for r in rows] == [waiver.id]
        assert rows[0].current == version

    def test_editing_makes_the_next_version_and_keeps_the_old(self, app: CoachOS, world: World) -> None:
        """Publishing again adds version n+1; version n is unchanged."""
        waiver, v1 = new_waiver(app, world)
        v2 = publish(app, world, waiver, TEXT + "\n\nNew rule.", material=False)
        assert v2.number == 2
        assert not v2.material
        rows = app.execute(ListWaivers(org_id=world.org.id))
        assert rows[0].versions == (v1, v2)

    def test_the_same_text_is_not_a_new_version(self, app: CoachOS, world: World) -> None:
        """Publishing unchanged text is refused."""
        waiver, _ = new_waiver(app, world)
        with pytest.raises(ValidationError, match="same"):
            publish(app, world, waiver, TEXT, material=True)

    def test_another_business_cannot_publish(self, app: CoachOS, world: World) -> None:
        """Another business's waiver id is not found."""
        waiver, _ = new_waiver(app, world)
        other = make_world(app)
        with pytest.raises(NotFound):
            app.execute(
                PublishWaiverVersion(org_id=other.org.id, waiver_id=waiver.id, body="x", material=True, actor=other.me)
            )


class TestSigning:
    def test_a_signature_records_what_was_shown_and_how(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """The signature holds the version, the hash of the text shown, the name, consent words, time, IP and agent."""
        waiver, version = new_waiver(app, world)
        s = sign(app, world, waiver, version, drawing=SCRIBBLE)
        assert s.version_id == version.id
        assert s.version_number == 1
        assert s.text_sha256 == text_hash(version.html) == version.sha256
        assert (s.typed_name, s.consent_wording, s.signed_at) == ("Jordan Lee", ESIGN_CONSENT, clock.now())
        assert (s.ip, s.user_agent) == ("203.0.113.7", "Mozilla/5.0 (iPhone)")
        assert s.drawing is not None
        assert s.method == "typed name and drawn signature"
        assert signed(app, world, waiver)

    def test_signing_twice_is_one_signature(self, app: CoachOS, world: World) -> None:
        """A second submit returns the first signature."""
        waiver, version = new_waiver(app, world)
        first = sign(app, world, waiver, version)
        again = sign(app, world, waiver, version, typed_name="Someone Else")
        assert again == first
        rows = app.execute(ClientWaivers(org_id=world.org.id, client_id=world.client.id))
        assert rows[0].signatures == (first,)

    def test_consent_is_required(self, app: CoachOS, world: World) -> None:
        """Without ticking the e-sign box nothing is signed."""
        waiver, version = new_waiver(app, world)
        with pytest.raises(ValidationError, match="electronically"):
            sign(app, world, waiver, version, consent=False)
        assert not signed(app, world, waiver)

    def test_a_stale_page_cannot_sign(self, app: CoachOS, world: World) -> None:
        """Signing a version that is no longer current, or text other than the version's, is refused."""
        waiver, v1 = new_waiver(app, world)
        publish(app, world, waiver, TEXT + "\n\nMore.", material=False)
        with pytest.raises(Conflict):
            sign(app, world, waiver, v1)
        with pytest.raises(Conflict):
            sign(app, world, waiver, v1, shown_sha256="0" * 64)

    def test_a_material_edit_needs_signing_again(self, app: CoachOS, world: World) -> None:
        """After a material version the earlier signature no longer counts; signing the new one does."""
        waiver, v1 = new_waiver(app, world)
        sign(app, world, waiver, v1)
        v2 = publish(app, world, waiver, TEXT + "\n\nNew risk.", material=True)
        assert not signed(app, world, waiver)
        sign(app, world, waiver, v2)
        assert signed(app, world, waiver)

    def test_a_minor_edit_keeps_the_signature(self, app: CoachOS, world: World) -> None:
        """A version not marked material leaves earlier signatures current."""
        waiver, v1 = new_waiver(app, world)
        sign(app, world, waiver, v1)
        publish(app, world, waiver, TEXT + "\n\nTypo fixed.", material=False)
        assert signed(app, world, waiver)
        page = app.execute(ReadWaiverToSign(org_id=world.org.id, client_id=world.client.id, waiver_id=waiver.id))
        assert page.current
        assert page.signed is None
        assert page.version is not None
        assert page.version.number == 2

    def test_nobody_has_signed_before_they_sign(self, app: CoachOS, world: World) -> None:
        """A client with no signature has not signed."""
        waiver, _ = new_waiver(app, world)
        assert not signed(app, world, waiver)

    def test_date_of_birth_is_asked_when_the_record_has_none(self, app: CoachOS, world: World) -> None:
        """Without a birthday on file, the date of birth is required."""
        waiver, version = new_waiver(app, world)
        with pytest.raises(ValidationError) as refused:
            sign(app, world, waiver, version, date_of_birth=None)
        assert refused.value.field == "date_of_birth"

    def test_a_minor_needs_a_guardian(self, app: CoachOS, world: World) -> None:
        """Under 18 (by the birthday on file), the guardian's name and relationship are required and kept."""
        teen = app.execute(CreateClient(org_id=world.org.id, name="Kai", birthday="2012-05-01", actor=world.me))
        waiver, version = new_waiver(app, world)
        with pytest.raises(ValidationError) as refused:
            sign(app, world, waiver, version, teen, typed_name="Kai")
        assert refused.value.field == "guardian_name"
        s = sign(
            app,
            world,
            waiver,
            version,
            teen,
            typed_name="Kai",
            guardian_name="Robin Kai",
            guardian_relationship="Parent",
            guardian_drawing=SCRIBBLE,
        )
        assert s.guardian is not None
        assert (s.guardian.name, s.guardian.relationship) == ("Robin Kai", "Parent")
        assert s.guardian.drawing is not None
        assert s.date_of_birth is None

    def test_an_adult_by_the_given_date_needs_no_guardian(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A typed date of birth of an adult signs alone, and is kept with the signature."""
        waiver, version = new_waiver(app, world)
        born = clock.now().date() - timedelta(days=365 * 30)
        s = sign(app, world, waiver, version, date_of_birth=born)
        assert s.guardian is None
        assert s.date_of_birth == born

    def test_bad_drawing_stores_nothing(self, app: CoachOS, world: World) -> None:
        """A drawing that is not plain path data is refused and nothing is signed."""
        waiver, version = new_waiver(app, world)
        with pytest.raises(ValidationError):
            sign(app, world, waiver, version, drawing="<svg onload=alert(1)>")
        assert not signed(app, world, waiver)

    def test_another_business_cannot_read_a_signature(self, app: CoachOS, world: World) -> None:
        """A signature id of another business is not found."""
        waiver, version = new_waiver(app, world)
        s = sign(app, world, waiver, version)
        other = make_world(app)
        with pytest.raises(NotFound):
            app.execute(SignedCopy(org_id=other.org.id, signature_id=s.id))
        assert app.execute(SignedCopy(org_id=world.org.id, signature_id=s.id))[4] == s


class TestSendingTheLink:
    def test_the_link_is_queued_as_a_transactional_message(self, app: CoachOS, world: World) -> None:
        """Sending queues one transactional text with the signed link, not held by quiet hours."""
        waiver, _ = new_waiver(app, world)
        message = app.execute(
            SendWaiverLink(
                org_id=world.org.id,
                client_id=world.client.id,
                waiver_id=waiver.id,
                channel=MessageChannel.SMS,
                actor=world.me,
            )
        )
        assert (message.purpose, message.status, message.quiet_hours) == (
            Purpose.TRANSACTIONAL,
            MessageStatus.QUEUED,
            False,
        )
        assert message.to == world.client.phone
        assert f"/c/{world.org.slug}/waivers/" in message.body

    def test_no_address_on_file_is_refused(self, app: CoachOS, world: World) -> None:
        """Emailing a client without an email is refused with what to do."""
        waiver, _ = new_waiver(app, world)
        with pytest.raises(ValidationError, match="no email"):
            app.execute(
                SendWaiverLink(
                    org_id=world.org.id,
                    client_id=world.client.id,
                    waiver_id=waiver.id,
                    channel=MessageChannel.EMAIL,
                    actor=world.me,
                )
            )
