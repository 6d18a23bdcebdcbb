"""What is sent, to whom and when: the messaging consumer of the outbox relay.

Each handler reads what it needs, renders the business's templates and queues outgoing messages
(`uow.messages.add`) in one transaction; the sender (the worker) sends them when due, checking
consent and quiet hours then. Every message has a stable key built from the event's subject —
`booking:<id>:confirmation:sms`, `booking:<id>:reminder-24h:email`, … — so a repeated delivery
(the relay is at least once) finds its messages already queued and adds nothing.

To the client (SMS if they have a phone, email if they have an address; transactional):
- a public booking awaiting the coach: "request received", at once;
- a confirmed booking: the confirmation with the manage link, at once;
- 24 h and 2 h before (per the business's settings): reminders, held by quiet hours; a reminder
  whose time has already passed when the booking is made, or that quiet hours would hold until
  the session has begun, is not queued;
- a moved booking: the reschedule notice, at once (the old booking's reminders are cancelled and
  the new booking's queued);
- a cancelled booking: the cancellation notice, at once; its queued reminders are cancelled.

To the coach (email to the booking's coach and/or SMS to the business's notice number, as set in
Setup → Settings): new bookings and cancellations a client made, public bookings to confirm,
moves by a client, and clients' texts. Notices by SMS wait for quiet hours, by email they go at once.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from coachos.domain.bookings import Booking, BookingStatus
from coachos.domain.catalog import Service
from coachos.domain.clients import Client
from coachos.domain.errors import NotFound, ValidationError
from coachos.domain.events import (
    BookingCancelled,
    BookingConfirmed,
    BookingEvent,
    BookingRequested,
    BookingRescheduled,
    Event,
    MessageReceived,
)
from coachos.domain.ids import ClientId, CoachId
from coachos.domain.messages import Direction, MessageChannel, Purpose, outgoing
from coachos.domain.orgs import Coach, Organization
from coachos.domain.quiet_hours import next_allowed
from coachos.domain.templates import TemplateKind, default_wording, render, when_text
from coachos.domain.timezones import zone
from coachos.domain.usecases._base import Deps
from coachos.domain.usecases.public import first_active_coach
from coachos.domain.usecases.relay import Handler, Relay
from coachos.domain.usecases.reschedule import MOVE_SCOPE, RESCHEDULED
from coachos.ports.storage import UnitOfWork

#: The relay consumer that queues messages.
CONSUMER = "messaging"
#: How much of a client's text a coach notice quotes.
REPLY_QUOTE = 300

#: The reminders, how long before the session each goes, and the key part naming it.
REMINDERS: tuple[tuple[TemplateKind, timedelta, str], ...] = (
    (TemplateKind.REMINDER_24H, timedelta(hours=24), "reminder-24h"),
    (TemplateKind.REMINDER_2H, timedelta(hours=2), "reminder-2h"),
)

log = logging.getLogger("coachos.notifications")


def subscribe_messaging(relay: Relay) -> None:
    """Subscribe the messaging consumer's handlers (the composition root calls this once)."""
    relay.subscribe(CONSUMER, BookingRequested, _unless_gone(on_booking_requested))
    relay.subscribe(CONSUMER, BookingConfirmed, _unless_gone(on_booking_confirmed))
    relay.subscribe(CONSUMER, BookingRescheduled, _unless_gone(on_booking_rescheduled))
    relay.subscribe(CONSUMER, BookingCancelled, _unless_gone(on_booking_cancelled))
    relay.subscribe(CONSUMER, MessageReceived, _unless_gone(on_message_received))


def _unless_gone(handler: Handler) -> Handler:
    """`handler`, treating an event about records that no longer exist as nothing to send.

    Bookings, clients and messages are never deleted, so retrying such an event could only fail
    the same way until it is dead-lettered; anything else (a lost connection) is still retried.
    """

    @functools.wraps(handler)
    def run(event: Event, deps: Deps) -> None:
        try:
            handler(event, deps)
        except NotFound:
            log.warning("nothing to send: event=%s refers to a missing record", event.type_name)

    return run


def reminder_keys(booking_id: object) -> list[str]:
    """The keys of every reminder a booking can have (to cancel them)."""
    return [f"booking:{booking_id}:{part}:{ch.value}" for _, _, part in REMINDERS for ch in MessageChannel]


# --- who and what ------------------------------------------------------------------------------


