"""Use cases for waivers: write and publish versions, sign the current one, see who signed what, send the link.

Other features ask `uow.waivers.signed_current(org_id, client_id, waiver_id)` inside their own
transaction, or run `WaiverSigned(...)` on its own.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

import attrs

from coachos.domain.clients import Client
from coachos.domain.errors import Conflict, NotFound, ValidationError
from coachos.domain.ids import Actor, ClientId, CoachId, OrgId, WaiverId, WaiverVersionId
from coachos.domain.messages import Message, MessageChannel, Purpose, outgoing
from coachos.domain.orgs import Organization
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.waivers import (
    ESIGN_CONSENT,
    GUEST_RESIGN_MESSAGE,
    Guardian,
    ResignRequired,
    Waiver,
    WaiverSignature,
    WaiverVersion,
    check_body,
    drawing_svg,
    is_minor,
    is_signed_current,
    latest,
    render_markdown,
    resign_message,
)
from coachos.ports.storage import UnitOfWork

#: The most characters of a user agent kept with a signature.
MAX_USER_AGENT = 500


def _coach(actor: Actor) -> CoachId | None:
    return CoachId(actor.id) if actor.kind == "coach" and actor.id is not None else None


@attrs.frozen(kw_only=True)
class CreateWaiver(Command[tuple[Waiver, WaiverVersion]]):
    """A new waiver with its first version published."""

    org_id: OrgId
    title: str
    body: str
    actor: Actor


@handles(CreateWaiver)
def create_waiver(cmd: CreateWaiver, deps: Deps) -> tuple[Waiver, WaiverVersion]:
    """Store the waiver and publish version 1 (material: there is nothing before it)."""
    now = deps.clock.now()
    body = check_body(cmd.body)
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        waiver = Waiver(id=WaiverId(deps.ids.new_id()), org_id=cmd.org_id, title=cmd.title, created_at=now)
        version = WaiverVersion(
            id=WaiverVersionId(deps.ids.new_id()),
            org_id=cmd.org_id,
            waiver_id=waiver.id,
            number=1,
            body=body,
            html=render_markdown(body),
            material=True,
            published_at=now,
            published_by=_coach(cmd.actor),
        )
        uow.waivers.add(waiver)
        uow.waivers.publish(version)
        uow.commit()
    return waiver, version


@attrs.frozen(kw_only=True)
class PublishWaiverVersion(Command[WaiverVersion]):
    """Publish the waiver's next version; `material` says whether clients must sign again."""

    org_id: OrgId
    waiver_id: WaiverId
    body: str
    material: bool
    actor: Actor


@handles(PublishWaiverVersion)
def publish_waiver_version(cmd: PublishWaiverVersion, deps: Deps) -> WaiverVersion:
    """Version n+1 with the new text; refused when the text is the same as the current version's."""
    body = check_body(cmd.body)
    with deps.uow() as uow:
        uow.waivers.get(cmd.org_id, cmd.waiver_id)
        current = latest(uow.waivers.versions(cmd.org_id, cmd.waiver_id))
        if current is not None and current.body == body:
            raise ValidationError("The text is the same as the current version's; change it to publish.", field="body")
        version = WaiverVersion(
            id=WaiverVersionId(deps.ids.new_id()),
            org_id=cmd.org_id,
            waiver_id=cmd.waiver_id,
            number=1 if current is None else current.number + 1,
            body=body,
            html=render_markdown(body),
            material=cmd.material or current is None,
            published_at=deps.clock.now(),
            published_by=_coach(cmd.actor),
        )
        uow.waivers.publish(version)
        uow.commit()
    return version


@attrs.frozen
class WaiverRow:
    """A waiver with its versions, oldest first."""

    waiver: Waiver
    versions: tuple[WaiverVersion, ...]

    @property
    def current(self) -> WaiverVersion | None:
        """The newest version."""
        return self.versions[-1] if self.versions else None


@attrs.frozen(kw_only=True)
class ListWaivers(Command[tuple[WaiverRow, ...]]):
    """The organisation's waivers, each with its versions."""

    org_id: OrgId


@handles(ListWaivers)
def list_waivers(cmd: ListWaivers, deps: Deps) -> tuple[WaiverRow, ...]:
    """Every waiver by title."""
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        return tuple(WaiverRow(w, tuple(uow.waivers.versions(cmd.org_id, w.id))) for w in uow.waivers.list(cmd.org_id))


@attrs.frozen(kw_only=True)
class WaiverSigned(Command[bool]):
    """Whether the client has signed the waiver's latest material version (or a later one)."""

    org_id: OrgId
    client_id: ClientId
    waiver_id: WaiverId


@handles(WaiverSigned)
def waiver_signed(cmd: WaiverSigned, deps: Deps) -> bool:
    """`uow.waivers.signed_current` in a transaction of its own."""
    with deps.uow() as uow:
        uow.waivers.get(cmd.org_id, cmd.waiver_id)
        return uow.waivers.signed_current(cmd.org_id, cmd.client_id, cmd.waiver_id)


