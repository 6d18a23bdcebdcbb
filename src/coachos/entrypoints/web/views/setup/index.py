"""The setup index page."""

from __future__ import annotations

from typing import Any

from quart import render_template

from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required
from coachos.entrypoints.web.views.setup._blueprint import bp
from coachos.entrypoints.web.views.setup._forms import (
    _actor,
    zone_label,
)


@bp.route("/setup")
@login_required
async def index() -> Any:
    """The setup sections: hours, services, packages, settings."""
    org_id, _, _ = _actor()
    app = core()
    org = await app.read_async(lambda uow: uow.orgs.get(org_id))
    return await render_template("setup/index.html", org=org, zone=zone_label(org, app.clock.now()))


# --- availability --------------------------------------------------------------------------