@attrs.frozen
class Person:
    """Where a client's messages go, and the name and zone they are written for."""

    name: str = attrs.field(repr=False)
    email: str | None = attrs.field(repr=False)
    phone: str | None = attrs.field(repr=False)
    #: Their own zone when known (times are then shown on their clock, labelled).
    tz: ZoneInfo | None


def _zone(name: str | None) -> ZoneInfo | None:
    return None if not name else zone(name)


def client_person(booking: Booking, client: Client) -> Person:
    """Whom a client message about `booking` is for.

    A public booking whose contact matched a client on file is "maybe them" until the coach
    confirms it, so until then messages go to what the visitor typed, never to the stored
    client's other addresses, and use the name they typed. A text goes there only to the stored
    client's own number, because that client's SMS consent is what the sender checks.
    """
    guest = booking.guest
    if guest is not None and booking.identity_unconfirmed:
        phone = guest.phone if guest.phone is not None and guest.phone == client.phone else None
        return Person(guest.name, guest.email, phone, _zone(guest.timezone))
    own_zone = client.timezone or (guest.timezone if guest is not None else None)
    return Person(client.name, client.email, client.phone, _zone(own_zone))


@attrs.frozen
class BookingFacts:
    """Everything a message about a booking says."""

    org: Organization
    booking: Booking
    client: Client
    coach: Coach
    service: Service


def _facts(uow: UnitOfWork, event: BookingEvent) -> BookingFacts:
    org = uow.orgs.get(event.org_id)
    booking = uow.bookings.get(event.org_id, event.booking_id)
    return BookingFacts(
        org=org,
        booking=booking,
        client=uow.clients.get(org.id, booking.client_id),
        coach=uow.coaches.get(org.id, booking.coach_id),
        service=uow.services.get(org.id, booking.service_id),
    )


def _when(instant: datetime, org: Organization, tz: ZoneInfo | None) -> str:
    """On the client's clock (labelled) when it differs from the business's, else the business's."""
    if tz is not None and tz.key != org.timezone:
        return when_text(instant, tz, label_zone=True)
    return when_text(instant, org.tz)


def _values(
    f: BookingFacts, deps: Deps, *, name: str, tz: ZoneInfo | None, previous: datetime | None
) -> dict[str, str]:
    values = {
        "client_first_name": name.split()[0] if name.split() else name,
        "client_name": name,
        "service": f.service.name,
        "when": _when(f.booking.start, f.org, tz),
        "coach_name": f.coach.name,
        "business": f.org.name,
        "manage_link": deps.links.manage_booking(f.org.id, f.booking.id),
        "client_link": deps.links.client_page(f.client.id),
    }
    if previous is not None:
        values["previous_when"] = _when(previous, f.org, tz)
    return values


class _Queue:
    """Renders and queues messages in one unit of work."""

    def __init__(self, uow: UnitOfWork, deps: Deps, org: Organization) -> None:
        self.uow, self.deps, self.org = uow, deps, org
        self.now = deps.clock.now()
        self.queued = 0

    def add(
        self,
        kind: TemplateKind,
        key: str,
        channel: MessageChannel,
        to: str,
        values: dict[str, str],
        *,
        quiet_hours: bool,
        not_before: datetime | None = None,
        client_id: ClientId | None = None,
        coach_id: CoachId | None = None,
    ) -> None:
        """Render `kind` for `channel` in the business's wording (else the default) and queue it under `key`."""
        stored = self.uow.templates.get(self.org.id, kind, channel)
        wording = stored.wording if stored is not None else default_wording(kind, channel)
        rendered = render(wording, channel, values)
        message = outgoing(
            id=self.deps.ids.new_id(),
            org_id=self.org.id,
            key=f"{key}:{channel.value}",
            channel=channel,
            purpose=Purpose.TRANSACTIONAL,
            to=to,
            body=rendered.text,
            subject=rendered.subject,
            html=rendered.html,
            now=self.now,
            not_before=not_before,
            client_id=client_id,
            coach_id=coach_id,
            template=kind.value,
            quiet_hours=quiet_hours,
        )
        # A key already taken (a repeated delivery) keeps its first message and adds nothing.
        if self.uow.messages.add(message).id == message.id:
            self.queued += 1

    def to_client(
        self,
        kind: TemplateKind,
        key: str,
        person: Person,
        client_id: ClientId,
        values: dict[str, str],
        *,
        quiet_hours: bool,
        not_before: datetime | None = None,
    ) -> None:
        """Queue `kind` by SMS to the person's phone and by email to their address (each when they have one)."""
        for channel, to in ((MessageChannel.SMS, person.phone), (MessageChannel.EMAIL, person.email)):
            if to:
                self.add(
                    kind, key, channel, to, values, quiet_hours=quiet_hours, not_before=not_before, client_id=client_id
                )

    def to_coach(self, kind: TemplateKind, key: str, coach: Coach, values: dict[str, str]) -> None:
        """Queue `kind` to the coach on the channels the business chose.

        No client id: a notice is the coach's, and no client's consent governs it. A text waits
        for the end of quiet hours; an email goes at once.
        """
        chosen = self.org.notifications
        if chosen.notice_email:
            self.add(kind, key, MessageChannel.EMAIL, coach.email, values, quiet_hours=False, coach_id=coach.id)
        if chosen.notice_sms and chosen.notice_phone:
            self.add(kind, key, MessageChannel.SMS, chosen.notice_phone, values, quiet_hours=True, coach_id=coach.id)


