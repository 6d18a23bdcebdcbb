"""Use cases for clients' own side: signing in by link or code, client sessions, deleting an account."""

from __future__ import annotations

from datetime import datetime

import attrs

from coachos.domain.bookings import Booking
from coachos.domain.clients import Channel, Client
from coachos.domain.errors import NotAuthenticated, Throttled, ValidationError
from coachos.domain.events import ClientUpdated
from coachos.domain.forms import FormVersion, Submission
from coachos.domain.ids import Actor, ClientId, OrgId, ServiceId
from coachos.domain.messages import MessageChannel, Purpose, outgoing
from coachos.domain.portal import (
    CHANGE_BY_CLIENT,
    CHANGES_PER_CLIENT,
    CLIENT_SESSION_LIFETIME,
    CODE_BY_ADDRESS,
    CODE_TRIES_PER_ADDRESS,
    MAX_CODE_FAILURES,
    SECRET_TEMPLATES,
    SIGN_IN_BY_ADDRESS,
    SIGN_IN_BY_CONTACT,
    SIGN_IN_LIFETIME,
    SIGN_IN_WINDOW,
    SIGN_INS_PER_ADDRESS,
    SIGN_INS_PER_CONTACT,
    ClientSession,
    ContactChange,
    SignInChallenge,
    change_code_digest,
    check_code,
    code_digest,
    code_from,
    digest,
    parse_contact,
    plain,
)
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases.booking import BookSession, book_session
from coachos.domain.usecases.clients import withdraw_consents
from coachos.domain.usecases.public import first_active_coach
from coachos.domain.waivers import WaiverSignature
from coachos.ports.storage import UnitOfWork

#: The one refusal for every link that does not sign in: unknown, used, replaced, expired or another business's.
LINK_REFUSED = "This sign-in link has expired or was used already. Ask for a new one below."
CODE_REFUSED = "That code is not right, has expired or was used already. Check it, or ask for a new one."


def _address_key(address: str) -> str:
    return (address or "?").strip()[:64]


@attrs.frozen(kw_only=True)
class RequestClientSignIn(Command[None]):
    """Send a client a one-time sign-in link and code, if the contact is on file (the answer never says)."""

    org_id: OrgId
    #: The email or phone number the client typed.
    contact: str = attrs.field(repr=False)
    #: The client's network address, for throttling.
    address: str
    #: The confirmation page's address up to the token, e.g. "https://coachos.example/c/studio/sign-in/".
    link_base: str


