"""Builders for tests: a small business with a coach, services, hours, a client and a package."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

import attrs

from coachos import (
    Actor,
    BookingPolicy,
    CoachOS,
    CreateClient,
    CreateOrganization,
    CreateService,
    Money,
    SellPackage,
    SetWeeklyHours,
)
from coachos.domain.catalog import Service, SessionPackage
from coachos.domain.clients import Client
from coachos.domain.orgs import Coach, Organization

#: A Monday, 12:00 UTC (07:00 in New York). Tests' clocks start here.
MONDAY_NOON_UTC = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@attrs.frozen
class World:
    """A business ready to take bookings."""

    org: Organization
    coach: Coach
    pt: Service
    group: Service
    client: Client
    package: SessionPackage

    @property
    def me(self) -> Actor:
        """The coach as actor."""
        return Actor("coach", self.coach.id)


def connected_account(org_id: uuid.UUID) -> str:
    """The Stripe connected account id tests give a business (distinct per business in shared databases).

    Clients' payments are direct charges, so their webhook events name this account (`event.account`).
    """
    return f"acct_test{org_id.hex}"


def drain(app: CoachOS, passes: int = 20) -> None:
    """Run the worker's relay until nothing is left to do now (a shared database may hold other tests' events)."""
    for _ in range(passes):
        report = app.relay.relay_once(100)
        if not (report.fanned_out or report.delivered or report.retrying):
            return


def make_world(
    app: CoachOS,
    *,
    slug: str | None = None,
    timezone: str = "America/New_York",
    sessions: int = 10,
    policy: BookingPolicy | None = None,
) -> World:
    """A business in `timezone`: hours 09:00-17:00 every day, 60-minute PT, a 3-seat class, a client with a package.

    Slugs are unique per call so tests can share one database, isolated by tenant.
    """
    slug = slug or f"org-{uuid.uuid4().hex[:12]}"
    org, coach = app.execute(
        CreateOrganization(
            name="Peak Coaching",
            slug=slug,
            timezone=timezone,
            currency="USD",
            owner_name="Alex Rivera",
            owner_email=f"alex@{slug}.test",
            policy=policy or BookingPolicy(min_notice=timedelta(hours=1), horizon=timedelta(days=120)),
        )
    )
    me = Actor("coach", coach.id)
    pt = app.execute(
        CreateService(org_id=org.id, name="PT", duration=timedelta(minutes=60), price=Money(8000, "USD"), actor=me)
    )
    group = app.execute(
        CreateService(
            org_id=org.id,
            name="Class",
            duration=timedelta(minutes=60),
            price=Money(2000, "USD"),
            capacity=3,
            uses_credit=False,
            actor=me,
        )
    )
    app.execute(
        SetWeeklyHours(org_id=org.id, coach_id=coach.id, hours=[(d, time(9), time(17)) for d in range(7)], actor=me)
    )
    client = app.execute(CreateClient(org_id=org.id, name="Jordan Lee", phone="+12125550101", actor=me))
    package = app.execute(
        SellPackage(
            org_id=org.id, client_id=client.id, name="Ten pack", sessions=sessions, price=Money(70000, "USD"), actor=me
        )
    )
    return World(org=org, coach=coach, pt=pt, group=group, client=client, package=package)


def add_client(app: CoachOS, world: World, name: str = "Sam Patel", *, sessions: int | None = None) -> Client:
    """Another client of the world's business, with a package of `sessions` if given."""
    client = app.execute(CreateClient(org_id=world.org.id, name=name, actor=world.me))
    if sessions:
        app.execute(
            SellPackage(
                org_id=world.org.id,
                client_id=client.id,
                name="Pack",
                sessions=sessions,
                price=Money(0, "USD"),
                actor=world.me,
            )
        )
    return client


def local(world: World, day: int, hour: int, minute: int = 0) -> datetime:
    """`hour:minute` local time on 2026-03-`day` in the world's zone, as UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=world.org.tz).astimezone(UTC)


def later(at: datetime, **kw: float) -> datetime:
    """`at` moved on by the given timedelta arguments."""
    return at + timedelta(**kw)
