"""The client portal at /c/<slug>/…: signing in by link or code, and the client's own pages."""

from coachos.entrypoints.web.views.portal import pages, sign_in  # noqa: F401  # imported for their routes
from coachos.entrypoints.web.views.portal._shared import bp
from coachos.entrypoints.web.views.portal.tasks import portal_tasks, register_portal_tasks

__all__ = ["bp", "portal_tasks", "register_portal_tasks"]
