"""What an automation checks and does: conditions on the client (and service), and its action.

An action acts on clients: every client (a schedule) or the one client an event or a daily check
is about. Message and to-do texts may name the client and the business through a few
placeholders ({client_first_name}, {client_name}, {business}); any other `{...}` is refused when
the automation is made, so a typo never reaches a client as literal braces.
"""

from __future__ import annotations

import enum
import re
from uuid import UUID

import attrs

from coachos.domain.checks import check_text
from coachos.domain.clients import Client, ClientStatus
from coachos.domain.errors import ValidationError
from coachos.domain.ids import ServiceId
from coachos.domain.messages import MessageChannel, Purpose

#: The placeholders message and to-do texts may use, and what each is replaced by.
PLACEHOLDERS = ("client_first_name", "client_name", "business")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
#: Longest SMS text (ten parts of GSM-7) and email text an automation may send.
MAX_SMS = 1530
MAX_EMAIL = 10_000


def check_placeholders(value: str, *, field: str) -> str:
    """`value` if every `{...}` in it is a known placeholder (and its braces are balanced)."""
    for name in _PLACEHOLDER.findall(value):
        if name not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise ValidationError(f"'{{{name}}}' is not a placeholder; use one of: {known}.", field=field)
    if "{" in _PLACEHOLDER.sub("", value) or "}" in _PLACEHOLDER.sub("", value):
        raise ValidationError("A brace is not closed; write placeholders as {client_first_name}.", field=field)
    return value


def render(value: str, *, client: Client | None, business: str) -> str:
    """`value` with its placeholders filled in for `client` (blank when there is none)."""
    names = {
        "client_first_name": client.name.split()[0] if client is not None else "",
        "client_name": client.name if client is not None else "",
        "business": business,
    }
    return _PLACEHOLDER.sub(lambda m: names.get(m.group(1), m.group(0)), value)


def _required_text(value: object, *, field: str, max_len: int, multiline: bool = False) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"Write the {field.replace('_', ' ')}.", field=field)
    check_text(value, field=field, max_len=max_len, multiline=multiline)
    return check_placeholders(value, field=field)


class ConditionKind(enum.StrEnum):
    """What a condition checks."""

    HAS_TAG = "has_tag"
    LACKS_TAG = "lacks_tag"
    STATUS_IS = "status_is"
    #: Booking triggers only: the booking is for this service (its id).
    SERVICE_IS = "service_is"


#: Most conditions one automation may have (all must hold).
MAX_CONDITIONS = 10


def _condition_kind(value: object) -> ConditionKind:
    try:
        return ConditionKind(str(value))
    except ValueError:
        allowed = ", ".join(k.value for k in ConditionKind)
        raise ValidationError(f"'{value}' is not a condition; use one of: {allowed}.", field="conditions") from None


