"""Inbox: the conversations with clients, one thread per client, replies, and the unread counts around the app.

Opening a thread marks the client's incoming messages read. A reply is queued, never sent here
(the worker sends it); each form carries a fresh id, so a form sent twice queues one message.
Every time is on the business's clock with its abbreviation, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import attrs
import structlog
from quart import Blueprint, redirect, render_template, request, url_for

from coachos.domain.clients import Client
from coachos.domain.errors import ValidationError
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.inbox import MAX_REPLY, ReplyRoute, reply_route, shown_body, unread
from coachos.domain.messages import Message, MessageChannel, MessageStatus
from coachos.domain.messaging import SmsSegments, count_segments
from coachos.domain.usecases import ListConversations, ReadConversation, SendReply
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required, principal, require_principal
from coachos.entrypoints.web.unreadable import report
from coachos.ports.storage import UnitOfWork

bp = Blueprint("inbox", __name__)
log = structlog.get_logger("coachos.web")

#: Messages the client page's panel shows, newest last.
PANEL_MESSAGES = 5
#: How far back the panel looks for messages that could not be sent.
PANEL_LOOKBACK = 50


@attrs.frozen
class ReplyForm:
    """The reply form as a page shows it: how the reply would travel, or why it cannot."""

    #: The channel and address, or None when the client cannot be written to.
    route: ReplyRoute | None
    #: Why a reply is impossible (no phone or email, no SMS consent), in words a coach can act on.
    refusal: str | None
    form_id: str
    body: str
    #: The SMS parts the body would cost (None for email).
    segments: SmsSegments | None
    max_length: int = MAX_REPLY


def reply_form(client: Client, form: Mapping[str, str] | None = None) -> ReplyForm:
    """The reply form for `client`, keeping what a refused submission typed and its form id."""
    form = form or {}
    try:
        route: ReplyRoute | None = reply_route(client)
        refusal = None
    except ValidationError as exc:
        route, refusal = None, exc.message
    body = form.get("body", "")
    sms = route is not None and route.channel is MessageChannel.SMS
    return ReplyForm(
        route=route,
        refusal=refusal,
        form_id=form.get("form_id") or str(uuid4()),
        body=body,
        segments=count_segments(body) if sms else None,
    )


def _form_id(value: str | None) -> UUID:
    try:
        return UUID(value or "")
    except ValueError:
        raise ValidationError(
            "This reply form is incomplete (its id is missing); reload the page and send again.", field="form_id"
        ) from None


async def queue_reply(client_id: UUID, form: Mapping[str, str]) -> Message:
    """Queue the reply a form carries (ValidationError if it cannot be sent, nothing stored)."""
    who = require_principal()
    message = await core().execute_async(
        SendReply(
            org_id=who.org_id,
            client_id=ClientId(client_id),
            body=form.get("body", ""),
            form_id=_form_id(form.get("form_id")),
        )
    )
    log.info("reply_queued", message_id=str(message.id), client_id=str(client_id), channel=message.channel.value)
    return message


def status_text(message: Message, now: datetime) -> str:
    """An outgoing message's status in a word or two (the page adds times and reasons)."""
    if message.status is MessageStatus.QUEUED and message.not_before > now:
        return "Scheduled"
    return {
        MessageStatus.QUEUED: "Queued",
        MessageStatus.SENDING: "Sending",
        MessageStatus.SENT: "Sent",
        MessageStatus.DELIVERED: "Delivered",
        MessageStatus.FAILED: "Not sent",
        MessageStatus.CANCELLED: "Cancelled",
        MessageStatus.RECEIVED: "Received",
    }[message.status]


def segment_text(found: SmsSegments) -> str:
    """What a reply will cost, e.g. '1 text message: 12/160 characters (GSM-7)' (static/inbox.js says the same)."""
    single, part = (160, 153) if found.encoding == "GSM-7" else (70, 67)
    if found.parts == 1:
        return f"1 text message: {found.units}/{single} characters ({found.encoding})"
    return f"{found.parts} text messages: {found.units} characters ({found.encoding}, {part} per part)"


