"""A demo business with a coach, services, hours, clients, packages and bookings, seeded once."""

from __future__ import annotations

from datetime import time, timedelta

import attrs

from coachos._app import CoachOS
from coachos.domain.clients import Channel, ClientStatus, Consent
from coachos.domain.errors import NotFound
from coachos.domain.ids import Actor
from coachos.domain.money import Money
from coachos.domain.orgs import Coach, Organization
from coachos.domain.policy import BookingPolicy
from coachos.domain.usecases import (
    AddDateOverride,
    BookSession,
    CreateClient,
    CreateService,
    FindSlots,
    SellPackage,
    SetWeeklyHours,
    SignUp,
)

DEMO_SLUG = "demo"
DEMO_COACH_EMAIL = "alex@demo.coachos.test"
#: The demo coach's password; the demo is for trying Coach OS on one's own machine.
DEMO_PASSWORD = "demo-coach-2026"  # noqa: S105  # published on purpose, demo only

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
            )
        )
    slots = app.execute(
        FindSlots(org_id=org.id, coach_id=coach.id, service_id=pt.id, start=now, end=now + timedelta(days=7))
    )
    booked = 0
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
    return DemoSummary(org=org, coach=coach, created=True, clients=len(clients), bookings=booked)
