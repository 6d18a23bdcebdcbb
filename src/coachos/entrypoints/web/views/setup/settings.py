"""Business settings (zone, policy, quiet hours, reminders and notices), API tokens and the coach's security events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from uuid import UUID

from quart import redirect, render_template, request, url_for

from coachos.domain.accounts import ApiToken, SecurityEvent
from coachos.domain.errors import ValidationError
from coachos.domain.ids import Actor, OrgId
from coachos.domain.money import Money
from coachos.domain.orgs import Notifications, Organization
from coachos.domain.policy import LONGEST, BookingPolicy
from coachos.domain.quiet_hours import QuietHours
from coachos.domain.usecases import (
    CreateApiToken,
    ListApiTokens,
    ListSecurityEvents,
    RevokeApiToken,
    UpdateOrganizationSettings,
)
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required
from coachos.entrypoints.web.views.account import COMMON_ZONES
from coachos.entrypoints.web.views.setup._blueprint import bp
from coachos.entrypoints.web.views.setup._forms import (
    Form,
    _actor,
    _amount,
    _saved,
    _text,
    _time,
    _whole,
    zone_label,
)


def _hours(d: timedelta) -> int:
    return int(d // timedelta(hours=1))


def policy_in_words(policy: BookingPolicy, quiet: QuietHours) -> list[str]:
    """What the settings mean for clients, in sentences."""

    def amount(d: timedelta) -> str:
        if d % timedelta(days=1) == timedelta(0) and d >= timedelta(days=1):
            n, unit = d // timedelta(days=1), "day"
        elif d % timedelta(hours=1) == timedelta(0):
            n, unit = d // timedelta(hours=1), "hour"
        else:
            n, unit = d // timedelta(minutes=1), "minute"
        return f"{n} {unit}{'' if n == 1 else 's'}"

    words = [
        f"Clients can book from {amount(policy.min_notice)} to {amount(policy.horizon)} ahead.",
        f"They can cancel and get the credit back until {amount(policy.cancellation_window)} before a session."
        if policy.cancellation_window
        else "They can cancel and get the credit back until the session starts.",
        f"Start times are offered every {amount(policy.slot_interval)}"
        + (f", with {amount(policy.buffer)} kept free after each session." if policy.buffer else "."),
    ]
    if policy.has_fees:
        words.append(policy.fee_text().replace("By booking you agree that", "Clients booking online agree that"))
    if quiet.is_empty:
        words.append("No quiet hours: reminders and messages may go out at any time.")
    else:
        words.append(
            f"No messages go out between {quiet.start:%H:%M} and {quiet.end:%H:%M} on the recipient's own clock; "
            "they wait until the quiet hours end."
        )
    return words


def _settings_form(org: Organization) -> dict[str, str]:
    p, q = org.policy, org.quiet_hours
    return {
        "name": org.name,
        "timezone": org.timezone,
        "min_notice_hours": str(_hours(p.min_notice)),
        "horizon_days": str(p.horizon // timedelta(days=1)),
        "cancellation_hours": str(_hours(p.cancellation_window)),
        "buffer_minutes": str(p.buffer // timedelta(minutes=1)),
        "slot_interval_minutes": str(p.slot_interval // timedelta(minutes=1)),
        "quiet_start": f"{q.start:%H:%M}",
        "quiet_end": f"{q.end:%H:%M}",
        **_notifications_form(org.notifications),
        "late_cancel_fee": _amount(p.late_cancel_fee) if p.late_cancel_fee else "",
        "no_show_fee": _amount(p.no_show_fee) if p.no_show_fee else "",
    }


def _fee(form: Form, name: str, currency: str) -> Money | None:
    """A fee typed in the settings form; blank is no fee."""
    typed = _text(form, name)
    return Money.parse(typed, currency) if typed else None


_SWITCHES = ("reminder_24h", "reminder_2h", "notice_email", "notice_sms")


def _notifications_form(n: Notifications) -> dict[str, str]:
    return {name: "on" if getattr(n, name) else "" for name in _SWITCHES} | {"notice_phone": n.notice_phone or ""}


def _notifications(form: Form) -> Notifications | None:
    """The reminder and notice settings, if this form carried them (older forms and scripts may not)."""
    if not _text(form, "notifications_form"):
        return None
    switches = {name: bool(_text(form, name)) for name in _SWITCHES}
    return Notifications(**switches, notice_phone=_text(form, "notice_phone") or None)


def _most(setting: str, unit: timedelta) -> int:
    """The largest number of `unit`s the policy allows for `setting`, for the form's bounds."""
    return LONGEST[setting] // unit


