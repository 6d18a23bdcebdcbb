"""The repositories whose writes must be right under concurrency: seats and credits.

Each change is one conditional statement whose WHERE clause carries the rule (`used < total`,
`seats_taken < capacity`), so the database decides at the instant of the write; application
code never reads a counter and writes back a new value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from coachos.adapters.sql import _convert as cv
from coachos.adapters.sql.repos import _Repo, constraint_hit
from coachos.adapters.sql.tables import appointments, coaches, credit_events, package_offers, packages
from coachos.domain.availability import BusyBlock
from coachos.domain.bookings import Appointment, CreditChange, CreditEvent, CreditEventKind
from coachos.domain.catalog import PackageOffer, PaymentMethod, PaymentState, SessionPackage
from coachos.domain.errors import NoCreditsLeft, PackageExpired, PackageUnpaid, SlotUnavailable
from coachos.domain.ids import (
    Actor,
    AppointmentId,
    BookingId,
    ClientId,
    CoachId,
    OrgId,
    PackageId,
    PackageOfferId,
)
from coachos.domain.rows import Rows

_TAKEN = "That time is not available any more; please pick another slot."


class SqlCalendar(_Repo):
    """Appointments: overlaps are refused by the database, seats taken by conditional update."""

    def busy(self, org_id: OrgId, coach_id: CoachId, start: datetime, end: datetime) -> Sequence[BusyBlock]:
        """The coach's active appointments overlapping [start, end)."""
        a = appointments.c
        q = (
            sa.select(a.id, a.starts_at, a.blocks_until, a.service_id, a.capacity, a.seats_taken)
            .where(
                a.org_id == org_id, a.coach_id == coach_id, a.seats_taken > 0, a.starts_at < end, a.blocks_until > start
            )
            .order_by(a.starts_at)
        )
        # Free time must never be offered because an appointment could not be read: refuse instead.
        return self._all(appointments, q, cv.busy_from).complete()

    def take_seat(self, org_id: OrgId, wanted: Appointment) -> Appointment:
        """A seat in the coach's appointment at this time, created if there is none."""
        self._queue_for_coach(org_id, wanted.coach_id)
        for _ in range(2):
            joined = self._join(org_id, wanted)
            if joined is not None:
                return joined
            try:
                with self._c.begin_nested():
                    values = cv.appointment_values(wanted) | {"seats_taken": 1}
                    self._c.execute(appointments.insert().values(**values))
                return attrs.evolve(wanted, seats_taken=1)
            except IntegrityError as exc:
                # Another transaction holds an overlapping appointment (PostgreSQL waited for it to
                # commit before refusing). Look again: it may be the same class, with a free seat.
                if not constraint_hit(exc, "appointments_no_overlap"):
                    raise
        raise SlotUnavailable(_TAKEN)

    def _queue_for_coach(self, org_id: OrgId, coach_id: CoachId) -> None:
        """Make seat-takers for one coach wait their turn (PostgreSQL; SQLite writers are serial already).

        The exclusion constraint alone is correct but two transactions inserting overlapping
        appointments can each wait on the other's uncommitted row and deadlock. Locking the
        coach's row first (FOR NO KEY UPDATE, which foreign-key checks do not conflict with)
        queues them, so the later one sees the earlier one's committed appointment instead.
        """
        self._c.execute(
            sa.select(coaches.c.id)
            .where(coaches.c.org_id == org_id, coaches.c.id == coach_id)
            .with_for_update(key_share=True)
        )

    def _join(self, org_id: OrgId, wanted: Appointment) -> Appointment | None:
        a = appointments.c
        existing = self._c.execute(
            sa.select(a.id, a.service_id, a.ends_at).where(
                a.org_id == org_id, a.coach_id == wanted.coach_id, a.starts_at == wanted.start, a.seats_taken > 0
            )
        ).one_or_none()
        if existing is None:
            return None
        if (existing.service_id, existing.ends_at) != (wanted.service_id, wanted.end):
            raise SlotUnavailable(_TAKEN)
        joined = self._maybe(
            appointments,
            appointments.update()
            .where(a.id == existing.id, a.seats_taken > 0, a.seats_taken < a.capacity)
            .values(seats_taken=a.seats_taken + 1)
            .returning(*appointments.c),
            cv.appointment_from,
            row_id=existing.id,
        )
        if joined is None:
            raise SlotUnavailable("That class is full; please pick another time.")
        return joined

    def release_seat(self, org_id: OrgId, appointment_id: AppointmentId) -> None:
        """Give one seat back."""
        a = appointments.c
        coach_id = self._c.execute(
            sa.select(a.coach_id).where(a.org_id == org_id, a.id == appointment_id)
        ).scalar_one_or_none()
        if coach_id is None:
            return
        # Same lock order as take_seat (coach row, then appointment) so a reschedule or cancellation
        # racing a booking of that coach queues instead of deadlocking.
        self._queue_for_coach(org_id, CoachId(coach_id))
        self._c.execute(
            appointments.update()
            .where(a.org_id == org_id, a.id == appointment_id, a.seats_taken > 0)
            .values(seats_taken=a.seats_taken - 1)
        )


