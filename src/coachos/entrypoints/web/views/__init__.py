"""The web app's blueprints, one module per resource."""

from __future__ import annotations

from quart import Blueprint

from coachos.entrypoints.web.views import (
    account,
    api,
    calendar,
    clients,
    inbound,
    inbox,
    public,
    setup,
    today,
    twilio_status,
)

BLUEPRINTS: list[Blueprint] = [
    account.bp,
    today.bp,
    calendar.bp,
    clients.bp,
    inbox.bp,
    setup.bp,
    public.bp,
    api.bp,
    twilio_status.bp,
    inbound.bp,
]
