"""A demo business with a coach, services, hours, clients, packages and bookings, seeded once."""

from __future__ import annotations

from datetime import time, timedelta

import attrs

from coachos._app import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.domain.catalog import PaymentMethod
from coachos.domain.clients import Channel, Client, ClientStatus, Consent
from coachos.domain.errors import NotFound
from coachos.domain.ids import Actor, CoachId, ServiceId
from coachos.domain.money import Money
from coachos.domain.orgs import Coach, Organization
from coachos.domain.policy import BookingPolicy
from coachos.domain.timezones import day_start
from coachos.domain.usecases import (
    AddDateOverride,
    BookSession,
    CompleteBooking,
    CreateClient,
    CreateMembershipPlan,
    CreatePackageOffer,
    CreateService,
    FindSlots,
    SellPackage,
    SetWeeklyHours,
    SignUp,
)
from coachos.domain.usecases.inbound import ReceiveSms
from coachos.domain.usecases.numbers import AddPhoneNumber

DEMO_SLUG = "demo"
DEMO_COACH_EMAIL = "alex@demo.coachos.test"
#: The demo coach's password; the demo is for trying Coach OS on one's own machine.
DEMO_PASSWORD = "demo-coach-2026"  # noqa: S105  # published on purpose, demo only

#: The demo business's texting number (555-01xx: reserved for fiction, reaches nobody).
DEMO_NUMBER = "+12125550100"
_CLIENTS = [
    ("Jordan Lee", "+1 212 555 0101", "jordan@example.com", None),
    ("Sam Patel", "+1 212 555 0102", "sam@example.com", "America/Los_Angeles"),
    ("Morgan Chen", "+1 212 555 0103", "morgan@example.com", None),
    ("Riley Brooks", "+44 7700 900123", "riley@example.co.uk", "Europe/London"),
    ("Casey Diaz", None, "casey@example.com", None),
]


@attrs.frozen
class DemoSummary:
    """What `seed_demo` found or made."""

    org: Organization
    coach: Coach
    created: bool
    clients: int = 0
    bookings: int = 0


