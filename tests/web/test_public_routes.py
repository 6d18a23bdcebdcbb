"""The public booking pages, the confirmation and the signed manage link, through the real app on fakes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import (
    Actor,
    BookingStatus,
    Channel,
    CoachOS,
    ConfirmBooking,
    CreateClient,
    CreateService,
    Money,
    SellPackage,
    UseCredit,
)
from coachos.adapters.clock import FixedClock
from coachos.domain.catalog import Service
from coachos.domain.orgs import Organization
from coachos.domain.usecases import CreateApiToken
from tests.web.support import sign_up

_KEY = re.compile(r'name="idempotency_key" value="([0-9a-f]+)"')
_CSRF = re.compile(r'name="csrf-token" content="([0-9a-f]+)"')
_MANAGE = re.compile(r'href="http://coachos\.test(/manage/[^"]+)"')
#: Tuesday 3 March 2026, 09:00 in New York (EST).
TUESDAY_9_EST = "2026-03-03T14:00:00Z"


async def business(web: Quart, core: CoachOS, *, slug: str = "peak") -> tuple[Organization, Service]:
    """Sign a coach up (New York, daily 09:00-17:00, 'Personal training'); the org and its service."""
    await sign_up(web.test_client(), slug=slug, email=f"alex@{slug}.test")
    org = core.read(lambda uow: uow.orgs.by_slug(slug))
    (service,) = core.read(lambda uow: uow.services.list(org.id))
    return org, service


async def text(response: Any) -> str:
    """The response body as text."""
    return str(await response.get_data(as_text=True))


async def open_form(guest: Client, org: Organization, service: Service, start: str = TUESDAY_9_EST) -> dict[str, str]:
    """GET the booking form for `start`; its CSRF token and idempotency key."""
    page = await text(await guest.get(form_path(org, service, start)))
    csrf, key = _CSRF.search(page), _KEY.search(page)
    assert csrf
    assert key
    return {"csrf_token": csrf.group(1), "idempotency_key": key.group(1)}


def form_path(org: Organization, service: Service, start: str = TUESDAY_9_EST, tz: str = "Europe/London") -> str:
    """The booking form's address for a slot."""
    return f"/book/{org.slug}/{service.id}/book?start={start}&tz={tz}"


async def submit(
    guest: Client,
    org: Organization,
    service: Service,
    hidden: dict[str, str],
    start: str = TUESDAY_9_EST,
    **fields: str,
) -> Any:
    """POST the booking form for `start` with the person's details."""
    values = {"name": "Casey Morgan", "phone": "+1 646 555 0199", "email": "casey@example.com"} | fields
    return await guest.post(form_path(org, service, start), form=hidden | values)


def bookings(core: CoachOS, org: Organization) -> list[Any]:
    """The org's bookings in March 2026."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    return list(core.read(lambda uow: uow.bookings.between(org.id, start, start + timedelta(days=31))))


def clients(core: CoachOS, org: Organization) -> list[Any]:
    """The org's clients."""
    return list(core.read(lambda uow: uow.clients.list(org.id)))


class TestServicesPage:
    async def test_lists_the_business_and_its_services(self, web: Quart, core: CoachOS) -> None:
        """The page names the business and shows each service with its length and price."""
        _, service = await business(web, core)
        page = await text(await web.test_client().get("/book/peak"))
        assert "Peak Coaching" in page
        assert f"/book/peak/{service.id}" in page
        assert "60 minutes" in page
        assert "85.50 USD" in page

    async def test_unknown_business_is_404(self, client: Client) -> None:
        """A slug nobody uses is a not-found page."""
        assert (await client.get("/book/nobody-here")).status_code == 404


