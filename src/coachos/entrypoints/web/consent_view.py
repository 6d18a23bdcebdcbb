"""What the client page shows of consent: each channel and purpose with its evidence, and the log behind it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

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
class ConsentView:
    """The consent panel: a line per channel and purpose, then every change, newest first."""

    lines: list[ConsentLine]
    history: list[ConsentChange]

    #: The choices of the forms' "How" menus.
    give_methods: Mapping[str, str] = GIVE_METHODS
    withdraw_methods: Mapping[str, str] = WITHDRAW_METHODS

    @property
    def withdrawals(self) -> list[ConsentChange]:
        """The past withdrawals, newest first."""
        return [c for c in self.history if c.action is ConsentAction.WITHDRAWN]


def consent_view(client: Client, log: Sequence[ConsentChange]) -> ConsentView:
    """The consent panel of `client`, whose consent log is `log` (oldest first)."""
    withdrawn: dict[Channel, ConsentChange] = {c.channel: c for c in log if c.action is ConsentAction.WITHDRAWN}
    lines = [
        ConsentLine(
            channel, label, client.consent(channel), None if client.consent(channel) else withdrawn.get(channel)
        )
        for channel, label in LABELS.items()
    ]
    return ConsentView(lines=lines, history=list(reversed(log)))


def chosen_method(value: str | None, allowed: Mapping[str, str]) -> str:
    """The method picked in a consent form, refused unless the form offers it."""
    if value is None or value not in allowed:
        raise ValidationError("Choose how the client agreed or asked, from the list.", field="method")
    return value