def _by_coach(event: Event) -> bool:
    """Whether a coach of the business did it (they need no notice of their own action)."""
    return event.actor.startswith("coach:")


def _coach_values(f: BookingFacts, deps: Deps, previous: datetime | None = None) -> dict[str, str]:
    """Values for a coach notice: times on the business's clock, and the name the booking was made under."""
    guest = f.booking.guest
    name = guest.name if guest is not None and f.booking.identity_unconfirmed else f.client.name
    return _values(f, deps, name=name, tz=None, previous=previous)


def _queue_reminders(q: _Queue, f: BookingFacts, person: Person, values: dict[str, str]) -> None:
    """The reminders the business wants, each at its time before the session.

    A reminder whose time has passed is not queued, nor one that quiet hours (on the client's
    clock if known, else the business's) would hold until the session has started: the sender
    waits for the end of quiet hours, and a reminder after the fact helps nobody.
    """
    wanted = {
        TemplateKind.REMINDER_24H: f.org.notifications.reminder_24h,
        TemplateKind.REMINDER_2H: f.org.notifications.reminder_2h,
    }
    tz = person.tz or f.org.tz
    for kind, before, part in REMINDERS:
        due = f.booking.start - before
        if not wanted[kind] or due <= q.now or next_allowed(due, f.org.quiet_hours, tz) >= f.booking.start:
            continue
        q.to_client(
            kind, f"booking:{f.booking.id}:{part}", person, f.client.id, values, quiet_hours=True, not_before=due
        )


def _open_and_ahead(f: BookingFacts, now: datetime) -> bool:
    """Whether the booking still stands and has not started (a late or repeated event queues nothing)."""
    return f.booking.status.is_open and f.booking.start > now


# --- handlers ----------------------------------------------------------------------------------


def on_booking_requested(event: Event, deps: Deps) -> None:
    """A booking awaiting confirmation: tell a public visitor we have it, the coach to confirm it; queue reminders."""
    if not isinstance(event, BookingRequested):
        return
    with deps.uow() as uow:
        f = _facts(uow, event)
        q = _Queue(uow, deps, f.org)
        if not _open_and_ahead(f, q.now):
            return
        person = client_person(f.booking, f.client)
        values = _values(f, deps, name=person.name, tz=person.tz, previous=None)
        moved = f.booking.idempotency_scope == MOVE_SCOPE
        if not moved and f.booking.guest is not None:
            q.to_client(
                TemplateKind.BOOKING_RECEIVED,
                f"booking:{f.booking.id}:received",
                person,
                f.client.id,
                values,
                quiet_hours=False,
            )
        if not moved and not _by_coach(event):
            q.to_coach(
                TemplateKind.COACH_BOOKING_REQUESTED,
                f"booking:{f.booking.id}:coach-requested",
                f.coach,
                _coach_values(f, deps),
            )
        _queue_reminders(q, f, person, values)
        uow.commit()
    log.info("messages queued: event=%s booking_id=%s count=%d", event.type_name, event.booking_id, q.queued)


