"""Consent changes racing each other and profile edits on real connections: none is lost (SQLite and PostgreSQL)."""

from __future__ import annotations

from coachos import (
    Actor,
    Channel,
    CoachOS,
    ConsentAction,
    ConsentLog,
    RecordConsent,
    UpdateClient,
    WithdrawConsent,
)
from tests.helpers import World
from tests.integration.test_concurrency import kinds, race

ALL = (Channel.SMS, Channel.SMS_MARKETING, Channel.EMAIL_MARKETING, Channel.EMAIL)


def _give_all(app: CoachOS, w: World) -> None:
    for channel in ALL:
        app.execute(
            RecordConsent(
                org_id=w.org.id, client_id=w.client.id, channel=channel, method="booking_form", wording="W", actor=w.me
            )
        )


class TestConsentRaces:
    def test_withdrawals_of_every_channel_at_once_all_hold(self, app: CoachOS, world: World) -> None:
        """Four withdrawals of different consents at once, each on its own connection, leave none and log four."""
        _give_all(app, world)
        stop = Actor("client", world.client.id)
        results = race(
            [
                lambda c=c: app.execute(
                    WithdrawConsent(
                        org_id=world.org.id, client_id=world.client.id, channel=c, method="sms_keyword", actor=stop
                    )
                )
                for c in ALL
            ]
        )
        assert kinds(results) == {"ok": 4}
        assert app.read(lambda uow: uow.clients.get(world.org.id, world.client.id)).consents == ()
        log = app.execute(ConsentLog(org_id=world.org.id, client_id=world.client.id))
        assert sorted(c.channel for c in log if c.action is ConsentAction.WITHDRAWN) == sorted(ALL)

    def test_a_profile_edit_racing_a_withdrawal_does_not_bring_the_consent_back(
        self, app: CoachOS, world: World
    ) -> None:
        """A STOP and profile edits at once: the edits land and the consent stays withdrawn."""
        _give_all(app, world)
        calls = [
            lambda: app.execute(
                WithdrawConsent(
                    org_id=world.org.id,
                    client_id=world.client.id,
                    channel=Channel.SMS,
                    method="sms_keyword",
                    actor=Actor("client", world.client.id),
                )
            ),
            *(
                lambda n=n: app.execute(
                    UpdateClient(org_id=world.org.id, client_id=world.client.id, actor=world.me, notes=f"edit {n}")
                )
                for n in range(5)
            ),
        ]
        assert kinds(race(calls)) == {"ok": 6}
        client = app.read(lambda uow: uow.clients.get(world.org.id, world.client.id))
        assert client.consent(Channel.SMS) is None
        assert client.notes.startswith("edit ")
        assert {c.channel for c in client.consents} == set(ALL) - {Channel.SMS}