class SqlPackages(_Repo):
    """Session packages: the credit counter moves only by conditional UPDATE … RETURNING."""

    def add(self, package: SessionPackage) -> None:
        """Store a new package."""
        self._c.execute(packages.insert().values(**cv.package_values(package)))

    def get(self, org_id: OrgId, package_id: PackageId) -> SessionPackage:
        """The package."""
        q = sa.select(packages).where(packages.c.org_id == org_id, packages.c.id == package_id)
        return self._get(packages, q, cv.package_from, "package")

    def for_client(self, org_id: OrgId, client_id: ClientId) -> Rows[SessionPackage]:
        """A client's packages, soonest to expire first."""
        p = packages.c
        q = (
            sa.select(packages)
            .where(p.org_id == org_id, p.client_id == client_id)
            .order_by(p.expires_at.is_(None), p.expires_at, p.purchased_at)
        )
        return self._all(packages, q, cv.package_from)

    def recent(self, org_id: OrgId, *, limit: int = 50) -> Rows[SessionPackage]:
        """The organisation's packages, most recently sold first."""
        p = packages.c
        q = sa.select(packages).where(p.org_id == org_id).order_by(p.purchased_at.desc(), p.id).limit(limit)
        return self._all(packages, q, cv.package_from)

    def unsettled(self, org_id: OrgId, *, limit: int = 100) -> Rows[SessionPackage]:
        """The organisation's packages whose payment is pending or failed, oldest first.

        A paused membership's credits are 'failed' too but were paid for (`paid_at` set): not outstanding.
        """
        p = packages.c
        waiting = (PaymentState.PENDING.value, PaymentState.FAILED.value)
        q = (
            sa.select(packages)
            .where(p.org_id == org_id, p.payment_state.in_(waiting), p.paid_at.is_(None))
            .order_by(p.purchased_at, p.id)
            .limit(limit)
        )
        return self._all(packages, q, cv.package_from)

    def _claim(self, org_id: OrgId, values: dict[str, Any]) -> int | None:
        """Insert the credit event unless one of its kind exists for the booking; its id, or None.

        The unique (booking_id, kind) index makes concurrent claims for one booking queue behind
        the first: only one of them inserts, whatever the timing.
        """
        insert = (postgresql.insert if self._c.dialect.name == "postgresql" else sqlite.insert)(credit_events)
        q = (
            insert.values(org_id=org_id, **values)
            .on_conflict_do_nothing(index_elements=["booking_id", "kind"])
            .returning(credit_events.c.id)
        )
        claimed: int | None = self._c.execute(q).scalar_one_or_none()
        return claimed

    def _counts(self, org_id: OrgId, package_id: PackageId, *, applied: bool) -> CreditChange:
        row = self._one(
            sa.select(packages.c.used, packages.c.total).where(
                packages.c.org_id == org_id, packages.c.id == package_id
            ),
            "package",
        )
        return CreditChange(package_id, applied=applied, used=row.used, total=row.total)

    def _used_by(self, org_id: OrgId, booking_id: BookingId) -> PackageId | None:
        e = credit_events.c
        found = self._c.execute(
            sa.select(e.package_id).where(
                e.org_id == org_id, e.booking_id == booking_id, e.kind == CreditEventKind.USE.value
            )
        ).scalar_one_or_none()
        return None if found is None else PackageId(found)

    def use_credit(self, org_id: OrgId, event: CreditEvent) -> CreditChange:
        """Use one credit for the booking, once, with the database deciding whether one is left."""
        self.get(org_id, event.package_id)  # NotFound for another organisation's package
        claimed = self._claim(org_id, _event_values(event))
        if claimed is None:
            earlier = self._used_by(org_id, event.booking_id)
            assert earlier is not None  # noqa: S101  # the conflicting row is this booking's use
            return self._counts(org_id, earlier, applied=False)
        p = packages.c
        row = self._c.execute(
            packages.update()
            .where(
                p.org_id == org_id,
                p.id == event.package_id,
                p.used < p.total,
                p.payment_state == PaymentState.PAID.value,
                sa.or_(p.expires_at.is_(None), p.expires_at > event.at),
            )
            .values(used=p.used + 1)
            .returning(p.used, p.total)
        ).one_or_none()
        if row is None:
            # Our own uncommitted claim: remove it so another package may be tried in this transaction.
            self._c.execute(credit_events.delete().where(credit_events.c.id == claimed))
            current = self.get(org_id, event.package_id)
            if not current.is_paid:
                raise PackageUnpaid("This package has not been paid for yet; its sessions can be used once it is.")
            if current.is_expired(event.at):
                raise PackageExpired("This package has expired; sell the client a new one.")
            raise NoCreditsLeft("This package has no sessions left.")
        return CreditChange(event.package_id, applied=True, used=row.used, total=row.total)

    def return_credit(
        self, org_id: OrgId, booking_id: BookingId, *, at: datetime, actor: Actor, reason: str
    ) -> CreditChange | None:
        """Give the booking's credit back, once."""
        package_id = self._used_by(org_id, booking_id)
        if package_id is None:
            return None
        event = CreditEvent(package_id, booking_id, CreditEventKind.RETURN, at, actor, reason)
        if self._claim(org_id, _event_values(event)) is None:
            return self._counts(org_id, package_id, applied=False)
        p = packages.c
        row = self._c.execute(
            packages.update()
            .where(p.org_id == org_id, p.id == package_id, p.used > 0)
            .values(used=p.used - 1)
            .returning(p.used, p.total)
        ).one()
        return CreditChange(package_id, applied=True, used=row.used, total=row.total)

    def credit_events(self, org_id: OrgId, package_id: PackageId) -> Rows[CreditEvent]:
        """Every use and return of the package's credits, oldest first."""
        e = credit_events.c
        q = sa.select(credit_events).where(e.org_id == org_id, e.package_id == package_id).order_by(e.id)
        return self._all(credit_events, q, cv.credit_event_from)

    def mark_paid(
        self, org_id: OrgId, package_id: PackageId, *, method: PaymentMethod, at: datetime, ref: str | None
    ) -> SessionPackage | None:
        """PENDING → PAID by one conditional UPDATE; of racing callers exactly one gets the package back."""
        p = packages.c
        row = self._c.execute(
            packages.update()
            .where(p.org_id == org_id, p.id == package_id, p.payment_state == PaymentState.PENDING.value)
            .values(payment_state=PaymentState.PAID.value, payment_method=method.value, paid_at=at, payment_ref=ref)
            .returning(*packages.c)
        ).one_or_none()
        return None if row is None else cv.package_from(row)

    def mark_failed(self, org_id: OrgId, package_id: PackageId) -> bool:
        """PENDING → FAILED by one conditional UPDATE; a paid package is never failed by a late event."""
        p = packages.c
        row = self._c.execute(
            packages.update()
            .where(p.org_id == org_id, p.id == package_id, p.payment_state == PaymentState.PENDING.value)
            .values(payment_state=PaymentState.FAILED.value)
            .returning(p.id)
        ).one_or_none()
        return row is not None

    def add_offer(self, offer: PackageOffer) -> None:
        """Store a new offer."""
        self._c.execute(package_offers.insert().values(**cv.offer_values(offer)))

    def offer(self, org_id: OrgId, offer_id: PackageOfferId) -> PackageOffer:
        """The offer."""
        o = package_offers.c
        q = sa.select(package_offers).where(o.org_id == org_id, o.id == offer_id)
        return self._get(package_offers, q, cv.offer_from, "package offer")

    def offers(self, org_id: OrgId, *, active_only: bool = False) -> Rows[PackageOffer]:
        """The business's offers, cheapest first."""
        o = package_offers.c
        q = sa.select(package_offers).where(o.org_id == org_id)
        if active_only:
            q = q.where(o.active.is_(True))
        return self._all(package_offers, q.order_by(o.price_minor, o.sessions, o.name, o.id), cv.offer_from)

    def update_offer(self, offer: PackageOffer) -> None:
        """Store the offer's changes."""
        o = package_offers.c
        values = cv.offer_values(offer)
        for fixed in ("id", "org_id", "created_at"):
            values.pop(fixed)
        self._c.execute(package_offers.update().where(o.org_id == offer.org_id, o.id == offer.id).values(**values))


def _event_values(event: CreditEvent) -> dict[str, Any]:
    return {
        "package_id": event.package_id,
        "booking_id": event.booking_id,
        "kind": event.kind.value,
        "at": event.at,
        "actor": str(event.actor),
        "reason": event.reason[:200],
    }
