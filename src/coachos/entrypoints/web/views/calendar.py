"""(being built)"""

from __future__ import annotations

from quart import Blueprint

bp = Blueprint("calendar", __name__)