# --- the client's side -----------------------------------------------------------------------------


@attrs.frozen
class ToSign:
    """What the signing page shows: the business, the client, the waiver's current version, and the client's state."""

    org: Organization
    client: Client
    waiver: Waiver
    version: WaiverVersion | None
    #: The client's signature on the current version, if they signed it.
    signed: WaiverSignature | None
    #: Whether what they signed earlier still counts (a later version was not material).
    current: bool

    @property
    def needs_birth_date(self) -> bool:
        """Whether the form asks for the date of birth (the client record has none)."""
        return self.client.birthday is None


@attrs.frozen(kw_only=True)
class ReadWaiverToSign(Command[ToSign]):
    """The waiver as the client is about to sign it."""

    org_id: OrgId
    client_id: ClientId
    waiver_id: WaiverId


@handles(ReadWaiverToSign)
def read_waiver_to_sign(cmd: ReadWaiverToSign, deps: Deps) -> ToSign:
    """The current version and the client's signatures on the waiver."""
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        client = uow.clients.get(cmd.org_id, cmd.client_id)
        waiver = uow.waivers.get(cmd.org_id, cmd.waiver_id)
        versions = uow.waivers.versions(cmd.org_id, cmd.waiver_id)
        mine = [s for s in uow.waivers.signatures(cmd.org_id, cmd.client_id) if s.waiver_id == cmd.waiver_id]
    version = latest(versions)
    signed = next((s for s in mine if version is not None and s.version_id == version.id), None)
    current = is_signed_current(versions, [s.version_number for s in mine])
    return ToSign(org, client, waiver, version, signed, current)


@attrs.frozen(kw_only=True)
class SignWaiver(Command[WaiverSignature]):
    """The client signs the version they were shown.

    `shown_sha256` is the hash of the text the page showed them; `drawing` is drawn path data
    (empty when they only typed their name). IP and user agent are kept as evidence, never logged.
    """

    org_id: OrgId
    client_id: ClientId
    waiver_id: WaiverId
    version_id: WaiverVersionId
    shown_sha256: str
    typed_name: str
    consent: bool
    drawing: str = ""
    date_of_birth: date | None = None
    guardian_name: str = ""
    guardian_relationship: str = ""
    guardian_drawing: str = ""
    ip: str | None = None
    user_agent: str | None = None


def _birth_date(client: Client, given: date | None, today: date) -> date:
    born = client.birthday or given
    if born is None:
        raise ValidationError("Enter your date of birth.", field="date_of_birth")
    if born > today or born.year < 1900:
        raise ValidationError("Enter your real date of birth, e.g. 1990-02-28.", field="date_of_birth")
    return born


@handles(SignWaiver)
def sign_waiver(cmd: SignWaiver, deps: Deps) -> WaiverSignature:
    """Store the signature on the current version; signing the same version again returns the first signature."""
    if not cmd.consent:
        raise ValidationError("Tick the box to agree to sign electronically.", field="consent")
    drawing = drawing_svg(cmd.drawing)
    now = deps.clock.now()
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        client = uow.clients.get(cmd.org_id, cmd.client_id)
        uow.waivers.get(cmd.org_id, cmd.waiver_id)
        version = latest(uow.waivers.versions(cmd.org_id, cmd.waiver_id))
        if version is None:
            raise NotFound("This waiver has no published text yet; please ask your coach.")
        if version.id != cmd.version_id or version.sha256 != cmd.shown_sha256:
            raise Conflict("The waiver was changed since you opened it; please read the new text and sign again.")
        born = _birth_date(client, cmd.date_of_birth, now.astimezone(org.tz).date())
        guardian = None
        if is_minor(born, now.astimezone(org.tz).date()):
            guardian = Guardian(
                name=cmd.guardian_name,
                relationship=cmd.guardian_relationship,
                drawing=drawing_svg(cmd.guardian_drawing),
            )
        signature = WaiverSignature(
            id=deps.ids.new_id(),
            org_id=cmd.org_id,
            client_id=cmd.client_id,
            waiver_id=cmd.waiver_id,
            version_id=version.id,
            version_number=version.number,
            text_sha256=version.sha256,
            typed_name=cmd.typed_name,
            drawing=drawing,
            consent_wording=ESIGN_CONSENT,
            signed_at=now,
            ip=(cmd.ip or None) and cmd.ip[:45],
            user_agent=(cmd.user_agent or None) and cmd.user_agent[:MAX_USER_AGENT],
            date_of_birth=cmd.date_of_birth if client.birthday is None else None,
            guardian=guardian,
        )
        stored = uow.waivers.sign(signature)
        uow.commit()
    return stored


# --- the coach's side -------------------------------------------------------------------------------


@attrs.frozen
class ClientWaiver:
    """One waiver as it stands for one client: its current version, their signatures on it, and whether they count."""

    waiver: Waiver
    current_version: WaiverVersion | None
    signatures: tuple[WaiverSignature, ...]
    signed_current: bool