@handles(RequestClientSignIn)
def request_client_sign_in(cmd: RequestClientSignIn, deps: Deps) -> None:
    """Store the new link's and code's digests (replacing any earlier ones) and queue the message.

    Limits count per contact and per address whether the contact is known or not, so neither
    the answer nor its absence tells anything. A phone number is texted only with the client's
    consent to texts (the sender checks it again); otherwise nothing is sent.
    """
    contact = parse_contact(cmd.contact)
    now = deps.clock.now()
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        by_contact = uow.accounts.bump_counter(SIGN_IN_BY_CONTACT, contact.key(cmd.org_id), now, SIGN_IN_WINDOW)
        by_address = uow.accounts.bump_counter(SIGN_IN_BY_ADDRESS, _address_key(cmd.address), now, SIGN_IN_WINDOW)
        client = uow.clients.by_contact(cmd.org_id, email=contact.email, phone=contact.phone)
        within = by_contact <= SIGN_INS_PER_CONTACT and by_address <= SIGN_INS_PER_ADDRESS
        reachable = client is not None and (contact.email is not None or client.consent(Channel.SMS) is not None)
        if client is None or not within or not reachable:
            uow.commit()  # the counts stay, whatever the answer
            return
        token = deps.tokens.new_token()
        code = code_from(deps.tokens.new_token())
        link_digest = digest(token)
        uow.portal.put_challenge(
            SignInChallenge(
                org_id=cmd.org_id,
                client_id=client.id,
                link_digest=link_digest,
                code_digest=code_digest(client.id, code),
                created_at=now,
                expires_at=now + SIGN_IN_LIFETIME,
            )
        )
        minutes = int(SIGN_IN_LIFETIME.total_seconds() // 60)
        link = f"{cmd.link_base}{token}"
        body = (
            f"Your sign-in code for {org.name} is {code}, or open {link}\n"
            f"It works once, for {minutes} minutes. If you did not ask for it, ignore this message."
        )
        uow.messages.add(
            outgoing(
                id=deps.ids.new_id(),
                org_id=cmd.org_id,
                key=f"portal-sign-in:{link_digest[:32]}",
                channel=MessageChannel.EMAIL if contact.email else MessageChannel.SMS,
                purpose=Purpose.TRANSACTIONAL,
                to=contact.email or contact.phone or "",
                subject=f"Sign in to {org.name}" if contact.email else None,
                body=body,
                now=now,
                client_id=client.id,
                template="portal_sign_in",
                # The client is waiting for it now: quiet hours would only make them ask again.
                quiet_hours=False,
            )
        )
        uow.commit()


@attrs.frozen
class ClientSignedIn:
    """A client who signed in, and their new session's secret for the cookie."""

    org_id: OrgId
    client_id: ClientId
    session_token: str = attrs.field(repr=False)


def _open_session(uow: UnitOfWork, deps: Deps, org_id: OrgId, client_id: ClientId, now: datetime) -> ClientSignedIn:
    token = deps.tokens.new_token()
    uow.portal.add_session(
        ClientSession(
            token_digest=digest(token),
            org_id=org_id,
            client_id=client_id,
            created_at=now,
            expires_at=now + CLIENT_SESSION_LIFETIME,
        )
    )
    return ClientSignedIn(org_id, client_id, token)


@attrs.frozen(kw_only=True)
class SignInWithLink(Command[ClientSignedIn]):
    """Use a sign-in link once and open a new client session (only ever from a confirming POST)."""

    org_id: OrgId
    token: str = attrs.field(repr=False)
    #: The session the browser had before, ended so a signed-in browser gets a fresh id.
    previous: str = attrs.field(default="", repr=False)


@handles(SignInWithLink)
def sign_in_with_link(cmd: SignInWithLink, deps: Deps) -> ClientSignedIn:
    """One conditional update takes the link; whoever loses a race, or comes late, gets the same refusal."""
    if not cmd.token or len(cmd.token) > 200:
        raise NotAuthenticated(LINK_REFUSED)
    now = deps.clock.now()
    with deps.uow() as uow:
        client_id = uow.portal.take_link(cmd.org_id, digest(cmd.token), now)
        if client_id is None:
            raise NotAuthenticated(LINK_REFUSED)
        if cmd.previous:
            uow.portal.end_session(cmd.org_id, digest(cmd.previous))
        signed_in = _open_session(uow, deps, cmd.org_id, client_id, now)
        uow.commit()
    return signed_in


@attrs.frozen(kw_only=True)
class SignInWithCode(Command[ClientSignedIn]):
    """Use a six-digit code sent to `contact` once and open a new client session."""

    org_id: OrgId
    contact: str = attrs.field(repr=False)
    code: str = attrs.field(repr=False)
    address: str
    previous: str = attrs.field(default="", repr=False)


@handles(SignInWithCode)
def sign_in_with_code(cmd: SignInWithCode, deps: Deps) -> ClientSignedIn:
    """Check the code against the client's live one; five wrong tries lock it until a new one is asked for."""
    contact, code = parse_contact(cmd.contact), check_code(cmd.code)
    now = deps.clock.now()
    with deps.uow() as uow:
        tries = uow.accounts.bump_counter(CODE_BY_ADDRESS, _address_key(cmd.address), now, SIGN_IN_WINDOW)
        if tries > CODE_TRIES_PER_ADDRESS:
            uow.commit()
            raise Throttled(
                "Too many codes tried from your network. Wait 15 minutes, or use the link in your message.",
                retry_after=int(SIGN_IN_WINDOW.total_seconds()),
            )
        client = uow.clients.by_contact(cmd.org_id, email=contact.email, phone=contact.phone)
        found = None
        if client is not None:
            found = uow.portal.take_code(cmd.org_id, client.id, code_digest(client.id, code), now, MAX_CODE_FAILURES)
        if found is None:
            uow.commit()  # the failure counts
            raise NotAuthenticated(CODE_REFUSED)
        if cmd.previous:
            uow.portal.end_session(cmd.org_id, digest(cmd.previous))
        signed_in = _open_session(uow, deps, cmd.org_id, found, now)
        uow.commit()
    return signed_in


@attrs.frozen(kw_only=True)
class AuthenticateClient(Command[ClientId | None]):
    """Which client of `org_id` a portal cookie belongs to, if its session is live."""

    org_id: OrgId
    token: str = attrs.field(repr=False)


@handles(AuthenticateClient)
def authenticate_client(cmd: AuthenticateClient, deps: Deps) -> ClientId | None:
    """The client of a live session of this organisation, else None (another organisation's session is unknown)."""
    if not cmd.token or len(cmd.token) > 200:
        return None
    with deps.uow() as uow:
        session = uow.portal.session(cmd.org_id, digest(cmd.token))
    if session is None or not session.is_live(deps.clock.now()):
        return None
    return session.client_id


@attrs.frozen(kw_only=True)
class ClientSignOut(Command[None]):
    """End a client session."""

    org_id: OrgId
    token: str = attrs.field(repr=False)


@handles(ClientSignOut)
def client_sign_out(cmd: ClientSignOut, deps: Deps) -> None:
    """Delete the session (unknown ones are ignored)."""
    if not cmd.token or len(cmd.token) > 200:
        return
    with deps.uow() as uow:
        uow.portal.end_session(cmd.org_id, digest(cmd.token))
        uow.commit()


@attrs.frozen(kw_only=True)
class RequestAccountDeletion(Command[datetime]):
    """A client asks the business to delete their account; a coach approves it on the client's page."""

    org_id: OrgId
    client_id: ClientId


@handles(RequestAccountDeletion)
def request_account_deletion(cmd: RequestAccountDeletion, deps: Deps) -> datetime:
    """Store the request once; when it was first made."""
    with deps.uow() as uow:
        uow.clients.get(cmd.org_id, cmd.client_id)
        at = uow.portal.request_deletion(cmd.org_id, cmd.client_id, deps.clock.now())
        uow.commit()
    return at


@attrs.frozen(kw_only=True)
class DeletionRequested(Command[datetime | None]):
    """When the client asked to delete their account, if the request is open."""

    org_id: OrgId
    client_id: ClientId


@handles(DeletionRequested)
def deletion_requested(cmd: DeletionRequested, deps: Deps) -> datetime | None:
    """The open request's time, or None."""
    with deps.uow() as uow:
        return uow.portal.deletion_requested(cmd.org_id, cmd.client_id)


#: The name an anonymised client keeps (bookings and payments still point at the row).
DELETED_NAME = "Deleted client"


@attrs.frozen(kw_only=True)
class ApproveAccountDeletion(Command[Client]):
    """Anonymise a client who asked to be deleted: name, contacts, notes and consents go; bookings and payments stay."""

    org_id: OrgId
    client_id: ClientId
    actor: Actor


@handles(ApproveAccountDeletion)
def approve_account_deletion(cmd: ApproveAccountDeletion, deps: Deps) -> Client:
    """Withdraw every consent (logged, as evidence must be kept), blank the personal fields, end the sessions."""
    if cmd.actor.kind != "coach":
        raise ValidationError("Only a coach of the business approves an account deletion.", field="actor")
    now = deps.clock.now()
    with deps.uow() as uow:
        current = uow.clients.lock(cmd.org_id, cmd.client_id)
        if uow.portal.deletion_requested(cmd.org_id, cmd.client_id) is None:
            raise ValidationError("This client has not asked to delete their account.", field="client_id")
        withdraw_consents(
            uow,
            deps,
            cmd.org_id,
            cmd.client_id,
            [c.channel for c in current.consents],
            at=now,
            method="deletion_request",
            actor=cmd.actor,
            wording="The client asked to delete their account.",
        )
        anonymised = attrs.evolve(
            uow.clients.get(cmd.org_id, cmd.client_id),
            name=DELETED_NAME,
            email=None,
            phone=None,
            notes="",
            tags=frozenset(),
            timezone=None,
            birthday=None,
            consents=(),
        )
        uow.clients.update(anonymised)
        uow.portal.end_sessions_of(cmd.org_id, cmd.client_id)
        uow.portal.forget_deletion_request(cmd.org_id, cmd.client_id)
        uow.commit()
    return anonymised


#: What an export shows instead of a message body that held a sign-in or confirmation code.
CODE_LEFT_OUT = "(a sign-in or confirmation code: left out)"


@attrs.frozen(kw_only=True)
class ExportClientData(Command[dict[str, object]]):
    """Everything the business holds about a client, for them to download (JSON-ready)."""

    org_id: OrgId
    client_id: ClientId


@handles(ExportClientData)
def export_client_data(cmd: ExportClientData, deps: Deps) -> dict[str, object]:
    """Profile, consents and their log, bookings, packages with their credit events, messages, waiver
    signatures and form submissions with their answers (the client's own: nothing here goes to a third party)."""
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        client = uow.clients.get(cmd.org_id, cmd.client_id)
        log = uow.clients.consent_log(cmd.org_id, cmd.client_id)
        bookings = uow.bookings.for_client(cmd.org_id, cmd.client_id)
        packages = uow.packages.for_client(cmd.org_id, cmd.client_id)
        events = {p.id: uow.packages.credit_events(cmd.org_id, p.id) for p in packages}
        messages = uow.messages.for_client(cmd.org_id, cmd.client_id, limit=10_000)
        waivers = {w.id: w.title for w in uow.waivers.list(cmd.org_id)}
        signatures = [
            _signature(s, waivers.get(s.waiver_id, "")) for s in uow.waivers.signatures(cmd.org_id, cmd.client_id)
        ]
        submissions = [
            _submission(s, uow.forms.version(cmd.org_id, s.version_id))
            for s in uow.forms.submissions(cmd.org_id, cmd.client_id)
        ]
    return {
        "business": {"name": org.name, "timezone": org.timezone},
        "exported_at": plain(deps.clock.now()),
        "profile": plain(attrs.evolve(client, consents=())),
        "consents": plain(list(client.consents)),
        "consent_log": plain(list(log)),
        "bookings": [plain(attrs.evolve(b, idempotency_key=None, idempotency_scope=None)) for b in bookings],
        "packages": [
            {**plain_dict(p), "remaining": p.remaining, "credit_events": plain(list(events[p.id]))} for p in packages
        ],
        "messages": [
            plain_dict(
                m, body="(a sign-in or confirmation code: left out)" if m.template in SECRET_TEMPLATES else m.body
            )
            for m in messages
        ],
        "waiver_signatures": signatures,
        "form_submissions": submissions,
    }


def _signature(s: WaiverSignature, title: str) -> dict[str, object]:
    """A signature as its signer may read it: what they signed, how, when and from where (their own data)."""
    return {
        "id": str(s.id),
        "waiver": title,
        "version_number": s.version_number,
        "signed_at": plain(s.signed_at),
        "text_sha256": s.text_sha256,
        "typed_name": s.typed_name,
        "method": s.method,
        "drawing_svg": s.drawing,
        "consent_wording": s.consent_wording,
        "ip": s.ip,
        "user_agent": s.user_agent,
        "date_of_birth": plain(s.date_of_birth),
        "guardian_name": s.guardian.name if s.guardian else None,
        "guardian_relationship": s.guardian.relationship if s.guardian else None,
        "guardian_drawing_svg": s.guardian.drawing if s.guardian else None,
    }


def _submission(s: Submission, version: FormVersion) -> dict[str, object]:
    """A submission with each answer beside the question as the client saw it (health answers: theirs to read)."""
    answers: list[dict[str, object]] = []
    for key, value in s.answers.items():
        question = version.question(key)
        answers.append(
            {
                "question": question.label if question else key,
                "answer": "; ".join(value) if isinstance(value, tuple) else value,
            }
        )
    return {
        "id": str(s.id),
        "form": version.name,
        "version_number": s.version_number,
        "submitted_at": plain(s.submitted_at),
        "health_screening": s.screening,
        "answers": answers,
    }


def plain_dict(record: object, **replace: object) -> dict[str, object]:
    """`plain(record)` as a dict, with some fields replaced."""
    found = plain(record)
    assert isinstance(found, dict)  # noqa: S101  # attrs records always give dicts
    return {**found, **{k: plain(v) for k, v in replace.items()}}


@attrs.frozen(kw_only=True)
class BookAsClient(Command[Booking]):
    """A signed-in client books on the public page, with their own details and (if the service uses them) credits."""

    org_id: OrgId
    client_id: ClientId
    service_id: ServiceId
    start: datetime
    idempotency_key: str | None = attrs.field(default=None, repr=False)
    #: Whether they ticked "I agree" to the business's cancellation and no-show fees (needed when it has any).
    agree_to_fees: bool = False


@handles(BookAsClient)
def book_as_client(cmd: BookAsClient, deps: Deps) -> Booking:
    """The normal booking, with the client as actor: credits are used as for any booking of theirs.

    This is the only way a public booking uses credits, and the only public booking confirmed at once:
    the client proved who they are by signing in.
    """
    with deps.uow() as uow:
        coach_id = first_active_coach(uow, cmd.org_id).id
        uow.clients.get(cmd.org_id, cmd.client_id)
    return book_session(
        BookSession(
            org_id=cmd.org_id,
            coach_id=coach_id,
            service_id=cmd.service_id,
            client_id=cmd.client_id,
            start=cmd.start,
            actor=Actor("client", cmd.client_id),
            idempotency_key=cmd.idempotency_key,
            # Without a usable credit they book as a guest would (paid later), never worse off for signing in.
            allow_without_credit=True,
            # Signing in proved who they are, so their booking is confirmed like one the coach makes
            # (a guest's waits for the coach) — unless an onboarding flow still holds it as requested.
            confirm=True,
            # A service paid when booked is held until the card payment succeeds.
            hold_for_payment=True,
            agree_to_fees=cmd.agree_to_fees,
        ),
        deps,
    )


@attrs.frozen(kw_only=True)
class RequestContactChange(Command[None]):
    """A signed-in client asks to change their email or phone: a code goes to the new one, which changes nothing yet."""

    org_id: OrgId
    client_id: ClientId
    contact: str = attrs.field(repr=False)


@handles(RequestContactChange)
def request_contact_change(cmd: RequestContactChange, deps: Deps) -> None:
    """Store the pending change (replacing any earlier one) and queue the code to the new contact.

    A new phone number is texted only if the client agreed to texts; without that, the change must
    go through the business.
    """
    contact = parse_contact(cmd.contact)
    now = deps.clock.now()
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        client = uow.clients.get(cmd.org_id, cmd.client_id)
        if (contact.email and contact.email == client.email) or (contact.phone and contact.phone == client.phone):
            raise ValidationError("That is already the contact on file.", field="contact")
        if contact.phone and client.consent(Channel.SMS) is None:
            raise ValidationError(
                f"Turn on texts about bookings first, or ask {org.name} to change your phone number.", field="contact"
            )
        asked = uow.accounts.bump_counter(CHANGE_BY_CLIENT, str(cmd.client_id), now, SIGN_IN_WINDOW)
        if asked > CHANGES_PER_CLIENT:
            uow.commit()
            raise Throttled(
                "You asked for several codes just now. Wait 15 minutes and try again.",
                retry_after=int(SIGN_IN_WINDOW.total_seconds()),
            )
        code = code_from(deps.tokens.new_token())
        uow.portal.put_contact_change(
            ContactChange(
                org_id=cmd.org_id,
                client_id=client.id,
                email=contact.email,
                phone=contact.phone,
                code_digest=change_code_digest(client.id, code),
                created_at=now,
                expires_at=now + SIGN_IN_LIFETIME,
            )
        )
        uow.messages.add(
            outgoing(
                id=deps.ids.new_id(),
                org_id=cmd.org_id,
                key=f"portal-contact-change:{client.id}:{deps.ids.new_id()}",
                channel=MessageChannel.EMAIL if contact.email else MessageChannel.SMS,
                purpose=Purpose.TRANSACTIONAL,
                to=contact.email or contact.phone or "",
                subject=f"Confirm your new email for {org.name}" if contact.email else None,
                body=(
                    f"Your code to confirm this contact for {org.name} is {code}. It works once, for 15 minutes. "
                    "If you did not ask for it, ignore this message."
                ),
                now=now,
                client_id=client.id,
                template="portal_contact_change",
                quiet_hours=False,
            )
        )
        uow.commit()


@attrs.frozen(kw_only=True)
class ConfirmContactChange(Command[Client]):
    """Use the code sent to the new contact: only then does it replace the old one."""

    org_id: OrgId
    client_id: ClientId
    code: str = attrs.field(repr=False)


@handles(ConfirmContactChange)
def confirm_contact_change(cmd: ConfirmContactChange, deps: Deps) -> Client:
    """Take the code (one conditional update; five wrong tries lock it) and store the new contact, together."""
    code = check_code(cmd.code)
    now = deps.clock.now()
    with deps.uow() as uow:
        change = uow.portal.take_contact_change(
            cmd.org_id, cmd.client_id, change_code_digest(cmd.client_id, code), now, MAX_CODE_FAILURES
        )
        if change is None:
            uow.commit()  # the failure counts
            raise NotAuthenticated(CODE_REFUSED)
        current = uow.clients.lock(cmd.org_id, cmd.client_id)
        field = "email" if change.email else "phone"
        updated = (
            attrs.evolve(current, email=change.email) if change.email else attrs.evolve(current, phone=change.phone)
        )
        uow.clients.update(updated)
        uow.emit(
            ClientUpdated(
                org_id=cmd.org_id,
                occurred_at=now,
                actor=str(Actor("client", cmd.client_id)),
                client_id=cmd.client_id,
                changed=(field,),
            )
        )
        uow.commit()
    return updated
