"""The domain's error hierarchy.

Every error carries a message a coach could read and act on. Adapters translate vendor and
database errors into these; the entrypoints map them to HTTP statuses and page messages.
"""

from __future__ import annotations


class CoachOSError(Exception):
    """Base of every error Coach OS raises on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(CoachOSError):
    """Input is malformed or breaks a rule; nothing was written."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(CoachOSError):
    """The thing does not exist in this organisation (ids of other orgs look the same)."""

    code = "not_found"


class Conflict(CoachOSError):
    """The request clashes with what is already stored (a taken slot, a duplicate slug)."""

    code = "conflict"


class SlotUnavailable(Conflict):
    """The requested time is taken, full, or not offered any more."""

    code = "slot_unavailable"


class PolicyViolation(CoachOSError):
    """The organisation's booking policy refuses this (notice, horizon, cancellation window)."""

    code = "policy"


class InvalidTransition(CoachOSError):
    """A booking cannot move from its current status to the one asked for."""

    code = "invalid_transition"


class NoCreditsLeft(CoachOSError):
    """The session package is used up."""

    code = "no_credits_left"


class PackageUnpaid(NoCreditsLeft):
    """The session package's payment has not succeeded (yet), so its credits cannot be used.

    A kind of NoCreditsLeft: whoever falls back to another package or books without a credit
    does the same here."""

    code = "package_unpaid"


class PackageExpired(CoachOSError):
    """The session package expired before this use."""

    code = "package_expired"


class CurrencyMismatch(ValidationError):
    """Amounts in two currencies were combined."""

    code = "currency_mismatch"


class NotAuthenticated(CoachOSError):
    """The credentials or token are wrong, expired or revoked."""

    code = "not_authenticated"


class Throttled(CoachOSError):
    """Too many attempts in a short time; try again later (`retry_after` seconds, when known)."""

    code = "throttled"

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Fault(CoachOSError):
    """Something on our side failed, not the caller's request: answered by the error handler, never shown as a refusal.

    Views that show refusals beside a form catch `CoachOSError`; they let a `Fault` through first, so
    it is answered with its own status (500, 503) and logged once.
    """


class CorruptRecord(Fault):
    """A stored record cannot be turned back into a domain object: the server's fault, never the caller's.

    Rows written by an old version, a manual SQL fix or a faulty migration can hold values the
    domain refuses (an unknown currency, a date that is not one). The error names the kind of
    record, its table and its id, and never the stored values, which may be personal data.
    """

    code = "corrupt_record"

    def __init__(self, what: str, *, table: str, row_id: str, cause: str | None = None) -> None:
        super().__init__(f"A stored {what} could not be read. This is a fault on our side, not in your request.")
        self.what = what
        self.table = table
        self.row_id = row_id
        #: The kind of failure (an exception class name, or the domain field refused), for support.
        self.cause = cause


class Unavailable(Fault):
    """Coach OS cannot answer in time (its database is busy, locked or out of reach); try again shortly.

    Raised instead of waiting without limit, so one stuck business or a database outage costs
    callers seconds, not their whole patience. `reason` is for operators' logs and is never
    shown; the message does not promise that nothing was written, because a write the database
    finished after the wait ran out still stands.
    """

    code = "unavailable"

    def __init__(
        self,
        message: str = "Coach OS is busy right now. Please try again in a few seconds.",
        *,
        reason: str = "busy",
        retry_after: int = 5,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


class SendError(CoachOSError):
    """A message (SMS or email) could not be handed to its provider; the subclass says what to do next."""

    code = "send_failed"


class TransientSendError(SendError):
    """The provider is busy, down or slow (429, 5xx, a timeout): send the same message again later.

    `retry_after` is the provider's requested wait in seconds when it gave one, else None (the caller
    picks its own backoff). The message may in rare cases have gone out anyway (a timeout after the
    provider accepted it), so a retry must be safe to repeat.
    """

    code = "send_transient"

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message or "The message provider is unavailable right now; it will be tried again later.")
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """The provider refused this message for good (an invalid number, a bad sender): do not retry it.

    `code` is the provider's error code (e.g. Twilio's "21211"), kept as `provider_code` so that `code`
    stays the kind of error like everywhere else; `reason` is its short explanation. Neither carries
    the recipient or the body.
    """

    code = "send_permanent"

    def __init__(self, code: str, reason: str, message: str = "") -> None:
        super().__init__(message or f"The message could not be sent and will not be retried: {reason}.")
        self.provider_code = code
        self.reason = reason


class RecipientOptedOut(PermanentSendError):
    """The recipient replied STOP (Twilio error 21610): no SMS may go to them until they reply START."""

    code = "recipient_opted_out"

    def __init__(self, code: str = "21610", reason: str = "the recipient has opted out of messages") -> None:
        super().__init__(
            code,
            reason,
            "This person has opted out of text messages (they replied STOP), so none was sent. "
            "They can opt back in by replying START.",
        )


class PaymentUnavailable(CoachOSError):
    """The payment provider could not be reached or was busy; the same call may be tried again safely."""

    code = "payment_unavailable"
    #: Seconds after which trying again makes sense (the web answers 503 with this Retry-After).
    retry_after = 30


class PaymentRefused(CoachOSError):
    """The payment provider refused the request (a declined card, a bad request); trying again will not help."""

    code = "payment_refused"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        #: The provider's short code (e.g. "card_declined"), for logs and mapping; never personal data.
        self.reason = reason
