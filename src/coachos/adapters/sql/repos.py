"""SQL repositories for the plain records: organisations, coaches, clients, services, hours, bookings."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from coachos.adapters.sql import _convert as cv
from coachos.adapters.sql.tables import (
    bookings,
    clients,
    coaches,
    consent_events,
    date_overrides,
    organizations,
    services,
    weekly_rules,
)
from coachos.adapters.sql.tenancy import scope_to
from coachos.domain.availability import DateOverride, WeeklyRule
from coachos.domain.bookings import ALLOWED_FROM, Booking, BookingStatus, FeeCharge, FeeState, PaymentIssue, SavedCard
from coachos.domain.catalog import Service
from coachos.domain.clients import Client, ClientStatus
from coachos.domain.consent import ConsentChange
from coachos.domain.errors import Conflict, CorruptRecord, NotFound
from coachos.domain.ids import SYSTEM, Actor, BookingId, ClientId, CoachId, OrgId, PackageId, ServiceId
from coachos.domain.orgs import Coach, Organization
from coachos.domain.rows import Rows

T = TypeVar("T")


def _like_escape(text: str) -> str:
    """`text` with LIKE's wildcards escaped by backslashes."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def constraint_hit(exc: IntegrityError, name: str) -> bool:
    """Whether `exc` was raised by the constraint or index whose name (or columns) include `name`."""
    diag = getattr(exc.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    return name in (constraint or str(exc.orig))


class _Repo:
    """A repository on one connection.

    Every public method of a subclass that is called for an organisation (an `org_id` argument, or
    a record with an `org_id` as its first argument) first scopes the transaction to it, so that
    PostgreSQL's row-level security shows the method that organisation's rows and no other's.
    Methods that look something up before the organisation is known (by slug, email or a secret's
    digest) take no `org_id` and are left unscoped.
    """

    def __init__(self, conn: sa.Connection) -> None:
        self._c = conn

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, member in list(vars(cls).items()):
            if not name.startswith("_") and inspect.isfunction(member):
                setattr(cls, name, _scoped(member))

    def _one(self, query: sa.Select[Any], what: str) -> Any:
        row = self._c.execute(query).one_or_none()
        if row is None:
            raise NotFound(f"No such {what} in this business.")
        return row

    def _get(self, table: sa.Table, query: sa.Select[Any], convert: Callable[[Any], T], what: str) -> T:
        """The one record `query` finds; NotFound if none, CorruptRecord if its row cannot be read."""
        found = self._maybe(table, query, convert)
        if found is None:
            raise NotFound(f"No such {what} in this business.")
        return found

    def _maybe(
        self,
        table: sa.Table,
        query: sa.Select[Any] | sa.Executable,
        convert: Callable[[Any], T],
        *,
        key: str = "id",
        row_id: object = None,
    ) -> T | None:
        """The record `query` finds (a SELECT, or a write RETURNING the row), None if none; CorruptRecord if unreadable.

        `row_id` names the row when a failed load leaves no way to ask for it (a write's RETURNING).
        """
        result = self._c.execute(query)
        try:
            row = result.one_or_none()
        except Exception as exc:
            if not cv.unloadable(exc):
                raise
            if row_id is None and isinstance(query, sa.Select):
                row_id = self._c.execute(query.with_only_columns(table.c[key])).scalar_one_or_none()
            raise cv.corrupt(table, row_id, exc) from exc
        return None if row is None else cv.read(table, row, convert, key)

    def _all(self, table: sa.Table, query: sa.Select[Any], convert: Callable[[Any], T]) -> Rows[T]:
        """Every record `query` finds, in its order; rows that cannot be read are left out and named.

        A value the driver cannot load breaks the whole fetch, so the rows are then read one by
        one by id (slower, and only ever when something is already wrong).
        """
        result = self._c.execute(query)
        try:
            fetched = result.all()
        except Exception as exc:
            if not cv.unloadable(exc):
                raise
            return self._one_by_one(table, query, convert)
        return cv.read_all(table, fetched, convert)

    def _one_by_one(self, table: sa.Table, query: sa.Select[Any], convert: Callable[[Any], T]) -> Rows[T]:
        ids = self._c.execute(query.with_only_columns(table.c.id)).scalars().all()
        items: list[T] = []
        unreadable = []
        for row_id in ids:
            try:
                found = self._maybe(table, sa.select(table).where(table.c.id == row_id), convert, row_id=row_id)
            except CorruptRecord as exc:
                unreadable.append(exc)
                continue
            if found is not None:
                items.append(found)
        return Rows(items, unreadable)

    def _insert(self, table: sa.Table, values: dict[str, Any], *, unique: str, message: str) -> None:
        try:
            with self._c.begin_nested():
                self._c.execute(table.insert().values(**values))
        except IntegrityError as exc:
            if constraint_hit(exc, unique):
                raise Conflict(message) from exc
            raise


def _scoped(method: Callable[..., Any]) -> Callable[..., Any]:
    """`method`, first scoping the transaction to the organisation it is called for."""
    params = list(inspect.signature(method).parameters)[1:]
    position = params.index("org_id") if "org_id" in params else None

    @functools.wraps(method)
    def scoped(self: _Repo, *args: Any, **kwargs: Any) -> Any:
        if position is None:
            org_id = getattr(args[0], "org_id", None) if args else None
        else:
            org_id = args[position] if position < len(args) else kwargs.get("org_id")
        if isinstance(org_id, UUID):
            scope_to(self._c, org_id)
        return method(self, *args, **kwargs)

    return scoped


class SqlOrganizations(_Repo):
    """Organisations in SQL."""

    def add(self, org: Organization) -> None:
        """Store a new organisation."""
        self._insert(
            organizations,
            cv.org_values(org),
            unique="slug",
            message=f"The address '{org.slug}' is taken; choose another.",
        )

    def get(self, org_id: OrgId) -> Organization:
        """The organisation."""
        return self._get(
            organizations, sa.select(organizations).where(organizations.c.id == org_id), cv.org_from, "business"
        )

    def by_slug(self, slug: str) -> Organization:
        """The organisation with this slug."""
        q = sa.select(organizations).where(organizations.c.slug == slug)
        return self._get(organizations, q, cv.org_from, "business")

    def ids(self) -> Sequence[OrgId]:
        """Every organisation's id (the table has no org_id column, so no row-level policy applies)."""
        return [OrgId(i) for i in self._c.execute(sa.select(organizations.c.id).order_by(organizations.c.id)).scalars()]

    def update(self, org: Organization) -> None:
        """Replace the stored organisation's settings."""
        values = cv.org_values(org)
        del values["id"], values["created_at"], values["slug"]
        self._c.execute(organizations.update().where(organizations.c.id == org.id).values(**values))


class SqlCoaches(_Repo):
    """Coaches in SQL."""

    def add(self, coach: Coach) -> None:
        """Store a new coach."""
        values = {
            "id": coach.id,
            "org_id": coach.org_id,
            "name": coach.name,
            "email": coach.email,
            "active": coach.active,
        }
        self._insert(coaches, values, unique="email", message="A coach with this email already works here.")

    def get(self, org_id: OrgId, coach_id: CoachId) -> Coach:
        """The coach."""
        q = sa.select(coaches).where(coaches.c.org_id == org_id, coaches.c.id == coach_id)
        return self._get(coaches, q, cv.coach_from, "coach")

    def list(self, org_id: OrgId) -> Rows[Coach]:
        """All coaches, by name."""
        q = sa.select(coaches).where(coaches.c.org_id == org_id).order_by(coaches.c.name)
        return self._all(coaches, q, cv.coach_from)


class SqlClients(_Repo):
    """Clients in SQL."""

    def add(self, client: Client) -> None:
        """Store a new client."""
        self._c.execute(clients.insert().values(**cv.client_values(client)))

    def get(self, org_id: OrgId, client_id: ClientId) -> Client:
        """The client."""
        q = sa.select(clients).where(clients.c.org_id == org_id, clients.c.id == client_id)
        return self._get(clients, q, cv.client_from, "client")

    def update(self, client: Client) -> None:
        """Replace the stored client."""
        values = cv.client_values(client)
        del values["id"], values["org_id"], values["created_at"]
        result = self._c.execute(
            clients.update().where(clients.c.org_id == client.org_id, clients.c.id == client.id).values(**values)
        )
        if result.rowcount != 1:
            raise NotFound("No such client in this business.")

    def lock(self, org_id: OrgId, client_id: ClientId) -> Client:
        """The client, its row locked until the transaction ends (SQLite's write transactions already queue)."""
        q = sa.select(clients).where(clients.c.org_id == org_id, clients.c.id == client_id).with_for_update()
        return self._get(clients, q, cv.client_from, "client")

    def log_consent(self, change: ConsentChange) -> None:
        """Keep a consent given or withdrawn."""
        self._c.execute(consent_events.insert().values(**cv.consent_change_values(change)))

    def consent_log(self, org_id: OrgId, client_id: ClientId) -> Rows[ConsentChange]:
        """The client's consent changes, oldest first."""
        q = (
            sa.select(consent_events)
            .where(consent_events.c.org_id == org_id, consent_events.c.client_id == client_id)
            .order_by(consent_events.c.at, consent_events.c.id)
        )
        return self._all(consent_events, q, cv.consent_change_from)

    def by_contact(self, org_id: OrgId, *, email: str | None, phone: str | None) -> Client | None:
        """The oldest client with this email, else with this phone."""
        for column, value in ((clients.c.email, email), (clients.c.phone, phone)):
            if value is None:
                continue
            q = (
                sa.select(clients)
                .where(clients.c.org_id == org_id, column == value)
                .order_by(clients.c.created_at, clients.c.id)
                .limit(1)
            )
            if (found := self._maybe(clients, q, cv.client_from)) is not None:
                return found
        return None

    def list(
        self,
        org_id: OrgId,
        *,
        search: str = "",
        limit: int = 100,
        status: ClientStatus | None = None,
        tag: str | None = None,
    ) -> Rows[Client]:
        """Clients matching `search`, status and tag, by name."""
        q = sa.select(clients).where(clients.c.org_id == org_id)
        if status is not None:
            q = q.where(clients.c.status == status.value)
        if tag is not None:
            # Tags are a JSON array of strings written by json.dumps; match the element's exact JSON text.
            element = _like_escape(json.dumps(tag))
            q = q.where(sa.cast(clients.c.tags, sa.Text).like(f"%{element}%", escape="\\"))
        if needle := search.strip().lower():
            pattern = f"%{_like_escape(needle)}%"
            q = q.where(
                sa.or_(
                    sa.func.lower(clients.c.name).like(pattern, escape="\\"),
                    clients.c.email.like(pattern, escape="\\"),
                    clients.c.phone.like(pattern, escape="\\"),
                )
            )
        q = q.order_by(sa.func.lower(clients.c.name)).limit(limit)
        return self._all(clients, q, cv.client_from)


class SqlServices(_Repo):
    """Services in SQL."""

    def add(self, service: Service) -> None:
        """Store a new service."""
        self._c.execute(services.insert().values(**cv.service_values(service)))

    def get(self, org_id: OrgId, service_id: ServiceId) -> Service:
        """The service."""
        q = sa.select(services).where(services.c.org_id == org_id, services.c.id == service_id)
        return self._get(services, q, cv.service_from, "service")

    def list(self, org_id: OrgId) -> Rows[Service]:
        """All services, by name."""
        q = sa.select(services).where(services.c.org_id == org_id).order_by(services.c.name)
        return self._all(services, q, cv.service_from)

    def update(self, service: Service) -> None:
        """Replace the stored service."""
        values = cv.service_values(service)
        del values["id"], values["org_id"]
        result = self._c.execute(
            services.update().where(services.c.org_id == service.org_id, services.c.id == service.id).values(**values)
        )
        if result.rowcount != 1:
            raise NotFound("No such service in this business.")


class SqlAvailability(_Repo):
    """Weekly hours and date overrides in SQL."""

    def replace_weekly(self, org_id: OrgId, coach_id: CoachId, rules: Sequence[WeeklyRule]) -> None:
        """Make `rules` the coach's whole week."""
        self._c.execute(
            weekly_rules.delete().where(weekly_rules.c.org_id == org_id, weekly_rules.c.coach_id == coach_id)
        )
        if rules:
            self._c.execute(
                weekly_rules.insert(),
                [
                    {"org_id": org_id, "coach_id": coach_id, "weekday": r.weekday, "start": r.start, "end": r.end}
                    for r in rules
                ],
            )

    def weekly(self, org_id: OrgId, coach_id: CoachId) -> Rows[WeeklyRule]:
        """The coach's week."""
        q = (
            sa.select(weekly_rules)
            .where(weekly_rules.c.org_id == org_id, weekly_rules.c.coach_id == coach_id)
            .order_by(weekly_rules.c.weekday, weekly_rules.c.start)
        )
        return self._all(weekly_rules, q, cv.rule_from)

    def add_override(self, org_id: OrgId, override: DateOverride) -> None:
        """Store a date override."""
        self._c.execute(
            date_overrides.insert().values(
                id=override.id,
                org_id=org_id,
                coach_id=override.coach_id,
                on=override.on,
                available=override.available,
                start=override.start,
                end=override.end,
            )
        )

    def remove_override(self, org_id: OrgId, override_id: UUID) -> None:
        """Delete a date override."""
        result = self._c.execute(
            date_overrides.delete().where(date_overrides.c.org_id == org_id, date_overrides.c.id == override_id)
        )
        if result.rowcount != 1:
            raise NotFound("No such date override in this business.")

    def overrides(self, org_id: OrgId, coach_id: CoachId, first: date, last: date) -> Rows[DateOverride]:
        """The coach's overrides between two local dates."""
        t = date_overrides.c
        q = (
            sa.select(date_overrides)
            .where(t.org_id == org_id, t.coach_id == coach_id, t.on >= first, t.on <= last)
            .order_by(t.on, t.start)
        )
        return self._all(date_overrides, q, cv.override_from)


class SqlBookings(_Repo):
    """Bookings in SQL; status changes are single conditional updates."""

    def add(self, booking: Booking) -> None:
        """Store a new booking."""
        self._insert(
            bookings,
            cv.booking_values(booking),
            unique="idempotency_key",
            message="This booking request was already made.",
        )

    def get(self, org_id: OrgId, booking_id: BookingId) -> Booking:
        """The booking."""
        q = sa.select(bookings).where(bookings.c.org_id == org_id, bookings.c.id == booking_id)
        return self._get(bookings, q, cv.booking_from, "booking")

    def by_idempotency_key(self, org_id: OrgId, scope: str, key: str) -> Booking | None:
        """The booking made with `key` in `scope`."""
        b = bookings.c
        q = sa.select(bookings).where(b.org_id == org_id, b.idempotency_scope == scope, b.idempotency_key == key)
        return self._maybe(bookings, q, cv.booking_from)

    def transition(
        self, org_id: OrgId, booking_id: BookingId, to: BookingStatus, *, at: datetime, actor: Actor
    ) -> Booking | None:
        """Move the booking to `to` in one conditional UPDATE … RETURNING."""
        allowed = sorted(s.value for s in ALLOWED_FROM[to])
        q = (
            bookings.update()
            .where(bookings.c.org_id == org_id, bookings.c.id == booking_id, bookings.c.status.in_(allowed))
            .values(status=to.value, updated_at=at, updated_by=str(actor))
            .returning(*bookings.c)
        )
        return self._maybe(bookings, q, cv.booking_from, row_id=booking_id)

    def set_package(self, org_id: OrgId, booking_id: BookingId, package_id: PackageId) -> None:
        """Record the paying package."""
        self._c.execute(
            bookings.update()
            .where(bookings.c.org_id == org_id, bookings.c.id == booking_id)
            .values(package_id=package_id)
        )

    def _held_update(self, org_id: OrgId, booking_id: BookingId, **values: Any) -> Booking | None:
        b = bookings.c
        q = (
            bookings.update()
            .where(b.org_id == org_id, b.id == booking_id, b.status == BookingStatus.HELD.value)
            .values(**values)
            .returning(*bookings.c)
        )
        return self._maybe(bookings, q, cv.booking_from, row_id=booking_id)

    def confirm_held(
        self, org_id: OrgId, booking_id: BookingId, *, at: datetime, payment_ref: str | None
    ) -> Booking | None:
        """HELD → CONFIRMED with the payment recorded, in one conditional update; None unless it was still held."""
        return self._held_update(
            org_id,
            booking_id,
            status=BookingStatus.CONFIRMED.value,
            paid_at=at,
            payment_ref=payment_ref,
            updated_at=at,
            updated_by=str(SYSTEM),
        )

    def release_held(self, org_id: OrgId, booking_id: BookingId, *, at: datetime) -> Booking | None:
        """HELD → CANCELLED in one conditional update (the caller gives the seat back); None unless still held."""
        return self._held_update(
            org_id, booking_id, status=BookingStatus.CANCELLED.value, updated_at=at, updated_by=str(SYSTEM)
        )

    def record_late_payment(
        self, org_id: OrgId, booking_id: BookingId, *, at: datetime, payment_ref: str | None
    ) -> Booking | None:
        """Mark a booking no longer held as paid after its release, once; None if it was marked before."""
        b = bookings.c
        q = (
            bookings.update()
            .where(b.org_id == org_id, b.id == booking_id, b.status != BookingStatus.HELD.value, b.paid_at.is_(None))
            .values(paid_at=at, payment_ref=payment_ref, payment_issue=PaymentIssue.PAID_AFTER_RELEASE.value)
            .returning(*bookings.c)
        )
        return self._maybe(bookings, q, cv.booking_from, row_id=booking_id)

    def set_payment_ref(self, org_id: OrgId, booking_id: BookingId, payment_ref: str) -> None:
        """Record the Checkout Session of a held booking."""
        b = bookings.c
        self._c.execute(
            bookings.update()
            .where(b.org_id == org_id, b.id == booking_id, b.status == BookingStatus.HELD.value)
            .values(payment_ref=payment_ref)
        )

    def expired_holds(self, now: datetime, *, limit: int = 100) -> list[tuple[OrgId, BookingId]]:
        """Held bookings of every organisation whose hold ended by `now`, oldest expiry first.

        Row-level security shows a transaction one organisation's bookings, so this asks each
        organisation in turn (one indexed query each); organisations themselves are not tenant data.
        """
        b = bookings.c
        found: list[tuple[Any, OrgId, BookingId]] = []
        for org_id in self._c.execute(sa.select(organizations.c.id)).scalars():
            scope_to(self._c, org_id)
            rows = self._c.execute(
                sa.select(b.id, b.hold_expires_at)
                .where(b.org_id == org_id, b.status == BookingStatus.HELD.value, b.hold_expires_at <= now)
                .order_by(b.hold_expires_at)
                .limit(limit)
            )
            found.extend((row.hold_expires_at, OrgId(org_id), BookingId(row.id)) for row in rows)
        found.sort(key=lambda f: f[0])
        return [(org, booking) for _, org, booking in found[:limit]]

    def save_card(self, org_id: OrgId, booking_id: BookingId, card: SavedCard) -> None:
        """Keep the card the booking was paid with, for its fees (the first one kept stays)."""
        b = bookings.c
        self._c.execute(
            bookings.update()
            .where(b.org_id == org_id, b.id == booking_id, b.card_customer.is_(None))
            .values(card_customer=card.customer_id, card_payment_method=card.payment_method_id)
        )

    def start_fee(self, org_id: OrgId, booking_id: BookingId, fee: FeeCharge) -> bool:
        """Record the fee owed (PENDING) unless the booking has one already; True if this call recorded it."""
        b = bookings.c
        result = self._c.execute(
            bookings.update()
            .where(b.org_id == org_id, b.id == booking_id, b.fee_kind.is_(None))
            .values(
                fee_kind=fee.kind.value,
                fee_state=fee.state.value,
                fee_amount_minor=fee.amount.amount_minor,
                fee_currency=fee.amount.currency,
                fee_at=fee.at,
            )
        )
        return result.rowcount == 1

    def finish_fee(
        self, org_id: OrgId, booking_id: BookingId, *, state: FeeState, at: datetime, ref: str | None, error: str | None
    ) -> Booking | None:
        """PENDING → `state` in one conditional update; None if the fee was not pending any more."""
        b = bookings.c
        q = (
            bookings.update()
            .where(b.org_id == org_id, b.id == booking_id, b.fee_state == FeeState.PENDING.value)
            .values(fee_state=state.value, fee_at=at, fee_ref=ref, fee_error=None if error is None else error[:300])
            .returning(*bookings.c)
        )
        return self._maybe(bookings, q, cv.booking_from, row_id=booking_id)

    def pending_fees(self, *, limit: int = 100) -> list[tuple[OrgId, BookingId]]:
        """Bookings of every organisation whose fee waits to be charged (each organisation asked in turn)."""
        b = bookings.c
        found: list[tuple[OrgId, BookingId]] = []
        for org_id in self._c.execute(sa.select(organizations.c.id)).scalars():
            scope_to(self._c, org_id)
            rows = self._c.execute(
                sa.select(b.id).where(b.org_id == org_id, b.fee_state == FeeState.PENDING.value).limit(limit)
            ).scalars()
            found.extend((OrgId(org_id), BookingId(r)) for r in rows)
        return found[:limit]

    def unpaid_fees(self, org_id: OrgId, *, limit: int = 100) -> Rows[Booking]:
        """The organisation's bookings whose fee is pending or failed, oldest fee first."""
        b = bookings.c
        owed = (FeeState.PENDING.value, FeeState.FAILED.value)
        q = sa.select(bookings).where(b.org_id == org_id, b.fee_state.in_(owed)).order_by(b.fee_at, b.id).limit(limit)
        return self._all(bookings, q, cv.booking_from)

    def between(
        self, org_id: OrgId, start: datetime, end: datetime, *, coach_id: CoachId | None = None
    ) -> Rows[Booking]:
        """Bookings starting in [start, end)."""
        q = sa.select(bookings).where(
            bookings.c.org_id == org_id, bookings.c.starts_at >= start, bookings.c.starts_at < end
        )
        if coach_id is not None:
            q = q.where(bookings.c.coach_id == coach_id)
        q = q.order_by(bookings.c.starts_at, bookings.c.created_at)
        return self._all(bookings, q, cv.booking_from)

    def for_client(self, org_id: OrgId, client_id: ClientId) -> Rows[Booking]:
        """A client's bookings."""
        q = (
            sa.select(bookings)
            .where(bookings.c.org_id == org_id, bookings.c.client_id == client_id)
            .order_by(bookings.c.starts_at, bookings.c.created_at)
        )
        return self._all(bookings, q, cv.booking_from)
