"""Turning rows into domain objects and back; nothing SQL-shaped crosses into the domain.

A row that cannot become a domain object (a value the domain refuses, a date the driver cannot
load) is reported as CorruptRecord naming its table and id, never as the caller's ValidationError
and never with the stored values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from coachos.domain.availability import BusyBlock, DateOverride, WeeklyRule
from coachos.domain.bookings import (
    Appointment,
    Booking,
    BookingStatus,
    CreditEvent,
    CreditEventKind,
    FeeAgreement,
    FeeCharge,
    FeeKind,
    FeeState,
    GuestConsent,
    GuestDetails,
    PaymentIssue,
    SavedCard,
)
from coachos.domain.catalog import PackageOffer, Service, SessionPackage
from coachos.domain.clients import Channel, Client, ClientStatus, Consent
from coachos.domain.consent import ConsentChange
from coachos.domain.errors import CorruptRecord, ValidationError
from coachos.domain.ids import (
    Actor,
    AppointmentId,
    BookingId,
    ClientId,
    CoachId,
    OrgId,
    PackageId,
    PackageOfferId,
    ServiceId,
)
from coachos.domain.money import Money
from coachos.domain.orgs import Coach, Notifications, Organization
from coachos.domain.policy import BookingPolicy
from coachos.domain.quiet_hours import QuietHours
from coachos.domain.rows import Rows, corrupt_record

Row = Any  # sqlalchemy Row; attribute access by column name
T = TypeVar("T")

#: What turning a bad row into a domain object raises: the domain's validators, enums and ISO
#: parsing (ValueError), missing or mistyped JSON members (LookupError, TypeError).
CONVERSION_ERRORS: tuple[type[Exception], ...] = (ValidationError, ValueError, TypeError, LookupError, OverflowError)


def unloadable(exc: BaseException) -> bool:
    """Whether `exc` came from loading a fetched column value into Python, not from the server.

    SQLite text that is not a date fails in SQLAlchemy's result processing (ValueError);
    a PostgreSQL value Python has no type for ('infinity', year 10000) fails in psycopg's loader,
    which SQLAlchemy wraps as DataError with no SQLSTATE (the server sent no error).
    """
    if isinstance(exc, sa.exc.DBAPIError):
        return isinstance(exc, sa.exc.DataError) and getattr(exc.orig, "sqlstate", None) is None
    return isinstance(exc, (ValueError, TypeError, OverflowError))


def corrupt(table: sa.Table, row_id: object, cause: BaseException | None = None) -> CorruptRecord:
    """The error for the row `row_id` of `table` (the cause is named by its kind, never its message)."""
    kind = None
    if isinstance(cause, ValidationError) and cause.field:
        kind = f"{type(cause).__name__} on {cause.field}"
    elif cause is not None:
        kind = type(cause).__name__
    return corrupt_record(table.name, row_id, kind)


def read(table: sa.Table, row: Row, convert: Callable[[Row], T], key: str = "id") -> T:
    """`convert(row)`, or CorruptRecord naming the row when its values are not a valid record."""
    try:
        return convert(row)
    except CONVERSION_ERRORS as exc:
        raise corrupt(table, getattr(row, key, None), exc) from exc


def read_all(table: sa.Table, rows: Iterable[Row], convert: Callable[[Row], T], key: str = "id") -> Rows[T]:
    """Every row that converts, with the ones that do not listed as unreadable."""
    items: list[T] = []
    unreadable: list[CorruptRecord] = []
    for row in rows:
        try:
            items.append(read(table, row, convert, key))
        except CorruptRecord as exc:
            unreadable.append(exc)
    return Rows(items, unreadable)


def _s(span: timedelta) -> int:
    return int(span.total_seconds())


def org_values(org: Organization) -> dict[str, Any]:
    p = org.policy
    return {
        "id": org.id,
        "name": org.name,
        "slug": org.slug,
        "timezone": org.timezone,
        "currency": org.currency,
        "created_at": org.created_at,
        "min_notice_s": _s(p.min_notice),
        "horizon_s": _s(p.horizon),
        "cancellation_window_s": _s(p.cancellation_window),
        "buffer_s": _s(p.buffer),
        "slot_interval_s": _s(p.slot_interval),
        "quiet_start": org.quiet_hours.start,
        "quiet_end": org.quiet_hours.end,
        "reminder_24h": org.notifications.reminder_24h,
        "reminder_2h": org.notifications.reminder_2h,
        "notice_email": org.notifications.notice_email,
        "notice_sms": org.notifications.notice_sms,
        "notice_phone": org.notifications.notice_phone,
        "late_cancel_fee_minor": None if p.late_cancel_fee is None else p.late_cancel_fee.amount_minor,
        "no_show_fee_minor": None if p.no_show_fee is None else p.no_show_fee.amount_minor,
    }


def org_from(row: Row) -> Organization:
    return Organization(
        id=OrgId(row.id),
        name=row.name,
        slug=row.slug,
        timezone=row.timezone,
        currency=row.currency,
        created_at=row.created_at,
        policy=BookingPolicy(
            min_notice=timedelta(seconds=row.min_notice_s),
            horizon=timedelta(seconds=row.horizon_s),
            cancellation_window=timedelta(seconds=row.cancellation_window_s),
            buffer=timedelta(seconds=row.buffer_s),
            slot_interval=timedelta(seconds=row.slot_interval_s),
            late_cancel_fee=_money_or_none(row.late_cancel_fee_minor, row.currency),
            no_show_fee=_money_or_none(row.no_show_fee_minor, row.currency),
        ),
        quiet_hours=QuietHours(start=row.quiet_start, end=row.quiet_end),
        notifications=Notifications(
            reminder_24h=row.reminder_24h,
            reminder_2h=row.reminder_2h,
            notice_email=row.notice_email,
            notice_sms=row.notice_sms,
            notice_phone=row.notice_phone,
        ),
    )


def coach_from(row: Row) -> Coach:
    return Coach(id=CoachId(row.id), org_id=OrgId(row.org_id), name=row.name, email=row.email, active=row.active)


def client_values(c: Client) -> dict[str, Any]:
    return {
        "id": c.id,
        "org_id": c.org_id,
        "name": c.name,
        "phone": c.phone,
        "email": c.email,
        "timezone": c.timezone,
        "status": c.status.value,
        "consents": [
            {
                "channel": k.channel.value,
                "granted_at": k.granted_at.isoformat(),
                "method": k.method,
                "wording": k.wording,
            }
            for k in c.consents
        ],
        "notes": c.notes,
        "tags": sorted(c.tags),
        "created_at": c.created_at,
        "birthday": c.birthday,
    }


def client_from(row: Row) -> Client:
    return Client(
        id=ClientId(row.id),
        org_id=OrgId(row.org_id),
        name=row.name,
        created_at=row.created_at,
        phone=row.phone,
        email=row.email,
        timezone=row.timezone,
        status=ClientStatus(row.status),
        consents=tuple(
            Consent(
                channel=Channel(k["channel"]),
                granted_at=datetime.fromisoformat(k["granted_at"]),
                method=k["method"],
                wording=k["wording"],
            )
            for k in row.consents
        ),
        notes=row.notes,
        tags=frozenset(row.tags),
        birthday=row.birthday,
    )


def service_values(s: Service) -> dict[str, Any]:
    return {
        "id": s.id,
        "org_id": s.org_id,
        "name": s.name,
        "duration_s": _s(s.duration),
        "price_minor": s.price.amount_minor,
        "currency": s.price.currency,
        "capacity": s.capacity,
        "uses_credit": s.uses_credit,
        "active": s.active,
        "pay_at_booking": s.pay_at_booking,
    }


def service_from(row: Row) -> Service:
    return Service(
        id=ServiceId(row.id),
        org_id=OrgId(row.org_id),
        name=row.name,
        duration=timedelta(seconds=row.duration_s),
        price=Money(row.price_minor, row.currency),
        capacity=row.capacity,
        uses_credit=row.uses_credit,
        active=row.active,
        pay_at_booking=row.pay_at_booking,
    )


def rule_from(row: Row) -> WeeklyRule:
    return WeeklyRule(coach_id=CoachId(row.coach_id), weekday=row.weekday, start=row.start, end=row.end)


def override_from(row: Row) -> DateOverride:
    return DateOverride(
        id=row.id, coach_id=CoachId(row.coach_id), on=row.on, available=row.available, start=row.start, end=row.end
    )


def appointment_values(a: Appointment) -> dict[str, Any]:
    return {
        "id": a.id,
        "org_id": a.org_id,
        "coach_id": a.coach_id,
        "service_id": a.service_id,
        "starts_at": a.start,
        "ends_at": a.end,
        "blocks_until": a.blocks_until,
        "capacity": a.capacity,
        "seats_taken": a.seats_taken,
    }


def appointment_from(row: Row) -> Appointment:
    return Appointment(
        id=AppointmentId(row.id),
        org_id=OrgId(row.org_id),
        coach_id=CoachId(row.coach_id),
        service_id=ServiceId(row.service_id),
        start=row.starts_at,
        end=row.ends_at,
        blocks_until=row.blocks_until,
        capacity=row.capacity,
        seats_taken=row.seats_taken,
    )


def booking_values(b: Booking) -> dict[str, Any]:
    return (
        {
            "id": b.id,
            "org_id": b.org_id,
            "appointment_id": b.appointment_id,
            "coach_id": b.coach_id,
            "service_id": b.service_id,
            "client_id": b.client_id,
            "package_id": b.package_id,
            "starts_at": b.start,
            "ends_at": b.end,
            "status": b.status.value,
            "idempotency_key": b.idempotency_key,
            "idempotency_scope": b.idempotency_scope,
            "note": b.note,
            "created_at": b.created_at,
            "created_by": str(b.created_by),
            "updated_at": b.updated_at,
            "updated_by": str(b.updated_by),
            "hold_expires_at": b.hold_expires_at,
            "payment_ref": b.payment_ref,
            "paid_at": b.paid_at,
            "payment_issue": None if b.payment_issue is None else b.payment_issue.value,
        }
        | _guest_values(b.guest)
        | _fee_values(b)
    )


def _money_or_none(minor: int | None, currency: str | None) -> Money | None:
    return None if minor is None or currency is None else Money(minor, currency)


def _fee_values(b: Booking) -> dict[str, Any]:
    a, card, fee = b.fee_agreement, b.saved_card, b.fee
    amounts = [m for m in (a.late_cancel, a.no_show) if m is not None] if a else []
    return {
        "fees_agreed_at": a.agreed_at if a else None,
        "agreed_late_cancel_minor": a.late_cancel.amount_minor if a and a.late_cancel else None,
        "agreed_no_show_minor": a.no_show.amount_minor if a and a.no_show else None,
        "fee_currency": amounts[0].currency if amounts else (fee.amount.currency if fee else None),
        "fee_wording": a.wording if a else None,
        "card_customer": card.customer_id if card else None,
        "card_payment_method": card.payment_method_id if card else None,
        "fee_kind": fee.kind.value if fee else None,
        "fee_state": fee.state.value if fee else None,
        "fee_amount_minor": fee.amount.amount_minor if fee else None,
        "fee_at": fee.at if fee else None,
        "fee_ref": fee.ref if fee else None,
        "fee_error": fee.error if fee else None,
    }


def fee_parts(row: Row) -> dict[str, Any]:
    """The fee agreement, saved card and fee of a bookings row, as Booking's keyword arguments."""
    agreement = None
    if row.fees_agreed_at is not None:
        agreement = FeeAgreement(
            late_cancel=_money_or_none(row.agreed_late_cancel_minor, row.fee_currency),
            no_show=_money_or_none(row.agreed_no_show_minor, row.fee_currency),
            agreed_at=row.fees_agreed_at,
            wording=row.fee_wording or "",
        )
    card = None
    if row.card_customer is not None and row.card_payment_method is not None:
        card = SavedCard(customer_id=row.card_customer, payment_method_id=row.card_payment_method)
    fee = None
    if row.fee_kind is not None:
        fee = FeeCharge(
            kind=FeeKind(row.fee_kind),
            amount=Money(row.fee_amount_minor, row.fee_currency),
            state=FeeState(row.fee_state),
            at=row.fee_at,
            ref=row.fee_ref,
            error=row.fee_error,
        )
    return {"fee_agreement": agreement, "saved_card": card, "fee": fee}


