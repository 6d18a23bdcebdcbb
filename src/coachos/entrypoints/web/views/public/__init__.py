"""Public pages (no account): book a session, the confirmation, the signed manage link, and iCal feeds.

Times are always shown in the organisation's zone with its abbreviation; when the visitor's own
zone is known (public.js adds `?tz=` from the browser) their local time is shown beside it.
"""

from coachos.entrypoints.web.views.public import booking, feeds, forms, manage
from coachos.entrypoints.web.views.public._blueprint import bp
from coachos.entrypoints.web.views.public._shared import (
    MANAGE_LINK_AGE,
    SMS_WORDING,
    manage_token,
    read_manage_token,
    slot_label,
    viewer_zone,
)

__all__ = [
    "MANAGE_LINK_AGE",
    "SMS_WORDING",
    "booking",
    "bp",
    "feeds",
    "forms",
    "manage",
    "manage_token",
    "read_manage_token",
    "slot_label",
    "viewer_zone",
]
