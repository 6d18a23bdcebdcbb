"""Structured logging with personal data and secrets removed before anything is written.

Log ids, never names, phones, emails, message bodies or tokens. The redaction processor is a
second line of defence for the times somebody forgets: it blanks fields whose names mean
personal data or secrets, and masks email addresses, phone numbers and URL passwords inside
any string value.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

from coachos.settings import Settings

REDACTED = "[redacted]"

#: Field names whose values are personal data or secrets, whatever they hold.
SENSITIVE_KEYS = frozenset(
    {
        "name",
        "first_name",
        "last_name",
        "full_name",
        "client_name",
        "coach_name",
        "owner_name",
        "phone",
        "phone_number",
        "to",
        "from_",
        "from",
        "email",
        "owner_email",
        "body",
        "message",
        "text",
        "notes",
        "note",
        "address",
        "password",
        "token",
        "secret",
        "api_key",
        "authorization",
        "cookie",
        "signature",
    }
)
_EMAIL = re.compile(r"[^@\s<>\"']+@[^@\s<>\"']+\.[A-Za-z]{2,}")
_PHONE = re.compile(
    r"""
    (?<![\w.-])(?<!\d:)                                  # not inside a word, an id, a decimal or a clock time
    (?!\d{4}-\d{2}-\d{2}(?!\d))                          # not a date such as 2026-03-02
    (?!\d{8}-\d{4}-\d{4}-\d{4}-\d{12})                   # not a UUID that happens to be all digits
    (?:\+\(?\d[\d\s().-]{5,20}|\(?\d[\d\s().-]{6,20})\d  # 7+ digits after a +, else 8+ characters
    (?![\w:-])                                           # and not followed by more of one
    """,
    re.VERBOSE,
)
_URL_PASSWORD = re.compile(r"(\w+://[^:/@\s]+):[^@/\s]+@")


def scrub(text: str) -> str:
    """`text` with email addresses, phone numbers and URL passwords masked."""
    text = _URL_PASSWORD.sub(r"\1:***@", text)
    text = _EMAIL.sub(REDACTED, text)
    return _PHONE.sub(REDACTED, text)


def _clean(value: Any) -> Any:
    """`value` scrubbed, looking inside dicts, lists, tuples and sets (other objects are left as they are)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {k: REDACTED if str(k).lower() in SENSITIVE_KEYS else _clean(v) for k, v in value.items()}
    if type(value) in (list, tuple, set, frozenset):
        return type(value)(_clean(v) for v in value)
    return value


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: blank sensitive fields and scrub every other string, nested ones too."""
    for key, value in list(event_dict.items()):
        if key.lower() in SENSITIVE_KEYS and key != "event":
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _clean(value)
    return event_dict


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Send structured logs to `stream` (stderr by default): JSON in production, readable lines on a console.

    The domain and adapters log through the standard library (`logging.getLogger(__name__)`), so they
    stay free of structlog; their records go through the same redaction and renderer as structlog's,
    at the same level, instead of Python's last-resort handler (warnings only, unredacted).
    """
    stream = sys.stderr if stream is None else stream
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    level = logging.getLevelName(settings.log_level)
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamp,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                stamp,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # The stripe SDK logs whole request and response bodies (names, emails, metadata) at DEBUG; its
    # INFO lines (method, path, status) are all we want even when debugging our own code.
    logging.getLogger("stripe").setLevel(max(logging.INFO, level if isinstance(level, int) else logging.INFO))


#: The name of the standard-library handler `configure_logging` installs (replaced on every call).
_HANDLER = "coachos-structured"


def reset_logging() -> None:
    """Undo `configure_logging` (tests, and embedders who configured logging for a while)."""
    structlog.reset_defaults()
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER]:
        root.removeHandler(old)
    root.setLevel(logging.WARNING)
