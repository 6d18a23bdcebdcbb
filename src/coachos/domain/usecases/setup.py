"""Use cases that set a business up: organisation, coaches, services, clients, hours, packages."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from uuid import UUID

import attrs

from coachos.domain.availability import DateOverride, WeeklyRule
from coachos.domain.catalog import PaymentMethod, PaymentState, Service, SessionPackage
from coachos.domain.checks import whole
from coachos.domain.clients import Client, ClientStatus, Consent
from coachos.domain.errors import CurrencyMismatch, ValidationError
from coachos.domain.events import (
    AvailabilityChanged,
    ClientCreated,
    CoachAdded,
    OrganizationCreated,
    PackageSold,
    ServiceCreated,
)
from coachos.domain.ids import Actor, ClientId, CoachId, OrgId, PackageId, ServiceId
from coachos.domain.money import Money
from coachos.domain.orgs import Coach, Notifications, Organization
from coachos.domain.policy import BookingPolicy
from coachos.domain.quiet_hours import QuietHours
from coachos.domain.timezones import require_utc
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases.clients import log_given
from coachos.domain.usecases.package_sales import BY_HAND, payment_method, record_hand_sale
from coachos.ports.storage import UnitOfWork


@attrs.frozen(kw_only=True)
class CreateOrganization(Command[tuple[Organization, Coach]]):
    """Sign a business up, with its first coach (the owner)."""

    name: str
    slug: str
    timezone: str
    currency: str
    owner_name: str
    owner_email: str
    policy: BookingPolicy = attrs.field(factory=BookingPolicy)
    quiet_hours: QuietHours = attrs.field(factory=QuietHours)


@handles(CreateOrganization)
def create_organization(cmd: CreateOrganization, deps: Deps) -> tuple[Organization, Coach]:
    """Create the organisation and its owner coach together."""
    org, coach = make_organization(cmd, deps)
    with deps.uow() as uow:
        add_organization(uow, org, coach)
        uow.commit()
    return org, coach


def make_organization(cmd: CreateOrganization, deps: Deps) -> tuple[Organization, Coach]:
    """The organisation and its owner, validated but not stored (sign-up checks everything before writing)."""
    now = deps.clock.now()
    org = Organization(
        id=OrgId(deps.ids.new_id()),
        name=cmd.name,
        slug=cmd.slug,
        timezone=cmd.timezone,
        currency=cmd.currency,
        created_at=now,
        policy=cmd.policy,
        quiet_hours=cmd.quiet_hours,
    )
    coach = Coach(id=CoachId(deps.ids.new_id()), org_id=org.id, name=cmd.owner_name, email=cmd.owner_email)
    return org, coach


def add_organization(uow: UnitOfWork, org: Organization, coach: Coach) -> None:
    """Store a new organisation and its owner inside an open unit of work (shared with sign-up)."""
    now = org.created_at
    uow.orgs.add(org)
    uow.coaches.add(coach)
    actor = str(Actor("coach", coach.id))
    uow.emit(OrganizationCreated(org_id=org.id, occurred_at=now, actor=actor))
    uow.emit(CoachAdded(org_id=org.id, occurred_at=now, actor=actor, coach_id=coach.id))


@attrs.frozen(kw_only=True)
class UpdateOrganizationSettings(Command[Organization]):
    """Change an organisation's name, zone, policy, quiet hours or notifications (None keeps the current value)."""

    org_id: OrgId
    actor: Actor
    name: str | None = None
    timezone: str | None = None
    policy: BookingPolicy | None = None
    quiet_hours: QuietHours | None = None
    #: Reminders and how the coach is told of bookings and replies.
    notifications: Notifications | None = None


@handles(UpdateOrganizationSettings)
def update_organization_settings(cmd: UpdateOrganizationSettings, deps: Deps) -> Organization:
    """Apply the given settings; the zone is validated and stored only on the organisation."""
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        updated = attrs.evolve(
            org,
            name=org.name if cmd.name is None else cmd.name,
            timezone=org.timezone if cmd.timezone is None else cmd.timezone,
            policy=org.policy if cmd.policy is None else cmd.policy,
            quiet_hours=org.quiet_hours if cmd.quiet_hours is None else cmd.quiet_hours,
            notifications=org.notifications if cmd.notifications is None else cmd.notifications,
        )
        uow.orgs.update(updated)
        uow.commit()
    return updated


@attrs.frozen(kw_only=True)
class AddCoach(Command[Coach]):
    """Add a member of staff."""

    org_id: OrgId
    name: str
    email: str
    actor: Actor


