"""Clients signing in to their business's portal by a one-time link or code (on the in-memory fakes)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from coachos import CoachOS, CreateClient
from coachos.adapters.clock import FixedClock
from coachos.domain.clients import Channel, Client
from coachos.domain.errors import NotAuthenticated, Throttled, ValidationError
from coachos.domain.messages import MessageChannel, Purpose
from coachos.domain.portal import (
    MAX_CODE_FAILURES,
    SIGN_INS_PER_ADDRESS,
    SIGN_INS_PER_CONTACT,
    check_code,
    code_from,
    digest,
    parse_contact,
)
from coachos.domain.usecases import (
    ApproveAccountDeletion,
    AuthenticateClient,
    ClientSignOut,
    ConfirmContactChange,
    PruneExpired,
    RecordConsent,
    RequestAccountDeletion,
    RequestClientSignIn,
    RequestContactChange,
    SignInWithCode,
    SignInWithLink,
)
from tests.helpers import World, make_world

EMAIL = "jamie@example.test"
BASE = "https://coach.test/c/peak/sign-in/"


def with_email(app: CoachOS, world: World, email: str = EMAIL) -> Client:
    return app.execute(CreateClient(org_id=world.org.id, name="Jamie Fox", email=email, actor=world.me))


def ask(app: CoachOS, world: World, contact: str = EMAIL, address: str | None = None) -> None:
    # Each business asks from its own address: tests sharing a database share its per-address counters.
    address = address or f"test-{world.org.id.hex[:12]}"
    app.execute(RequestClientSignIn(org_id=world.org.id, contact=contact, address=address, link_base=BASE))


def sent(app: CoachOS, world: World, client: Client) -> list[tuple[str, str]]:
    """(token, code) of every sign-in message queued for the client, oldest first."""
    with app.deps.uow() as uow:
        found = [m for m in uow.messages.for_client(world.org.id, client.id) if m.template == "portal_sign_in"]
    out = []
    for m in found:
        token = re.search(re.escape(BASE) + r"(\S+)", m.body)
        code = re.search(r"code for .* is (\d{6})", m.body)
        assert token
        assert code
        out.append((token.group(1), code.group(1)))
    return out


class TestValues:
    def test_contacts_are_normalised_emails_or_phones(self) -> None:
        """An email is lower-cased, a phone put in E.164 form, and anything else refused."""
        assert parse_contact(" Jamie@Example.TEST ").email == EMAIL
        assert parse_contact("+1 212 555 0101").phone == "+12125550101"
        with pytest.raises(ValidationError):
            parse_contact("not a contact")

    def test_codes_are_six_digits(self) -> None:
        """Codes drawn from tokens are six digits; typed ones may hold spaces but nothing else."""
        assert re.fullmatch(r"\d{6}", code_from("x" * 43))
        assert check_code("123 456") == "123456"
        with pytest.raises(ValidationError):
            check_code("12345a")


class TestRequest:
    def test_known_email_gets_one_transactional_email_with_link_and_code(self, app: CoachOS, world: World) -> None:
        """The message is an email, transactional, not held by quiet hours, with a long link token."""
        client = with_email(app, world)
        ask(app, world)
        with app.deps.uow() as uow:
            (message,) = uow.messages.for_client(world.org.id, client.id)
        assert message.channel is MessageChannel.EMAIL
        assert message.purpose is Purpose.TRANSACTIONAL
        assert message.quiet_hours is False
        assert message.to == EMAIL
        ((token, _code),) = sent(app, world, client)
        assert len(token) >= 22  # at least 128 bits in URL-safe base64

    def test_unknown_contact_sends_nothing_and_answers_the_same(self, app: CoachOS, world: World) -> None:
        """Asking for a contact nobody has returns normally and queues nothing."""
        ask(app, world, "nobody@example.test")
        with app.deps.uow() as uow:
            assert not uow.messages.for_client(world.org.id, world.client.id)

    def test_phone_needs_sms_consent(self, app: CoachOS, world: World) -> None:
        """A phone on file without consent to texts gets nothing; with it, a text."""
        ask(app, world, "+1 212 555 0101")
        assert sent(app, world, world.client) == []
        app.execute(
            RecordConsent(
                org_id=world.org.id,
                client_id=world.client.id,
                channel=Channel.SMS,
                method="verbal",
                actor=world.me,
                wording="Texts about my bookings.",
            )
        )
        ask(app, world, "+1 212 555 0101")
        assert len(sent(app, world, world.client)) == 1

    def test_per_contact_limit_silently_stops_sending(self, app: CoachOS, world: World) -> None:
        """Past the per-contact limit nothing more is queued, and the answer does not change."""
        client = with_email(app, world)
        for n in range(SIGN_INS_PER_CONTACT + 2):
            ask(app, world, address=f"{world.org.id.hex[:8]}-{n}")
        assert len(sent(app, world, client)) == SIGN_INS_PER_CONTACT

    def test_per_address_limit_counts_unknown_contacts_too(self, app: CoachOS, world: World) -> None:
        """One address asking for many contacts is stopped, even for a real one after."""
        client = with_email(app, world)
        for n in range(SIGN_INS_PER_ADDRESS):
            ask(app, world, f"guess{n}@example.test")
        ask(app, world)
        assert sent(app, world, client) == []


class TestLink:
    def test_link_signs_in_once(self, app: CoachOS, world: World) -> None:
        """The first use opens a session for the client; the second is refused."""
        client = with_email(app, world)
        ask(app, world)
        ((token, _),) = sent(app, world, client)
        signed = app.execute(SignInWithLink(org_id=world.org.id, token=token))
        assert signed.client_id == client.id
        assert app.execute(AuthenticateClient(org_id=world.org.id, token=signed.session_token)) == client.id
        with pytest.raises(NotAuthenticated):
            app.execute(SignInWithLink(org_id=world.org.id, token=token))

    def test_expired_link_is_refused(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """Fifteen minutes after it was sent, the link no longer works."""
        client = with_email(app, world)
        ask(app, world)
        ((token, _),) = sent(app, world, client)
        clock.advance(timedelta(minutes=15))
        with pytest.raises(NotAuthenticated):
            app.execute(SignInWithLink(org_id=world.org.id, token=token))

    def test_new_link_supersedes_the_old(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """Asking again makes the earlier link and code useless; the newer link works."""
        client = with_email(app, world)
        ask(app, world)
        clock.advance(timedelta(seconds=1))
        ask(app, world)
        (old, _old_code), (new, _) = sent(app, world, client)
        with pytest.raises(NotAuthenticated):
            app.execute(SignInWithLink(org_id=world.org.id, token=old))
        with pytest.raises(NotAuthenticated):
            app.execute(SignInWithCode(org_id=world.org.id, contact=EMAIL, code=_old_code, address=world.org.id.hex))
        assert app.execute(SignInWithLink(org_id=world.org.id, token=new)).client_id == client.id

    def test_other_orgs_link_is_refused(self, app: CoachOS, world: World) -> None:
        """A link from one business does not sign in at another's portal."""
        client = with_email(app, world)
        ask(app, world)
        ((token, _),) = sent(app, world, client)
        other = make_world(app)
        with pytest.raises(NotAuthenticated) as refused:
            app.execute(SignInWithLink(org_id=other.org.id, token=token))
        assert "expired or was used" in str(refused.value)
        assert app.execute(SignInWithLink(org_id=world.org.id, token=token)).client_id == client.id

    def test_session_belongs_to_its_org_and_sign_out_ends_it(self, app: CoachOS, world: World) -> None:
        """Another business does not know the session; signing out ends it."""
        client = with_email(app, world)
        ask(app, world)
        ((token, _),) = sent(app, world, client)
        session = app.execute(SignInWithLink(org_id=world.org.id, token=token)).session_token
        other = make_world(app)
        assert app.execute(AuthenticateClient(org_id=other.org.id, token=session)) is None
        app.execute(ClientSignOut(org_id=world.org.id, token=session))
        assert app.execute(AuthenticateClient(org_id=world.org.id, token=session)) is None

    def test_signing_in_again_rotates_the_session(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A browser's previous session ends when it signs in again."""
        client = with_email(app, world)
        ask(app, world)
        ((first, _),) = sent(app, world, client)
        old = app.execute(SignInWithLink(org_id=world.org.id, token=first)).session_token
        clock.advance(timedelta(seconds=1))
        ask(app, world)
        second = sent(app, world, client)[-1][0]
        new = app.execute(SignInWithLink(org_id=world.org.id, token=second, previous=old)).session_token
        assert new != old
        assert app.execute(AuthenticateClient(org_id=world.org.id, token=old)) is None


class TestCode:
    def test_code_signs_in_once(self, app: CoachOS, world: World) -> None:
        """The right code for the contact opens a session; using it again is refused."""
        client = with_email(app, world)
        ask(app, world)
        ((_, code),) = sent(app, world, client)
        assert app.execute(
            SignInWithCode(org_id=world.org.id, contact=EMAIL, code=code, address=world.org.id.hex)
        ).client_id == (client.id)
        with pytest.raises(NotAuthenticated):
            app.execute(SignInWithCode(org_id=world.org.id, contact=EMAIL, code=code, address=world.org.id.hex))

    def test_code_locks_after_five_wrong_tries(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """After five wrong codes even the right one is refused until a new one is asked for."""
        client = with_email(app, world)
        ask(app, world)
        ((_, code),) = sent(app, world, client)
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        for _ in range(MAX_CODE_FAILURES):
            with pytest.raises(NotAuthenticated):
                app.execute(SignInWithCode(org_id=world.org.id, contact=EMAIL, code=wrong, address=world.org.id.hex))
        with pytest.raises(NotAuthenticated):
            app.execute(SignInWithCode(org_id=world.org.id, contact=EMAIL, code=code, address=world.org.id.hex))
        clock.advance(timedelta(seconds=1))
        ask(app, world)
        fresh = sent(app, world, client)[-1][1]
        assert app.execute(
            SignInWithCode(org_id=world.org.id, contact=EMAIL, code=fresh, address=world.org.id.hex)
        ).client_id

    def test_expired_code_is_refused(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A code is good for fifteen minutes only."""
        client = with_email(app, world)
        ask(app, world)
        ((_, code),) = sent(app, world, client)
        clock.advance(timedelta(minutes=16))
        with pytest.raises(NotAuthenticated):
            app.execute(SignInWithCode(org_id=world.org.id, contact=EMAIL, code=code, address=world.org.id.hex))

    def test_unknown_contact_gets_the_same_refusal(self, app: CoachOS, world: World) -> None:
        """A code for a contact nobody has is refused with the wrong-code message."""
        with pytest.raises(NotAuthenticated, match="not right"):
            app.execute(
                SignInWithCode(org_id=world.org.id, contact="x@example.test", code="123456", address=world.org.id.hex)
            )

    def test_many_codes_from_one_address_are_throttled(self, app: CoachOS, world: World) -> None:
        """Guessing codes for many contacts from one address is stopped."""
        refusals = []
        for n in range(100):
            try:
                app.execute(
                    SignInWithCode(
                        org_id=world.org.id, contact=f"g{n}@example.test", code="123456", address="b" + world.org.id.hex
                    )
                )
            except (NotAuthenticated, Throttled) as exc:
                refusals.append(type(exc))
        assert Throttled in refusals


class TestPrune:
    def test_pruning_deletes_dead_sign_ins_and_sessions_of_every_business(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """Used and expired sign-ins and expired sessions go; a live session stays."""
        client = with_email(app, world)
        ask(app, world)
        ((token, _),) = sent(app, world, client)
        live = app.execute(SignInWithLink(org_id=world.org.id, token=token)).session_token
        clock.advance(timedelta(seconds=1))
        ask(app, world)
        app.execute(PruneExpired())
        with app.deps.uow() as uow:
            assert uow.portal.take_link(world.org.id, "nothing", clock.now()) is None
        assert app.execute(AuthenticateClient(org_id=world.org.id, token=live)) == client.id
        clock.advance(timedelta(days=31))
        app.execute(PruneExpired())
        assert app.execute(AuthenticateClient(org_id=world.org.id, token=live)) is None
        with app.deps.uow() as uow:
            assert uow.portal.session(world.org.id, digest(live)) is None


def change_codes(app: CoachOS, world: World, client: Client) -> list[str]:
    with app.deps.uow() as uow:
        found = [m for m in uow.messages.for_client(world.org.id, client.id) if m.template == "portal_contact_change"]
    return [re.search(r" is (\d{6})", m.body).group(1) for m in sorted(found, key=lambda m: m.created_at)]  # type: ignore[union-attr]


class TestContactChange:
    def test_new_email_changes_only_with_its_code(self, app: CoachOS, world: World) -> None:
        """The code goes to the new email; the email on file changes once it is entered, and then signs in."""
        client = with_email(app, world)
        app.execute(RequestContactChange(org_id=world.org.id, client_id=client.id, contact="New.Me@example.test"))
        with app.deps.uow() as uow:
            assert uow.clients.get(world.org.id, client.id).email == EMAIL
            (message,) = [m for m in uow.messages.for_client(world.org.id, client.id) if m.template]
        assert message.to == "new.me@example.test"
        (code,) = change_codes(app, world, client)
        changed = app.execute(ConfirmContactChange(org_id=world.org.id, client_id=client.id, code=code))
        assert changed.email == "new.me@example.test"
        with pytest.raises(NotAuthenticated):
            app.execute(ConfirmContactChange(org_id=world.org.id, client_id=client.id, code=code))
        ask(app, world, "new.me@example.test")
        assert len(sent(app, world, client)) == 1

    def test_wrong_codes_lock_and_change_nothing(self, app: CoachOS, world: World) -> None:
        """Five wrong codes lock the change; the old email stays."""
        client = with_email(app, world)
        app.execute(RequestContactChange(org_id=world.org.id, client_id=client.id, contact="other@example.test"))
        (code,) = change_codes(app, world, client)
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        for _ in range(MAX_CODE_FAILURES):
            with pytest.raises(NotAuthenticated):
                app.execute(ConfirmContactChange(org_id=world.org.id, client_id=client.id, code=wrong))
        with pytest.raises(NotAuthenticated):
            app.execute(ConfirmContactChange(org_id=world.org.id, client_id=client.id, code=code))
        with app.deps.uow() as uow:
            assert uow.clients.get(world.org.id, client.id).email == EMAIL

    def test_sign_in_code_is_not_a_change_code(self, app: CoachOS, world: World) -> None:
        """A sign-in code cannot confirm a contact change."""
        client = with_email(app, world)
        app.execute(RequestContactChange(org_id=world.org.id, client_id=client.id, contact="other@example.test"))
        ask(app, world)
        ((_, sign_in_code),) = sent(app, world, client)
        (change_code,) = change_codes(app, world, client)
        if sign_in_code != change_code:
            with pytest.raises(NotAuthenticated):
                app.execute(ConfirmContactChange(org_id=world.org.id, client_id=client.id, code=sign_in_code))

    def test_phone_needs_texts_consent_and_same_contact_is_refused(self, app: CoachOS, world: World) -> None:
        """A new phone without consent to texts, or the contact already on file, is a clear refusal."""
        client = with_email(app, world)
        with pytest.raises(ValidationError, match="texts"):
            app.execute(RequestContactChange(org_id=world.org.id, client_id=client.id, contact="+1 212 555 0177"))
        with pytest.raises(ValidationError, match="already"):
            app.execute(RequestContactChange(org_id=world.org.id, client_id=client.id, contact=EMAIL))


class TestDeletion:
    def test_approved_deletion_anonymises_but_keeps_bookings(self, app: CoachOS, world: World) -> None:
        """Name, contacts, notes and consents go; the client row (and what points at it) stays."""
        client = with_email(app, world)
        app.execute(
            RecordConsent(
                org_id=world.org.id,
                client_id=client.id,
                channel=Channel.EMAIL,
                method="form",
                actor=world.me,
                wording="Emails about my bookings.",
            )
        )
        with pytest.raises(ValidationError):
            app.execute(ApproveAccountDeletion(org_id=world.org.id, client_id=client.id, actor=world.me))
        app.execute(RequestAccountDeletion(org_id=world.org.id, client_id=client.id))
        gone = app.execute(ApproveAccountDeletion(org_id=world.org.id, client_id=client.id, actor=world.me))
        assert gone.name == "Deleted client"
        assert gone.email is None
        assert gone.phone is None
        assert gone.consents == ()
        assert gone.notes == ""
        with app.deps.uow() as uow:
            assert uow.clients.get(world.org.id, client.id).name == "Deleted client"
            assert uow.portal.deletion_requested(world.org.id, client.id) is None
