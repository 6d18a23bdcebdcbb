"""Typed identifiers and who did something."""

from __future__ import annotations

from typing import Literal, NewType
from uuid import UUID

import attrs

from coachos.domain.errors import ValidationError

OrgId = NewType("OrgId", UUID)
CoachId = NewType("CoachId", UUID)
ClientId = NewType("ClientId", UUID)
ServiceId = NewType("ServiceId", UUID)
BookingId = NewType("BookingId", UUID)
AppointmentId = NewType("AppointmentId", UUID)
PackageId = NewType("PackageId", UUID)
PackageOfferId = NewType("PackageOfferId", UUID)
WaiverId = NewType("WaiverId", UUID)
WaiverVersionId = NewType("WaiverVersionId", UUID)

ActorKind = Literal["coach", "client", "system"]
_KINDS = ("coach", "client", "system")


@attrs.frozen
class Actor:
    """Who asked for a change: a coach, a client, or the system itself (a job, a webhook)."""

    kind: ActorKind
    id: UUID | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValidationError(f"Unknown actor kind '{self.kind}'.", field="actor")
        if (self.kind == "system") != (self.id is None):
            raise ValidationError("A coach or client actor needs an id; the system actor has none.", field="actor")

    def __str__(self) -> str:
        return self.kind if self.id is None else f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Actor:
        """The actor written as `kind` or `kind:uuid` (how storage keeps it)."""
        kind, _, rest = text.partition(":")
        return cls(kind, UUID(rest) if rest else None)  # type: ignore[arg-type]  # checked in post-init


SYSTEM = Actor("system")
