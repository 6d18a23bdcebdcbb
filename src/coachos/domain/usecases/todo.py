"""A client's to-do list for the portal: their onboarding steps, and waivers that changed since they signed.

Onboarding owns which flows concern a client and how far they are (`concerned_progress`); waivers
and forms own their pages (`deps.links`). This module only puts them side by side, read in the
caller's unit of work, so the portal shows one list and none of those parts knows about the portal.
"""

from __future__ import annotations

from uuid import UUID

from coachos.domain.clients import Client
from coachos.domain.ids import WaiverId
from coachos.domain.onboarding import Step, StepKind
from coachos.domain.orgs import Organization
from coachos.domain.portal import PortalTask
from coachos.domain.usecases._base import Deps
from coachos.domain.usecases.onboarding import concerned_progress
from coachos.ports.storage import UnitOfWork

#: The heading of waivers to sign again that no onboarding flow asks for.
CHANGED_WAIVERS = "Changed since you signed"


def client_todo(uow: UnitOfWork, deps: Deps, org: Organization, client: Client) -> list[PortalTask]:
    """Each concerned flow's steps (done or not) under "<flow>: x/N steps done", then changed waivers to re-sign."""
    titles: dict[tuple[StepKind, UUID], str] = {}
    for kind in (StepKind.SIGN_WAIVER, StepKind.FILL_FORM):
        titles.update({(kind, c.id): c.title for c in deps.steps.choices(uow, org.id, kind)})
    tasks: list[PortalTask] = []
    in_flows: set[UUID] = set()
    for p in concerned_progress(uow, deps, org.id, client.id):
        group = f"{p.flow.name}: {p.summary} steps done"
        for step, done in zip(p.flow.steps, p.done, strict=True):
            in_flows.add(step.target)
            tasks.append(
                PortalTask(
                    _title(step, titles.get((step.kind, step.target))), _url(deps, org, client, step), done, group
                )
            )
    signed = {s.waiver_id for s in uow.waivers.signatures(org.id, client.id)}
    for waiver in uow.waivers.list(org.id):
        # Signed once, not covering a later material version: the client must sign again before booking.
        if (
            waiver.id in signed
            and waiver.id not in in_flows
            and not uow.waivers.signed_current(org.id, client.id, waiver.id)
        ):
            url = deps.links.sign_waiver(org.id, client.id, waiver.id, slug=org.slug)
            tasks.append(PortalTask(f"Sign “{waiver.title}” again: it has changed", url, False, CHANGED_WAIVERS))
    return tasks


def _title(step: Step, target: str | None) -> str:
    if target is None:
        return step.kind.label
    if step.kind is StepKind.SIGN_WAIVER:
        return f"Sign “{target}”"
    if step.kind is StepKind.FILL_FORM:
        return f"Fill in “{target}”"
    return f"{step.kind.label}: {target}"


def _url(deps: Deps, org: Organization, client: Client, step: Step) -> str:
    if step.kind is StepKind.SIGN_WAIVER:
        return deps.links.sign_waiver(org.id, client.id, WaiverId(step.target), slug=org.slug)
    if step.kind is StepKind.FILL_FORM:
        return deps.links.fill_form(org.id, client.id, step.target, slug=org.slug)
    # Billing's steps (a later issue) have no page yet; the portal shows them without a link.
    return ""
