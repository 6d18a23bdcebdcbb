"""A business's templates: saved per (kind, channel), replaced by a second save, reset to the default, previewed.

Runs on the fakes here and on SQLite and PostgreSQL in tests/integration/test_messaging_on_databases.py.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.domain.errors import NotFound, ValidationError
from coachos.domain.ids import OrgId
from coachos.domain.messages import MessageChannel
from coachos.domain.templates import DEFAULTS, TemplateKind
from coachos.domain.usecases import (
    ListMessageTemplates,
    PreviewMessageTemplate,
    ResetMessageTemplate,
    SaveMessageTemplate,
)
from tests.helpers import World, make_world


def save(
    app: CoachOS, world: World, body: str, *, kind: str = "reminder_2h", channel: str = "sms", **kw: object
) -> None:
    values: dict[str, object] = {
        "org_id": world.org.id,
        "kind": kind,
        "channel": channel,
        "subject": None,
        "body": body,
        "actor": world.me,
    } | kw
    app.execute(SaveMessageTemplate(**values))  # type: ignore[arg-type]


class TestTemplateStore:
    def test_a_saved_wording_is_listed_as_the_businesss_own(self, app: CoachOS, world: World) -> None:
        """After a save, the list shows that kind and channel with the saved wording and the others with defaults."""
        save(app, world, "Soon: {when}")
        rows = app.execute(ListMessageTemplates(org_id=world.org.id))
        assert len(rows) == len(DEFAULTS)
        mine = [r for r in rows if r.customised]
        assert [(r.kind, r.channel, r.wording.body) for r in mine] == [
            (TemplateKind.REMINDER_2H, MessageChannel.SMS, "Soon: {when}")
        ]
        assert mine[0].updated_at == app.clock.now()

    def test_saving_again_replaces_the_wording(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A second save of the same kind and channel replaces the first; one row remains."""
        save(app, world, "First {when}")
        clock.advance(timedelta(minutes=5))
        save(app, world, "Second {when}")
        stored = app.read(lambda uow: list(uow.templates.list(world.org.id)))
        assert [(t.body, t.updated_at) for t in stored] == [("Second {when}", clock.now())]

    def test_an_email_template_keeps_its_subject_and_line_breaks(self, app: CoachOS, world: World) -> None:
        """Subject and body are stored as given, with CRLF line breaks made LF."""
        save(app, world, "Hi\r\n\r\n{when}", channel="email", subject="Soon: {service}")
        stored = app.read(lambda uow: uow.templates.get(world.org.id, TemplateKind.REMINDER_2H, MessageChannel.EMAIL))
        assert stored is not None
        assert (stored.subject, stored.body) == ("Soon: {service}", "Hi\n\n{when}")

    def test_reset_removes_the_wording(self, app: CoachOS, world: World) -> None:
        """Resetting brings the default back; resetting again changes nothing."""
        save(app, world, "Mine {when}")
        reset = ResetMessageTemplate(org_id=world.org.id, kind="reminder_2h", channel="sms", actor=world.me)
        assert app.execute(reset) is True
        assert app.execute(reset) is False
        assert not any(r.customised for r in app.execute(ListMessageTemplates(org_id=world.org.id)))

    def test_a_refused_wording_stores_nothing(self, app: CoachOS, world: World) -> None:
        """An unknown placeholder is refused and the earlier wording stays."""
        save(app, world, "Mine {when}")
        with pytest.raises(ValidationError, match="not a placeholder"):
            save(app, world, "Oops {nope}")
        stored = app.read(lambda uow: list(uow.templates.list(world.org.id)))
        assert [t.body for t in stored] == ["Mine {when}"]

    @pytest.mark.parametrize(("kind", "channel"), [("nope", "sms"), ("reminder_2h", "fax")])
    def test_an_unknown_kind_or_channel_is_refused(self, app: CoachOS, world: World, kind: str, channel: str) -> None:
        """Kinds and channels are the ones Coach OS sends."""
        with pytest.raises(ValidationError):
            save(app, world, "Hi", kind=kind, channel=channel)

    def test_one_businesss_wording_is_not_anothers(self, app: CoachOS, world: World) -> None:
        """Templates belong to their business; another sees its defaults, and an unknown business is NotFound."""
        other = make_world(app)
        save(app, world, "Mine {when}")
        assert not any(r.customised for r in app.execute(ListMessageTemplates(org_id=other.org.id)))
        assert app.read(lambda uow: list(uow.templates.list(other.org.id))) == []
        with pytest.raises(NotFound):
            save(app, world, "Hi", org_id=OrgId(uuid4()))


class TestPreview:
    def test_the_preview_fills_sample_values_in_the_businesss_zone_and_counts_parts(
        self, app: CoachOS, world: World
    ) -> None:
        """A sample booking tomorrow at 9:00 New York time, with EST, and the text's SMS parts."""
        preview = app.execute(
            PreviewMessageTemplate(
                org_id=world.org.id, kind="reminder_24h", channel="sms", subject=None, body="See you {when}"
            )
        )
        assert preview.rendered.text == "See you Tue 3 Mar, 9:00 AM EST"
        assert (preview.segments.encoding, preview.segments.parts) == ("GSM-7", 1)

    def test_the_preview_uses_a_real_length_manage_link(self, app: CoachOS, world: World) -> None:
        """The sample link is as long as a real one, so the part count is the real count."""
        preview = app.execute(
            PreviewMessageTemplate(
                org_id=world.org.id, kind="booking_confirmed", channel="sms", subject=None, body="{manage_link}"
            )
        )
        assert preview.rendered.text.startswith("http")
        assert len(preview.rendered.text) > 60

    def test_a_bad_wording_is_refused_by_the_preview_too(self, app: CoachOS, world: World) -> None:
        """The preview applies the same checks as saving."""
        with pytest.raises(ValidationError):
            app.execute(
                PreviewMessageTemplate(
                    org_id=world.org.id, kind="booking_confirmed", channel="sms", subject=None, body="{nope}"
                )
            )
