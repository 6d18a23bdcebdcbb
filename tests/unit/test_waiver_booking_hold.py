"""A material change to a signed waiver holds the client's next booking until they sign again; a minor one doesn't."""

from __future__ import annotations

from datetime import date

import pytest

from coachos import CoachOS
from coachos.domain.usecases import BookAsGuest, BookSession, CreateWaiver, PublishWaiverVersion, SignWaiver
from coachos.domain.waivers import GUEST_RESIGN_MESSAGE, ResignRequired, Waiver, WaiverVersion
from tests.helpers import World, local


def signed(app: CoachOS, world: World) -> tuple[Waiver, WaiverVersion]:
    waiver, version = app.execute(CreateWaiver(org_id=world.org.id, title="Liability", body="Text", actor=world.me))
    sign(app, world, waiver, version)
    return waiver, version


def sign(app: CoachOS, world: World, waiver: Waiver, version: WaiverVersion) -> None:
    app.execute(
        SignWaiver(
            org_id=world.org.id,
            client_id=world.client.id,
            waiver_id=waiver.id,
            version_id=version.id,
            shown_sha256=version.sha256,
            typed_name="Jordan Lee",
            consent=True,
            date_of_birth=date(1990, 1, 1),
        )
    )


def publish(app: CoachOS, world: World, waiver: Waiver, body: str, *, material: bool) -> WaiverVersion:
    return app.execute(
        PublishWaiverVersion(org_id=world.org.id, waiver_id=waiver.id, body=body, material=material, actor=world.me)
    )


def book(app: CoachOS, world: World, day: int = 3) -> object:
    return app.execute(
        BookSession(
            org_id=world.org.id,
            coach_id=world.coach.id,
            service_id=world.pt.id,
            client_id=world.client.id,
            start=local(world, day, 10),
            actor=world.me,
        )
    )


class TestWaiverHold:
    def test_a_minor_edit_lets_booking_go_on(self, app: CoachOS, world: World) -> None:
        waiver, _ = signed(app, world)
        publish(app, world, waiver, "Text, typo fixed", material=False)
        book(app, world)

    def test_a_material_edit_holds_booking_until_signed_again(self, app: CoachOS, world: World) -> None:
        waiver, _ = signed(app, world)
        version = publish(app, world, waiver, "New terms", material=True)
        with pytest.raises(ResignRequired, match="“Liability” changed since it was signed"):
            book(app, world)
        sign(app, world, waiver, version)
        book(app, world)

    def test_a_waiver_never_signed_holds_nothing_here(self, app: CoachOS, world: World) -> None:
        """Which waivers a new client must sign is an onboarding flow's question, not this hold's."""
        app.execute(CreateWaiver(org_id=world.org.id, title="Liability", body="Text", actor=world.me))
        book(app, world)

    def test_the_public_form_does_not_name_the_clients_waivers(self, app: CoachOS, world: World) -> None:
        """Anyone can type a client's phone on the public form: the refusal tells them nothing about the client."""
        waiver, _ = signed(app, world)
        publish(app, world, waiver, "New terms", material=True)
        with pytest.raises(ResignRequired) as refused:
            app.execute(
                BookAsGuest(
                    org_id=world.org.id,
                    service_id=world.pt.id,
                    start=local(world, 3, 11),
                    name="Jordan Lee",
                    phone=world.client.phone,
                    visitor="visitor-1",
                    idempotency_key="k1",
                    sms_consent=False,
                    consent_wording="",
                )
            )
        assert refused.value.message == GUEST_RESIGN_MESSAGE
