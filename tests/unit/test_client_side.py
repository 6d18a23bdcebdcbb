"""The client's side as one product: the portal's To do from onboarding, reminders pointing at the portal,
the export holding signatures and answers, and deletion with records the database keeps (fakes; re-run
on SQLite and PostgreSQL by tests/integration/test_client_side_on_databases.py)."""

from __future__ import annotations

from coachos import CoachOS
from coachos.domain.clients import Client
from coachos.domain.forms import FormVersion
from coachos.domain.onboarding import StepKind
from coachos.domain.portal import PortalTask
from coachos.domain.usecases import (
    AddOnboardingStep,
    ApproveAccountDeletion,
    ClientOnboarding,
    CreateOnboardingFlow,
    ExportClientData,
    PublishForm,
    RequestAccountDeletion,
    SendOnboarding,
    UpdateOnboardingFlow,
)
from coachos.domain.usecases.todo import CHANGED_WAIVERS, client_todo
from coachos.domain.waivers import Waiver, WaiverVersion
from tests.helpers import World, add_client
from tests.unit.test_forms import answer, intake
from tests.unit.test_waivers import new_waiver, publish, sign


def todo(app: CoachOS, world: World, client: Client | None = None) -> list[PortalTask]:
    with app.deps.uow() as uow:
        return client_todo(uow, app.deps, world.org, client or world.client)


def onboarding(app: CoachOS, world: World) -> tuple[Waiver, WaiverVersion, FormVersion]:
    """A flow "New clients" (sign the liability waiver, fill in the intake) holding PT bookings."""
    waiver, version = new_waiver(app, world)
    form = intake(app, world)
    form_version = app.execute(PublishForm(org_id=world.org.id, form_id=form.id, actor=world.me))
    flow = app.execute(CreateOnboardingFlow(org_id=world.org.id, name="New clients", actor=world.me))
    for kind, target in ((StepKind.SIGN_WAIVER, waiver.id), (StepKind.FILL_FORM, form.id)):
        app.execute(
            AddOnboardingStep(org_id=world.org.id, flow_id=flow.id, kind=kind.value, target=target, actor=world.me)
        )
    app.execute(
        UpdateOnboardingFlow(
            org_id=world.org.id,
            flow_id=flow.id,
            name="New clients",
            all_services=False,
            service_ids=frozenset({world.pt.id}),
            actor=world.me,
        )
    )
    return waiver, version, form_version


INTAKE_ANSWERS = {"goal": "Run 5k", "level": "Sometimes"}


class TestPortalTodo:
    def test_flow_steps_are_listed_with_their_pages_and_progress(self, app: CoachOS, world: World) -> None:
        """Each step links to the waiver's signing page or the form's page; the group says x/N."""
        waiver, version, form_version = onboarding(app, world)
        slug = world.org.slug
        first = todo(app, world)
        assert [(t.title, t.done, t.group) for t in first] == [
            ("Sign “Liability waiver”", False, "New clients: 0/2 steps done"),
            ("Fill in “Intake”", False, "New clients: 0/2 steps done"),
        ]
        assert f"/c/{slug}/waivers/" in first[0].url
        assert f"/c/{slug}/forms/" in first[1].url
        sign(app, world, waiver, version)
        after = todo(app, world)
        assert [(t.done, t.group) for t in after] == [
            (True, "New clients: 1/2 steps done"),
            (False, "New clients: 1/2 steps done"),
        ]
        answer(app, world, form_version, INTAKE_ANSWERS)
        assert all(t.done for t in todo(app, world))
        assert [p.summary for p in app.execute(ClientOnboarding(org_id=world.org.id, client_id=world.client.id))] == [
            "2/2"
        ]

    def test_a_waiver_changed_since_signing_asks_to_sign_again(self, app: CoachOS, world: World) -> None:
        """Outside any flow: a material edit lists the waiver again; a minor edit or never signed does not."""
        waiver, version = new_waiver(app, world)
        assert todo(app, world) == []
        sign(app, world, waiver, version)
        publish(app, world, waiver, "# Liability waiver\n\nTraining has risks.", material=False)
        assert todo(app, world) == []
        publish(app, world, waiver, "# Liability waiver\n\nNew rules apply.", material=True)
        (again,) = todo(app, world)
        assert (again.title, again.done, again.group) == (
            "Sign “Liability waiver” again: it has changed",
            False,
            CHANGED_WAIVERS,
        )
        assert f"/c/{world.org.slug}/waivers/" in again.url

    def test_another_clients_steps_are_their_own(self, app: CoachOS, world: World) -> None:
        """One client's signature ticks nothing for another; each gets links naming themselves."""
        waiver, version, _ = onboarding(app, world)
        sign(app, world, waiver, version)
        other = add_client(app, world)
        assert [t.done for t in todo(app, world)] == [True, False]
        theirs = todo(app, world, other)
        assert [t.done for t in theirs] == [False, False]
        assert theirs[0].url != todo(app, world)[0].url


