"""The running app's CoachOS and settings, for views (kept apart from the factory to avoid an import cycle)."""

from __future__ import annotations

from quart import current_app

from coachos._app import CoachOS
from coachos.settings import Settings


def core() -> CoachOS:
    """The CoachOS instance this app serves."""
    found: CoachOS = current_app.extensions["coachos"]
    return found


def settings() -> Settings:
    """The app's settings."""
    found: Settings = current_app.config["COACHOS_SETTINGS"]
    return found
