"""What the client page shows of consent: each channel and purpose with its evidence, and the log behind it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from coachos.domain.bookings import Booking, GuestConsent
from coachos.domain.clients import Channel, Client, Consent
from coachos.domain.consent import (
    CLIENT_REQUEST,
    COACH_ENTERED,
    LABELS,
    ConsentAction,
    ConsentChange,
    method_label,
)
from coachos.domain.errors import ValidationError
from coachos.domain.usecases.consent import VOUCHED, contact_matches, pending_ticks

#: How a coach may say a consent was given, as the form offers it.
GIVE_METHODS: Mapping[str, str] = {
    COACH_ENTERED: "The client agreed and I am noting their words",
    CLIENT_REQUEST: "The client asked for it in writing",
}
#: How a coach may say a consent was withdrawn.
WITHDRAW_METHODS: Mapping[str, str] = {
    CLIENT_REQUEST: "The client asked to stop",
    COACH_ENTERED: "I am stopping it myself",
}


@attrs.frozen
class ConsentLine:
    """One channel and purpose on the client page: given (with its evidence) or not, and its last withdrawal."""

    channel: Channel
    label: str
    consent: Consent | None
    last_withdrawal: ConsentChange | None

    @property
    def how(self) -> str:
        """How the current consent was given, in words ("" when there is none)."""
        return method_label(self.consent.method) if self.consent else ""


@attrs.frozen
class BookingTicks:
    """Boxes ticked on the public form of one of the client's bookings that nothing has settled since."""

    booking: Booking
    ticks: tuple[GuestConsent, ...]
    #: Whether the coach has confirmed the booking is really this client's (else they must first).
    vouched: bool
    #: The channels whose typed phone or email is the client's on file (only these can be applied).
    applicable: frozenset[Channel]


@attrs.frozen
class ConsentView:
    """The consent panel: a line per channel and purpose, then every change, newest first."""

    lines: list[ConsentLine]
    history: list[ConsentChange]
    from_bookings: list[BookingTicks] = attrs.Factory(list)

    #: The choices of the forms' "How" menus.
    give_methods: Mapping[str, str] = GIVE_METHODS
    withdraw_methods: Mapping[str, str] = WITHDRAW_METHODS

    @property
    def withdrawals(self) -> list[ConsentChange]:
        """The past withdrawals, newest first."""
        return [c for c in self.history if c.action is ConsentAction.WITHDRAWN]


def consent_view(client: Client, log: Sequence[ConsentChange], bookings: Sequence[Booking] = ()) -> ConsentView:
    """The consent panel of `client`, whose consent log is `log` (oldest first) and bookings `bookings`."""
    withdrawn: dict[Channel, ConsentChange] = {c.channel: c for c in log if c.action is ConsentAction.WITHDRAWN}
    lines = [
        ConsentLine(
            channel, label, client.consent(channel), None if client.consent(channel) else withdrawn.get(channel)
        )
        for channel, label in LABELS.items()
    ]
    from_bookings = []
    for b in bookings:
        if ticks := pending_ticks(b, log):
            vouched = b.guest is None or not b.guest.matched or b.status in VOUCHED
            applicable = frozenset(t.channel for t in ticks if contact_matches(b, client, t))
            from_bookings.append(BookingTicks(b, ticks, vouched, applicable))
    return ConsentView(lines=lines, history=list(reversed(log)), from_bookings=from_bookings)


def chosen_method(value: str | None, allowed: Mapping[str, str]) -> str:
    """The method picked in a consent form, refused unless the form offers it."""
    if value is None or value not in allowed:
        raise ValidationError("Choose how the client agreed or asked, from the list.", field="method")
    return value
