"""Setup: the coach's weekly hours and days off, services, packages, business settings and API tokens.

Every page reads the organisation from the signed-in principal. A refused form is shown again with
the domain's message and what was typed, and nothing is written; ids of other organisations are 404.
"""

from coachos.entrypoints.web.views.setup import (
    automations,
    availability,
    catalog,
    forms,
    index,
    memberships,
    messages,
    numbers,
    offers,
    onboarding,
    payments,
    settings,
    waivers,
)
from coachos.entrypoints.web.views.setup._blueprint import bp
from coachos.entrypoints.web.views.setup._forms import zone_label
from coachos.entrypoints.web.views.setup.catalog import end_of_local_day, expiry_label
from coachos.entrypoints.web.views.setup.settings import policy_in_words

__all__ = [
    "automations",
    "availability",
    "bp",
    "catalog",
    "end_of_local_day",
    "expiry_label",
    "forms",
    "index",
    "memberships",
    "messages",
    "numbers",
    "offers",
    "onboarding",
    "payments",
    "policy_in_words",
    "settings",
    "waivers",
    "zone_label",
]
