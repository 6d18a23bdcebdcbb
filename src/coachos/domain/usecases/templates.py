"""Use cases for a business's message templates: list, save, reset to the default, and preview."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import attrs

from coachos.domain.errors import ValidationError
from coachos.domain.ids import Actor, BookingId, ClientId, OrgId
from coachos.domain.messages import MessageChannel
from coachos.domain.messaging import SmsSegments
from coachos.domain.templates import (
    KINDS,
    KindInfo,
    MessageTemplate,
    Rendered,
    TemplateKind,
    Wording,
    check_template,
    default_wording,
    render,
    sample_values,
)
from coachos.domain.usecases._base import Command, Deps, handles


def parse_kind(kind: str, channel: str) -> tuple[TemplateKind, MessageChannel]:
    """The kind and channel named by `kind` and `channel`, or a ValidationError naming the known ones."""
    try:
        parsed_kind = TemplateKind(kind)
    except ValueError:
        raise ValidationError("There is no such kind of message.", field="kind") from None
    try:
        parsed_channel = MessageChannel(channel)
    except ValueError:
        raise ValidationError("Messages go by 'sms' or 'email'.", field="channel") from None
    return parsed_kind, parsed_channel


def _normalise(text: str | None) -> str | None:
    # Browsers send form text with CRLF line breaks; stored and sent text uses LF.
    return None if text is None else text.replace("\r\n", "\n")


@attrs.frozen
class TemplateRow:
    """One kind of message on one channel as the business has it: its wording and whether it is their own."""

    kind: TemplateKind
    channel: MessageChannel
    info: KindInfo
    wording: Wording
    customised: bool
    updated_at: datetime | None


@attrs.frozen(kw_only=True)
class ListMessageTemplates(Command[tuple[TemplateRow, ...]]):
    """Every kind of message on every channel, with the business's wording where it saved one."""

    org_id: OrgId


@handles(ListMessageTemplates)
def list_message_templates(cmd: ListMessageTemplates, deps: Deps) -> tuple[TemplateRow, ...]:
    """Each (kind, channel) in the order of `KINDS`, SMS first."""
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        saved = {(t.kind, t.channel): t for t in uow.templates.list(cmd.org_id)}
    rows = []
    for kind, info in KINDS.items():
        for channel in (MessageChannel.SMS, MessageChannel.EMAIL):
            own = saved.get((kind, channel))
            rows.append(
                TemplateRow(
                    kind=kind,
                    channel=channel,
                    info=info,
                    wording=own.wording if own else default_wording(kind, channel),
                    customised=own is not None,
                    updated_at=own.updated_at if own else None,
                )
            )
    return tuple(rows)


@attrs.frozen(kw_only=True)
class SaveMessageTemplate(Command[MessageTemplate]):
    """Use the business's own wording for one kind of message on one channel."""

    org_id: OrgId
    kind: str
    channel: str
    subject: str | None
    body: str
    actor: Actor


@handles(SaveMessageTemplate)
def save_message_template(cmd: SaveMessageTemplate, deps: Deps) -> MessageTemplate:
    """Check the wording (placeholders of this kind only, no control characters, within the length) and store it."""
    kind, channel = parse_kind(cmd.kind, cmd.channel)
    subject = _normalise(cmd.subject) if channel is MessageChannel.EMAIL else None
    template = MessageTemplate(
        org_id=cmd.org_id,
        kind=kind,
        channel=channel,
        subject=subject.strip() if subject else subject,
        body=_normalise(cmd.body) or "",
        updated_at=deps.clock.now(),
    )
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        uow.templates.save(template)
        uow.commit()
    return template


@attrs.frozen(kw_only=True)
class ResetMessageTemplate(Command[bool]):
    """Go back to Coach OS's wording for one kind of message on one channel."""

    org_id: OrgId
    kind: str
    channel: str
    actor: Actor


@handles(ResetMessageTemplate)
def reset_message_template(cmd: ResetMessageTemplate, deps: Deps) -> bool:
    """Remove the business's wording; whether there was one."""
    kind, channel = parse_kind(cmd.kind, cmd.channel)
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        removed = uow.templates.delete(cmd.org_id, kind, channel)
        uow.commit()
    return removed


@attrs.frozen
class Preview:
    """A template rendered with sample values, and what it costs as an SMS."""

    rendered: Rendered
    segments: SmsSegments


@attrs.frozen(kw_only=True)
class PreviewMessageTemplate(Command[Preview]):
    """Render a wording (saved or not) with sample values in the business's zone; nothing is stored."""

    org_id: OrgId
    kind: str
    channel: str
    subject: str | None
    body: str


#: The ids sample links are made for: real links' length, so the SMS count is the real one.
_SAMPLE_ID = UUID(int=0)


@handles(PreviewMessageTemplate)
def preview_message_template(cmd: PreviewMessageTemplate, deps: Deps) -> Preview:
    """The wording with a sample booking tomorrow at 9:00 on the business's clock."""
    kind, channel = parse_kind(cmd.kind, cmd.channel)
    subject = _normalise(cmd.subject) if channel is MessageChannel.EMAIL else None
    body = _normalise(cmd.body) or ""
    check_template(kind, channel, subject, body)
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
    values = sample_values(org.name, org.tz, deps.clock.now())
    values["manage_link"] = deps.links.manage_booking(org.id, BookingId(_SAMPLE_ID))
    values["client_link"] = deps.links.client_page(ClientId(_SAMPLE_ID))
    rendered = render(Wording(subject, body), channel, values)
    return Preview(rendered=rendered, segments=rendered.segments)
