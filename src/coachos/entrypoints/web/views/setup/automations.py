"""Automations: scheduled actions on the business's clock, switched on and off, with their run history."""

from __future__ import annotations

from typing import Any

import attrs
from quart import redirect, render_template, request, url_for

from coachos.domain.automations import Action, AutomationRun, SendMessage, TagClients
from coachos.domain.errors import ValidationError
from coachos.domain.orgs import Organization
from coachos.domain.timezones import label
from coachos.domain.usecases import (
    AutomationWithRuns,
    CreateAutomation,
    ListAutomations,
    SetAutomationEnabled,
)
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required
from coachos.entrypoints.web.views.setup._blueprint import bp
from coachos.entrypoints.web.views.setup._forms import _actor, _text, _uuid, zone_label

SAVED = {
    "created": "Automation added.",
    "enabled": "Automation switched on.",
    "disabled": "Automation switched off.",
}


@attrs.frozen
class RunRow:
    """One run as the coach reads it: when it was due on the business's clock, and how it went."""

    due: str
    status: str
    affected: int


@attrs.frozen
class AutomationRow:
    """One automation with its run history, times in the business's zone."""

    item: AutomationWithRuns
    action: str
    #: When it last ran (was due), or 'never'.
    last_ran: str
    runs: list[RunRow]


def _row(item: AutomationWithRuns, org: Organization) -> AutomationRow:
    a = item.automation
    what = describe_action(a.action)
    runs = [_run(r, org) for r in item.runs]
    return AutomationRow(item, what, runs[0].due if runs else "never", runs)


def describe_action(action: Action) -> str:
    """The action in a few words."""
    if isinstance(action, TagClients):
        return f"Tag clients '{action.tag}'" + ("" if action.status is None else f" ({action.status.value} only)")
    if isinstance(action, SendMessage):
        kind = "marketing" if not action.transactional else "transactional"
        return f"Send {'an SMS' if action.channel.value == 'sms' else 'an email'} ({kind})"
    return f"Add a to-do: {action.title}"


def _run(r: AutomationRun, org: Organization) -> RunRow:
    return RunRow(label(r.due_at, org.tz), r.status.value, r.affected)


@bp.route("/setup/automations", methods=["GET", "POST"])
@login_required
async def automations() -> Any:
    """The business's automations: add one, switch one on or off, and see when each ran."""
    org_id, actor, _ = _actor()
    app = core()
    now = app.clock.now()
    org = await app.read_async(lambda uow: uow.orgs.get(org_id))
    form: Any = {}
    action = ""
    if request.method == "POST":
        form = await request.form
        action = form.get("action", "")
        try:
            if action == "create":
                await app.execute_async(
                    CreateAutomation(
                        org_id=org_id,
                        actor=actor,
                        name=_text(form, "name"),
                        schedule=_text(form, "schedule"),
                        action=TagClients(tag=_text(form, "tag"), status=_text(form, "status") or None),
                    )
                )
                saved = "created"
            elif action in ("enable", "disable"):
                automation_id = _uuid(form.get("automation_id", ""), "automation")
                await app.execute_async(
                    SetAutomationEnabled(
                        org_id=org_id, automation_id=automation_id, actor=actor, enabled=action == "enable"
                    )
                )
                saved = f"{action}d"
            else:
                raise ValidationError("Unknown action; reload the page and try again.", field="action")
        except ValidationError as exc:
            rows = [_row(i, org) for i in await app.execute_async(ListAutomations(org_id=org_id))]
            page = await render_template(
                "setup/automations.html",
                org=org,
                rows=rows,
                zone=zone_label(org, now),
                error=exc,
                error_for=action,
                form=form,
            )
            return page, 400
        return redirect(url_for("setup.automations", saved=saved))
    rows = [_row(i, org) for i in await app.execute_async(ListAutomations(org_id=org_id))]
    return await render_template(
        "setup/automations.html",
        org=org,
        rows=rows,
        zone=zone_label(org, now),
        saved=SAVED.get(request.args.get("saved", "")),
        form=form,
    )
