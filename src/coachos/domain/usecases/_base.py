"""What every use case gets: a fresh unit of work per call, a clock and an id source."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs

from coachos.domain.checks import check_fields
from coachos.domain.sending import SendingOptions
from coachos.ports.clock import Clock, IdSource
from coachos.ports.links import Links
from coachos.ports.messaging import EmailSender, SmsSender
from coachos.ports.onboarding import StepChecks
from coachos.ports.payments import Payments
from coachos.ports.security import PasswordHasher, TokenSource
from coachos.ports.storage import UnitOfWork
from coachos.ports.tasks import TaskQueue

R = TypeVar("R", covariant=True)
F = TypeVar("F", bound=Callable[..., Any])


class Command(Generic[R]):
    """A request to a use case, typed by what the use case returns.

    Every command checks the types of its fields as it is made (attrs calls this hook of the
    base class), so a wrong type is a ValidationError naming the field, never a TypeError later.
    A command that needs its own post-init hook must call this one too.
    """

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen
class Deps:
    """The ports a use case talks to."""

    uow: Callable[[], UnitOfWork]
    clock: Clock
    ids: IdSource
    hasher: PasswordHasher
    tokens: TokenSource
    email: EmailSender
    sms: SmsSender
    #: Slow work (sending email) handed to the worker, so a web request never waits on it.
    tasks: TaskQueue
    #: Addresses messages point to (a booking's manage link, a client's page).
    links: Links
    #: Whether a client has done an onboarding step (signed the waiver, filled in the form).
    steps: StepChecks
    #: How the worker sends stored messages (the provider's rate, retries, the status callback URL).
    sending: SendingOptions = attrs.field(factory=SendingOptions)
    #: Card payments through the provider (Stripe Connect); None when no provider is configured (cards off).
    payments: Payments | None = None


#: Which function handles each command; filled by `handles` as each use-case module is imported.
HANDLERS: dict[type[Command[Any]], Callable[[Any, Deps], Any]] = {}


def handles(*commands: type[Command[Any]]) -> Callable[[F], F]:
    """Register the decorated function as the use case for `commands`.

    Registration sits next to the function so adding a use case is one edit in one file; a command
    registered twice is a programming error caught at import time rather than a silent override.
    """

    def register(fn: F) -> F:
        for command in commands:
            if command in HANDLERS:
                raise RuntimeError(f"{command.__name__} already has a use case: {HANDLERS[command].__name__}")
            HANDLERS[command] = fn
        return fn

    return register
