"""Automations: a trigger (a schedule on the business's clock, an event or a daily check), optional
conditions and an action; switched on and off, with their run history."""

from __future__ import annotations

from typing import Any

import attrs
from quart import redirect, render_template, request, url_for

from coachos.domain.automation_actions import PLACEHOLDERS
from coachos.domain.automations import (
    Action,
    Automation,
    AutomationRun,
    Condition,
    ConditionKind,
    CreateTodo,
    SendMessage,
    TagClients,
    TriggerKind,
)
from coachos.domain.catalog import Service
from coachos.domain.errors import CorruptRecord, NotFound, ValidationError
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.orgs import Organization
from coachos.domain.timezones import label
from coachos.domain.usecases import (
    AutomationWithRuns,
    CreateAutomation,
    ListAutomations,
    SetAutomationEnabled,
)
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.parsing import whole_number
from coachos.entrypoints.web.security import login_required
from coachos.entrypoints.web.views.setup._blueprint import bp
from coachos.entrypoints.web.views.setup._forms import Form, _actor, _text, _uuid, zone_label
from coachos.ports.storage import UnitOfWork

SAVED = {
    "created": "Automation added.",
    "enabled": "Automation switched on.",
    "disabled": "Automation switched off.",
}

TRIGGERS = {
    TriggerKind.SCHEDULE: "On a schedule",
    TriggerKind.BOOKING_CREATED: "When a booking is made",
    TriggerKind.BOOKING_COMPLETED: "When a session is completed",
    TriggerKind.BOOKING_CANCELLED: "When a booking is cancelled",
    TriggerKind.CREDITS_LOW: "When a package runs low on credits",
    TriggerKind.CLIENT_INACTIVE: "When a client has not booked for a number of days",
    TriggerKind.BIRTHDAY: "On a client's birthday (09:00)",
}

#: The action choices on the form.
ACTIONS = {
    "tag_clients": "Tag the client(s)",
    "send_sms": "Send an SMS",
    "send_email": "Send an email",
    "create_todo": "Add a to-do for you",
}


@attrs.frozen
class RunRow:
    """One run as the coach reads it: when it was due on the business's clock, for whom, and how it went."""

    due: str
    status: str
    affected: int
    client_id: ClientId | None = None
    client_name: str | None = None


@attrs.frozen
class AutomationRow:
    """One automation with its run history, times in the business's zone."""

    item: AutomationWithRuns
    trigger: str
    conditions: list[str]
    action: str
    #: When it last ran (was due), or 'never'.
    last_ran: str
    runs: list[RunRow]


def describe_trigger(a: Automation) -> str:
    """The trigger in a few words."""
    if a.trigger is TriggerKind.SCHEDULE and a.schedule is not None:
        return f"Schedule {a.schedule.expression}"
    if a.trigger is TriggerKind.CREDITS_LOW:
        return f"When a package has {a.threshold} credit{'' if a.threshold == 1 else 's'} or fewer left"
    if a.trigger is TriggerKind.CLIENT_INACTIVE:
        return f"When a client has not booked for {a.threshold} days (checked daily at 09:00)"
    return TRIGGERS[a.trigger]


def describe_condition(c: Condition, services: dict[str, str]) -> str:
    """A condition in a few words."""
    if c.kind is ConditionKind.HAS_TAG:
        return f"client has tag '{c.value}'"
    if c.kind is ConditionKind.LACKS_TAG:
        return f"client lacks tag '{c.value}'"
    if c.kind is ConditionKind.STATUS_IS:
        return f"client is {c.value}"
    return f"service is {services.get(c.value, 'a removed service')}"


def describe_action(action: Action) -> str:
    """The action in a few words."""
    if isinstance(action, TagClients):
        return f"Tag clients '{action.tag}'" + ("" if action.status is None else f" ({action.status.value} only)")
    if isinstance(action, SendMessage):
        kind = "marketing" if not action.transactional else "transactional"
        return f"Send {'an SMS' if action.channel.value == 'sms' else 'an email'} ({kind}): {action.body}"
    return f"Add a to-do: {action.title}"


