"""Coach OS: run a personal-training business — clients, availability, bookings, session packages.

Build it with `bootstrap(settings)` and run use cases with `CoachOS.execute(command)` (or
`await CoachOS.execute_async(command)` from async code).
"""

from coachos._app import CoachOS
from coachos.bootstrap import MEMORY_URL, bootstrap
from coachos.domain.availability import DateOverride, Slot, WeeklyRule
from coachos.domain.bookings import Booking, BookingStatus, CreditChange, CreditEvent, GuestDetails
from coachos.domain.catalog import Service, SessionPackage
from coachos.domain.clients import Channel, Client, ClientStatus, Consent
from coachos.domain.consent import ConsentAction, ConsentChange
from coachos.domain.errors import (
    CoachOSError,
    Conflict,
    CurrencyMismatch,
    InvalidTransition,
    NoCreditsLeft,
    NotFound,
    PackageExpired,
    PolicyViolation,
    SlotUnavailable,
    Unavailable,
    ValidationError,
)
from coachos.domain.ids import SYSTEM, Actor
from coachos.domain.money import Money
from coachos.domain.orgs import Coach, Notifications, Organization
from coachos.domain.policy import BookingPolicy
from coachos.domain.quiet_hours import QuietHours, is_quiet, next_allowed
from coachos.domain.usecases import (
    AddCoach,
    AddDateOverride,
    Authenticate,
    BookAsGuest,
    BookSession,
    CalendarFeed,
    CalendarFeedUrl,
    CancelBooking,
    CompleteBooking,
    ConfirmBooking,
    CreateApiToken,
    CreateClient,
    CreateOrganization,
    CreateService,
    FindSlots,
    ListApiTokens,
    ListBookings,
    ListSecurityEvents,
    LogIn,
    LogOut,
    MarkNoShow,
    ReadCalendarFeed,
    RemoveDateOverride,
    RequestPasswordReset,
    RescheduleBooking,
    ResetPassword,
    RevokeApiToken,
    RotateCalendarFeed,
    SellPackage,
    SetWeeklyHours,
    SignUp,
    UpdateOrganizationSettings,
    UseCredit,
)
from coachos.domain.usecases.accounting import AccountingReport, OutstandingPayments
from coachos.domain.usecases.catalog import UpdateService
from coachos.domain.usecases.clients import ConsentLog, RecordConsent, UpdateClient, WithdrawConsent
from coachos.domain.usecases.consent import ApplyBookingConsents
from coachos.domain.usecases.inbound import ReceiveSms, SmsReceived
from coachos.domain.usecases.numbers import AddPhoneNumber, ListPhoneNumbers, RemovePhoneNumber
from coachos.domain.usecases.templates import (
    ListMessageTemplates,
    PreviewMessageTemplate,
    ResetMessageTemplate,
    SaveMessageTemplate,
)
from coachos.settings import Settings

__all__ = [
    # accounting
    "AccountingReport",
    "OutstandingPayments",
    # accounts
    "Authenticate",
    "CreateApiToken",
    "ListApiTokens",
    "ListSecurityEvents",
    "LogIn",
    "LogOut",
    "RequestPasswordReset",
    "ResetPassword",
    "RevokeApiToken",
    "SignUp",
    # building and running
    "CoachOS",
    "Settings",
    "bootstrap",
    "MEMORY_URL",
    # commands
    "AddCoach",
    "AddDateOverride",
    "BookSession",
    "CancelBooking",
    "CompleteBooking",
    "ConfirmBooking",
    "CreateClient",
    "CreateOrganization",
    "CreateService",
    "FindSlots",
    "ListBookings",
    "RescheduleBooking",
    "MarkNoShow",
    "RemoveDateOverride",
    "SellPackage",
    "SetWeeklyHours",
    "UpdateOrganizationSettings",
    "UpdateService",
    "UseCredit",
    "BookAsGuest",
    "CalendarFeedUrl",
    "RotateCalendarFeed",
    "ReadCalendarFeed",
    "CalendarFeed",
    "UpdateClient",
    "ApplyBookingConsents",
    "ConsentLog",
    "RecordConsent",
    "WithdrawConsent",
    # messages
    "ListMessageTemplates",
    "PreviewMessageTemplate",
    "ResetMessageTemplate",
    "SaveMessageTemplate",
    "Notifications",
    "AddPhoneNumber",
    "ListPhoneNumbers",
    "RemovePhoneNumber",
    "ReceiveSms",
    # values and records
    "SmsReceived",
    "Actor",
    "SYSTEM",
    "Booking",
    "BookingPolicy",
    "BookingStatus",
    "Channel",
    "Client",
    "ClientStatus",
    "Coach",
    "Consent",
    "ConsentAction",
    "ConsentChange",
    "CreditChange",
    "CreditEvent",
    "DateOverride",
    "GuestDetails",
    "Money",
    "Organization",
    "QuietHours",
    "Service",
    "SessionPackage",
    "Slot",
    "WeeklyRule",
    "is_quiet",
    "next_allowed",
    # errors
    "CoachOSError",
    "Conflict",
    "CurrencyMismatch",
    "InvalidTransition",
    "NoCreditsLeft",
    "NotFound",
    "PackageExpired",
    "PolicyViolation",
    "SlotUnavailable",
    "Unavailable",
    "ValidationError",
]