@handles(AddCoach)
def add_coach(cmd: AddCoach, deps: Deps) -> Coach:
    """Store a new coach in the organisation."""
    now = deps.clock.now()
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        coach = Coach(id=CoachId(deps.ids.new_id()), org_id=cmd.org_id, name=cmd.name, email=cmd.email)
        uow.coaches.add(coach)
        uow.emit(CoachAdded(org_id=cmd.org_id, occurred_at=now, actor=str(cmd.actor), coach_id=coach.id))
        uow.commit()
    return coach


@attrs.frozen(kw_only=True)
class CreateService(Command[Service]):
    """Offer something bookable."""

    org_id: OrgId
    name: str
    duration: timedelta
    price: Money
    actor: Actor
    capacity: int = 1
    uses_credit: bool = True
    #: Clients booking it online pay its price by card at once (needs card payments set up).
    pay_at_booking: bool = False


@handles(CreateService)
def create_service(cmd: CreateService, deps: Deps) -> Service:
    """Store a service priced in the organisation's currency."""
    now = deps.clock.now()
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        same_currency(org, cmd.price)
        if cmd.pay_at_booking:
            require_card_payments(deps)
        service = Service(
            id=ServiceId(deps.ids.new_id()),
            org_id=org.id,
            name=cmd.name,
            duration=cmd.duration,
            price=cmd.price,
            capacity=cmd.capacity,
            uses_credit=cmd.uses_credit,
            pay_at_booking=cmd.pay_at_booking,
        )
        uow.services.add(service)
        uow.emit(ServiceCreated(org_id=org.id, occurred_at=now, actor=str(cmd.actor), service_id=service.id))
        uow.commit()
    return service


def require_card_payments(deps: Deps) -> None:
    """ValidationError unless Coach OS can take card payments at all (a Stripe key is set)."""
    if deps.payments is None:
        raise ValidationError(
            "Card payments are not set up on this Coach OS, so a service cannot be paid when booked.",
            field="pay_at_booking",
        )


def same_currency(org: Organization, price: Money) -> None:
    """CurrencyMismatch unless `price` is in the organisation's currency."""
    if price.currency != org.currency:
        raise CurrencyMismatch(
            f"Prices in this business are in {org.currency}; {price.currency} was given.",
            field="price",
        )


@attrs.frozen(kw_only=True)
class CreateClient(Command[Client]):
    """Add a client or lead."""

    org_id: OrgId
    name: str
    actor: Actor
    phone: str | None = None
    email: str | None = None
    timezone: str | None = None
    status: ClientStatus = ClientStatus.LEAD
    consents: tuple[Consent, ...] = ()
    notes: str = ""
    tags: frozenset[str] = frozenset()
    birthday: date | str | None = None


@handles(CreateClient)
def create_client(cmd: CreateClient, deps: Deps) -> Client:
    """Store a new client after validating their details."""
    now = deps.clock.now()
    client = Client(
        id=ClientId(deps.ids.new_id()),
        org_id=cmd.org_id,
        name=cmd.name,
        created_at=now,
        phone=cmd.phone,
        email=cmd.email,
        timezone=cmd.timezone,
        status=cmd.status,
        consents=cmd.consents,
        notes=cmd.notes,
        tags=cmd.tags,
        birthday=cmd.birthday,
    )
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        uow.clients.add(client)
        uow.emit(ClientCreated(org_id=cmd.org_id, occurred_at=now, actor=str(cmd.actor), client_id=client.id))
        log_given(uow, deps, client, cmd.actor)
        uow.commit()
    return client


@attrs.frozen(kw_only=True)
class SetWeeklyHours(Command[tuple[WeeklyRule, ...]]):
    """Replace a coach's weekly hours; each entry is (weekday 0=Monday, start, end) in the org's zone."""

    org_id: OrgId
    coach_id: CoachId
    hours: Sequence[tuple[int, time, time]]
    actor: Actor


def weekly_rules(coach_id: CoachId, hours: Sequence[tuple[int, time, time]]) -> tuple[WeeklyRule, ...]:
    """The coach's weekly hours as rules, sorted; ValidationError if any is malformed or two overlap."""
    rules = tuple(
        sorted(
            (WeeklyRule(coach_id=coach_id, weekday=d, start=s, end=e) for d, s, e in hours),
            key=lambda r: (r.weekday, r.start),
        )
    )
    for a, b in itertools.pairwise(rules):
        if a.weekday == b.weekday and b.start < a.end:
            raise ValidationError("Two periods on the same day overlap; merge them into one.", field="hours")
    return rules