def seed_demo(app: CoachOS) -> DemoSummary:
    """Create the demo business unless it exists already (running twice changes nothing)."""
    with app.unit_of_work() as uow:
        try:
            org = uow.orgs.by_slug(DEMO_SLUG)
            coach = next(c for c in uow.coaches.list(org.id) if c.email == DEMO_COACH_EMAIL)
            return DemoSummary(org=org, coach=coach, created=False)
        except NotFound:
            pass
    org, coach = app.execute(
        SignUp(
            business_name="Peak Performance Coaching",
            slug=DEMO_SLUG,
            timezone="America/New_York",
            currency="USD",
            name="Alex Rivera",
            email=DEMO_COACH_EMAIL,
            password=DEMO_PASSWORD,
            policy=BookingPolicy(min_notice=timedelta(hours=2), buffer=timedelta(minutes=15)),
        )
    )
    me = Actor("coach", coach.id)
    pt = app.execute(
        CreateService(
            org_id=org.id, name="Personal training", duration=timedelta(minutes=60), price=Money(8500, "USD"), actor=me
        )
    )
    app.execute(
        CreateService(
            org_id=org.id,
            name="Small-group HIIT",
            duration=timedelta(minutes=45),
            price=Money(2500, "USD"),
            capacity=8,
            uses_credit=False,
            actor=me,
        )
    )
    app.execute(
        CreateService(
            org_id=org.id,
            name="Free consultation",
            duration=timedelta(minutes=30),
            price=Money(0, "USD"),
            uses_credit=False,
            actor=me,
        )
    )
    weekdays = [(d, time(7), time(12)) for d in range(5)] + [(d, time(15), time(19)) for d in range(5)]
    app.execute(SetWeeklyHours(org_id=org.id, coach_id=coach.id, hours=[*weekdays, (5, time(8), time(12))], actor=me))
    today = app.clock.now().astimezone(org.tz).date()
    app.execute(
        AddDateOverride(org_id=org.id, coach_id=coach.id, on=today + timedelta(days=9), available=False, actor=me)
    )
    now = app.clock.now()
    clients = []
    for name, phone, email, tz in _CLIENTS:
        consents = (
            (Consent(channel=Channel.SMS, granted_at=now, method="coach_entered", wording="Text me reminders"),)
            if phone
            else ()
        )
        clients.append(
            app.execute(
                CreateClient(
                    org_id=org.id,
                    name=name,
                    phone=phone,
                    email=email,
                    timezone=tz,
                    status=ClientStatus.ACTIVE,
                    consents=consents,
                    actor=me,
                )
            )
        )
    for client in clients[:3]:
        app.execute(
            SellPackage(
                org_id=org.id,
                client_id=client.id,
                name="10 sessions",
                sessions=10,
                price=Money(75000, "USD"),
                expires_at=now + timedelta(days=180),
                actor=me,
                paid_by=PaymentMethod.CASH,
            )
        )
    # Packages clients can buy themselves from the portal (by card, once Stripe is set up).
    for name, sessions, price, days in (("5 sessions", 5, 40000, 90), ("10 sessions", 10, 75000, 180)):
        app.execute(
            CreatePackageOffer(
                org_id=org.id, name=name, sessions=sessions, price=Money(price, "USD"), validity_days=days, actor=me
            )
        )
    # A membership plan clients can join from the portal (by card, once Stripe is set up).
    app.execute(CreateMembershipPlan(org_id=org.id, actor=me, name="Monthly 4", price=Money(28000, "USD"), sessions=4))
    # A client about to run out, so Today has something that needs attention.
    app.execute(
        SellPackage(
            org_id=org.id, client_id=clients[3].id, name="Intro pack", sessions=2, price=Money(15000, "USD"), actor=me
        )
    )
    booked = _seed_today(app, org, coach.id, pt.id, [clients[0], clients[3], clients[1]], me)
    slots = app.execute(
        FindSlots(org_id=org.id, coach_id=coach.id, service_id=pt.id, start=now, end=now + timedelta(days=7))
    )
    # Spread a few sessions over the week: every fifth free slot, for the clients with packages.
    for slot, client in zip(slots[::5], clients[:3] * 2, strict=False):
        app.execute(
            BookSession(
                org_id=org.id,
                coach_id=coach.id,
                service_id=pt.id,
                client_id=client.id,
                start=slot.start,
                confirm=True,
                actor=me,
            )
        )
        booked += 1
    # The business's own texting number, and a text from a client, so the inbox has a conversation
    # and Today an unread message the first time somebody looks.
    app.execute(AddPhoneNumber(org_id=org.id, number=DEMO_NUMBER, label="Studio line", actor=me))
    app.execute(
        ReceiveSms(
            message_sid="SM" + "d" * 32,
            to=DEMO_NUMBER,
            sender=_CLIENTS[0][1] or "",
            body="Hi Alex! Could we focus on deadlifts this week? My back feels great now.",
        )
    )
    return DemoSummary(org=org, coach=coach, created=True, clients=len(clients), bookings=booked)


def _seed_today(
    app: CoachOS, org: Organization, coach_id: CoachId, service_id: ServiceId, clients: list[Client], me: Actor
) -> int:
    """Today's sessions, booked through the same use cases as of local midnight, so the day is not empty.

    Sessions already over are marked completed; the last one waits for the coach's confirmation.
    """
    today = app.clock.now().astimezone(org.tz).date()
    midnight = day_start(today, org.tz)
    at_midnight = CoachOS(attrs.evolve(app.deps, clock=FixedClock(midnight)))
    free = at_midnight.execute(
        FindSlots(
            org_id=org.id, coach_id=coach_id, service_id=service_id, start=midnight, end=midnight + timedelta(days=1)
        )
    )
    # First, middle and last free times of the day (none on the coach's day off).
    picks = sorted({s.start for s in (free[:1] + free[len(free) // 2 : len(free) // 2 + 1] + free[-1:])})
    for n, (start, client) in enumerate(zip(picks, clients, strict=False)):
        last = n == len(picks) - 1
        booking = at_midnight.execute(
            BookSession(
                org_id=org.id,
                coach_id=coach_id,
                service_id=service_id,
                client_id=client.id,
                start=start,
                confirm=not last,
                actor=me,
            )
        )
        if not last and start + timedelta(hours=1) <= app.clock.now():
            app.execute(CompleteBooking(org_id=org.id, booking_id=booking.id, actor=me))
    at_midnight.close()
    return len(picks)
