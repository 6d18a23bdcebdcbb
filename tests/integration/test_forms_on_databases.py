"""Forms on SQLite and PostgreSQL: the unit tests again, append-only tables even for raw SQL, racing submits."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS
from coachos.adapters.sql.tables import form_submissions
from coachos.adapters.sql.tenancy import scope_to
from coachos.domain.errors import Conflict
from coachos.domain.forms import Submission
from coachos.domain.usecases import PublishForm, ReadAnswers, RecordClearance, UpdateForm
from tests.helpers import World
from tests.integration.test_concurrency import race
from tests.unit.test_forms import (  # noqa: F401  # collected again with this folder's `app`
    TestAnswers,
    TestBuilder,
    TestClearanceDocument,
    TestCoachSide,
    TestScreening,
    TestSubmitting,
    TestVersions,
    all_no,
    answer,
    intake,
    screening,
)

#: Raw statements the app's role might try on each append-only table (with `:org` to scope them).
_TAMPERING = [
    "UPDATE form_versions SET name = 'Changed' WHERE org_id = :org",
    "DELETE FROM form_versions WHERE org_id = :org",
    "UPDATE form_submissions SET answers = '{}' WHERE org_id = :org",
    "DELETE FROM form_submissions WHERE org_id = :org",
    "UPDATE form_clearances SET note = 'Changed' WHERE org_id = :org",
    "DELETE FROM form_answer_views WHERE org_id = :org",
]


class TestAppendOnly:
    @pytest.mark.parametrize("statement", _TAMPERING)
    def test_raw_sql_cannot_change_or_delete_evidence(
        self, engine: Engine, app: CoachOS, world: World, statement: str
    ) -> None:
        """Versions, answers, clearances and the access log refuse updates and deletes, even as the app role."""
        _, version = screening(app, world)
        sub = answer(app, world, version, all_no(version, heart="yes"))
        app.execute(RecordClearance(org_id=world.org.id, client_id=world.client.id, note="GP note", actor=world.me))
        app.execute(ReadAnswers(org_id=world.org.id, client_id=world.client.id, submission_id=sub.id, actor=world.me))
        with engine.connect() as conn:
            scope_to(conn, world.org.id)
            org = world.org.id.hex if conn.dialect.name == "sqlite" else world.org.id
            with pytest.raises(sa.exc.DBAPIError, match="never changed or deleted"):
                conn.execute(sa.text(statement), {"org": org})
            conn.rollback()
        stored = app.read(lambda uow: uow.forms.submission(world.org.id, sub.id))
        assert stored.answers == sub.answers
        assert app.read(lambda uow: uow.forms.version(world.org.id, version.id)).name == version.name


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
class TestRaces:
    def test_ten_submits_of_one_link_store_one_submission(self, engine: Engine, app: CoachOS, world: World) -> None:
        """Ten transactions submitting the same link at once, each on its own connection: one row, all get it."""
        _, version = screening(app, world)
        results = race([lambda: answer(app, world, version, all_no(version), key="link:race") for _ in range(10)])
        assert all(isinstance(r, Submission) for r in results)
        assert len({r.id for r in results if isinstance(r, Submission)}) == 1
        with engine.connect() as conn:
            scope_to(conn, world.org.id)
            count = conn.execute(
                sa.select(sa.func.count()).select_from(form_submissions).where(form_submissions.c.key == "link:race")
            ).scalar_one()
        assert count == 1

    def test_two_coaches_publishing_at_once_make_one_version(self, app: CoachOS, world: World) -> None:
        """Racing publishes of one draft store one version 1; the others are refused, none is lost half-written."""
        form = intake(app, world)
        results = race([lambda: app.execute(PublishForm(org_id=world.org.id, form_id=form.id, actor=world.me))] * 5)
        published = [r for r in results if not isinstance(r, Exception)]
        assert len(published) == 1
        assert all(
            isinstance(r, Conflict) or "already has exactly this" in str(r) for r in results if r not in published
        )
        app.execute(UpdateForm(org_id=world.org.id, form_id=form.id, name="Intake 2", screening=False,
                               questions=form.questions, actor=world.me))  # fmt: skip
        assert app.execute(PublishForm(org_id=world.org.id, form_id=form.id, actor=world.me)).number == 2