@handles(SetWeeklyHours)
def set_weekly_hours(cmd: SetWeeklyHours, deps: Deps) -> tuple[WeeklyRule, ...]:
    """Validate and store the coach's new weekly hours as a whole."""
    rules = weekly_rules(cmd.coach_id, cmd.hours)
    now = deps.clock.now()
    with deps.uow() as uow:
        uow.coaches.get(cmd.org_id, cmd.coach_id)
        uow.availability.replace_weekly(cmd.org_id, cmd.coach_id, rules)
        uow.emit(AvailabilityChanged(org_id=cmd.org_id, occurred_at=now, actor=str(cmd.actor), coach_id=cmd.coach_id))
        uow.commit()
    return rules


@attrs.frozen(kw_only=True)
class AddDateOverride(Command[DateOverride]):
    """Extra hours (available=True) or time off (available=False) on one local date."""

    org_id: OrgId
    coach_id: CoachId
    on: date
    available: bool
    actor: Actor
    start: time | None = None
    end: time | None = None


@handles(AddDateOverride)
def add_date_override(cmd: AddDateOverride, deps: Deps) -> DateOverride:
    """Store a date override for the coach."""
    override = DateOverride(
        id=deps.ids.new_id(),
        coach_id=cmd.coach_id,
        on=cmd.on,
        available=cmd.available,
        start=cmd.start,
        end=cmd.end,
    )
    now = deps.clock.now()
    with deps.uow() as uow:
        uow.coaches.get(cmd.org_id, cmd.coach_id)
        uow.availability.add_override(cmd.org_id, override)
        uow.emit(AvailabilityChanged(org_id=cmd.org_id, occurred_at=now, actor=str(cmd.actor), coach_id=cmd.coach_id))
        uow.commit()
    return override


@attrs.frozen(kw_only=True)
class RemoveDateOverride(Command[None]):
    """Delete a date override (the day goes back to the weekly hours)."""

    org_id: OrgId
    coach_id: CoachId
    override_id: UUID
    actor: Actor


@handles(RemoveDateOverride)
def remove_date_override(cmd: RemoveDateOverride, deps: Deps) -> None:
    """Delete the override; NotFound if it is not this organisation's."""
    now = deps.clock.now()
    with deps.uow() as uow:
        uow.coaches.get(cmd.org_id, cmd.coach_id)
        uow.availability.remove_override(cmd.org_id, cmd.override_id)
        uow.emit(AvailabilityChanged(org_id=cmd.org_id, occurred_at=now, actor=str(cmd.actor), coach_id=cmd.coach_id))
        uow.commit()


@attrs.frozen(kw_only=True)
class SellPackage(Command[SessionPackage]):
    """Give a client a package of sessions, saying how it was paid (`paid_by`).

    - cash / bank: paid now, its credits usable at once; the sale goes into the ledger (into cash,
      no Stripe or platform fee);
    - complimentary: given free, credits usable at once, no money recorded;
    - card: the client pays by card from the portal; the package waits (PENDING, no usable credits)
      until Stripe says the payment succeeded, or until the coach records a cash or bank payment;
    - unrecorded (the default, what callers before payments got): usable at once, no money recorded.
    """

    org_id: OrgId
    client_id: ClientId
    name: str
    sessions: int = attrs.field(validator=whole(1, 1000))
    price: Money
    actor: Actor
    expires_at: datetime | None = None
    paid_by: PaymentMethod = attrs.field(default=PaymentMethod.UNRECORDED, converter=payment_method)


@handles(SellPackage)
def sell_package(cmd: SellPackage, deps: Deps) -> SessionPackage:
    """Store the client's new package."""
    now = deps.clock.now()
    expires = None if cmd.expires_at is None else require_utc(cmd.expires_at, field="expires_at")
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        same_currency(org, cmd.price)
        uow.clients.get(cmd.org_id, cmd.client_id)
        package = SessionPackage(
            id=PackageId(deps.ids.new_id()),
            org_id=cmd.org_id,
            client_id=cmd.client_id,
            name=cmd.name,
            total=cmd.sessions,
            price=cmd.price,
            purchased_at=now,
            expires_at=expires,
            payment_state=PaymentState.PENDING if cmd.paid_by is PaymentMethod.CARD else PaymentState.PAID,
            payment_method=cmd.paid_by,
            paid_at=None if cmd.paid_by in (PaymentMethod.CARD, PaymentMethod.UNRECORDED) else now,
        )
        uow.packages.add(package)
        if cmd.paid_by in BY_HAND:
            record_hand_sale(uow, deps, package, now)
        uow.emit(
            PackageSold(
                org_id=cmd.org_id,
                occurred_at=now,
                actor=str(cmd.actor),
                package_id=package.id,
                client_id=cmd.client_id,
                total=package.total,
                price_minor=package.price.amount_minor,
                currency=package.price.currency,
            )
        )
        uow.commit()
    return package
