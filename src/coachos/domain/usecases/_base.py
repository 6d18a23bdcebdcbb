"""What every use case gets: a fresh unit of work per call, a clock and an id source."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import attrs

from coachos.ports.clock import Clock, IdSource
from coachos.ports.security import EmailSender, PasswordHasher, TokenSource
from coachos.ports.storage import UnitOfWork

R = TypeVar("R", covariant=True)


class Command(Generic[R]):
    """A request to a use case, typed by what the use case returns."""


@attrs.frozen
class Deps:
    """The ports a use case talks to."""

    uow: Callable[[], UnitOfWork]
    clock: Clock
    ids: IdSource
    hasher: PasswordHasher
    tokens: TokenSource
    email: EmailSender
