"""To-dos for the coach: things to do by hand, shown on Today until they are ticked off."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import attrs

from coachos.domain.checks import text
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.timezones import require_utc


def _utc(value: datetime) -> datetime:
    return require_utc(value, field="created_at")


def _optional_utc(value: datetime | None) -> datetime | None:
    return None if value is None else require_utc(value, field="done_at")


@attrs.frozen(kw_only=True)
class Todo:
    """Something the coach should do, perhaps about a client, perhaps made by an automation."""

    id: UUID
    org_id: OrgId
    title: str = attrs.field(validator=text(200))
    created_at: datetime = attrs.field(converter=_utc)
    client_id: ClientId | None = None
    #: The automation that made it, if one did.
    automation_id: UUID | None = None
    #: Unique in the organisation when given: writing the same key again keeps the first to-do.
    key: str | None = attrs.field(default=None, validator=text(200, optional=True))
    done_at: datetime | None = attrs.field(default=None, converter=_optional_utc)

    @property
    def done(self) -> bool:
        """Whether the coach ticked it off."""
        return self.done_at is not None