_GUEST_FIELDS = ("name", "email", "phone", "sms_consent", "consent_wording", "timezone", "matched")


def _guest_values(guest: GuestDetails | None) -> dict[str, Any]:
    values = {f"guest_{name}": None if guest is None else getattr(guest, name) for name in _GUEST_FIELDS}
    values["guest_marketing"] = (
        None if guest is None else [{"channel": m.channel.value, "wording": m.wording} for m in guest.marketing]
    )
    return values


def _guest_from(row: Row) -> GuestDetails | None:
    if row.guest_name is None:
        return None
    return GuestDetails(
        name=row.guest_name,
        email=row.guest_email,
        phone=row.guest_phone,
        sms_consent=bool(row.guest_sms_consent),
        consent_wording=row.guest_consent_wording or "",
        timezone=row.guest_timezone,
        matched=bool(row.guest_matched),
        marketing=tuple(GuestConsent(channel=m["channel"], wording=m["wording"]) for m in row.guest_marketing or ()),
    )


def booking_from(row: Row) -> Booking:
    return Booking(
        id=BookingId(row.id),
        org_id=OrgId(row.org_id),
        appointment_id=AppointmentId(row.appointment_id),
        coach_id=CoachId(row.coach_id),
        service_id=ServiceId(row.service_id),
        client_id=ClientId(row.client_id),
        start=row.starts_at,
        end=row.ends_at,
        status=BookingStatus(row.status),
        created_at=row.created_at,
        created_by=Actor.parse(row.created_by),
        updated_at=row.updated_at,
        updated_by=Actor.parse(row.updated_by),
        package_id=None if row.package_id is None else PackageId(row.package_id),
        idempotency_key=row.idempotency_key,
        idempotency_scope=row.idempotency_scope,
        note=row.note,
        guest=_guest_from(row),
        hold_expires_at=row.hold_expires_at,
        payment_ref=row.payment_ref,
        paid_at=row.paid_at,
        payment_issue=None if row.payment_issue is None else PaymentIssue(row.payment_issue),
        **fee_parts(row),
    )


