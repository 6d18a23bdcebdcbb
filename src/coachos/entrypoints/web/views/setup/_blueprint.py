"""The setup blueprint, shared by the section modules."""

from __future__ import annotations

from quart import Blueprint

bp = Blueprint("setup", __name__)