class TestSlotsPage:
    async def test_slots_show_the_visitors_zone_and_the_businesss(self, web: Quart, core: CoachOS) -> None:
        """With a zone from the browser each slot shows the visitor's time and the business's, both labelled."""
        _, service = await business(web, core)
        page = await text(await web.test_client().get(f"/book/peak/{service.id}?tz=Europe/London"))
        assert "Tue 3 Mar" in page
        assert "14:00 your time (Europe/London) · 09:00 EST at Peak Coaching" in page
        assert f"start={TUESDAY_9_EST}" in page
        assert "data-wants-tz" in page

    async def test_without_a_usable_zone_only_the_businesss_is_shown(self, web: Quart, core: CoachOS) -> None:
        """A missing or unknown zone shows the business's times alone."""
        _, service = await business(web, core)
        for query in ("", "?tz=Mars/Olympus"):
            page = await text(await web.test_client().get(f"/book/peak/{service.id}{query}"))
            assert "09:00 EST at Peak Coaching" in page
            assert "your time" not in page

    async def test_dst_change_shows_est_before_and_edt_after(self, web: Quart, core: CoachOS) -> None:
        """New York's clocks change on 8 March 2026: the 6th shows EST and the 9th EDT, 09:00 both days."""
        _, service = await business(web, core)
        page = await text(await web.test_client().get(f"/book/peak/{service.id}?week=2026-03-06&tz=Europe/London"))
        friday, monday = page.index("Fri 6 Mar"), page.index("Mon 9 Mar")
        assert "14:00 your time (Europe/London) · 09:00 EST at Peak Coaching" in page[friday:monday]
        assert "13:00 your time (Europe/London) · 09:00 EDT at Peak Coaching" in page[monday:]
        assert "EST" not in page[monday:]

    async def test_week_links_move_by_seven_days(self, web: Quart, core: CoachOS) -> None:
        """The first week offers only a next link; the next week offers a link back."""
        _, service = await business(web, core)
        first = await text(await web.test_client().get(f"/book/peak/{service.id}?tz=UTC"))
        assert "week=2026-03-09" in first
        assert "Previous week" not in first
        second = await text(await web.test_client().get(f"/book/peak/{service.id}?week=2026-03-09&tz=UTC"))
        assert "week=2026-03-02" in second
        assert "week=2026-03-16" in second

    async def test_another_businesss_service_is_404(self, web: Quart, core: CoachOS) -> None:
        """A service id of another business under this slug is not found, for slots and for the form."""
        await business(web, core)
        _, theirs = await business(web, core, slug="other-gym")
        guest = web.test_client()
        assert (await guest.get(f"/book/peak/{theirs.id}")).status_code == 404
        assert (await guest.get(f"/book/peak/{theirs.id}/book?start={TUESDAY_9_EST}")).status_code == 404


