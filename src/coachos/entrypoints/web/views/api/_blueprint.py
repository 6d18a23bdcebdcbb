"""The API blueprint: its auth hook, OpenAPI document fix-up and helpers shared by the resources."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from msgspec.json import schema_components
from quart import Blueprint, Quart, request, url_for
from quart.blueprints import BlueprintSetupState
from quart_schema import (
    OpenAPIProvider,
    RequestSchemaValidationError,
    document_response,
)
from quart_schema.conversion import model_load
from werkzeug.routing import Rule

from coachos.domain.accounts import Principal
from coachos.domain.ids import Actor
from coachos.entrypoints.web.security import require_principal
from coachos.entrypoints.web.views import api_schemas as s

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
