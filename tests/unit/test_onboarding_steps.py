"""The composition root's step sources: onboarding asks the real waivers and forms whether a step is done."""

from __future__ import annotations

from datetime import date

from coachos import CoachOS
from coachos.domain.onboarding import Step, StepKind
from coachos.domain.usecases import (
    CreateHealthScreening,
    CreateWaiver,
    ListStepChoices,
    PublishForm,
    PublishWaiverVersion,
    SignWaiver,
    SubmitForm,
)
from tests.helpers import World


def done(app: CoachOS, world: World, step: Step) -> bool:
    with app.deps.uow() as uow:
        return app.deps.steps.done(uow, world.org.id, world.client.id, step)


def sign(app: CoachOS, world: World, waiver_id: object, version: object) -> None:
    app.execute(
        SignWaiver(
            org_id=world.org.id,
            client_id=world.client.id,
            waiver_id=waiver_id,  # type: ignore[arg-type]
            version_id=version.id,  # type: ignore[attr-defined]
            shown_sha256=version.sha256,  # type: ignore[attr-defined]
            typed_name="Jordan Lee",
            consent=True,
            date_of_birth=date(1990, 1, 1),
        )
    )


class TestStepSources:
    def test_a_waiver_step_is_done_by_signing_and_undone_by_a_material_version(
        self, app: CoachOS, world: World
    ) -> None:
        waiver, first = app.execute(CreateWaiver(org_id=world.org.id, title="Liability", body="Text", actor=world.me))
        step = Step(StepKind.SIGN_WAIVER, waiver.id)
        assert not done(app, world, step)
        sign(app, world, waiver.id, first)
        assert done(app, world, step)
        app.execute(
            PublishWaiverVersion(
                org_id=world.org.id, waiver_id=waiver.id, body="Text, clarified", material=False, actor=world.me
            )
        )
        assert done(app, world, step), "a minor edit needs no new signature"
        app.execute(
            PublishWaiverVersion(
                org_id=world.org.id, waiver_id=waiver.id, body="New terms", material=True, actor=world.me
            )
        )
        assert not done(app, world, step), "a material edit needs a new signature"

    def test_a_form_step_is_done_by_answering_its_newest_version(self, app: CoachOS, world: World) -> None:
        form = app.execute(CreateHealthScreening(org_id=world.org.id, actor=world.me))
        step = Step(StepKind.FILL_FORM, form.id)
        assert app.execute(ListStepChoices(org_id=world.org.id))[StepKind.FILL_FORM.value] == []
        version = app.execute(PublishForm(org_id=world.org.id, form_id=form.id, actor=world.me))
        assert [c.id for c in app.execute(ListStepChoices(org_id=world.org.id))[StepKind.FILL_FORM.value]] == [form.id]
        assert not done(app, world, step)
        app.execute(
            SubmitForm(
                org_id=world.org.id,
                client_id=world.client.id,
                form_id=form.id,
                version_id=version.id,
                answers={q.key: "no" for q in version.questions},
                key="k1",
            )
        )
        assert done(app, world, step)

    def test_waivers_are_offered_as_steps(self, app: CoachOS, world: World) -> None:
        waiver, _ = app.execute(CreateWaiver(org_id=world.org.id, title="Liability", body="Text", actor=world.me))
        choices = app.execute(ListStepChoices(org_id=world.org.id))
        assert [(c.id, c.title) for c in choices[StepKind.SIGN_WAIVER.value]] == [(waiver.id, "Liability")]
