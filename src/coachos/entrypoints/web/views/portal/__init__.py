"""The client portal at /c/<slug>/…: signing in by link or code, and the client's own pages."""

from coachos.entrypoints.web.views.portal import memberships, packages, pages, sign_in  # noqa: F401  # imported for their routes
from coachos.entrypoints.web.views.portal._shared import bp
from coachos.entrypoints.web.views.portal.tasks import onboarding_tasks, portal_tasks, register_portal_tasks

__all__ = ["bp", "onboarding_tasks", "portal_tasks", "register_portal_tasks"]