@attrs.frozen
class Condition:
    """One thing that must be true of the client (or the booking) for the action to run."""

    kind: ConditionKind = attrs.field(converter=_condition_kind)
    #: A tag (lower-cased), a client status, or a service id, by kind.
    value: str = attrs.field()

    @value.validator
    def _check(self, _: object, value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("Say what the condition compares with.", field="conditions")
        check_text(value, field="conditions", max_len=50)
        if self.kind is ConditionKind.STATUS_IS and value not in {s.value for s in ClientStatus}:
            allowed = ", ".join(s.value for s in ClientStatus)
            raise ValidationError(f"'{value}' is not a client status; use one of: {allowed}.", field="conditions")
        if self.kind is ConditionKind.SERVICE_IS:
            try:
                UUID(value)
            except ValueError:
                raise ValidationError("Choose the service the condition is about.", field="conditions") from None

    @classmethod
    def make(cls, kind: object, value: object) -> Condition:
        """A condition, with tags trimmed and lower-cased as clients' tags are."""
        kind = _condition_kind(kind)
        if kind in (ConditionKind.HAS_TAG, ConditionKind.LACKS_TAG) and isinstance(value, str):
            value = value.strip().lower()
        return cls(kind, value)  # type: ignore[arg-type]  # the validator refuses non-text

    def holds(self, client: Client, service_id: ServiceId | None) -> bool:
        """Whether the condition is true of `client` (and the booking's service, for SERVICE_IS)."""
        if self.kind is ConditionKind.HAS_TAG:
            return self.value in client.tags
        if self.kind is ConditionKind.LACKS_TAG:
            return self.value not in client.tags
        if self.kind is ConditionKind.STATUS_IS:
            return client.status.value == self.value
        return service_id is not None and str(service_id) == self.value


class ActionKind(enum.StrEnum):
    """What an automation does when it is due."""

    TAG_CLIENTS = "tag_clients"
    SEND_MESSAGE = "send_message"
    CREATE_TODO = "create_todo"


def _optional_status(value: object) -> ClientStatus | None:
    if value is None or value == "":
        return None
    try:
        return ClientStatus(str(value))
    except ValueError:
        allowed = ", ".join(m.value for m in ClientStatus)
        raise ValidationError(f"'{value}' is not a client status; use one of: {allowed}.", field="status") from None


@attrs.frozen
class TagClients:
    """Add `tag` to the clients the automation acts on (optionally only those with `status`)."""

    tag: str = attrs.field()
    status: ClientStatus | None = attrs.field(default=None, converter=_optional_status)
    kind: ActionKind = ActionKind.TAG_CLIENTS

    @tag.validator
    def _check_tag(self, _: object, value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("Say which tag to add.", field="tag")
        check_text(value, field="tag", max_len=50)


def _message_channel(value: object) -> MessageChannel:
    try:
        return MessageChannel(str(value))
    except ValueError:
        raise ValidationError(f"'{value}' is not a channel; use sms or email.", field="channel") from None


def _blank_is_none(value: str | None) -> str | None:
    return None if value == "" else value


@attrs.frozen(kw_only=True)
class SendMessage:
    """Queue an SMS or email to each client acted on, from a text with placeholders.

    Marketing unless the coach marks it transactional (about the client's own booking or
    package); either way it waits out quiet hours, and the sender checks consent before it goes.
    """

    channel: MessageChannel = attrs.field(converter=_message_channel)
    body: str = attrs.field()
    subject: str | None = attrs.field(default=None, converter=_blank_is_none)
    transactional: bool = attrs.field(default=False)
    kind: ActionKind = ActionKind.SEND_MESSAGE

    @body.validator
    def _check_body(self, _: object, value: object) -> None:
        limit = MAX_SMS if self.channel is MessageChannel.SMS else MAX_EMAIL
        _required_text(value, field="body", max_len=limit, multiline=True)

    @subject.validator
    def _check_subject(self, _: object, value: object) -> None:
        if self.channel is MessageChannel.EMAIL:
            _required_text(value, field="subject", max_len=200)
        elif value not in (None, ""):
            raise ValidationError("A text message has no subject; leave it empty.", field="subject")

    @transactional.validator
    def _check_transactional(self, _: object, value: object) -> None:
        if not isinstance(value, bool):
            raise ValidationError("Transactional is yes or no.", field="transactional")

    @property
    def purpose(self) -> Purpose:
        """Why the message is sent (which decides the consent it needs)."""
        return Purpose.TRANSACTIONAL if self.transactional else Purpose.MARKETING


@attrs.frozen
class CreateTodo:
    """Add a to-do for the coach (one per client acted on; one per run for a schedule)."""

    title: str = attrs.field()
    kind: ActionKind = ActionKind.CREATE_TODO

    @title.validator
    def _check_title(self, _: object, value: object) -> None:
        _required_text(value, field="title", max_len=200)


#: Every action an automation can take.
Action = TagClients | SendMessage | CreateTodo
