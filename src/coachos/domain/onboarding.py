"""Onboarding flows: an ordered checklist a client completes (sign waiver X, fill form Y) before training.

A flow belongs to a business. It applies to every service or to the services the coach picks; a
service a flow applies to holds its bookings as `requested` until the client has done every step.
Whether a step is done is a fact owned elsewhere (waivers, forms, later billing), handed in as a
mapping, so the rules here stay pure: `progress(flow, facts)`.

Reminders go 24 hours, 72 hours and 7 days after onboarding started for a client (their first
booking of a service the flow applies to, or the coach sending the flow), then stop; none is sent
once the flow is complete.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from uuid import UUID

import attrs

from coachos.domain.checks import text
from coachos.domain.errors import ValidationError
from coachos.domain.ids import ClientId, OrgId, ServiceId
from coachos.domain.timezones import require_utc

#: Most steps one flow may have: a checklist, not a course.
MAX_STEPS = 20


class StepKind(enum.StrEnum):
    """What a step asks the client to do."""

    SIGN_WAIVER = "sign_waiver"
    FILL_FORM = "fill_form"
    #: Reserved for billing (a later issue): refused until payments exist.
    BUY_PACKAGE = "buy_package"
    ADD_CARD = "add_card"

    @property
    def label(self) -> str:
        """The step kind in words."""
        return _LABELS[self]

    @property
    def available(self) -> bool:
        """Whether a step of this kind can be added today."""
        return self in (StepKind.SIGN_WAIVER, StepKind.FILL_FORM)


_LABELS = {
    StepKind.SIGN_WAIVER: "Sign a waiver",
    StepKind.FILL_FORM: "Fill in a form",
    StepKind.BUY_PACKAGE: "Buy a package",
    StepKind.ADD_CARD: "Add a card",
}


def step_kind(value: str) -> StepKind:
    """The step kind named `value`; a clear refusal for unknown kinds and for those billing will bring."""
    try:
        kind = StepKind(value)
    except ValueError:
        raise ValidationError(
            "Choose what the step asks: sign a waiver (sign_waiver) or fill in a form (fill_form).", field="kind"
        ) from None
    if not kind.available:
        raise ValidationError(
            f"'{kind.label}' steps need payments, which Coach OS does not take yet; use waiver and form steps for now.",
            field="kind",
        )
    return kind


@attrs.frozen
class Step:
    """One item of the checklist: a kind and the waiver or form it is about."""

    kind: StepKind = attrs.field(converter=StepKind)
    target: UUID


def _steps(value: Iterable[Step]) -> tuple[Step, ...]:
    steps = tuple(value)
    if len(steps) > MAX_STEPS:
        raise ValidationError(f"A flow has at most {MAX_STEPS} steps.", field="steps")
    if len(set(steps)) != len(steps):
        raise ValidationError("That step is already in the flow.", field="target")
    return steps


def _utc(value: datetime) -> datetime:
    return require_utc(value, field="created_at")


@attrs.frozen(kw_only=True)
class OnboardingFlow:
    """A business's checklist, and the services it applies to (and holds bookings of until complete)."""

    id: UUID
    org_id: OrgId
    name: str = attrs.field(validator=text(100))
    steps: tuple[Step, ...] = attrs.field(default=(), converter=_steps)
    #: Applies to every service (then `services` is empty).
    all_services: bool = False
    services: frozenset[ServiceId] = frozenset()
    created_at: datetime = attrs.field(converter=_utc)

    def __attrs_post_init__(self) -> None:
        if not self.name.strip():
            raise ValidationError("Give the flow a name, such as 'New clients'.", field="name")

    def applies_to(self, service_id: ServiceId) -> bool:
        """Whether bookings of this service wait for the flow (a flow without steps holds nothing)."""
        return bool(self.steps) and (self.all_services or service_id in self.services)


@attrs.frozen
class Progress:
    """How far one client is through one flow."""

    flow: OnboardingFlow
    #: Whether each step of the flow is done, in the flow's order.
    done: tuple[bool, ...]

    @property
    def done_count(self) -> int:
        """Steps done."""
        return sum(self.done)

    @property
    def total(self) -> int:
        """Steps in the flow."""
        return len(self.done)

    @property
    def complete(self) -> bool:
        """Every step done."""
        return all(self.done)

    @property
    def summary(self) -> str:
        """'2/3', as the client page, the portal and the booking page show it."""
        return f"{self.done_count}/{self.total}"

    @property
    def missing(self) -> tuple[Step, ...]:
        """The steps still to do, in order."""
        return tuple(s for s, d in zip(self.flow.steps, self.done, strict=True) if not d)


def progress(flow: OnboardingFlow, facts: Mapping[Step, bool]) -> Progress:
    """The client's progress through `flow`, given which steps are done (a step not in `facts` is not)."""
    return Progress(flow, tuple(bool(facts.get(step, False)) for step in flow.steps))


def hold_reason(held: list[Progress]) -> str:
    """Why a booking waits, in words for the coach: 'Onboarding not complete: New clients 1/3'."""
    return "Onboarding not complete: " + ", ".join(f"{p.flow.name} {p.summary}" for p in held)


# --- reminders -----------------------------------------------------------------------------------


@attrs.frozen
class Reminder:
    """One reminder: its number (1..3), the word in its key, and how long after the start it goes."""

    number: int
    label: str
    after: timedelta


REMINDERS = (
    Reminder(1, "24h", timedelta(hours=24)),
    Reminder(2, "72h", timedelta(hours=72)),
    Reminder(3, "7d", timedelta(days=7)),
)
#: When `reminders_sent` reaches this, a client's onboarding in a flow sends nothing more.
LAST_REMINDER = REMINDERS[-1].number


def _started(value: datetime) -> datetime:
    return require_utc(value, field="started_at")


@attrs.frozen(kw_only=True)
class OnboardingStart:
    """When a client's onboarding in a flow started, and how many reminders were sent since."""

    org_id: OrgId
    flow_id: UUID
    client_id: ClientId
    started_at: datetime = attrs.field(converter=_started)
    reminders_sent: int = 0


def due_reminder(start: OnboardingStart, now: datetime) -> Reminder | None:
    """The reminder to send now, if any: the latest one due and not yet sent.

    After downtime only the latest due reminder goes (a client is not sent the 24-hour and the
    72-hour one in the same minute); the earlier one counts as sent.
    """
    due = [r for r in REMINDERS if start.started_at + r.after <= now and r.number > start.reminders_sent]
    return due[-1] if due else None


def reminder_key(flow_id: UUID, client_id: ClientId, reminder: Reminder) -> str:
    """The message key that makes each reminder queued once: 'onboarding:<flow>:<client>:<24h|72h|7d>'."""
    return f"onboarding:{flow_id}:{client_id}:{reminder.label}"


def reminder_text(business: str, first_name: str, p: Progress, sign_in: str | None = None) -> str:
    """The reminder's words (a plain, transactional message: it is about what the client started).

    `sign_in` is the business's portal sign-in page, where the steps are listed with their links;
    it carries no secret, so a forwarded or late-read message gives nobody access.
    """
    left = p.total - p.done_count
    text = (
        f"Hi {first_name}, {business} here: your onboarding is {p.summary} done. "
        f"{left} step{'s' * (left != 1)} left ({', '.join(s.kind.label.lower() for s in p.missing)}) "
        "before your sessions can be confirmed."
    )
    return f"{text} Sign in to see them: {sign_in}" if sign_in else text
