"""The public blueprint, shared by its modules."""

from __future__ import annotations

from quart import Blueprint

bp = Blueprint("public", __name__)