class TestReminderLink:
    def test_onboarding_messages_carry_the_portal_sign_in_link(self, app: CoachOS, world: World) -> None:
        onboarding(app, world)
        flows = app.execute(ClientOnboarding(org_id=world.org.id, client_id=world.client.id))
        app.execute(
            SendOnboarding(org_id=world.org.id, client_id=world.client.id, flow_id=flows[0].flow.id, actor=world.me)
        )
        found = app.read(lambda uow: uow.messages.for_client(world.org.id, world.client.id))
        link = app.deps.links.portal_sign_in(world.org.slug)
        assert link.endswith(f"/c/{world.org.slug}/sign-in")
        sent = [m for m in found if (m.key or "").startswith("onboarding:")]
        assert sent
        assert all(m.body.endswith(f"Sign in to see them: {link}") for m in sent)


class TestExport:
    def test_export_holds_signatures_and_answers(self, app: CoachOS, world: World) -> None:
        waiver, version, form_version = onboarding(app, world)
        signature = sign(app, world, waiver, version)
        answer(app, world, form_version, INTAKE_ANSWERS)
        export = app.execute(ExportClientData(org_id=world.org.id, client_id=world.client.id))
        (signed,) = export["waiver_signatures"]  # type: ignore[misc]
        assert signed == {
            "id": str(signature.id),
            "waiver": "Liability waiver",
            "version_number": 1,
            "signed_at": signature.signed_at.isoformat(),
            "text_sha256": version.sha256,
            "typed_name": "Jordan Lee",
            "method": "typed name",
            "drawing_svg": None,
            "consent_wording": signature.consent_wording,
            "ip": "203.0.113.7",
            "user_agent": "Mozilla/5.0 (iPhone)",
            "date_of_birth": "1990-02-28",
            "guardian_name": None,
            "guardian_relationship": None,
            "guardian_drawing_svg": None,
        }
        (submitted,) = export["form_submissions"]  # type: ignore[misc]
        assert submitted["form"] == "Intake"
        assert submitted["version_number"] == 1
        assert submitted["health_screening"] is False
        assert {a["question"]: a["answer"] for a in submitted["answers"]} == {
            "Your main goal": "Run 5k",
            "How active are you?": "Sometimes",
        }

    def test_another_clients_records_stay_out(self, app: CoachOS, world: World) -> None:
        waiver, version, form_version = onboarding(app, world)
        sign(app, world, waiver, version)
        answer(app, world, form_version, INTAKE_ANSWERS)
        other = add_client(app, world)
        export = app.execute(ExportClientData(org_id=world.org.id, client_id=other.id))
        assert export["waiver_signatures"] == []
        assert export["form_submissions"] == []


class TestDeletionKeepsRecords:
    def test_approving_deletion_after_signing_and_answering_keeps_them(self, app: CoachOS, world: World) -> None:
        """The client row is anonymised; the signature and the submission (append-only) are left as they were."""
        waiver, version, form_version = onboarding(app, world)
        signature = sign(app, world, waiver, version)
        submission = answer(app, world, form_version, INTAKE_ANSWERS)
        app.execute(RequestAccountDeletion(org_id=world.org.id, client_id=world.client.id))
        gone = app.execute(ApproveAccountDeletion(org_id=world.org.id, client_id=world.client.id, actor=world.me))
        assert gone.name == "Deleted client"
        with app.deps.uow() as uow:
            assert [s.id for s in uow.waivers.signatures(world.org.id, world.client.id)] == [signature.id]
            assert [s.id for s in uow.forms.submissions(world.org.id, world.client.id)] == [submission.id]
            assert uow.clients.get(world.org.id, world.client.id).email is None
