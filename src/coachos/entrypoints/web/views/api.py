"""The JSON API under /api/v1: the coach's own business, for scripts and integrations.

Every route needs a principal (a session cookie, whose writes also need the X-CSRF-Token header,
or `Authorization: Bearer <token>`), and always acts in the principal's organisation: an id of
another organisation answers 404 exactly like an id that does not exist. Refusals are
problem+json (see web/errors.py). The OpenAPI description is served at /openapi.json.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import time, timedelta
from typing import Any, TypeVar, cast
from uuid import UUID

from msgspec.json import schema_components
from quart import Blueprint, Quart, request, url_for
from quart.blueprints import BlueprintSetupState
from quart_schema import (
    OpenAPIProvider,
    RequestSchemaValidationError,
    document_request,
    document_response,
    tag,
    validate_headers,
    validate_querystring,
    validate_request,
    validate_response,
)
from quart_schema.conversion import model_load
from werkzeug.routing import Rule

from coachos.domain.accounts import Principal
from coachos.domain.bookings import Booking
from coachos.domain.errors import ValidationError
from coachos.domain.ids import Actor, BookingId, ClientId, CoachId, OrgId, PackageId, ServiceId
from coachos.domain.usecases import (
    BookSession,
    CancelBooking,
    CompleteBooking,
    ConfirmBooking,
    CreateClient,
    CreateService,
    FindSlots,
    ListBookings,
    MarkNoShow,
    SellPackage,
    SetWeeklyHours,
)
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import require_principal
from coachos.entrypoints.web.views import api_schemas as s
from coachos.ports.storage import UnitOfWork

bp = Blueprint("api", __name__, url_prefix="/api/v1")

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M")


class _ApiDocs(OpenAPIProvider):
    """quart-schema's OpenAPI document of the JSON API, with the components nested shapes refer to.

    Only /api/ routes are described: pages answer HTML to browsers and are no API. And
    quart-schema 0.25 keeps only the outer schema msgspec makes for an attrs class, dropping the
    ones it refers to (pgjones/quart-schema#117), which would leave `$ref`s to Money, Client, …
    pointing nowhere; they are added here.
    """

    def generate_rules(self) -> Iterable[Rule]:
        return (rule for rule in super().generate_rules() if rule.rule.startswith("/api/"))

    def schema(self) -> dict[str, Any]:
        built = super().schema()
        _, components = schema_components(s.SCHEMAS, ref_template="#/components/schemas/{name}")
        for name, component in components.items():
            built["components"]["schemas"].setdefault(name, component)
        return built


@bp.record_once
def _document(state: BlueprintSetupState) -> None:
    """Serve /openapi.json through `_ApiDocs` (QuartSchema is set up before blueprints are registered)."""
    app = cast(Quart, state.app)
    extension = app.extensions["QUART_SCHEMA"]
    extension.openapi_provider = _ApiDocs(app, extension)


@bp.before_request
async def _signed_in() -> None:
    """Every API route needs a principal; checked before any body is read or validated."""
    require_principal()


def _problems(*statuses: int) -> Callable[[F], F]:
    """Document the problem+json answers a route can give (401 always)."""

    def decorate(view: F) -> F:
        for status in (401, *statuses):
            view = document_response(s.Problem, status)(view)
        return view

    return decorate


def _me() -> tuple[Principal, Actor]:
    who = require_principal()
    return who, Actor("coach", who.coach_id)


def _created(body: Any, endpoint: str, **values: Any) -> tuple[Any, int, dict[str, str]]:
    return body, 201, {"Location": url_for(endpoint, **values)}


async def _optional_body(model: type[M]) -> M:
    """The JSON body as `model`, or `model()` with its defaults when the body is empty."""
    if not await request.get_data():
        return model()
    data = await request.get_json(force=True)
    loaded: M = model_load(data, model, RequestSchemaValidationError)
    return loaded


# --- who am I -------------------------------------------------------------------------------------


@bp.get("/me")
@tag(["account"])
@_problems()
@validate_response(s.Me)
async def me() -> s.Me:
    """The organisation and coach this request acts as."""
    who = require_principal()

    def query(uow: UnitOfWork) -> s.Me:
        org, coach = uow.orgs.get(who.org_id), uow.coaches.get(who.org_id, who.coach_id)
        return s.Me(org=s.Organization.of(org), coach=s.Coach.of(coach), via=who.via)

    return await core().read_async(query)


# --- clients --------------------------------------------------------------------------------------


@bp.get("/clients")
@tag(["clients"])
@_problems(400)
@validate_querystring(s.ClientQuery)
@validate_response(s.ClientList)
async def list_clients(query_args: s.ClientQuery) -> s.ClientList:
    """Clients and leads whose name, email or phone contain `q`, by name."""
    org_id = require_principal().org_id
    found = await core().read_async(lambda uow: uow.clients.list(org_id, search=query_args.q, limit=query_args.limit))
    return s.ClientList(items=[s.Client.of(c) for c in found])


@bp.post("/clients")
@tag(["clients"])
@_problems(400)
@validate_request(s.ClientInput)
@validate_response(s.Client, 201)
async def create_client(data: s.ClientInput) -> Any:
    """Add a client or lead."""
    who, actor = _me()
    client = await core().execute_async(
        CreateClient(
            org_id=who.org_id,
            name=data.name,
            actor=actor,
            phone=data.phone,
            email=data.email,
            timezone=data.timezone,
            status=data.status,  # type: ignore[arg-type]  # the Client record converts and checks it
            notes=data.notes,
            tags=frozenset(data.tags),
        )
    )
    return _created(s.Client.of(client), "api.get_client", client_id=client.id)


@bp.get("/clients/<uuid:client_id>")
@tag(["clients"])
@_problems(404)
@validate_response(s.Client)
async def get_client(client_id: UUID) -> s.Client:
    """One client."""
    org_id = require_principal().org_id
    client = await core().read_async(lambda uow: uow.clients.get(org_id, ClientId(client_id)))
    return s.Client.of(client)


# --- services -------------------------------------------------------------------------------------


@bp.get("/services")
@tag(["services"])
@_problems()
@validate_response(s.ServiceList)
async def list_services() -> s.ServiceList:
    """Every service, by name."""
    org_id = require_principal().org_id
    found = await core().read_async(lambda uow: uow.services.list(org_id))
    return s.ServiceList(items=[s.Service.of(x) for x in found])


@bp.post("/services")
@tag(["services"])
@_problems(400)
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
        )
    )
    return s.Service.of(service), 201


# --- slots and bookings ---------------------------------------------------------------------------


@bp.get("/slots")
@tag(["bookings"])
@_problems(400, 404)
@validate_querystring(s.SlotQuery)
@validate_response(s.SlotList)
async def find_slots(query_args: s.SlotQuery) -> s.SlotList:
    """Bookable start times of a service with a coach (yourself by default) in [start, end)."""
    who = require_principal()
    slots = await core().execute_async(
        FindSlots(
            org_id=who.org_id,
            coach_id=CoachId(query_args.coach_id or who.coach_id),
            service_id=ServiceId(query_args.service_id),
            start=query_args.start,
            end=query_args.end,
        )
    )
    return s.SlotList(items=[s.Slot.of(x) for x in slots])


@bp.get("/bookings")
@tag(["bookings"])
@_problems(400)
@validate_querystring(s.BookingQuery)
@validate_response(s.BookingList)
async def list_bookings(query_args: s.BookingQuery) -> s.BookingList:
    """Bookings starting in [start, end), by start time, optionally of one coach."""
    who = require_principal()
    found = await core().execute_async(
        ListBookings(
            org_id=who.org_id,
            start=query_args.start,
            end=query_args.end,
            coach_id=None if query_args.coach_id is None else CoachId(query_args.coach_id),
        )
    )
    return s.BookingList(items=[s.Booking.of(b) for b in found])


@bp.post("/bookings")
@tag(["bookings"])
@_problems(400, 404, 409, 422)
@validate_headers(s.BookingHeaders)
@validate_request(s.BookingInput)
@validate_response(s.Booking, 201)
async def book(data: s.BookingInput, headers: s.BookingHeaders) -> Any:
    """Book a client into a service at `start`, as the coach.

    Send an idempotency key (the `idempotency_key` field or the `Idempotency-Key` header) to make
    retries safe: a repeat with the same key and details answers the first booking again, and the
    same key with different details is refused with 409.
    """
    who, actor = _me()
    key = data.idempotency_key or headers.idempotency_key
    if data.idempotency_key and headers.idempotency_key and data.idempotency_key != headers.idempotency_key:
        raise ValidationError(
            "The Idempotency-Key header and the idempotency_key field differ; send one of them.",
            field="idempotency_key",
        )
    booking = await core().execute_async(
        BookSession(
            org_id=who.org_id,
            coach_id=CoachId(data.coach_id or who.coach_id),
            service_id=ServiceId(data.service_id),
            client_id=ClientId(data.client_id),
            start=data.start,
            actor=actor,
            package_id=None if data.package_id is None else PackageId(data.package_id),
            confirm=data.confirm,
            idempotency_key=key,
            note=data.note,
        )
    )
    return _created(s.Booking.of(booking), "api.get_booking", booking_id=booking.id)


@bp.get("/bookings/<uuid:booking_id>")
@tag(["bookings"])
@_problems(404)
@validate_response(s.Booking)
async def get_booking(booking_id: UUID) -> s.Booking:
    """One booking."""
    org_id = require_principal().org_id
    booking = await core().read_async(lambda uow: uow.bookings.get(org_id, BookingId(booking_id)))
    return s.Booking.of(booking)


@bp.post("/bookings/<uuid:booking_id>/cancel")
@tag(["bookings"])
@_problems(400, 404, 409, 422)
@document_request(s.CancelInput)
@validate_response(s.Booking)
async def cancel_booking(booking_id: UUID) -> s.Booking:
    """Cancel a booking; the body is optional. A repeat answers the cancelled booking."""
    data = await _optional_body(s.CancelInput)
    who, actor = _me()
    booking = await core().execute_async(
        CancelBooking(
            org_id=who.org_id,
            booking_id=BookingId(booking_id),
            actor=actor,
            reason=data.reason,
            return_credit=data.return_credit,
        )
    )
    return s.Booking.of(booking)


async def _move(command: type[ConfirmBooking | CompleteBooking | MarkNoShow], booking_id: UUID) -> s.Booking:
    who, actor = _me()
    moved: Booking = await core().execute_async(
        command(org_id=who.org_id, booking_id=BookingId(booking_id), actor=actor)
    )
    return s.Booking.of(moved)


@bp.post("/bookings/<uuid:booking_id>/confirm")
@tag(["bookings"])
@_problems(404, 409)
@validate_response(s.Booking)
async def confirm_booking(booking_id: UUID) -> s.Booking:
    """Confirm a requested booking (a repeat changes nothing)."""
    return await _move(ConfirmBooking, booking_id)


@bp.post("/bookings/<uuid:booking_id>/complete")
@tag(["bookings"])
@_problems(404, 409, 422)
@validate_response(s.Booking)
async def complete_booking(booking_id: UUID) -> s.Booking:
    """Record that the session took place (only once it has started)."""
    return await _move(CompleteBooking, booking_id)


@bp.post("/bookings/<uuid:booking_id>/no-show")
@tag(["bookings"])
@_problems(404, 409, 422)
@validate_response(s.Booking)
async def no_show(booking_id: UUID) -> s.Booking:
    """Record that the client did not come; the credit stays used."""
    return await _move(MarkNoShow, booking_id)


# --- packages -------------------------------------------------------------------------------------


@bp.get("/clients/<uuid:client_id>/packages")
@tag(["packages"])
@_problems(404)
@validate_response(s.PackageList)
async def list_packages(client_id: UUID) -> s.PackageList:
    """A client's session packages, soonest to expire first."""
    org_id = require_principal().org_id

    def query(uow: UnitOfWork) -> s.PackageList:
        uow.clients.get(org_id, ClientId(client_id))
        return s.PackageList(items=[s.Package.of(p) for p in uow.packages.for_client(org_id, ClientId(client_id))])

    return await core().read_async(query)


@bp.post("/clients/<uuid:client_id>/packages")
@tag(["packages"])
@_problems(400, 404)
@validate_request(s.PackageInput)
@validate_response(s.Package, 201)
async def sell_package(client_id: UUID, data: s.PackageInput) -> Any:
    """Sell the client a package of sessions (payment is recorded elsewhere for now)."""
    who, actor = _me()
    package = await core().execute_async(
        SellPackage(
            org_id=who.org_id,
            client_id=ClientId(client_id),
            name=data.name,
            sessions=data.sessions,
            price=data.price.to_domain(),
            actor=actor,
            expires_at=data.expires_at,
        )
    )
    return s.Package.of(package), 201


# --- availability ---------------------------------------------------------------------------------


async def _availability(org_id: OrgId, coach_id: UUID) -> s.Availability:
    def query(uow: UnitOfWork) -> s.Availability:
        org, coach = uow.orgs.get(org_id), uow.coaches.get(org_id, CoachId(coach_id))
        rules = uow.availability.weekly(org_id, coach.id)
        return s.Availability(coach_id=coach.id, timezone=org.timezone, rules=[s.WeeklyHours.of(r) for r in rules])

    return await core().read_async(query)


@bp.get("/availability/<uuid:coach_id>")
@tag(["availability"])
@_problems(404)
@validate_response(s.Availability)
async def get_availability(coach_id: UUID) -> s.Availability:
    """A coach's weekly hours, in the organisation's zone."""
    return await _availability(require_principal().org_id, coach_id)


@bp.put("/availability/<uuid:coach_id>")
@tag(["availability"])
@_problems(400, 404)
@validate_request(s.AvailabilityInput)
@validate_response(s.Availability)
async def set_availability(coach_id: UUID, data: s.AvailabilityInput) -> s.Availability:
    """Replace a coach's weekly hours as a whole (an empty list means no regular hours)."""
    who, actor = _me()
    hours = [(r.weekday, time.fromisoformat(r.start), time.fromisoformat(r.end)) for r in data.rules]
    await core().execute_async(SetWeeklyHours(org_id=who.org_id, coach_id=CoachId(coach_id), hours=hours, actor=actor))
    return await _availability(who.org_id, coach_id)
