"""The portal home's "To do" list: what the client still has to do, gathered from registered sources.

Waivers, forms and onboarding register a source each (`register_portal_tasks`); the portal only
shows what they return, so none of them needs to change the portal's pages.
"""

from __future__ import annotations

from collections.abc import Callable

from coachos.domain.clients import Client
from coachos.domain.orgs import Organization
from coachos.domain.portal import PortalTask
from coachos.ports.storage import UnitOfWork

#: A source of to-dos: given an open unit of work, the business and the signed-in client, their tasks.
TaskSource = Callable[[UnitOfWork, Organization, Client], list[PortalTask]]

_SOURCES: list[TaskSource] = []


def register_portal_tasks(source: TaskSource) -> TaskSource:
    """Add a source of portal tasks (usable as a decorator); each source is registered once."""
    if source not in _SOURCES:
        _SOURCES.append(source)
    return source


def portal_tasks(uow: UnitOfWork, org: Organization, client: Client) -> list[PortalTask]:
    """Every registered source's tasks for the client, in registration order."""
    return [task for source in _SOURCES for task in source(uow, org, client)]