class TestBookingForm:
    async def test_the_whole_flow_books_confirms_and_cancels(self, web: Quart, core: CoachOS) -> None:
        """Services, slots, form, confirmation in the business's zone, then the manage link cancels."""
        org, service = await business(web, core)
        guest = web.test_client()
        slots = await text(await guest.get(f"/book/peak/{service.id}?tz=Europe/London"))
        assert form_path(org, service).replace("&", "&amp;") in slots
        response = await submit(guest, org, service, await open_form(guest, org, service))
        assert response.status_code == 302
        confirmation = await text(await guest.get(response.headers["Location"]))
        assert "Personal training" in confirmation
        assert "Tue 3 Mar 2026, 09:00 EST" in confirmation
        assert "Tue 3 Mar 2026, 14:00 GMT your time (Europe/London)" in confirmation
        found = _MANAGE.search(confirmation)
        assert found
        manage = await text(await guest.get(found.group(1)))
        assert "Tue 3 Mar 2026, 09:00 EST" in manage
        csrf = _CSRF.search(manage)
        assert csrf
        cancelled = await guest.post(f"{found.group(1)}/cancel", form={"csrf_token": csrf.group(1)})
        assert cancelled.status_code == 302
        assert "This booking is cancelled" in await text(await guest.get(found.group(1)))
        (booking,) = bookings(core, org)
        assert booking.status is BookingStatus.CANCELLED
        assert booking.updated_by == Actor("client", booking.client_id)

    async def test_the_form_has_an_unticked_reminders_box_and_a_key(self, web: Quart, core: CoachOS) -> None:
        """The reminders box is unticked with its exact wording, and each form carries a fresh key."""
        org, service = await business(web, core)
        guest = web.test_client()
        page = await text(await guest.get(form_path(org, service)))
        assert '<input type="checkbox" name="sms_consent" value="yes"> Text me reminders about my bookings' in page
        assert (await open_form(guest, org, service))["idempotency_key"] != (await open_form(guest, org, service))[
            "idempotency_key"
        ]

    async def test_a_double_submit_makes_one_booking_and_one_client(self, web: Quart, core: CoachOS) -> None:
        """Posting the same form twice lands on the same confirmation with one booking and one client."""
        org, service = await business(web, core)
        guest = web.test_client()
        hidden = await open_form(guest, org, service)
        first = await submit(guest, org, service, hidden)
        second = await submit(guest, org, service, hidden)
        assert first.status_code == second.status_code == 302
        assert len(bookings(core, org)) == 1
        assert len(clients(core, org)) == 1

    async def test_consent_is_stored_only_when_ticked_with_its_wording(self, web: Quart, core: CoachOS) -> None:
        """An unticked box stores no SMS consent; a ticked one stores it with the exact wording."""
        org, service = await business(web, core)
        guest = web.test_client()
        await submit(guest, org, service, await open_form(guest, org, service))
        await submit(
            guest,
            org,
            service,
            await open_form(guest, org, service, "2026-03-03T16:00:00Z"),
            "2026-03-03T16:00:00Z",
            name="Robin Hale",
            phone="+1 646 555 0123",
            email="robin@example.com",
            sms_consent="yes",
        )
        by_name = {c.name: c for c in clients(core, org)}
        assert by_name["Casey Morgan"].consent(Channel.SMS) is None
        consent = by_name["Robin Hale"].consent(Channel.SMS)
        assert consent is not None
        assert (consent.wording, consent.method) == ("Text me reminders about my bookings", "booking_form")

    async def test_marketing_boxes_are_separate_unticked_and_stored_with_their_words(
        self, web: Quart, core: CoachOS
    ) -> None:
        """Marketing texts and emails are their own unticked boxes; ticking one stores only that, in its words."""
        org, service = await business(web, core)
        guest = web.test_client()
        page = await text(await guest.get(form_path(org, service)))
        texts = f"Send me marketing texts from {org.name} (offers and news); I can reply STOP at any time"
        emails = f"Send me marketing emails from {org.name} (offers and news); I can unsubscribe at any time"
        assert f'<input type="checkbox" name="sms_marketing" value="yes"> {texts}' in page
        assert f'<input type="checkbox" name="email_marketing" value="yes"> {emails}' in page
        await submit(guest, org, service, await open_form(guest, org, service), email_marketing="yes")
        (client,) = clients(core, org)
        assert [(c.channel, c.wording, c.method) for c in client.consents] == [
            (Channel.EMAIL_MARKETING, emails, "booking_form")
        ]
        (booking,) = bookings(core, org)
        assert booking.guest is not None
        assert [(m.channel, m.wording) for m in booking.guest.marketing] == [(Channel.EMAIL_MARKETING, emails)]

    async def test_marketing_texts_without_a_phone_are_refused(self, web: Quart, core: CoachOS) -> None:
        """Ticking marketing texts with no phone re-shows the form, box still ticked, and writes nothing."""
        org, service = await business(web, core)
        guest = web.test_client()
        response = await submit(
            guest, org, service, await open_form(guest, org, service), phone="", sms_marketing="yes"
        )
        assert response.status_code == 400
        page = await text(response)
        assert "To get marketing texts, give your mobile number." in page
        assert '<input type="checkbox" name="sms_marketing" value="yes" checked>' in page
        assert bookings(core, org) == []
        assert clients(core, org) == []

    async def test_a_bad_phone_shows_the_form_again_and_writes_nothing(self, web: Quart, core: CoachOS) -> None:
        """A phone without a country code re-shows the form with the reason, the typed values and no writes."""
        org, service = await business(web, core)
        guest = web.test_client()
        response = await submit(guest, org, service, await open_form(guest, org, service), phone="555 0199")
        assert response.status_code == 400
        page = await text(response)
        assert "country code" in page
        assert 'value="Casey Morgan"' in page
        assert bookings(core, org) == []
        assert clients(core, org) == []

    async def test_a_taken_time_says_so(self, web: Quart, core: CoachOS) -> None:
        """A second person asking for a taken time is told to pick another, and is not added."""
        org, service = await business(web, core)
        first, second = web.test_client(), web.test_client()
        await submit(first, org, service, await open_form(first, org, service))
        response = await submit(
            second, org, service, await open_form(second, org, service), name="Sam", email="sam@example.com", phone=""
        )
        assert response.status_code == 409
        assert "not available any more" in await text(response)
        assert len(clients(core, org)) == 1


