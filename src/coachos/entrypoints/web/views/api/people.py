"""The signed-in coach, their clients and the clients' session packages."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from quart_schema import (
    tag,
    validate_querystring,
    validate_request,
    validate_response,
)

from coachos.domain.catalog import SessionPackage
from coachos.domain.clients import Client
from coachos.domain.consent import ConsentChange
from coachos.domain.ids import ClientId, OrgId, PackageId
from coachos.domain.rows import Rows
from coachos.domain.usecases import (
    CreateClient,
    RecordConsent,
    SellPackage,
    WithdrawConsent,
)
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import require_principal
from coachos.entrypoints.web.unreadable import report
from coachos.entrypoints.web.views import api_schemas as s
from coachos.entrypoints.web.views.api._blueprint import (
    _PRICED,
    _created,
    _me,
    _problems,
    bp,
)
from coachos.ports.storage import UnitOfWork

# --- who am I -------------------------------------------------------------------------------------


@bp.get("/me")
@tag(["account"])
@_problems()
@validate_response(s.Me)
async def get_me() -> s.Me:
    """The organisation and coach this request acts as."""
    who = require_principal()

    def query(uow: UnitOfWork) -> s.Me:
        org, coach = uow.orgs.get(who.org_id), uow.coaches.get(who.org_id, who.coach_id)
        return s.Me(
            org=s.Organization.of(org), coach=s.Coach.of(coach), via="token" if who.via == "token" else "session"
        )

    return await core().read_async(query)


# --- clients --------------------------------------------------------------------------------------


@bp.get("/clients")
@tag(["clients"])
@_problems()
@validate_querystring(s.ClientQuery)
@validate_response(s.ClientList)
async def list_clients(query_args: s.ClientQuery) -> s.ClientList:
    """Clients and leads whose name, email or phone contain `q`, by name."""
    org_id = require_principal().org_id
    found = await core().read_async(lambda uow: uow.clients.list(org_id, search=query_args.q, limit=query_args.limit))
    return s.ClientList(items=[s.Client.of(c) for c in found], unreadable=s.Unreadable.of(report(found)))


@bp.post("/clients")
@tag(["clients"])
@_problems()
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
            status=data.status,
            notes=data.notes,
            tags=frozenset(data.tags),
            birthday=data.birthday,
        )
    )
    return _created(s.Client.of(client), "api.get_client", client_id=client.id)


@bp.get("/clients/<uuid:client_id>")
@tag(["clients"])
@_problems()
@validate_response(s.Client)
async def get_client(client_id: UUID) -> s.Client:
    """One client."""
    org_id = require_principal().org_id
    client = await core().read_async(lambda uow: uow.clients.get(org_id, ClientId(client_id)))
    return s.Client.of(client)


# --- consent --------------------------------------------------------------------------------------


async def _consents(org_id: OrgId, client_id: ClientId) -> s.Consents:
    def query(uow: UnitOfWork) -> tuple[Client, Rows[ConsentChange]]:
        return uow.clients.get(org_id, client_id), uow.clients.consent_log(org_id, client_id)

    client, log = await core().read_async(query)
    return s.Consents(
        current=[s.Consent.of(c) for c in client.consents],
        history=[s.ConsentChange.of(c) for c in log],
        unreadable=s.Unreadable.of(report(log)),
    )


@bp.get("/clients/<uuid:client_id>/consents")
@tag(["clients"])
@_problems()
@validate_response(s.Consents)
async def get_consents(client_id: UUID) -> s.Consents:
    """A client's consents per channel and purpose, with the log of every one given or withdrawn."""
    return await _consents(require_principal().org_id, ClientId(client_id))


@bp.post("/clients/<uuid:client_id>/consents")
@tag(["clients"])
@_problems()
@validate_request(s.ConsentInput)
@validate_response(s.Consents)
async def record_consent(client_id: UUID, data: s.ConsentInput) -> s.Consents:
    """Record that the client agreed to one channel and purpose (replacing its earlier consent), with their words."""
    who, actor = _me()
    await core().execute_async(
        RecordConsent(
            org_id=who.org_id,
            client_id=ClientId(client_id),
            channel=data.channel,
            method=data.method,
            wording=data.wording,
            actor=actor,
        )
    )
    return await _consents(who.org_id, ClientId(client_id))


@bp.post("/clients/<uuid:client_id>/consents/withdraw")
@tag(["clients"])
@_problems()
@validate_request(s.WithdrawalInput)
@validate_response(s.Consents)
async def withdraw_consent(client_id: UUID, data: s.WithdrawalInput) -> s.Consents:
    """Withdraw the client's consent to one channel and purpose, keeping when and how; none given changes nothing."""
    who, actor = _me()
    await core().execute_async(
        WithdrawConsent(
            org_id=who.org_id,
            client_id=ClientId(client_id),
            channel=data.channel,
            method=data.method,
            wording=data.wording,
            actor=actor,
        )
    )
    return await _consents(who.org_id, ClientId(client_id))


# --- packages -------------------------------------------------------------------------------------


@bp.get("/clients/<uuid:client_id>/packages")
@tag(["packages"])
@_problems()
@validate_response(s.PackageList)
async def list_packages(client_id: UUID) -> s.PackageList:
    """A client's session packages, soonest to expire first."""
    org_id = require_principal().org_id

    def query(uow: UnitOfWork) -> Rows[SessionPackage]:
        uow.clients.get(org_id, ClientId(client_id))
        return uow.packages.for_client(org_id, ClientId(client_id))

    found = await core().read_async(query)
    return s.PackageList(items=[s.Package.of(p) for p in found], unreadable=s.Unreadable.of(report(found)))


@bp.get("/packages/<uuid:package_id>")
@tag(["packages"])
@_problems()
@validate_response(s.Package)
async def get_package(package_id: UUID) -> s.Package:
    """One session package."""
    org_id = require_principal().org_id
    package = await core().read_async(lambda uow: uow.packages.get(org_id, PackageId(package_id)))
    return s.Package.of(package)


@bp.post("/clients/<uuid:client_id>/packages")
@tag(["packages"])
@_problems(fields=_PRICED | {"total": "sessions"})
@validate_request(s.PackageInput)
@validate_response(s.Package, 201)
async def sell_package(client_id: UUID, data: s.PackageInput) -> Any:
    """Sell the client a package of sessions, saying how it was paid (`paid_by`)."""
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
            paid_by=data.paid_by,
        )
    )
    return s.Package.of(package), 201