def _settings_command(form: Form, org: Organization, actor: Actor) -> UpdateOrganizationSettings:
    org_id = org.id
    zone = _text(form, "timezone_other") or _text(form, "timezone")
    # Forms (and scripts) without the fee fields keep the fees as they are.
    fees = _text(form, "fees_form")
    late = _fee(form, "late_cancel_fee", org.currency) if fees else org.policy.late_cancel_fee
    no_show = _fee(form, "no_show_fee", org.currency) if fees else org.policy.no_show_fee
    hour, day, minute = timedelta(hours=1), timedelta(days=1), timedelta(minutes=1)
    policy = BookingPolicy(
        min_notice=hour * _whole(form, "min_notice_hours", "Minimum notice (hours)", maximum=_most("min_notice", hour)),
        horizon=day * _whole(form, "horizon_days", "Booking horizon (days)", minimum=1, maximum=_most("horizon", day)),
        cancellation_window=hour
        * _whole(form, "cancellation_hours", "Cancellation window (hours)", maximum=_most("cancellation_window", hour)),
        buffer=minute * _whole(form, "buffer_minutes", "Buffer (minutes)", maximum=_most("buffer", minute)),
        slot_interval=minute
        * _whole(
            form, "slot_interval_minutes", "Slot interval (minutes)", minimum=5, maximum=_most("slot_interval", minute)
        ),
        late_cancel_fee=late,
        no_show_fee=no_show,
    )
    quiet = QuietHours(
        start=_time(_text(form, "quiet_start"), "Quiet hours start", "quiet_start"),
        end=_time(_text(form, "quiet_end"), "Quiet hours end", "quiet_end"),
    )
    return UpdateOrganizationSettings(
        org_id=org_id,
        actor=actor,
        name=_text(form, "name"),
        timezone=zone,
        policy=policy,
        quiet_hours=quiet,
        notifications=_notifications(form),
    )


async def _settings_page(org_id: OrgId, coach_id: Any, form: Mapping[str, str] | None = None, **extra: Any) -> str:
    app = core()
    org = await app.read_async(lambda uow: uow.orgs.get(org_id))
    tokens: list[ApiToken] = await app.execute_async(ListApiTokens(org_id=org_id, coach_id=coach_id))
    security: list[SecurityEvent] = await app.execute_async(ListSecurityEvents(org_id=org_id, coach_id=coach_id))
    return await render_template(
        "setup/settings.html",
        org=org,
        zone=zone_label(org, app.clock.now()),
        zones=COMMON_ZONES,
        words=policy_in_words(org.policy, org.quiet_hours),
        tokens=tokens,
        security=security,
        form=form if form is not None else _settings_form(org),
        **extra,
    )


@bp.route("/setup/settings", methods=["GET", "POST"])
@login_required
async def settings_page() -> Any:
    """Business name, time zone, booking policy, quiet hours; the coach's API tokens and security events."""
    org_id, actor, coach_id = _actor()
    if request.method == "GET":
        return await _settings_page(org_id, coach_id, saved=_saved())
    form = await request.form
    try:
        org = await core().read_async(lambda uow: uow.orgs.get(org_id))
        await core().execute_async(_settings_command(form, org, actor))
    except ValidationError as exc:
        return await _settings_page(org_id, coach_id, form=form, error=exc), 400
    return redirect(url_for("setup.settings_page", saved="settings"))


@bp.route("/setup/tokens", methods=["POST"])
@login_required
async def create_token() -> Any:
    """Make a personal API token and show its secret this once."""
    org_id, _, coach_id = _actor()
    form = await request.form
    try:
        made = await core().execute_async(CreateApiToken(org_id=org_id, coach_id=coach_id, name=_text(form, "name")))
    except ValidationError as exc:
        return await _settings_page(org_id, coach_id, token_error=exc), 400
    page = await _settings_page(org_id, coach_id, new_token=made.token, new_secret=made.secret)
    return page, 201, {"Cache-Control": "no-store"}


@bp.route("/setup/tokens/<uuid:token_id>/revoke", methods=["POST"])
@login_required
async def revoke_token(token_id: UUID) -> Any:
    """Revoke one of the coach's tokens (another organisation's id is 404)."""
    org_id, _, coach_id = _actor()
    await core().execute_async(RevokeApiToken(org_id=org_id, coach_id=coach_id, token_id=token_id))
    return redirect(url_for("setup.settings_page", saved="revoked") + "#tokens")
