"""One place that turns errors into responses: problem+json for the API, a page for people."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from quart import Quart, Response, jsonify, render_template, request
from quart_schema import RequestSchemaValidationError
from quart_schema.validation import QuerystringValidationError, RequestHeadersValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from coachos.domain.errors import (
    CoachOSError,
    Conflict,
    CorruptRecord,
    InvalidTransition,
    NoCreditsLeft,
    NotAuthenticated,
    NotFound,
    PackageExpired,
    PaymentRefused,
    PaymentUnavailable,
    PolicyViolation,
    Throttled,
    Unavailable,
    ValidationError,
)
from coachos.entrypoints.web.unreadable import new_error_id, report

log = structlog.get_logger("coachos.web")

STATUS: list[tuple[type[CoachOSError], int]] = [
    (CorruptRecord, 500),
    (ValidationError, 400),
    (NotAuthenticated, 401),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidTransition, 409),
    (NoCreditsLeft, 409),
    (PackageExpired, 409),
    (PolicyViolation, 422),
    (PaymentRefused, 422),
    (PaymentUnavailable, 503),
    (Throttled, 429),
    (Unavailable, 503),
]
#: What a 503 tells callers to wait before trying again, when the error does not say.
RETRY_AFTER_SECONDS = 5


def status_of(error: CoachOSError) -> int:
    """The HTTP status for a domain error."""
    return next((code for kind, code in STATUS if isinstance(error, kind)), 400)


def wants_json() -> bool:
    """Whether the caller is the API or a script (a panel, the calendar poller) rather than a page load.

    Scripts that fetch HTML fragments say they also accept problem+json, so their errors come back
    as a reason they can show next to a Retry button.
    """
    accept = request.accept_mimetypes
    return (
        request.path.startswith("/api/")
        or accept.best == "application/json"
        or "application/problem+json" in accept.values()
    )


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    code: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> Response:
    """An RFC 9457 problem+json response: {type, title, status, detail, code, errors[, error_id]}.

    `code` and `errors` are always there (the API's Problem schema requires them); `code`
    defaults to the title as a slug ("Not Found" → "not_found").
    """
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code or "_".join(title.lower().split()),
        "errors": errors or [],
        **extra,
    }
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def register_error_handlers(app: Quart) -> None:
    """Map domain errors, validation errors, HTTP errors and crashes to responses."""

    @app.errorhandler(CoachOSError)
    async def domain_error(error: CoachOSError) -> Any:
        status = status_of(error)
        field = getattr(error, "field", None)
        headers: dict[str, str] = {}
        # Unavailable always says when to try again; Throttled does when it knows.
        if retry_after := getattr(error, "retry_after", None):
            headers["Retry-After"] = str(retry_after)
        if isinstance(error, Unavailable):
            route = request.url_rule.rule if request.url_rule else "unmatched"
            log.warning("unavailable", reason=error.reason, route=route)
        if wants_json():
            errors = [{"field": field, "message": error.message}] if field else []
            response = problem(status, error.code, error.message, code=error.code, errors=errors)
            response.headers.update(headers)
            return response
        return await render_template("error.html", status=status, message=error.message), status, headers

    @app.errorhandler(CorruptRecord)
    async def corrupt_record(error: CorruptRecord) -> Any:
        # Stored data that cannot be read is our fault: a 500 with an error id, logged with ids only.
        marker = report([error])
        error_id = marker.error_id if marker else new_error_id()
        message = f"{error.message} If it keeps happening, quote error {error_id}."
        if wants_json():
            return problem(500, "internal_error", message, code=error.code, error_id=error_id)
        return await render_template("error.html", status=500, message=message), 500

    @app.errorhandler(RequestSchemaValidationError)
    async def schema_error(error: RequestSchemaValidationError) -> Any:
        where = {
            QuerystringValidationError: "query string",
            RequestHeadersValidationError: "request headers",
        }.get(type(error), "request body")
        return problem(400, "invalid", f"The {where} is not valid.", errors=_field_errors(error))

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Any:
        status = error.code or 500
        headers: dict[str, str] = {}
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers["Allow"] = ", ".join(sorted(error.valid_methods))
        if wants_json():
            response = problem(status, error.name, error.description or error.name)
            response.headers.update(headers)
            return response
        return await render_template("error.html", status=status, message=error.description), status, headers

    @app.errorhandler(Exception)
    async def crash(error: Exception) -> Any:
        error_id = uuid.uuid4().hex[:12]
        # The route pattern, not the path: paths carry reset tokens, manage links and feed secrets.
        route = request.url_rule.rule if request.url_rule else "unmatched"
        log.exception("unhandled error", error_id=error_id, route=route)
        message = f"Something went wrong on our side. If it keeps happening, quote error {error_id}."
        if wants_json():
            return problem(500, "internal_error", message, error_id=error_id)
        return await render_template("error.html", status=500, message=message), 500


def _field_errors(error: RequestSchemaValidationError) -> list[dict[str, str]]:
    # msgspec reports the first problem as "… - at `$.price.amount_minor`" (no "at" for the top level),
    # and a missing field only in the message: "Object missing required field `name` - at `$.price`".
    message, _, where = str(error.validation_error).partition(" - at `$")
    field = where.rstrip("`").lstrip(".")
    missing = "missing required field `"
    if missing in message:
        name = message.split(missing, 1)[1].split("`", 1)[0]
        field = f"{field}.{name}" if field else name
    return [{"field": field, "message": message}]
