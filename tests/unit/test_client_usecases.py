"""Keeping a client's record up to date: UpdateClient, the consents and their log, on the fakes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from coachos import (
    SYSTEM,
    Actor,
    Channel,
    ClientStatus,
    CoachOS,
    Consent,
    ConsentAction,
    ConsentLog,
    CreateClient,
    NotFound,
    RecordConsent,
    UpdateClient,
    ValidationError,
    WithdrawConsent,
)
from coachos.adapters.clock import FixedClock
from coachos.domain.clients import Client
from coachos.domain.events import ClientUpdated, ConsentRecorded, ConsentWithdrawn, Event
from coachos.domain.messages import MessageChannel, Purpose, required_consent
from tests.helpers import World, make_world


def stored(app: CoachOS, w: World) -> Client:
    return app.read(lambda uow: uow.clients.get(w.org.id, w.client.id))


def events_of(app: CoachOS, w: World) -> list[Event]:
    return [e for e in app.read(lambda uow: uow.outbox.pending(limit=100_000)) if e.org_id == w.org.id]


def update(app: CoachOS, w: World, **changes: object) -> Client:
    return app.execute(UpdateClient(org_id=w.org.id, client_id=w.client.id, actor=w.me, **changes))  # type: ignore[arg-type]


class TestUpdateClient:
    def test_given_fields_change_and_others_stay(self, app: CoachOS, world: World) -> None:
        """Only the fields given change; the phone is normalised and the tags trimmed and lower-cased."""
        updated = update(app, world, phone="+1 (212) 555-0199", status="active", tags=frozenset({" VIP ", "Morning"}))
        assert updated.phone == "+12125550199"
        assert updated.status is ClientStatus.ACTIVE
        assert updated.tags == frozenset({"vip", "morning"})
        assert updated.name == world.client.name
        assert stored(app, world) == updated

    def test_blank_contact_details_are_cleared(self, app: CoachOS, world: World) -> None:
        """An empty phone removes the number, where None would have kept it."""
        assert update(app, world, phone="").phone is None
        assert update(app, world, name="Jordan Lee-Smith").phone is None

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"phone": "555 0101"}, "phone"),
            ({"email": "not-an-email"}, "email"),
            ({"name": "  "}, "name"),
            ({"status": "vip"}, "status"),
            ({"timezone": "Mars/Base"}, "timezone"),
            ({"notes": "x" * 10_001}, "notes"),
        ],
    )
    def test_invalid_details_are_refused_and_nothing_is_written(
        self, app: CoachOS, world: World, changes: dict[str, object], field: str
    ) -> None:
        """Details CreateClient would refuse are refused with the field named, and the stored client is unchanged."""
        before = events_of(app, world)
        with pytest.raises(ValidationError) as refused:
            update(app, world, **({"notes": "Changed"} | changes))
        assert refused.value.field == field
        assert stored(app, world) == world.client
        assert events_of(app, world) == before

    def test_event_names_the_changed_fields_without_their_values(self, app: CoachOS, world: World) -> None:
        """The ClientUpdated event carries the client's id and the changed field names, never the new values."""
        update(app, world, email="jordan@example.com", notes="Bad knee")
        event = events_of(app, world)[-1]
        assert isinstance(event, ClientUpdated)
        assert event.client_id == world.client.id
        assert event.changed == ("email", "notes")
        assert "jordan@example.com" not in repr(event)
        assert "knee" not in repr(event)

    def test_no_change_writes_no_event(self, app: CoachOS, world: World) -> None:
        """Saving the same details again records nothing."""
        before = events_of(app, world)
        update(app, world, name=world.client.name, phone=world.client.phone)
        assert events_of(app, world) == before

    def test_another_orgs_client_is_not_found(self, app: CoachOS, world: World) -> None:
        """A client of another organisation cannot be changed, as if it did not exist."""
        other = make_world(app)
        with pytest.raises(NotFound):
            app.execute(UpdateClient(org_id=other.org.id, client_id=world.client.id, actor=other.me, name="Taken"))
        assert stored(app, world) == world.client


