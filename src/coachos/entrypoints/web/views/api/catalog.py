"""Services and coaches' weekly availability."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any
from uuid import UUID

from quart_schema import (
    tag,
    validate_request,
    validate_response,
)

from coachos.domain.ids import CoachId, OrgId
from coachos.domain.usecases import (
    CreateService,
    SetWeeklyHours,
)
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import require_principal
from coachos.entrypoints.web.unreadable import report
from coachos.entrypoints.web.views import api_schemas as s
from coachos.entrypoints.web.views.api._blueprint import (
    _PRICED,
    _me,
    _problems,
    bp,
)
from coachos.ports.storage import UnitOfWork

# --- services -------------------------------------------------------------------------------------


@bp.get("/services")
@tag(["services"])
@_problems()
@validate_response(s.ServiceList)
async def list_services() -> s.ServiceList:
    """Every service, by name."""
    org_id = require_principal().org_id
    found = await core().read_async(lambda uow: uow.services.list(org_id))
    return s.ServiceList(items=[s.Service.of(x) for x in found], unreadable=s.Unreadable.of(report(found)))


@bp.post("/services")
@tag(["services"])
@_problems(fields=_PRICED | {"duration": "duration_minutes"})
@validate_request(s.ServiceInput)
@validate_response(s.Service, 201)
async def create_service(data: s.ServiceInput) -> Any:
    """Offer a new bookable service, priced in the organisation's currency."""
    who, actor = _me()
    service = await core().execute_async(
        CreateService(
            org_id=who.org_id,
            name=data.name,
            duration=timedelta(minutes=data.duration_minutes),
            price=data.price.to_domain(),
            actor=actor,
            capacity=data.capacity,
            uses_credit=data.uses_credit,
            pay_at_booking=data.pay_at_booking,
        )
    )
    return s.Service.of(service), 201


# --- availability ---------------------------------------------------------------------------------


async def _availability(org_id: OrgId, coach_id: UUID) -> s.Availability:
    def query(uow: UnitOfWork) -> s.Availability:
        org, coach = uow.orgs.get(org_id), uow.coaches.get(org_id, CoachId(coach_id))
        rules = uow.availability.weekly(org_id, coach.id)
        return s.Availability(coach_id=coach.id, timezone=org.timezone, rules=[s.WeeklyHours.of(r) for r in rules])

    return await core().read_async(query)


@bp.get("/availability/<uuid:coach_id>")
@tag(["availability"])
@_problems()
@validate_response(s.Availability)
async def get_availability(coach_id: UUID) -> s.Availability:
    """A coach's weekly hours, in the organisation's zone."""
    return await _availability(require_principal().org_id, coach_id)


@bp.put("/availability/<uuid:coach_id>")
@tag(["availability"])
@_problems(fields=dict.fromkeys(("hours", "weekday", "start", "end"), "rules"))
@validate_request(s.AvailabilityInput)
@validate_response(s.Availability)
async def set_availability(coach_id: UUID, data: s.AvailabilityInput) -> s.Availability:
    """Replace a coach's weekly hours as a whole (an empty list means no regular hours)."""
    who, actor = _me()
    hours = [(r.weekday, time.fromisoformat(r.start), time.fromisoformat(r.end)) for r in data.rules]
    await core().execute_async(SetWeeklyHours(org_id=who.org_id, coach_id=CoachId(coach_id), hours=hours, actor=actor))
    return await _availability(who.org_id, coach_id)
