"""The use cases: plain functions taking a command and the ports.

Each function registers itself for its commands with `@handles(...)` (see `_base.py`); importing
its module here is what makes `HANDLERS` know it. A new use-case module adds one import below.
"""

from __future__ import annotations

from coachos.domain.usecases._base import HANDLERS, Command, Deps, handles
from coachos.domain.usecases.accounts import (
    Authenticate,
    CreateApiToken,
    ListApiTokens,
    ListSecurityEvents,
    LoggedIn,
    LogIn,
    LogOut,
    NewApiToken,
    PruneExpired,
    RequestPasswordReset,
    ResetPassword,
    RevokeApiToken,
    SignUp,
)
from coachos.domain.usecases.automation_events import subscribe_automations
from coachos.domain.usecases.automations import (
    AutomationWithRuns,
    CreateAutomation,
    ListAutomations,
    RunDueAutomations,
    SetAutomationEnabled,
)
from coachos.domain.usecases.booking import (
    BookSession,
    FindSlots,
    ListBookings,
    UseCredit,
)
from coachos.domain.usecases.catalog import UpdateService
from coachos.domain.usecases.clients import (
    ConsentLog,
    RecordConsent,
    UpdateClient,
    WithdrawConsent,
)
from coachos.domain.usecases.consent import ApplyBookingConsents
from coachos.domain.usecases.inbound import ReceiveSms, SmsReceived
from coachos.domain.usecases.inbox import (
    ConversationsPage,
    ListConversations,
    ReadConversation,
    SendReply,
    Thread,
)
from coachos.domain.usecases.lifecycle import (
    CancelBooking,
    CompleteBooking,
    ConfirmBooking,
    MarkNoShow,
)
from coachos.domain.usecases.numbers import AddPhoneNumber, ListPhoneNumbers, RemovePhoneNumber
from coachos.domain.usecases.onboarding import (
    AddOnboardingStep,
    ClientOnboarding,
    CreateOnboardingFlow,
    DeleteOnboardingFlow,
    GetOnboardingFlow,
    HeldBooking,
    HeldBookings,
    ListOnboardingFlows,
    ListStepChoices,
    MoveOnboardingStep,
    RemoveOnboardingStep,
    SendOnboarding,
    SendOnboardingReminders,
    UpdateOnboardingFlow,
)
from coachos.domain.usecases.public import (
    BookAsGuest,
    CalendarFeed,
    CalendarFeedUrl,
    FeedContent,
    FeedEntry,
    ReadCalendarFeed,
    RotateCalendarFeed,
)
from coachos.domain.usecases.reschedule import RescheduleBooking
from coachos.domain.usecases.sending import RecordDeliveryStatus, SendDueMessages, SendReport
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
)
from coachos.domain.usecases.templates import (
    ListMessageTemplates,
    PreviewMessageTemplate,
    ResetMessageTemplate,
    SaveMessageTemplate,
    TemplateRow,
)
from coachos.domain.usecases.todos import CompleteTodo, ListOpenTodos

__all__ = [
    "AddOnboardingStep",
    "ClientOnboarding",
    "CreateOnboardingFlow",
    "DeleteOnboardingFlow",
    "GetOnboardingFlow",
    "HeldBooking",
    "HeldBookings",
    "ListOnboardingFlows",
    "ListStepChoices",
    "MoveOnboardingStep",
    "RemoveOnboardingStep",
    "SendOnboarding",
    "SendOnboardingReminders",
    "UpdateOnboardingFlow",
    "CompleteTodo",
    "ListOpenTodos",
    "subscribe_automations",
    "AutomationWithRuns",
    "CreateAutomation",
    "ListAutomations",
    "RunDueAutomations",
    "SetAutomationEnabled",
    "Authenticate",
    "CreateApiToken",
    "ListApiTokens",
    "ListSecurityEvents",
    "LogIn",
    "LogOut",
    "LoggedIn",
    "NewApiToken",
    "PruneExpired",
    "RequestPasswordReset",
    "ResetPassword",
    "RevokeApiToken",
    "SignUp",
    "HANDLERS",
    "handles",
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
    "RescheduleBooking",
    "ListMessageTemplates",
    "PreviewMessageTemplate",
    "ResetMessageTemplate",
    "SaveMessageTemplate",
    "TemplateRow",
    "BookAsGuest",
    "CalendarFeed",
    "CalendarFeedUrl",
    "FeedContent",
    "FeedEntry",
    "ReadCalendarFeed",
    "RotateCalendarFeed",
    "MarkNoShow",
    "RemoveDateOverride",
    "SellPackage",
    "SetWeeklyHours",
    "UpdateOrganizationSettings",
    "UpdateClient",
    "UpdateService",
    "ApplyBookingConsents",
    "ConsentLog",
    "RecordConsent",
    "WithdrawConsent",
    "UseCredit",
    "AddPhoneNumber",
    "ListPhoneNumbers",
    "RemovePhoneNumber",
    "ReceiveSms",
    "SmsReceived",
    "ConversationsPage",
    "ListConversations",
    "ReadConversation",
    "SendReply",
    "Thread",
    "RecordDeliveryStatus",
    "SendDueMessages",
    "SendReport",
]