class TestConsent:
    def test_recording_keeps_the_evidence(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A recorded consent keeps when, how and in which words it was given, and emits an event with the channel."""
        client = app.execute(
            RecordConsent(
                org_id=world.org.id,
                client_id=world.client.id,
                channel="sms",
                method="coach_entered",
                wording="Texts about my sessions",
                actor=world.me,
            )
        )
        consent = client.consent(Channel.SMS)
        assert consent is not None
        assert (consent.granted_at, consent.method, consent.wording) == (
            clock.now(),
            "coach_entered",
            "Texts about my sessions",
        )
        assert stored(app, world).consent(Channel.SMS) == consent
        event = events_of(app, world)[-1]
        assert isinstance(event, ConsentRecorded)
        assert event.channel == "sms"

    def test_recording_again_replaces_the_channels_consent(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A second consent on the same channel replaces the first rather than adding another."""
        cmd = RecordConsent(
            org_id=world.org.id, client_id=world.client.id, channel=Channel.EMAIL, method="form", actor=world.me
        )
        app.execute(cmd)
        clock.advance(timedelta(days=1))
        client = app.execute(cmd)
        assert len(client.consents) == 1
        assert client.consents[0].granted_at == clock.now()

    def test_unknown_channel_and_missing_method_are_refused(self, app: CoachOS, world: World) -> None:
        """A channel that does not exist or a blank method is refused with the field named."""
        base = {"org_id": world.org.id, "client_id": world.client.id, "actor": world.me}
        with pytest.raises(ValidationError) as bad_channel:
            app.execute(RecordConsent(channel="fax", method="form", **base))  # type: ignore[arg-type]
        with pytest.raises(ValidationError) as no_method:
            app.execute(RecordConsent(channel="sms", method=" ", **base))  # type: ignore[arg-type]
        assert (bad_channel.value.field, no_method.value.field) == ("channel", "method")
        assert stored(app, world).consents == ()

    def test_withdrawing_removes_only_that_channel(self, app: CoachOS, world: World) -> None:
        """Withdrawing SMS consent keeps email consent, emits ConsentWithdrawn, and a repeat changes nothing."""
        base = {"org_id": world.org.id, "client_id": world.client.id, "actor": world.me}
        for channel in ("sms", "email"):
            app.execute(RecordConsent(channel=channel, method="form", **base))  # type: ignore[arg-type]
        client = app.execute(WithdrawConsent(channel="sms", **base))  # type: ignore[arg-type]
        assert [c.channel for c in client.consents] == [Channel.EMAIL]
        assert isinstance(events_of(app, world)[-1], ConsentWithdrawn)
        count = len(events_of(app, world))
        assert app.execute(WithdrawConsent(channel="sms", **base)) == client  # type: ignore[arg-type]
        assert len(events_of(app, world)) == count


class TestConsentLog:
    def base(self, world: World) -> dict[str, Any]:
        return {"org_id": world.org.id, "client_id": world.client.id}

    def test_a_withdrawal_keeps_when_how_and_the_words(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """Withdrawing keeps the earlier consent and the withdrawal in the log, with time, method and words."""
        given_at = clock.now()
        app.execute(
            RecordConsent(
                channel="sms",
                method="coach_entered",
                wording="Texts about my sessions",
                actor=world.me,
                **self.base(world),
            )
        )
        clock.advance(timedelta(days=3))
        client = app.execute(
            WithdrawConsent(
                channel=Channel.SMS,
                method="sms_keyword",
                wording="STOP",
                actor=Actor("client", world.client.id),
                **self.base(world),
            )
        )
        assert client.consent(Channel.SMS) is None
        log = app.execute(ConsentLog(**self.base(world)))
        assert [(c.channel, c.action, c.at, c.method, c.wording) for c in log] == [
            (Channel.SMS, ConsentAction.GIVEN, given_at, "coach_entered", "Texts about my sessions"),
            (Channel.SMS, ConsentAction.WITHDRAWN, clock.now(), "sms_keyword", "STOP"),
        ]
        assert log[0].actor == str(world.me)
        assert log[1].actor == f"client:{world.client.id}"

    @pytest.mark.parametrize(
        ("actor_kind", "method"), [("coach", "coach_entered"), ("client", "client_request"), ("system", "system")]
    )
    def test_a_withdrawal_without_a_method_is_named_after_who_asked(
        self, app: CoachOS, world: World, clock: FixedClock, actor_kind: str, method: str
    ) -> None:
        """A withdrawal that does not say how is recorded as entered by a coach, asked by the client, or by Coach OS."""
        actor = {"coach": world.me, "client": Actor("client", world.client.id), "system": SYSTEM}[actor_kind]
        app.execute(RecordConsent(channel="sms_marketing", method="booking_form", actor=world.me, **self.base(world)))
        clock.advance(timedelta(minutes=1))
        app.execute(WithdrawConsent(channel="sms_marketing", actor=actor, **self.base(world)))
        assert app.execute(ConsentLog(**self.base(world)))[-1].method == method

    def test_a_blank_method_is_refused_and_nothing_changes(self, app: CoachOS, world: World) -> None:
        """A withdrawal whose method is blank is refused naming 'method', and the consent stays."""
        app.execute(RecordConsent(channel="sms", method="booking_form", actor=world.me, **self.base(world)))
        before = stored(app, world)
        with pytest.raises(ValidationError) as caught:
            app.execute(WithdrawConsent(channel="sms", method=" ", actor=world.me, **self.base(world)))
        assert caught.value.field == "method"
        assert stored(app, world) == before
        assert len(app.execute(ConsentLog(**self.base(world)))) == 1

    def test_coach_entered_consent_needs_its_words(self, app: CoachOS, world: World) -> None:
        """Consent a coach enters without the words the client agreed to is refused naming 'wording'."""
        for wording in (None, "  "):
            with pytest.raises(ValidationError) as caught:
                app.execute(
                    RecordConsent(
                        channel="sms", method="coach_entered", wording=wording, actor=world.me, **self.base(world)
                    )
                )
            assert caught.value.field == "wording"
        assert stored(app, world).consents == ()

    def test_withdrawing_what_was_never_given_logs_nothing(self, app: CoachOS, world: World) -> None:
        """A withdrawal of a consent the client does not have changes nothing, the log included."""
        app.execute(WithdrawConsent(channel="email_marketing", actor=world.me, **self.base(world)))
        assert app.execute(ConsentLog(**self.base(world))) == []

    def test_marketing_is_read_as_email_marketing(self, app: CoachOS, world: World) -> None:
        """The old name "marketing" still means email marketing, for callers and stored records from before."""
        client = app.execute(
            RecordConsent(channel="marketing", method="client_request", actor=world.me, **self.base(world))
        )
        assert [c.channel for c in client.consents] == [Channel.EMAIL_MARKETING]
        assert Channel("marketing") is Channel.EMAIL_MARKETING
        assert Channel.MARKETING is Channel.EMAIL_MARKETING
        assert [c.value for c in Channel] == ["sms", "email", "email_marketing", "sms_marketing"]
        assert required_consent(MessageChannel.EMAIL, Purpose.MARKETING) is Channel.EMAIL_MARKETING

    def test_a_client_created_with_consents_has_them_in_the_log(self, app: CoachOS, world: World) -> None:
        """CreateClient logs each consent it is given, so the log is complete from the first day."""
        consent = Consent(channel=Channel.SMS, granted_at=world.client.created_at, method="coach_entered", wording="OK")
        client = app.execute(CreateClient(org_id=world.org.id, name="New Person", actor=world.me, consents=(consent,)))
        log = app.execute(ConsentLog(org_id=world.org.id, client_id=client.id))
        assert [(c.channel, c.action, c.method, c.wording) for c in log] == [
            (Channel.SMS, ConsentAction.GIVEN, "coach_entered", "OK")
        ]

    def test_another_business_cannot_read_the_log(self, app: CoachOS, world: World) -> None:
        """The log of a client is NotFound from another organisation."""
        other = make_world(app)
        with pytest.raises(NotFound):
            app.execute(ConsentLog(org_id=other.org.id, client_id=world.client.id))