def on_booking_confirmed(event: Event, deps: Deps) -> None:
    """A confirmed booking: the client's confirmation with the manage link, the coach's notice, the reminders."""
    if not isinstance(event, BookingConfirmed):
        return
    with deps.uow() as uow:
        f = _facts(uow, event)
        q = _Queue(uow, deps, f.org)
        if not _open_and_ahead(f, q.now):
            return
        person = client_person(f.booking, f.client)
        values = _values(f, deps, name=person.name, tz=person.tz, previous=None)
        if f.booking.idempotency_scope != MOVE_SCOPE:  # a move has its own notice
            q.to_client(
                TemplateKind.BOOKING_CONFIRMED,
                f"booking:{f.booking.id}:confirmation",
                person,
                f.client.id,
                values,
                quiet_hours=False,
            )
            if not _by_coach(event):
                q.to_coach(
                    TemplateKind.COACH_NEW_BOOKING, f"booking:{f.booking.id}:coach-new", f.coach, _coach_values(f, deps)
                )
        _queue_reminders(q, f, person, values)
        uow.commit()
    log.info("messages queued: event=%s booking_id=%s count=%d", event.type_name, event.booking_id, q.queued)


def on_booking_rescheduled(event: Event, deps: Deps) -> None:
    """A moved booking: the old booking's reminders go, the client hears the new time (the new booking's
    own BookingConfirmed/Requested queues its reminders)."""
    if not isinstance(event, BookingRescheduled):
        return
    with deps.uow() as uow:
        f = _facts(uow, event)
        q = _Queue(uow, deps, f.org)
        uow.messages.cancel(f.org.id, reminder_keys(event.previous_booking_id), q.now)
        if _open_and_ahead(f, q.now):
            person = client_person(f.booking, f.client)
            values = _values(f, deps, name=person.name, tz=person.tz, previous=event.previous_start)
            q.to_client(
                TemplateKind.BOOKING_RESCHEDULED,
                f"booking:{f.booking.id}:rescheduled",
                person,
                f.client.id,
                values,
                quiet_hours=False,
            )
            if not _by_coach(event):
                q.to_coach(
                    TemplateKind.COACH_BOOKING_RESCHEDULED,
                    f"booking:{f.booking.id}:coach-rescheduled",
                    f.coach,
                    _coach_values(f, deps, previous=event.previous_start),
                )
        uow.commit()
    log.info("messages queued: event=%s booking_id=%s count=%d", event.type_name, event.booking_id, q.queued)


def on_booking_cancelled(event: Event, deps: Deps) -> None:
    """A cancelled booking: its queued reminders are cancelled; the client (and, if the client did it, the
    coach) hear of it, unless it was cancelled by a move, whose notice says it all."""
    if not isinstance(event, BookingCancelled):
        return
    with deps.uow() as uow:
        f = _facts(uow, event)
        q = _Queue(uow, deps, f.org)
        uow.messages.cancel(f.org.id, reminder_keys(f.booking.id), q.now)
        if event.reason != RESCHEDULED and f.booking.status is BookingStatus.CANCELLED and f.booking.start > q.now:
            person = client_person(f.booking, f.client)
            values = _values(f, deps, name=person.name, tz=person.tz, previous=None)
            q.to_client(
                TemplateKind.BOOKING_CANCELLED,
                f"booking:{f.booking.id}:cancellation",
                person,
                f.client.id,
                values,
                quiet_hours=False,
            )
            if not _by_coach(event):
                q.to_coach(
                    TemplateKind.COACH_BOOKING_CANCELLED,
                    f"booking:{f.booking.id}:coach-cancellation",
                    f.coach,
                    _coach_values(f, deps),
                )
        uow.commit()
    log.info("messages queued: event=%s booking_id=%s count=%d", event.type_name, event.booking_id, q.queued)


def on_message_received(event: Event, deps: Deps) -> None:
    """A client's text: the coach hears of it on the channels they chose."""
    if not isinstance(event, MessageReceived):
        return
    with deps.uow() as uow:
        org = uow.orgs.get(event.org_id)
        message = uow.messages.get(org.id, event.message_id)
        if message.direction is not Direction.IN:
            return
        client = uow.clients.get(org.id, event.client_id) if event.client_id is not None else None
        try:
            coach = first_active_coach(uow, org.id)
        except ValidationError:  # no active coach: nobody to tell
            return
        name = client.name if client is not None else "Someone new"
        reply = message.body if len(message.body) <= REPLY_QUOTE else message.body[: REPLY_QUOTE - 3] + "..."
        values = {
            "client_first_name": name.split()[0],
            "client_name": name,
            "business": org.name,
            "reply": reply,
            "client_link": deps.links.client_page(client.id) if client is not None else "",
        }
        q = _Queue(uow, deps, org)
        q.to_coach(TemplateKind.COACH_CLIENT_REPLY, f"message:{message.id}:coach-reply", coach, values)
        uow.commit()
    log.info("messages queued: event=%s message_id=%s count=%d", event.type_name, event.message_id, q.queued)
