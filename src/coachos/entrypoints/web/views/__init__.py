"""The web app's blueprints, one module per resource."""

from __future__ import annotations

from quart import Blueprint

# Adds the consent forms' routes to the clients blueprint.
from coachos.entrypoints.web.views import (
    account,
    accounting,
    api,
    calendar,
    client_consents,  # noqa: F401  # imported for its routes
    client_deletion,  # noqa: F401  # imported for its routes
    client_forms,  # noqa: F401  # imported for its routes
    client_memberships,  # noqa: F401  # imported for its routes
    client_onboarding,  # noqa: F401  # imported for its routes
    client_payments,  # noqa: F401  # imported for its routes
    client_waivers,  # noqa: F401  # imported for its routes
    clients,
    inbound,
    inbox,
    portal,
    public,
    refunds,
    setup,
    stripe_webhooks,
    today,
    twilio_status,
    waiver_signing,
)

BLUEPRINTS: list[Blueprint] = [
    account.bp,
    today.bp,
    calendar.bp,
    clients.bp,
    accounting.bp,
    refunds.bp,
    inbox.bp,
    setup.bp,
    public.bp,
    portal.bp,
    api.bp,
    twilio_status.bp,
    inbound.bp,
    stripe_webhooks.bp,
    waiver_signing.bp,
]
