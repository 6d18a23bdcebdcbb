"""The use cases: plain functions taking a command and the ports, and the table that routes commands to them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coachos.domain.usecases._base import Command, Deps
from coachos.domain.usecases.booking import (
    BookSession,
    CancelBooking,
    CompleteBooking,
    ConfirmBooking,
    FindSlots,
    ListBookings,
    MarkNoShow,
    UseCredit,
    book_session,
    cancel_booking,
    find_slots,
    list_bookings,
    move_booking,
    use_credit,
)
from coachos.domain.usecases.setup import (
    AddCoach,
    AddDateOverride,
    CreateClient,
    CreateOrganization,
    CreateService,
    RemoveDateOverride,
    SellPackage,
    SetWeeklyHours,
    UpdateOrganizationSettings,
    add_coach,
    add_date_override,
    create_client,
    create_organization,
    create_service,
    remove_date_override,
    sell_package,
    set_weekly_hours,
    update_organization_settings,
)

#: Which function handles each command.
HANDLERS: dict[type[Command[Any]], Callable[[Any, Deps], Any]] = {
    CreateOrganization: create_organization,
    UpdateOrganizationSettings: update_organization_settings,
    AddCoach: add_coach,
    CreateService: create_service,
    CreateClient: create_client,
    SetWeeklyHours: set_weekly_hours,
    AddDateOverride: add_date_override,
    RemoveDateOverride: remove_date_override,
    SellPackage: sell_package,
    FindSlots: find_slots,
    BookSession: book_session,
    UseCredit: use_credit,
    CancelBooking: cancel_booking,
    ConfirmBooking: move_booking,
    CompleteBooking: move_booking,
    MarkNoShow: move_booking,
    ListBookings: list_bookings,
}

__all__ = [
    "HANDLERS",
    "AddCoach",
    "AddDateOverride",
    "BookSession",
    "CancelBooking",
    "Command",
    "CompleteBooking",
    "ConfirmBooking",
    "CreateClient",
    "CreateOrganization",
    "CreateService",
    "Deps",
    "FindSlots",
    "ListBookings",
    "MarkNoShow",
    "RemoveDateOverride",
    "SellPackage",
    "SetWeeklyHours",
    "UpdateOrganizationSettings",
    "UseCredit",
]