#: What the inbox templates need besides the data.
HELPERS: dict[str, Any] = {
    "status_text": status_text,
    "is_unread": unread,
    "shown_body": shown_body,
    "segments": count_segments,
    "segment_text": segment_text,
}


@bp.app_template_global()
async def inbox_unread() -> int | None:
    """The signed-in coach's unread count for the main navigation; None when it cannot be read.

    The navigation is on every page, so a failure here must not take the page down: the link is
    shown with a question mark instead, and the failure is logged.
    """
    who = principal()
    if who is None:
        return 0
    try:
        return await core().read_async(lambda uow: uow.messages.unread_count(who.org_id))
    except Exception:
        log.exception("inbox_unread_failed", org_id=str(who.org_id))
        return None


def _page_number(value: str | None) -> int:
    if value is None or value == "":
        return 1
    try:
        return int(value)
    except ValueError:
        raise ValidationError("The page is a whole number, e.g. 2.", field="page") from None


@bp.route("/inbox")
@login_required
async def index() -> Any:
    """The conversations, most recent first, with each one's unread count."""
    who = require_principal()
    app = core()
    page = await app.execute_async(ListConversations(org_id=who.org_id, page=_page_number(request.args.get("page"))))
    org = await app.read_async(lambda uow: uow.orgs.get(who.org_id))
    return await render_template(
        "inbox.html", org=org, v=page, now=app.clock.now(), unreadable=report(page.conversations.unreadable)
    )


async def _thread_page(client_id: UUID, form: Mapping[str, str] | None = None, error: Exception | None = None) -> Any:
    who = require_principal()
    app = core()
    thread = await app.execute_async(ReadConversation(org_id=who.org_id, client_id=ClientId(client_id)))
    org = await app.read_async(lambda uow: uow.orgs.get(who.org_id))
    queued = None
    if (queued_id := request.args.get("queued")) and not error:
        queued = next((m for m in thread.messages if str(m.id) == queued_id), None)
    page = await render_template(
        "inbox_thread.html",
        org=org,
        client=thread.client,
        messages=thread.messages,
        now=app.clock.now(),
        reply=reply_form(thread.client, form),
        form=None,
        error=error,
        queued=queued,
        unreadable=report(thread.messages.unreadable),
        **HELPERS,
    )
    return page, 400 if error else 200


@bp.route("/inbox/<uuid:client_id>")
@login_required
async def thread(client_id: UUID) -> Any:
    """One client's conversation, oldest first, with a reply form; opening it marks it read."""
    return await _thread_page(client_id)


@bp.route("/inbox/<uuid:client_id>", methods=["POST"])
@login_required
async def reply(client_id: UUID) -> Any:
    """Queue a reply to the client; a refused reply shows the thread again with the reason and the text kept."""
    form = dict(await request.form)
    try:
        message = await queue_reply(client_id, form)
    except ValidationError as exc:
        return await _thread_page(client_id, form, exc)
    return redirect(url_for("inbox.thread", client_id=client_id, queued=str(message.id), _anchor="reply"), 303)


def messages_panel(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, now: datetime) -> dict[str, Any]:
    """The client page's Messages panel: the latest messages, any that could not be sent, and a reply form.

    Reading the panel marks nothing read (it is a glance; the thread is where a coach reads).
    """
    client = uow.clients.get(org_id, client_id)
    recent = uow.messages.for_client(org_id, client_id, PANEL_LOOKBACK)
    latest = recent[-PANEL_MESSAGES:]
    failed = [m for m in recent[:-PANEL_MESSAGES] if m.status is MessageStatus.FAILED]
    return {
        "client": client,
        "messages": latest,
        "failed": failed,
        "unread_count": sum(1 for m in recent if unread(m)),
        "reply": reply_form(client),
        "unreadable_rows": recent.unreadable,
        **HELPERS,
    }
