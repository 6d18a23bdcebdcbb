"""The JSON API's OpenAPI document, shaped so that a client can be generated from it.

quart-schema writes every request and response schema inline (a generator then makes one model per
operation and drops the duplicates), keeps only the outer schema msgspec makes for an attrs class
(pgjones/quart-schema#117: `$ref`s to Money, Client, … would point nowhere), leaves query
parameters and bodies optional and types path ids as plain strings. This provider builds the same
document with named components referenced by `$ref`, required parameters and bodies marked, UUID
path parameters, and every problem status a route can answer described as
`application/problem+json` with the one shared Problem schema. It is the one place the document
is shaped; the routes only declare their own extra statuses (see `_blueprint._problems`).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from msgspec.json import schema_components
from quart_schema import DataSource, OpenAPIProvider
from werkzeug.routing import BaseConverter, Rule
from werkzeug.routing.converters import UUIDConverter

from coachos.entrypoints.web.views import api_schemas as s

#: Attribute on a view: the problem statuses it answers beyond those every route shares.
PROBLEMS = "_coachos_problems"
#: Attribute on a view: its documented body may be left out.
OPTIONAL_BODY = "_coachos_optional_body"

PROBLEM_JSON = "application/problem+json"
_REF = "#/components/schemas/{name}"
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}

#: What each problem status means in this API: the response descriptions.
MEANING: dict[int, str] = {
    400: "The request is malformed or breaks a rule: a field is missing, of the wrong type or out of range "
    "(`errors` names it as the request does).",
    401: "No valid credentials: send `Authorization: Bearer <token>` (or the session cookie of a signed-in coach).",
    403: "A write with the session cookie but without a valid `X-CSRF-Token` header (bearer tokens need none).",
    404: "No such record in your organisation (an id of another organisation looks the same).",
    409: "The request clashes with what is stored: the slot is taken or full, the status change is not "
    "allowed, no credits are left, or the idempotency key was used for different details.",
    413: "The body is larger than the server accepts.",
    422: "The organisation's booking policy refuses it (notice, horizon, cancellation window).",
    429: "Too many requests; wait as long as `Retry-After` says.",
    500: "Something failed on our side; `error_id` identifies it in the logs.",
    503: "The database is busy or unreachable; retry after `Retry-After` seconds.",
}
#: Statuses every API route can answer: unusable text in its address or query string (the web's input
#: guard refuses it before any view), no principal, throttled, crashed, database unavailable.
EVERY_ROUTE = frozenset({400, 401, 429, 500, 503})


def ref(model: type[Any]) -> dict[str, str]:
    """A `$ref` to the component of an API shape."""
    return {"$ref": _REF.format(name=model.__name__)}


class ApiDocs(OpenAPIProvider):
    """quart-schema's OpenAPI provider, describing only the /api/ routes, as the module docstring says."""

    _models: set[type[Any]]

    def schema(self) -> dict[str, Any]:
        self._models = {s.Problem}
        built = super().schema()
        _, components = schema_components(sorted(self._models, key=lambda m: m.__name__), ref_template=_REF)
        built["components"]["schemas"] = dict(sorted(components.items()))
        return built

    def generate_rules(self) -> Iterable[Rule]:
        # Pages answer HTML to browsers and are no API.
        return (rule for rule in super().generate_rules() if rule.rule.startswith("/api/"))

    def operation_id(self, method: str, path: str, func: Any) -> str:
        # The view's name: stable, readable, and what a generated client names its function.
        return str(func.__name__)

    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        built = super().build_path_parameter(name, converter)
        if isinstance(converter, UUIDConverter):
            built["schema"] = {"type": "string", "format": "uuid"}
        return built

    def build_querystring_parameters(self, model: type[Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return _parameters(model, "query"), {}

    def build_headers_parameters(self, model: type[Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return _parameters(model, "header"), {}

    def build_request_body(self, model: type[Any], source: DataSource) -> tuple[dict[str, Any], dict[str, Any]]:
        self._models.add(model)
        return {"required": True, "content": {"application/json": {"schema": ref(model)}}}, {}

    def build_response_object(
        self, model: type[Any], headers_model: type[Any] | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        self._models.add(model)
        description = inspect.getdoc(model) or ""
        return {"description": description, "content": {"application/json": {"schema": ref(model)}}}, {}

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        view = self._app.view_functions[rule.endpoint]
        for operations in paths.values():
            for method, operation in operations.items():
                _add_problems(operation, view, method)
        return paths, components


def _add_problems(operation: dict[str, Any], view: Any, method: str) -> None:
    """Mark an optional body and document every problem status the operation can answer."""
    if not operation.get("description"):
        operation.pop("description", None)
    body = operation.get("requestBody")
    if body is not None and getattr(view, OPTIONAL_BODY, False):
        body["required"] = False
    statuses = set(EVERY_ROUTE | getattr(view, PROBLEMS, frozenset()))
    places = {parameter["in"] for parameter in operation["parameters"]}
    if body is not None:
        statuses.add(413)
    if "path" in places:
        statuses.add(404)
    if method != "get":
        statuses.add(403)
    responses: dict[int, Any] = operation["responses"]
    for status in statuses:
        responses[status] = {"description": MEANING[status], "content": {PROBLEM_JSON: {"schema": ref(s.Problem)}}}
        if status in (429, 503):
            responses[status]["headers"] = _RETRY_AFTER
    operation["responses"] = dict(sorted(responses.items()))


def _parameters(model: type[Any], where: str) -> list[dict[str, Any]]:
    """Query or header parameters from the fields of an attrs shape, each marked required or not."""
    _, components = schema_components([model], ref_template=_REF)
    schema = components[model.__name__]
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema["properties"].items():
        value = _not_null(prop)
        parameter: dict[str, Any] = {
            "name": name if where == "query" else "-".join(part.capitalize() for part in name.split("_")),
            "in": where,
            "required": name in required,
        }
        if "description" in value:
            parameter["description"] = value.pop("description")
        parameter["schema"] = value
        parameters.append(parameter)
    return parameters


def _not_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without msgspec's `null` alternative: a query string cannot carry null, only omit."""
    options = [option for option in prop.get("anyOf", ()) if option != {"type": "null"}]
    if len(options) != 1:
        return dict(prop)
    rest = {key: value for key, value in prop.items() if key != "anyOf" and not (key == "default" and value is None)}
    return {**options[0], **rest}
