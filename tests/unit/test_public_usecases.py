"""Booking as a guest from the public page, and coaches' secret calendar feeds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from coachos import (
    Actor,
    AddCoach,
    BookAsGuest,
    BookingStatus,
    BookSession,
    CalendarFeedUrl,
    CancelBooking,
    Channel,
    ClientStatus,
    CoachOS,
    ConfirmBooking,
    Conflict,
    ConsentLog,
    CreateClient,
    Money,
    NotFound,
    ReadCalendarFeed,
    RescheduleBooking,
    RotateCalendarFeed,
    SellPackage,
    SlotUnavailable,
    ValidationError,
)
from coachos.adapters.clock import FixedClock
from coachos.domain.bookings import GuestConsent, GuestDetails
from tests.helpers import World, local, make_world

WORDING = "Text me reminders about my bookings"


def guest(world: World, **overrides: Any) -> BookAsGuest:
    """A guest booking of the world's PT at 10:00 on Tuesday 3 March, by a new person."""
    values: dict[str, Any] = {
        "org_id": world.org.id,
        "service_id": world.pt.id,
        "start": local(world, 3, 10),
        "name": "Casey Morgan",
        "phone": "+1 646 555 0199",
        "email": "casey@example.com",
        "sms_consent": False,
        "consent_wording": WORDING,
        "idempotency_key": "form-1",
        "visitor": "visitor-1",
    } | overrides
    return BookAsGuest(**values)


def clients_of(app: CoachOS, world: World) -> list[Any]:
    """Every client of the world's business."""
    return list(app.read(lambda uow: uow.clients.list(world.org.id)))


def package_used(app: CoachOS, world: World) -> int:
    """Credits used from the world client's package."""
    return app.read(lambda uow: uow.packages.get(world.org.id, world.package.id)).used


def outbox_of(app: CoachOS, world: World) -> list[Any]:
    """The business's stored events, oldest first."""
    return [e for e in app.read(lambda uow: uow.outbox.pending(limit=100_000)) if e.org_id == world.org.id]


def bookings_of(app: CoachOS, world: World) -> list[Any]:
    """Every booking of the world's business in March and April 2026."""
    return list(app.read(lambda uow: uow.bookings.between(world.org.id, local(world, 1, 0), local(world, 31, 0))))