def package_values(p: SessionPackage) -> dict[str, Any]:
    return {
        "id": p.id,
        "org_id": p.org_id,
        "client_id": p.client_id,
        "name": p.name,
        "total": p.total,
        "used": p.used,
        "price_minor": p.price.amount_minor,
        "currency": p.price.currency,
        "purchased_at": p.purchased_at,
        "expires_at": p.expires_at,
        "payment_state": p.payment_state.value,
        "payment_method": p.payment_method.value,
        "paid_at": p.paid_at,
        "payment_ref": p.payment_ref,
    }


def package_from(row: Row) -> SessionPackage:
    return SessionPackage(
        id=PackageId(row.id),
        org_id=OrgId(row.org_id),
        client_id=ClientId(row.client_id),
        name=row.name,
        total=row.total,
        used=row.used,
        price=Money(row.price_minor, row.currency),
        purchased_at=row.purchased_at,
        expires_at=row.expires_at,
        payment_state=row.payment_state,
        payment_method=row.payment_method,
        paid_at=row.paid_at,
        payment_ref=row.payment_ref,
    )


def busy_from(row: Row) -> BusyBlock:
    return BusyBlock(
        start=row.starts_at, end=row.blocks_until, service_id=row.service_id, seats_left=row.capacity - row.seats_taken
    )


