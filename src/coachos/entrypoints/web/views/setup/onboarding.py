"""Onboarding flows: ordered checklists (sign a waiver, fill in a form) and the services that wait for them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from quart import redirect, render_template, request, url_for

from coachos.domain.errors import ValidationError
from coachos.domain.ids import Actor, OrgId, ServiceId
from coachos.domain.onboarding import OnboardingFlow, StepKind
from coachos.domain.usecases import (
    AddOnboardingStep,
    CreateOnboardingFlow,
    DeleteOnboardingFlow,
    ListOnboardingFlows,
    ListStepChoices,
    MoveOnboardingStep,
    RemoveOnboardingStep,
    UpdateOnboardingFlow,
)
from coachos.domain.usecases._base import Command
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.parsing import whole_number
from coachos.entrypoints.web.security import login_required
from coachos.entrypoints.web.unreadable import report
from coachos.entrypoints.web.views.setup._blueprint import bp
from coachos.entrypoints.web.views.setup._forms import Form, _actor, _text, _uuid

SAVED = {
    "created": "Flow added; now add its steps.",
    "updated": "Flow saved.",
    "step": "Step added.",
    "moved": "Step moved.",
    "removed": "Step removed.",
    "deleted": "Flow deleted; its bookings no longer wait and its reminders stop.",
}


def _index(form: Form) -> int:
    return whole_number(_text(form, "index"), field="index", label="The step number", minimum=0, maximum=100)


def _step(form: Form) -> tuple[str, UUID]:
    """The step picked as 'kind:target' (one select lists every waiver and form)."""
    kind, _, target = _text(form, "step").partition(":")
    try:
        return kind, UUID(target)
    except ValueError:
        raise ValidationError("Pick a waiver or a form for the step.", field="step") from None


def _services(form: Any) -> frozenset[ServiceId]:
    return frozenset(ServiceId(_uuid(v, "service")) for v in form.getlist("service_id"))


def _command(action: str, form: Any, org_id: OrgId, actor: Actor) -> Command[Any]:
    if action == "create":
        return CreateOnboardingFlow(org_id=org_id, name=_text(form, "name"), actor=actor)
    flow_id = _uuid(form.get("flow_id", ""), "onboarding flow")
    if action == "update":
        return UpdateOnboardingFlow(
            org_id=org_id,
            flow_id=flow_id,
            name=_text(form, "name"),
            all_services=form.get("all_services") == "on",
            service_ids=_services(form),
            actor=actor,
        )
    if action == "add_step":
        kind, target = _step(form)
        return AddOnboardingStep(org_id=org_id, flow_id=flow_id, kind=kind, target=target, actor=actor)
    if action in ("up", "down"):
        by = -1 if action == "up" else 1
        return MoveOnboardingStep(org_id=org_id, flow_id=flow_id, index=_index(form), by=by, actor=actor)
    if action == "remove":
        return RemoveOnboardingStep(org_id=org_id, flow_id=flow_id, index=_index(form), actor=actor)
    if action == "delete":
        return DeleteOnboardingFlow(org_id=org_id, flow_id=flow_id, actor=actor)
    raise ValidationError("Unknown action; reload the page and try again.", field="action")


_DONE = {"create": "created", "update": "updated", "add_step": "step", "up": "moved", "down": "moved"}


@bp.route("/setup/onboarding", methods=["GET", "POST"])
@login_required
async def onboarding() -> Any:
    """The business's onboarding flows: add one, order its steps, choose the services that wait for it."""
    org_id, actor, _ = _actor()
    app = core()
    error: ValidationError | None = None
    form: Any = {}
    action = ""
    if request.method == "POST":
        form = await request.form
        action = form.get("action", "")
        try:
            await app.execute_async(_command(action, form, org_id, actor))
        except ValidationError as exc:
            error = exc
        else:
            return redirect(url_for("setup.onboarding", saved=_DONE.get(action, action)))
    flows = await app.execute_async(ListOnboardingFlows(org_id=org_id))
    choices = await app.execute_async(ListStepChoices(org_id=org_id))
    org, services = await app.read_async(lambda uow: (uow.orgs.get(org_id), list(uow.services.list(org_id))))
    titles = {c.id: c.title for found in choices.values() for c in found}
    page = await render_template(
        "setup/onboarding.html",
        org=org,
        flows=flows,
        services=services,
        choices=choices,
        kinds={k.value: k.label for k in StepKind if k.available},
        titles=titles,
        describe=lambda flow: _describe(flow, {str(s.id): s.name for s in services}),
        saved=SAVED.get(request.args.get("saved", "")),
        error=error,
        error_for=form.get("flow_id", "new") if form else "",
        form=form,
        unreadable=report(flows.unreadable),
    )
    return (page, 400) if error is not None else page


def _describe(flow: OnboardingFlow, names: dict[str, str]) -> str:
    if not flow.steps:
        return "No steps yet: nothing waits for it."
    if flow.all_services:
        return "Bookings of every service wait until it is complete."
    if flow.services:
        listed = ", ".join(sorted(names.get(str(s), "a removed service") for s in flow.services))
        return f"Bookings of {listed} wait until it is complete."
    return "No service waits for it; send it to clients from their page."