class TestBookAsGuest:
    def test_a_new_person_becomes_a_lead_with_a_requested_booking_and_no_credit(
        self, app: CoachOS, world: World
    ) -> None:
        """A stranger is added as a lead and booked as requested, without a credit, with the first coach."""
        booking = app.execute(guest(world))
        client = app.read(lambda uow: uow.clients.get(world.org.id, booking.client_id))
        assert (client.name, client.status, client.phone, client.email) == (
            "Casey Morgan",
            ClientStatus.LEAD,
            "+16465550199",
            "casey@example.com",
        )
        assert booking.status is BookingStatus.REQUESTED
        assert booking.package_id is None
        assert booking.coach_id == world.coach.id
        assert booking.created_by == Actor("client", client.id)

    def test_a_known_phone_books_maybe_that_client_without_a_credit(self, app: CoachOS, world: World) -> None:
        """A stranger typing a client's phone gets a requested booking held for that client, no credit used."""
        booking = app.execute(guest(world, name="J Lee", phone="+1 212 555 0101", email=None))
        assert booking.client_id == world.client.id
        assert booking.status is BookingStatus.REQUESTED
        assert booking.package_id is None
        assert booking.identity_unconfirmed
        assert booking.guest == GuestDetails(
            name="J Lee",
            email=None,
            phone="+12125550101",
            sms_consent=False,
            consent_wording="",
            timezone=None,
            matched=True,
        )
        assert package_used(app, world) == 0
        assert len(clients_of(app, world)) == 1

    def test_a_known_email_books_without_a_credit_and_changes_no_stored_client(
        self, app: CoachOS, world: World
    ) -> None:
        """A client's email typed with another name, phone and a ticked box leaves client and package as they were."""
        known = app.execute(
            CreateClient(org_id=world.org.id, name="Robin Hale", email="robin@example.com", actor=world.me)
        )
        package = app.execute(
            SellPackage(
                org_id=world.org.id,
                client_id=known.id,
                name="Five",
                sessions=5,
                price=Money(40000, "USD"),
                actor=world.me,
            )
        )
        before = len(outbox_of(app, world))
        booking = app.execute(
            guest(world, email="ROBIN@example.com", phone="+1 646 555 0100", sms_consent=True, timezone="Europe/Paris")
        )
        assert booking.client_id == known.id
        assert booking.package_id is None
        assert app.read(lambda uow: uow.clients.get(world.org.id, known.id)) == known
        assert app.read(lambda uow: uow.packages.get(world.org.id, package.id)).used == 0
        assert booking.guest is not None
        assert (booking.guest.name, booking.guest.phone, booking.guest.sms_consent, booking.guest.consent_wording) == (
            "Casey Morgan",
            "+16465550100",
            True,
            WORDING,
        )
        assert [type(e).__name__ for e in outbox_of(app, world)[before:]] == ["BookingRequested"]

    def test_a_known_client_is_found_by_email_first(self, app: CoachOS, world: World) -> None:
        """An email on file wins over a phone that belongs to somebody else."""
        first = app.execute(guest(world, idempotency_key="a"))
        again = app.execute(
            guest(
                world,
                start=local(world, 4, 10),
                phone="+1 212 555 0101",
                email="CASEY@example.com",
                idempotency_key="b",
            )
        )
        assert again.client_id == first.client_id
        assert again.guest is not None
        assert again.guest.matched

    def test_the_same_key_twice_makes_one_booking_and_one_client(self, app: CoachOS, world: World) -> None:
        """A double click sends the form twice: the second answer is the first booking, nothing is added."""
        first = app.execute(guest(world))
        second = app.execute(guest(world))
        assert second == first
        assert len(bookings_of(app, world)) == 1
        assert len(clients_of(app, world)) == 2  # the world's client and Casey

    def test_the_same_key_for_another_time_is_refused(self, app: CoachOS, world: World) -> None:
        """A form's key cannot be reused to book a different time."""
        app.execute(guest(world))
        with pytest.raises(Conflict):
            app.execute(guest(world, start=local(world, 3, 12)))

    def test_another_visitors_key_is_another_key(self, app: CoachOS, world: World) -> None:
        """The same key from a second visitor books separately and never answers with the first visitor's booking."""
        first = app.execute(guest(world, service_id=world.group.id))
        second = app.execute(
            guest(world, service_id=world.group.id, visitor="visitor-2", name="Sam Patel", email="sam@example.com")
        )
        assert second.id != first.id
        assert second.guest is not None
        assert second.guest.name == "Sam Patel"
        with pytest.raises(Conflict):
            # Another time with that key is refused for its own visitor only, without naming anybody's booking.
            app.execute(guest(world, service_id=world.group.id, start=local(world, 3, 12)))
        third = app.execute(guest(world, service_id=world.group.id, start=local(world, 3, 12), visitor="visitor-3"))
        assert third.id not in (first.id, second.id)

    def test_a_coachs_key_is_not_seen_by_a_visitor(self, app: CoachOS, world: World) -> None:
        """A key the coach booked with (API or library) answers nobody else: a visitor sending it books their own."""
        coachs = app.execute(
            BookSession(
                org_id=world.org.id,
                coach_id=world.coach.id,
                service_id=world.group.id,
                client_id=world.client.id,
                start=local(world, 3, 10),
                actor=world.me,
                idempotency_key="form-1",
            )
        )
        visitors = app.execute(guest(world, service_id=world.group.id))
        assert visitors.id != coachs.id
        assert visitors.client_id != world.client.id

    def test_the_public_form_never_uses_a_credit_even_for_a_new_lead(self, app: CoachOS, world: World) -> None:
        """A new person is booked without a credit and nothing is charged to anybody."""
        booking = app.execute(guest(world))
        assert booking.package_id is None
        assert booking.guest is not None
        assert not booking.guest.matched
        assert not booking.identity_unconfirmed
        assert package_used(app, world) == 0

    def test_moving_a_maybe_booking_keeps_it_uncharged_and_marked(self, app: CoachOS, world: World) -> None:
        """Moving a public booking of a matched contact uses none of that client's credits and stays 'maybe'."""
        booking = app.execute(guest(world, phone="+12125550101", email=None))
        moved = app.execute(
            RescheduleBooking(
                org_id=world.org.id,
                booking_id=booking.id,
                new_start=local(world, 4, 10),
                actor=Actor("client", booking.client_id),
            )
        )
        assert moved.package_id is None
        assert moved.guest == booking.guest
        assert moved.identity_unconfirmed
        assert package_used(app, world) == 0

    def test_confirming_a_maybe_booking_accepts_the_match(self, app: CoachOS, world: World) -> None:
        """Once the coach confirms it, the booking is no longer shown as 'maybe'; the typed details stay on it."""
        booking = app.execute(guest(world, phone="+12125550101", email=None))
        confirmed = app.execute(ConfirmBooking(org_id=world.org.id, booking_id=booking.id, actor=world.me))
        assert not confirmed.identity_unconfirmed
        assert confirmed.guest == booking.guest

    def test_a_ticked_box_records_sms_consent_with_its_wording(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """Ticking the reminders box stores an SMS consent from the booking form, with the exact words and time."""
        booking = app.execute(guest(world, sms_consent=True))
        consent = app.read(lambda uow: uow.clients.get(world.org.id, booking.client_id)).consent(Channel.SMS)
        assert consent is not None
        assert (consent.method, consent.wording, consent.granted_at) == ("booking_form", WORDING, clock.now())

    def test_an_unticked_box_records_no_consent(self, app: CoachOS, world: World) -> None:
        """Leaving the box unticked stores no SMS consent."""
        booking = app.execute(guest(world))
        assert app.read(lambda uow: uow.clients.get(world.org.id, booking.client_id)).consent(Channel.SMS) is None

    def test_a_ticked_box_does_not_opt_in_a_known_client(self, app: CoachOS, world: World) -> None:
        """Ticking the box with the number on file adds no consent to the client; only the booking keeps the tick."""
        booking = app.execute(guest(world, phone="+12125550101", email=None, sms_consent=True))
        client = app.read(lambda uow: uow.clients.get(world.org.id, world.client.id))
        assert client.consent(Channel.SMS) is None
        assert client == world.client
        assert booking.guest is not None
        assert booking.guest.sms_consent

    def test_ticked_marketing_boxes_become_consents_of_a_new_client(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """Each ticked marketing box is a consent of the new lead with its own words, and in the consent log."""
        ticked = (
            GuestConsent(Channel.SMS_MARKETING, "Text me offers"),
            GuestConsent(Channel.EMAIL_MARKETING, "Email me news"),
        )
        booking = app.execute(guest(world, sms_consent=True, marketing=ticked))
        client = app.read(lambda uow: uow.clients.get(world.org.id, booking.client_id))
        words = {c.channel: (c.wording, c.method) for c in client.consents}
        assert words == {
            Channel.SMS: (WORDING, "booking_form"),
            Channel.SMS_MARKETING: ("Text me offers", "booking_form"),
            Channel.EMAIL_MARKETING: ("Email me news", "booking_form"),
        }
        log = app.execute(ConsentLog(org_id=world.org.id, client_id=client.id))
        assert {(c.channel, c.action.value, c.at) for c in log} == {(ch, "given", clock.now()) for ch in words}
        stored = app.read(lambda uow: uow.bookings.get(world.org.id, booking.id))
        assert stored.guest is not None
        assert stored.guest.marketing == ticked

    def test_unticked_marketing_boxes_record_nothing(self, app: CoachOS, world: World) -> None:
        """Booking texts alone give no marketing consent: each purpose is its own box."""
        booking = app.execute(guest(world, sms_consent=True))
        client = app.read(lambda uow: uow.clients.get(world.org.id, booking.client_id))
        assert [c.channel for c in client.consents] == [Channel.SMS]

    def test_marketing_boxes_do_not_opt_in_a_known_client(self, app: CoachOS, world: World) -> None:
        """A known client's record is untouched by ticked marketing boxes; the booking keeps them for the coach."""
        ticked = (GuestConsent(Channel.SMS_MARKETING, "Text me offers"),)
        booking = app.execute(guest(world, phone="+12125550101", email=None, marketing=ticked))
        assert app.read(lambda uow: uow.clients.get(world.org.id, world.client.id)) == world.client
        assert app.read(lambda uow: uow.clients.consent_log(world.org.id, world.client.id)) == []
        assert booking.guest is not None
        assert booking.guest.marketing == ticked
        assert "agreed to marketing texts" in booking.guest.summary

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"phone": None, "marketing": (GuestConsent(Channel.SMS_MARKETING, "Offers"),)}, "phone"),
            ({"email": None, "marketing": (GuestConsent(Channel.EMAIL_MARKETING, "News"),)}, "email"),
            ({"marketing": (GuestConsent(Channel.SMS, "Reminders"),)}, "marketing"),
            (
                {"marketing": (GuestConsent(Channel.SMS_MARKETING, "A"), GuestConsent("sms_marketing", "B"))},
                "marketing",
            ),
            ({"marketing": (GuestConsent(Channel.EMAIL_MARKETING, " "),)}, "consent_wording"),
        ],
    )
    def test_bad_marketing_boxes_are_refused(
        self, app: CoachOS, world: World, overrides: dict[str, Any], field: str
    ) -> None:
        """A marketing box needs the contact it is for, its words, and may be ticked once; else nothing is written."""
        with pytest.raises(ValidationError) as caught:
            app.execute(guest(world, **overrides))
        assert caught.value.field == field
        assert bookings_of(app, world) == []

    def test_a_visitor_is_needed(self, app: CoachOS, world: World) -> None:
        """A booking without anybody to scope its key to is refused before anything is written."""
        with pytest.raises(ValidationError):
            app.execute(guest(world, visitor=""))
        assert bookings_of(app, world) == []

    def test_reminders_need_a_phone(self, app: CoachOS, world: World) -> None:
        """Asking for text reminders without a phone number is refused."""
        with pytest.raises(ValidationError) as caught:
            app.execute(guest(world, phone="", sms_consent=True))
        assert caught.value.field == "phone"

    def test_some_contact_is_required(self, app: CoachOS, world: World) -> None:
        """A booking with neither phone nor email is refused."""
        with pytest.raises(ValidationError, match="phone number or an email"):
            app.execute(guest(world, phone=None, email=" "))

    def test_a_bad_phone_writes_nothing(self, app: CoachOS, world: World) -> None:
        """A phone without a country code is refused before any client or booking is written."""
        with pytest.raises(ValidationError) as caught:
            app.execute(guest(world, phone="555 0199"))
        assert caught.value.field == "phone"
        assert len(clients_of(app, world)) == 1
        assert bookings_of(app, world) == []

    def test_a_taken_slot_leaves_no_client_behind(self, app: CoachOS, world: World) -> None:
        """When the time is gone the new person is not added either: one transaction."""
        app.execute(guest(world, idempotency_key="first"))
        with pytest.raises(SlotUnavailable):
            app.execute(guest(world, name="Other Person", phone=None, email="other@example.com", idempotency_key="two"))
        assert [c.name for c in clients_of(app, world)] == ["Casey Morgan", "Jordan Lee"]

    def test_a_new_client_keeps_their_zone(self, app: CoachOS, world: World) -> None:
        """The browser's zone is stored on a new client."""
        booking = app.execute(guest(world, timezone="Europe/London"))
        assert app.read(lambda uow: uow.clients.get(world.org.id, booking.client_id)).timezone == "Europe/London"

    def test_another_orgs_service_is_not_found(self, app: CoachOS, world: World) -> None:
        """A service id of another business cannot be booked through this one."""
        other = make_world(app)
        with pytest.raises(NotFound):
            app.execute(guest(world, service_id=other.pt.id))
        assert len(clients_of(app, world)) == 1


