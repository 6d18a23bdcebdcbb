"""The portal home's "To do" list: what the client still has to do, gathered from registered sources.

Waivers, forms and onboarding register a source each (`register_portal_tasks`); the portal only
shows what they return, so none of them needs to change the portal's pages.
"""

from __future__ import annotations

from collections.abc import Callable

from coachos.domain.clients import Client
from coachos.domain.orgs import Organization
from coachos.domain.portal import PortalTask
from coachos.domain.usecases.todo import client_todo
from coachos.entrypoints.web.context import core
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


def onboarding_tasks(uow: UnitOfWork, org: Organization, client: Client) -> list[PortalTask]:
    """The client's onboarding steps (x/N per flow) and changed waivers to sign again, with links to their pages.

    Registered once by `create_app`; it reads in the portal's own unit of work with the app's step checks and links.
    """
    return client_todo(uow, core().deps, org, client)