@attrs.frozen(kw_only=True)
class ClientWaivers(Command[tuple[ClientWaiver, ...]]):
    """Every waiver of the business, as it stands for the client."""

    org_id: OrgId
    client_id: ClientId


@handles(ClientWaivers)
def client_waivers(cmd: ClientWaivers, deps: Deps) -> tuple[ClientWaiver, ...]:
    """The business's waivers with the client's signatures, newest first."""
    with deps.uow() as uow:
        return client_waivers_in(uow, cmd.org_id, cmd.client_id)


def client_waivers_in(u: UnitOfWork, org_id: OrgId, client_id: ClientId) -> tuple[ClientWaiver, ...]:
    """`ClientWaivers` inside an open unit of work (for page loaders that read more in the same transaction)."""
    u.clients.get(org_id, client_id)
    mine = u.waivers.signatures(org_id, client_id)
    rows = []
    for waiver in u.waivers.list(org_id):
        versions = u.waivers.versions(org_id, waiver.id)
        signed = tuple(s for s in mine if s.waiver_id == waiver.id)
        rows.append(
            ClientWaiver(
                waiver, latest(versions), signed, is_signed_current(versions, [s.version_number for s in signed])
            )
        )
    return tuple(rows)


@attrs.frozen(kw_only=True)
class SignedCopy(Command[tuple[Organization, Client, Waiver, WaiverVersion, WaiverSignature]]):
    """A signature with everything its PDF shows."""

    org_id: OrgId
    signature_id: UUID


@handles(SignedCopy)
def signed_copy(cmd: SignedCopy, deps: Deps) -> tuple[Organization, Client, Waiver, WaiverVersion, WaiverSignature]:
    """The business, client, waiver, signed version and signature; NotFound for another business's."""
    with deps.uow() as uow:
        signature = uow.waivers.signature(cmd.org_id, cmd.signature_id)
        return (
            uow.orgs.get(cmd.org_id),
            uow.clients.get(cmd.org_id, signature.client_id),
            uow.waivers.get(cmd.org_id, signature.waiver_id),
            uow.waivers.version(cmd.org_id, signature.version_id),
            signature,
        )


@attrs.frozen(kw_only=True)
class SendWaiverLink(Command[Message]):
    """Queue an email or text to the client with their signed link to the waiver."""

    org_id: OrgId
    client_id: ClientId
    waiver_id: WaiverId
    channel: MessageChannel
    actor: Actor


@handles(SendWaiverLink)
def send_waiver_link(cmd: SendWaiverLink, deps: Deps) -> Message:
    """One transactional message (quiet hours do not hold it: the client is usually waiting for it)."""
    now = deps.clock.now()
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        client = uow.clients.get(cmd.org_id, cmd.client_id)
        waiver = uow.waivers.get(cmd.org_id, cmd.waiver_id)
        if not uow.waivers.versions(cmd.org_id, cmd.waiver_id):
            raise ValidationError("Publish the waiver's text before sending it to sign.", field="waiver_id")
        to = client.email if cmd.channel is MessageChannel.EMAIL else client.phone
        if not to:
            what = "email address" if cmd.channel is MessageChannel.EMAIL else "mobile number"
            raise ValidationError(f"This client has no {what} on file; add one first.", field="channel")
        link = deps.links.sign_waiver(org.id, client.id, waiver.id, slug=org.slug)
        body = f"{org.name}: please read and sign “{waiver.title}” before your next session: {link}"
        message = outgoing(
            id=deps.ids.new_id(),
            org_id=org.id,
            # A double click within the same minute queues one message.
            key=f"waiver-link:{waiver.id}:{client.id}:{now:%Y%m%dT%H%M}",
            channel=cmd.channel,
            purpose=Purpose.TRANSACTIONAL,
            to=to,
            body=body,
            now=now,
            client_id=client.id,
            coach_id=_coach(cmd.actor),
            template="waiver_link",
            subject=f"Please sign: {waiver.title}" if cmd.channel is MessageChannel.EMAIL else None,
            quiet_hours=False,
        )
        stored = uow.messages.add(message)
        uow.commit()
    return stored


def check_waivers(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, *, guest: bool = False) -> None:
    """Raise ResignRequired when a waiver the client has signed has a material version they have not signed.

    Only waivers the client signed before count here: which waivers a new client must sign at all is
    what onboarding flows decide (their bookings are held as requested until then). A `guest` (the
    public form, where anyone can type a client's email) is not told which waivers the client signed.
    """
    signed = {s.waiver_id for s in uow.waivers.signatures(org_id, client_id)}
    if not signed:
        return
    stale = [
        w.title
        for w in uow.waivers.list(org_id)
        if w.id in signed and not uow.waivers.signed_current(org_id, client_id, w.id)
    ]
    if stale:
        raise ResignRequired(GUEST_RESIGN_MESSAGE if guest else resign_message(stale))
