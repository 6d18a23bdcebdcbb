"""Consent a visitor ticked on the public booking form, given to the client on file once the coach vouches for them."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from coachos.domain.bookings import Booking, BookingStatus, GuestConsent
from coachos.domain.clients import Channel, Client, Consent
from coachos.domain.consent import BOOKING_FORM, ConsentAction, ConsentChange
from coachos.domain.errors import NotFound, ValidationError
from coachos.domain.ids import Actor, BookingId, ClientId, OrgId
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases.clients import log_consent

#: Statuses in which the coach has said the booking really is the client's (confirmed it, or saw them).
VOUCHED = frozenset({BookingStatus.CONFIRMED, BookingStatus.COMPLETED})


def pending_ticks(booking: Booking, log: Sequence[ConsentChange]) -> tuple[GuestConsent, ...]:
    """What the visitor ticked on `booking`'s form that nothing has settled since.

    A consent given or withdrawn for that channel after the booking was made (applied from it,
    recorded by hand, a STOP) settles its tick: an old tick never overrides a later withdrawal.
    """
    if booking.guest is None:
        return ()
    settled = {c.channel for c in log if c.at >= booking.created_at}
    return tuple(t for t in booking.guest.ticked() if t.channel not in settled)


def contact_matches(booking: Booking, client: Client, tick: GuestConsent) -> bool:
    """Whether the phone (for texts) or email (for emails) typed on the booking is the client's on file."""
    if booking.guest is None:
        return False
    if tick.channel in (Channel.SMS, Channel.SMS_MARKETING):
        return booking.guest.phone is not None and booking.guest.phone == client.phone
    return booking.guest.email is not None and booking.guest.email == client.email


@attrs.frozen(kw_only=True)
class ApplyBookingConsents(Command[Client]):
    """Give the client the consents ticked on the public form of one of their bookings, with the words shown there.

    The form never changes a stored client by itself (typing a contact proves nothing). Once the
    coach has confirmed the booking — saying it really is them — this applies the ticks whose
    typed phone (texts) or email (emails) is the client's on file; the others the coach checks with
    the client and records by hand.
    """

    org_id: OrgId
    client_id: ClientId
    booking_id: BookingId
    actor: Actor


@handles(ApplyBookingConsents)
def apply_booking_consents(cmd: ApplyBookingConsents, deps: Deps) -> Client:
    """Record each applicable tick as a consent from the booking form, logged; the rest of the client stays."""
    now = deps.clock.now()
    with deps.uow() as uow:
        booking = uow.bookings.get(cmd.org_id, cmd.booking_id)
        if booking.client_id != cmd.client_id:
            raise NotFound("No such booking for this client.")
        client = uow.clients.lock(cmd.org_id, cmd.client_id)
        ticks = pending_ticks(booking, uow.clients.consent_log(cmd.org_id, cmd.client_id))
        if not ticks:
            raise ValidationError("Nothing ticked on this booking's form is left to apply.", field="booking_id")
        if booking.guest is not None and booking.guest.matched and booking.status not in VOUCHED:
            raise ValidationError(
                "Confirm the booking first: that is you saying it really is this client.", field="booking_id"
            )
        usable = [t for t in ticks if contact_matches(booking, client, t)]
        if not usable:
            raise ValidationError(
                "The phone or email typed on the booking is not the client's on file; "
                "check with them and record the consent yourself.",
                field="booking_id",
            )
        given = [Consent(channel=t.channel, granted_at=now, method=BOOKING_FORM, wording=t.wording) for t in usable]
        kept = tuple(c for c in client.consents if c.channel not in {g.channel for g in given})
        updated = attrs.evolve(client, consents=(*kept, *given))
        uow.clients.update(updated)
        for consent in given:
            log_consent(
                uow,
                deps,
                updated,
                consent.channel,
                ConsentAction.GIVEN,
                at=now,
                method=BOOKING_FORM,
                actor=cmd.actor,
                wording=consent.wording,
            )
        uow.commit()
    return updated
