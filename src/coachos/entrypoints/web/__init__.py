"""The web entrypoint: coach dashboard, public booking pages, JSON API, iCal feeds."""

from coachos.entrypoints.web.app import create_app

__all__ = ["create_app"]