def _row(
    item: AutomationWithRuns, org: Organization, services: dict[str, str], names: dict[ClientId, str]
) -> AutomationRow:
    a = item.automation
    runs = [
        RunRow(
            label(r.due_at, org.tz),
            r.status.value,
            r.affected,
            r.client_id,
            None if r.client_id is None else names.get(r.client_id),
        )
        for r in item.runs
    ]
    return AutomationRow(
        item,
        describe_trigger(a),
        [describe_condition(c, services) for c in a.conditions],
        describe_action(a.action),
        runs[0].due if runs else "never",
        runs,
    )


def _client_names(uow: UnitOfWork, org_id: OrgId, runs: list[AutomationRun]) -> dict[ClientId, str]:
    names: dict[ClientId, str] = {}
    for client_id in {r.client_id for r in runs if r.client_id is not None}:
        try:
            names[client_id] = uow.clients.get(org_id, client_id).name
        except (NotFound, CorruptRecord):
            continue
    return names


def _page_data(
    uow: UnitOfWork, org_id: OrgId, items: list[AutomationWithRuns]
) -> tuple[list[Service], dict[ClientId, str]]:
    runs = [r for i in items for r in i.runs]
    return list(uow.services.list(org_id)), _client_names(uow, org_id, runs)


def _action(form: Form) -> Action:
    kind = _text(form, "act") or "tag_clients"
    transactional = form.get("transactional") == "on"
    if kind == "tag_clients":
        return TagClients(tag=_text(form, "tag"), status=_text(form, "status") or None)
    if kind == "send_sms":
        return SendMessage(channel="sms", body=_text(form, "body"), transactional=transactional)
    if kind == "send_email":
        return SendMessage(
            channel="email", subject=_text(form, "subject"), body=_text(form, "body"), transactional=transactional
        )
    if kind == "create_todo":
        return CreateTodo(title=_text(form, "title"))
    raise ValidationError("Choose what the automation does.", field="act")


def _conditions(form: Form) -> list[Condition]:
    found = []
    for kind in ConditionKind:
        value = _text(form, kind.value)
        if value:
            found.append(Condition.make(kind, value))
    return found


def _threshold(form: Form, trigger: str) -> int | None:
    text = _text(form, "threshold")
    if trigger not in (TriggerKind.CREDITS_LOW.value, TriggerKind.CLIENT_INACTIVE.value):
        return None
    return whole_number(text, field="threshold", label="The number", minimum=0, maximum=100_000)


def _create(form: Form, org_id: OrgId, actor: Any) -> CreateAutomation:
    trigger = _text(form, "trigger") or TriggerKind.SCHEDULE.value
    return CreateAutomation(
        org_id=org_id,
        actor=actor,
        name=_text(form, "name"),
        trigger=trigger,
        schedule=_text(form, "schedule") if trigger == TriggerKind.SCHEDULE.value else None,
        threshold=_threshold(form, trigger),
        conditions=_conditions(form),
        action=_action(form),
    )


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
    error: ValidationError | None = None
    saved = ""
    if request.method == "POST":
        form = await request.form
        action = form.get("action", "")
        try:
            if action == "create":
                await app.execute_async(_create(form, org_id, actor))
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
            error = exc
        if error is None:
            return redirect(url_for("setup.automations", saved=saved))
    items = await app.execute_async(ListAutomations(org_id=org_id))
    services, names = await app.read_async(lambda uow: _page_data(uow, org_id, items))
    service_names = {str(s.id): s.name for s in services}
    page = await render_template(
        "setup/automations.html",
        org=org,
        rows=[_row(i, org, service_names, names) for i in items],
        zone=zone_label(org, now),
        saved=SAVED.get(request.args.get("saved", "")),
        error=error,
        error_for=action,
        form=form,
        triggers=TRIGGERS,
        actions=ACTIONS,
        services=services,
        placeholders=["{" + p + "}" for p in PLACEHOLDERS],
    )
    return (page, 400) if error is not None else page