class TestManageLink:
    async def _book(self, web: Quart, core: CoachOS, org: Organization, service: Service) -> tuple[Client, str]:
        guest = web.test_client()
        response = await submit(guest, org, service, await open_form(guest, org, service))
        found = _MANAGE.search(await text(await guest.get(response.headers["Location"])))
        assert found
        return guest, found.group(1)

    async def test_a_tampered_token_is_404(self, web: Quart, core: CoachOS) -> None:
        """Changing one character of the link makes it unknown."""
        org, service = await business(web, core)
        guest, path = await self._book(web, core, org, service)
        tampered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
        assert (await guest.get(tampered)).status_code == 404
        assert (await guest.get("/manage/not-a-token")).status_code == 404

    async def test_the_link_expires_after_a_year(self, web: Quart, core: CoachOS, clock: FixedClock) -> None:
        """A manage link older than its lifetime is not found."""
        org, service = await business(web, core)
        guest, path = await self._book(web, core, org, service)
        clock.advance(timedelta(days=367))
        assert (await guest.get(path)).status_code == 404

    async def test_a_late_cancellation_keeps_the_credit_and_says_so(
        self, web: Quart, core: CoachOS, clock: FixedClock
    ) -> None:
        """Inside 24 hours a client's cancellation keeps the credit the coach charged, and the page explains it."""
        org, service = await business(web, core)
        owner = Actor("coach", core.read(lambda uow: uow.coaches.list(org.id))[0].id)
        known = core.execute(CreateClient(org_id=org.id, name="Casey Morgan", email="casey@example.com", actor=owner))
        package = core.execute(
            SellPackage(
                org_id=org.id, client_id=known.id, name="Five", sessions=5, price=Money(40000, "USD"), actor=owner
            )
        )
        guest, path = await self._book(web, core, org, service)
        (booking,) = bookings(core, org)
        # The public form charges nobody; the coach, having checked it is really Casey, does.
        core.execute(ConfirmBooking(org_id=org.id, booking_id=booking.id, actor=owner))
        core.execute(UseCredit(org_id=org.id, booking_id=booking.id, package_id=package.id, actor=owner))
        clock.advance(timedelta(hours=20))  # Tuesday 08:00 UTC, six hours before the session
        page = await text(await guest.get(path))
        assert "the session credit is kept" in page
        csrf = _CSRF.search(page)
        assert csrf
        await guest.post(f"{path}/cancel", form={"csrf_token": csrf.group(1)})
        after = await text(await guest.get(path))
        assert "This booking is cancelled" in after
        assert "the session credit is kept" in after
        assert core.read(lambda uow: uow.packages.get(org.id, package.id)).used == 1

    async def test_reschedule_moves_the_booking(self, web: Quart, core: CoachOS) -> None:
        """Choosing another time moves the booking there and the new link shows it."""
        org, service = await business(web, core)
        guest, path = await self._book(web, core, org, service)
        page = await text(await guest.get(f"{path}?tz=Europe/London"))
        assert 'value="2026-03-03T16:00:00Z"' in page
        csrf = _CSRF.search(page)
        assert csrf
        response = await guest.post(
            f"{path}/reschedule", form={"csrf_token": csrf.group(1), "new_start": "2026-03-03T16:00:00Z"}
        )
        assert response.status_code == 302
        moved = await text(await guest.get(response.headers["Location"]))
        assert "Tue 3 Mar 2026, 11:00 EST" in moved
        assert "was moved" in moved
        statuses = sorted((b.start.hour, b.status.value) for b in bookings(core, org))
        assert statuses == [(14, "cancelled"), (16, "requested")]


#: A client the coach has on file, with a package, whose contact details a stranger types.
ON_FILE = {"name": "Robin Hale", "email": "robin@example.com", "phone": "+12125550101"}
#: What the stranger types besides Robin's email or phone.
STRANGER = {"name": "Mallory Stone", "phone": "+1 646 555 0666", "email": "mallory@example.com"}


