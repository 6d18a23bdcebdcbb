"""Consent ticked on the public form, applied to the client on file once the coach vouches for them, on the fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from coachos import (
    Actor,
    ApplyBookingConsents,
    Booking,
    Channel,
    Client,
    CoachOS,
    ConfirmBooking,
    ConsentLog,
    NotFound,
    ValidationError,
    WithdrawConsent,
)
from coachos.adapters.clock import FixedClock
from coachos.domain.bookings import GuestConsent
from tests.helpers import World
from tests.unit.test_public_usecases import WORDING, guest

OFFERS = GuestConsent(Channel.SMS_MARKETING, "Send me marketing texts")
NEWS = GuestConsent(Channel.EMAIL_MARKETING, "Send me marketing emails")


def maybe_booking(app: CoachOS, world: World, **overrides: object) -> Booking:
    """A public booking typed with Jordan's phone (so held for Jordan as "maybe"), every box ticked."""
    values: dict[str, object] = {
        "phone": "+12125550101",
        "email": "casey@example.com",
        "sms_consent": True,
        "marketing": (OFFERS, NEWS),
    } | overrides
    return app.execute(guest(world, **values))


def apply(app: CoachOS, world: World, booking: Booking) -> Client:
    return app.execute(
        ApplyBookingConsents(org_id=world.org.id, client_id=world.client.id, booking_id=booking.id, actor=world.me)
    )


def confirm(app: CoachOS, world: World, booking: Booking) -> None:
    app.execute(ConfirmBooking(org_id=world.org.id, booking_id=booking.id, actor=world.me))


class TestApplyBookingConsents:
    def test_after_confirming_the_ticks_for_the_clients_own_number_become_consents(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """Once confirmed, the texts ticked with the client's own phone are consents in the form's words; the email
        typed is not the client's, so marketing emails are left for the coach to check."""
        booking = maybe_booking(app, world)
        confirm(app, world, booking)
        clock.advance(timedelta(hours=1))
        client = apply(app, world, booking)
        words = {c.channel: (c.method, c.wording, c.granted_at) for c in client.consents}
        assert words == {
            Channel.SMS: ("booking_form", WORDING, clock.now()),
            Channel.SMS_MARKETING: ("booking_form", OFFERS.wording, clock.now()),
        }
        log = app.execute(ConsentLog(org_id=world.org.id, client_id=world.client.id))
        assert sorted((c.channel, c.actor) for c in log) == [
            (Channel.SMS, str(world.me)),
            (Channel.SMS_MARKETING, str(world.me)),
        ]

    def test_an_unconfirmed_booking_applies_nothing(self, app: CoachOS, world: World) -> None:
        """Until the coach confirms the booking, its ticks are refused and the client stays as it was."""
        booking = maybe_booking(app, world)
        with pytest.raises(ValidationError, match="Confirm the booking first") as caught:
            apply(app, world, booking)
        assert caught.value.field == "booking_id"
        assert app.read(lambda uow: uow.clients.get(world.org.id, world.client.id)) == world.client

    def test_a_later_withdrawal_is_never_undone_by_an_old_tick(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """Ticks applied once are settled: after a STOP, applying the same booking again gives nothing back."""
        booking = maybe_booking(app, world, marketing=())
        confirm(app, world, booking)
        apply(app, world, booking)
        clock.advance(timedelta(days=1))
        app.execute(
            WithdrawConsent(
                org_id=world.org.id,
                client_id=world.client.id,
                channel="sms",
                method="sms_keyword",
                actor=Actor("client", world.client.id),
            )
        )
        with pytest.raises(ValidationError, match="Nothing ticked"):
            apply(app, world, booking)
        assert app.read(lambda uow: uow.clients.get(world.org.id, world.client.id)).consent(Channel.SMS) is None

    def test_ticks_for_someone_elses_contact_are_refused(self, app: CoachOS, world: World) -> None:
        """Only marketing emails ticked with an email the client does not have: refused, nothing changes."""
        booking = maybe_booking(app, world, sms_consent=False, marketing=(NEWS,))
        confirm(app, world, booking)
        with pytest.raises(ValidationError, match="not the client's on file"):
            apply(app, world, booking)
        assert app.read(lambda uow: uow.clients.get(world.org.id, world.client.id)) == world.client

    def test_another_clients_booking_is_not_found(self, app: CoachOS, world: World) -> None:
        """A booking of another client (here a new lead's) cannot be applied to this client."""
        booking = app.execute(guest(world, sms_consent=True))
        with pytest.raises(NotFound):
            apply(app, world, booking)
