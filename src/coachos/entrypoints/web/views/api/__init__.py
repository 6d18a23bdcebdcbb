"""The JSON API under /api/v1: the coach's own business, for scripts and integrations.

Every route needs a principal (a session cookie, whose writes also need the X-CSRF-Token header,
or `Authorization: Bearer <token>`), and always acts in the principal's organisation: an id of
another organisation answers 404 exactly like an id that does not exist. Refusals are
problem+json (see web/errors.py). The OpenAPI description is served at /openapi.json.
"""

from coachos.entrypoints.web.views.api import bookings, catalog, people
from coachos.entrypoints.web.views.api._blueprint import bp

__all__ = ["bookings", "bp", "catalog", "people"]