async def coach_with_client(web: Quart, core: CoachOS) -> tuple[Client, Organization, Service, Any, Any]:
    """A signed-in coach's browser, the business and service, and Robin on file with a five-session package."""
    coach = web.test_client()
    await sign_up(coach)
    org = core.read(lambda uow: uow.orgs.by_slug("peak"))
    (service,) = core.read(lambda uow: uow.services.list(org.id))
    owner = Actor("coach", core.read(lambda uow: uow.coaches.list(org.id))[0].id)
    known = core.execute(CreateClient(org_id=org.id, actor=owner, **ON_FILE))
    package = core.execute(
        SellPackage(org_id=org.id, client_id=known.id, name="Five", sessions=5, price=Money(40000, "USD"), actor=owner)
    )
    return coach, org, service, known, package


def show_nothing_of(page: str, known: Any) -> None:
    """`page` names none of the stored client's details."""
    for secret in (known.name, "Robin", known.email, known.phone, "2125550101"):
        assert secret not in page


class TestPublicIdentity:
    """Typing an email or phone on the public form proves nothing: it never books *as* that client."""

    async def test_a_stranger_typing_a_clients_email_gets_a_maybe_booking_without_a_credit(
        self, web: Quart, core: CoachOS
    ) -> None:
        """The booking is requested, uses no credit, leaves Robin untouched, and the pages show only the typed name."""
        _, org, service, known, package = await coach_with_client(web, core)
        guest = web.test_client()
        fields = STRANGER | {"email": "robin@example.com", "sms_consent": "yes"}
        response = await submit(guest, org, service, await open_form(guest, org, service), **fields)
        assert response.status_code == 302
        confirmation = await text(await guest.get(response.headers["Location"]))
        assert "Booked for Mallory Stone." in confirmation
        show_nothing_of(confirmation, known)
        found = _MANAGE.search(confirmation)
        assert found
        show_nothing_of(await text(await guest.get(found.group(1))), known)
        (booking,) = bookings(core, org)
        assert (booking.client_id, booking.status, booking.package_id) == (known.id, BookingStatus.REQUESTED, None)
        assert booking.identity_unconfirmed
        assert core.read(lambda uow: uow.clients.get(org.id, known.id)) == known
        assert core.read(lambda uow: uow.packages.get(org.id, package.id)).used == 0
        assert core.read(lambda uow: uow.clients.get(org.id, known.id)).consent(Channel.SMS) is None

    async def test_a_known_clients_consents_are_never_changed_by_the_form(self, web: Quart, core: CoachOS) -> None:
        """Marketing boxes ticked with a client's email stay on the booking for the coach; the client is untouched."""
        _, org, service, known, _ = await coach_with_client(web, core)
        guest = web.test_client()
        fields = STRANGER | {"email": "robin@example.com", "sms_marketing": "yes", "email_marketing": "yes"}
        await submit(guest, org, service, await open_form(guest, org, service), **fields)
        assert core.read(lambda uow: uow.clients.get(org.id, known.id)) == known
        assert core.read(lambda uow: uow.clients.consent_log(org.id, known.id)) == []
        (booking,) = bookings(core, org)
        assert booking.guest is not None
        assert {m.channel for m in booking.guest.marketing} == {Channel.SMS_MARKETING, Channel.EMAIL_MARKETING}

    async def test_a_stranger_typing_a_clients_phone_is_treated_the_same(self, web: Quart, core: CoachOS) -> None:
        """Matching by phone alone also books without a credit, changes nothing stored and shows the typed name."""
        _, org, service, known, package = await coach_with_client(web, core)
        guest = web.test_client()
        fields = STRANGER | {"phone": "+1 212 555 0101", "email": "", "sms_consent": "yes"}
        response = await submit(guest, org, service, await open_form(guest, org, service), **fields)
        confirmation = await text(await guest.get(response.headers["Location"]))
        assert "Booked for Mallory Stone." in confirmation
        show_nothing_of(confirmation, known)
        (booking,) = bookings(core, org)
        assert (booking.client_id, booking.package_id) == (known.id, None)
        assert core.read(lambda uow: uow.clients.get(org.id, known.id)) == known
        assert core.read(lambda uow: uow.packages.get(org.id, package.id)).used == 0

    async def test_the_coach_sees_maybe_the_client_with_what_was_typed(self, web: Quart, core: CoachOS) -> None:
        """Today, the calendar and the client's page mark the booking 'maybe Robin Hale' beside the typed details."""
        coach, org, service, known, _ = await coach_with_client(web, core)
        guest = web.test_client()
        fields = STRANGER | {"email": "robin@example.com"}
        await submit(guest, org, service, await open_form(guest, org, service), **fields)
        typed = "booked online as \u201cMallory Stone\u201d, robin@example.com, +16465550666"
        today = await text(await coach.get("/today"))
        assert 'Confirm <span class="maybe"' in today
        assert typed in today
        week = await text(await coach.get("/calendar?view=week&date=2026-03-03"))
        assert "maybe Robin Hale" in week
        assert typed in week
        events = await (
            await coach.get("/calendar/events?start=2026-03-03T00:00:00Z&end=2026-03-04T00:00:00Z")
        ).get_json()
        (event,) = events["events"]
        assert (event["client_name"], event["guest_note"]) == ("maybe Robin Hale", typed)
        upcoming = await text(await coach.get(f"/clients/{known.id}/panels/upcoming"))
        assert "maybe" in upcoming
        assert typed in upcoming

    async def test_an_api_key_replayed_on_the_form_does_not_answer_with_the_api_booking(
        self, web: Quart, core: CoachOS
    ) -> None:
        """A visitor posting the key the coach's API call used gets no confirmation or manage link of that booking."""
        _, org, service, known, _ = await coach_with_client(web, core)
        coach_id = core.read(lambda uow: uow.coaches.list(org.id))[0].id
        token = core.execute(CreateApiToken(org_id=org.id, coach_id=coach_id, name="script"))
        api = web.test_client()
        made = await api.post(
            "/api/v1/bookings",
            json={"client_id": str(known.id), "service_id": str(service.id), "start": TUESDAY_9_EST},
            headers={"Authorization": f"Bearer {token.secret}", "Idempotency-Key": "api-key-1"},
        )
        assert made.status_code == 201
        guest = web.test_client()
        hidden = await open_form(guest, org, service) | {"idempotency_key": "api-key-1"}
        response = await submit(guest, org, service, hidden, **STRANGER)
        assert response.status_code == 409
        page = await text(response)
        assert "not available any more" in page
        assert "/manage/" not in page
        show_nothing_of(page, known)
        assert [str(b.id) for b in bookings(core, org)] == [(await made.get_json())["id"]]

    async def test_two_visitors_with_one_key_get_separate_answers(self, web: Quart, core: CoachOS) -> None:
        """A second visitor (another cookie) sending the first one's key hears the time is taken, not their booking."""
        org, service = await business(web, core)
        first, second = web.test_client(), web.test_client()
        hidden = await open_form(first, org, service)
        booked = await submit(first, org, service, hidden)
        assert booked.status_code == 302
        theirs = await open_form(second, org, service) | {"idempotency_key": hidden["idempotency_key"]}
        response = await submit(second, org, service, theirs, **STRANGER)
        assert response.status_code == 409
        page = await text(response)
        assert "/manage/" not in page
        assert "Casey" not in page
        assert len(bookings(core, org)) == 1

    async def test_two_visitors_with_one_key_in_a_class_get_two_bookings(self, web: Quart, core: CoachOS) -> None:
        """In a class with room for both, the same key from two visitors makes two bookings, each with its own link."""
        org, _ = await business(web, core)
        owner = Actor("coach", core.read(lambda uow: uow.coaches.list(org.id))[0].id)
        group = core.execute(
            CreateService(
                org_id=org.id,
                name="Group class",
                duration=timedelta(minutes=60),
                price=Money(2000, "USD"),
                capacity=5,
                uses_credit=False,
                actor=owner,
            )
        )
        first, second = web.test_client(), web.test_client()
        hidden = await open_form(first, org, group)
        one = await submit(first, org, group, hidden)
        two = await submit(
            second,
            org,
            group,
            await open_form(second, org, group) | {"idempotency_key": hidden["idempotency_key"]},
            **STRANGER,
        )
        assert one.status_code == two.status_code == 302
        assert one.headers["Location"] != two.headers["Location"]
        assert "Booked for Mallory Stone." in await text(await second.get(two.headers["Location"]))
        assert sorted(b.guest.name for b in bookings(core, org)) == ["Casey Morgan", "Mallory Stone"]
        again = await submit(
            second,
            org,
            group,
            await open_form(second, org, group) | {"idempotency_key": hidden["idempotency_key"]},
            **STRANGER,
        )
        assert again.headers["Location"] == two.headers["Location"]