def credit_event_from(row: Row) -> CreditEvent:
    return CreditEvent(
        package_id=PackageId(row.package_id),
        booking_id=BookingId(row.booking_id),
        kind=CreditEventKind(row.kind),
        at=row.at,
        actor=Actor.parse(row.actor),
        reason=row.reason,
    )


def consent_change_values(c: ConsentChange) -> dict[str, Any]:
    return {
        "id": c.id,
        "org_id": c.org_id,
        "client_id": c.client_id,
        "channel": c.channel.value,
        "action": c.action.value,
        "at": c.at,
        "method": c.method,
        "actor": c.actor,
        "wording": c.wording,
    }


def consent_change_from(row: Row) -> ConsentChange:
    return ConsentChange(
        id=row.id,
        org_id=OrgId(row.org_id),
        client_id=ClientId(row.client_id),
        channel=row.channel,
        action=row.action,
        at=row.at,
        method=row.method,
        actor=row.actor,
        wording=row.wording,
    )


def offer_values(o: PackageOffer) -> dict[str, Any]:
    """A package offer as package_offers column values."""
    return {
        "id": o.id,
        "org_id": o.org_id,
        "name": o.name,
        "sessions": o.sessions,
        "price_minor": o.price.amount_minor,
        "currency": o.price.currency,
        "validity_days": o.validity_days,
        "active": o.active,
        "created_at": o.created_at,
    }


def offer_from(row: Row) -> PackageOffer:
    """A package offer from its package_offers row."""
    return PackageOffer(
        id=PackageOfferId(row.id),
        org_id=OrgId(row.org_id),
        name=row.name,
        sessions=row.sessions,
        price=Money(row.price_minor, row.currency),
        created_at=row.created_at,
        validity_days=row.validity_days,
        active=row.active,
    )
