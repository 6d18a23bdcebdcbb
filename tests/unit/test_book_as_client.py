"""A signed-in client's booking: their own credit, confirmed at once, unless an onboarding flow still holds it."""

from __future__ import annotations

from coachos import BookingStatus, CoachOS
from coachos.domain.usecases import (
    AddOnboardingStep,
    BookAsClient,
    CreateOnboardingFlow,
    CreateWaiver,
    UpdateOnboardingFlow,
)
from tests.helpers import World, local


def book(app: CoachOS, world: World) -> object:
    return app.execute(
        BookAsClient(org_id=world.org.id, client_id=world.client.id, service_id=world.pt.id, start=local(world, 3, 10))
    )


class TestBookAsClient:
    def test_a_signed_in_clients_booking_is_confirmed_and_uses_their_credit(self, app: CoachOS, world: World) -> None:
        booking = book(app, world)
        assert booking.status is BookingStatus.CONFIRMED  # type: ignore[attr-defined]
        assert booking.package_id == world.package.id  # type: ignore[attr-defined]

    def test_an_unfinished_onboarding_flow_still_holds_it_as_requested(self, app: CoachOS, world: World) -> None:
        waiver, _ = app.execute(CreateWaiver(org_id=world.org.id, title="Liability", body="Text", actor=world.me))
        flow = app.execute(CreateOnboardingFlow(org_id=world.org.id, name="New clients", actor=world.me))
        app.execute(
            AddOnboardingStep(
                org_id=world.org.id, flow_id=flow.id, kind="sign_waiver", target=waiver.id, actor=world.me
            )
        )
        app.execute(
            UpdateOnboardingFlow(
                org_id=world.org.id, flow_id=flow.id, name="New clients", all_services=True, actor=world.me
            )
        )
        assert book(app, world).status is BookingStatus.REQUESTED  # type: ignore[attr-defined]