class TestGuestDetails:
    def test_the_summary_tells_the_coach_what_was_typed(self) -> None:
        """One line gives the typed name in quotes, the contact details given and a ticked reminders box."""
        typed = GuestDetails(
            name="Casey Morgan",
            email=None,
            phone="+16465550199",
            sms_consent=True,
            consent_wording=WORDING,
            timezone=None,
            matched=True,
        )
        assert typed.summary == "booked online as \u201cCasey Morgan\u201d, +16465550199, asked for text reminders"

    def test_the_repr_carries_no_personal_data(self) -> None:
        """Name, email and phone stay out of the repr, so a logged booking cannot leak them."""
        typed = GuestDetails(
            name="Casey Morgan",
            email="casey@example.com",
            phone="+16465550199",
            sms_consent=False,
            consent_wording="",
            timezone=None,
            matched=True,
        )
        for secret in ("Casey", "casey@example.com", "6465550199"):
            assert secret not in repr(typed)


class TestCalendarFeed:
    def test_the_secret_is_shown_once_and_rotating_replaces_it(self, app: CoachOS, world: World) -> None:
        """The first call makes the feed and returns its secret; later calls cannot; rotating kills the old one."""
        made = app.execute(CalendarFeedUrl(org_id=world.org.id, coach_id=world.coach.id))
        assert made.secret
        again = app.execute(CalendarFeedUrl(org_id=world.org.id, coach_id=world.coach.id))
        assert (again.secret, again.created_at) == (None, made.created_at)
        rotated = app.execute(RotateCalendarFeed(org_id=world.org.id, coach_id=world.coach.id))
        assert rotated.secret
        assert rotated.secret != made.secret
        with pytest.raises(NotFound):
            app.execute(ReadCalendarFeed(token=made.secret))
        assert app.execute(ReadCalendarFeed(token=rotated.secret)).coach == world.coach

    def test_the_feed_lists_open_bookings_in_its_window_by_first_name(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """Bookings from 30 days back to 180 ahead that are not cancelled are listed, with first names only."""
        kept = app.execute(guest(world))
        dropped = app.execute(guest(world, start=local(world, 4, 10), idempotency_key="two"))
        app.execute(CancelBooking(org_id=world.org.id, booking_id=dropped.id, actor=world.me))
        other_coach = app.execute(
            AddCoach(org_id=world.org.id, name="Robin Hale", email="robin@example.com", actor=world.me)
        )
        secret = app.execute(CalendarFeedUrl(org_id=world.org.id, coach_id=world.coach.id)).secret
        assert secret is not None
        feed = app.execute(ReadCalendarFeed(token=secret))
        assert [(e.booking.id, e.summary) for e in feed.entries] == [(kept.id, "PT with Casey")]
        clock.advance(timedelta(days=32))
        assert app.execute(ReadCalendarFeed(token=secret)).entries == ()
        assert app.execute(CalendarFeedUrl(org_id=world.org.id, coach_id=other_coach.id)).secret

    def test_a_public_booking_of_a_known_contact_is_listed_as_maybe(self, app: CoachOS, world: World) -> None:
        """A booking the coach has yet to confirm is the matched client's reads 'maybe <first name>' in the feed."""
        app.execute(guest(world, phone="+12125550101", email=None))
        secret = app.execute(CalendarFeedUrl(org_id=world.org.id, coach_id=world.coach.id)).secret
        assert secret is not None
        assert [e.summary for e in app.execute(ReadCalendarFeed(token=secret)).entries] == ["PT with maybe Jordan"]

    def test_unknown_secrets_and_other_orgs_coaches_are_not_found(self, app: CoachOS, world: World) -> None:
        """A made-up secret finds no feed, and a coach of another business gets none here."""
        other = make_world(app)
        with pytest.raises(NotFound):
            app.execute(ReadCalendarFeed(token="not-a-feed"))
        with pytest.raises(NotFound):
            app.execute(CalendarFeedUrl(org_id=world.org.id, coach_id=other.coach.id))
