"""The API blueprint: its auth hook, each route's error contract and helpers shared by the resources."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar, cast

import attrs
from quart import Blueprint, Quart, request, url_for
from quart.blueprints import BlueprintSetupState
from quart_schema import RequestSchemaValidationError, document_request
from quart_schema.conversion import model_load
from quart_schema.validation import (
    QUART_SCHEMA_HEADERS_ATTRIBUTE,
    QUART_SCHEMA_QUERYSTRING_ATTRIBUTE,
    QUART_SCHEMA_REQUEST_ATTRIBUTE,
)

from coachos.domain.accounts import Principal
from coachos.domain.errors import ValidationError
from coachos.domain.ids import Actor
from coachos.entrypoints.web.security import require_principal
from coachos.entrypoints.web.views.api._openapi import OPTIONAL_BODY, PROBLEMS, ApiDocs

bp = Blueprint("api", __name__, url_prefix="/api/v1")

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M")

#: A request's `price` is a Money shape; the domain names the parts of an amount on their own.
_PRICED = {"amount_minor": "price.amount_minor", "currency": "price.currency"}
#: Keyword arguments quart-schema hands a view that are not request fields themselves.
_LOADED = frozenset({"data", "query_args", "headers"})


@bp.record_once
def _document(state: BlueprintSetupState) -> None:
    """Serve /openapi.json through `ApiDocs` (QuartSchema is set up before blueprints are registered)."""
    app = cast(Quart, state.app)
    extension = app.extensions["QUART_SCHEMA"]
    extension.openapi_provider = ApiDocs(app, extension)


@bp.before_request
async def _signed_in() -> None:
    """Every API route needs a principal; checked before any body is read or validated."""
    require_principal()


def _problems(*statuses: int, fields: Mapping[str, str] | None = None) -> Callable[[F], F]:
    """A route's error contract: the problem statuses it answers beyond the ones every route shares.

    400, 401, 429, 500 and 503 are documented for every route, 403 for every write, 413 for every
    route that reads a body and 404 for every route with an id in its path (see `_openapi`).

    A refusal names the offending field as the request names it: `fields` maps the domain's name
    to the request's where they differ (a package's `total` is the request's `sessions`), and a
    field the request does not have (an internal value) is left unnamed rather than named wrongly.
    Apply it above the validate_* decorators: it reads the request shapes they record.
    """
    renames = dict(fields or {})

    def decorate(view: F) -> F:
        known = _request_fields(view)

        @wraps(view)
        async def named(*args: Any, **kwargs: Any) -> Any:
            try:
                return await view(*args, **kwargs)
            except ValidationError as error:
                field = renames.get(error.field, error.field) if error.field else None
                error.field = field if field in known else None
                raise

        setattr(named, PROBLEMS, frozenset(statuses))
        return cast(F, named)

    return decorate


def _optional_request(model: type[Any]) -> Callable[[F], F]:
    """Document `model` as the route's JSON body, which may be left out (see `_optional_body`)."""

    def decorate(view: F) -> F:
        documented = document_request(model)(view)
        setattr(documented, OPTIONAL_BODY, True)
        return documented

    return decorate


def _request_fields(view: Callable[..., Any]) -> frozenset[str]:
    """Every name a request to `view` can carry: path parameters, query, header and body fields (dotted)."""
    names = {name for name in inspect.signature(view).parameters if name not in _LOADED}
    for attribute in (QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, QUART_SCHEMA_HEADERS_ATTRIBUTE):
        if (model := getattr(view, attribute, None)) is not None:
            names |= _paths(model)
    if (body := getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None)) is not None:
        names |= _paths(body[0])
    return frozenset(names)


def _paths(model: type[Any], prefix: str = "") -> set[str]:
    """The dotted names of an attrs shape's fields, nested shapes included (`price`, `price.currency`)."""
    hints = typing.get_type_hints(model)
    found: set[str] = set()
    for field in attrs.fields(model):
        name = f"{prefix}{field.name}"
        found.add(name)
        if attrs.has(hint := hints[field.name]):
            found |= _paths(hint, f"{name}.")
    return found


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
