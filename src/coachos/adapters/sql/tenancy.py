"""Tenant isolation by PostgreSQL itself: which organisation a transaction works for.

Migration 0007 turns on row-level security for every table with an `org_id` column. Each policy
compares `org_id` with the transaction-local setting `app.org_id`, so a query that forgets its
`org_id` filter sees (and may write) only the current organisation's rows, and nothing at all in
a transaction that names no organisation. The repositories set it from the `org_id` they are
called with (see `repos._Repo`); it is transaction-local (`set_config(…, true)`), so a pooled
connection never carries one request's organisation into the next.

Two kinds of table are also reachable without an organisation, each for a named reason:
- credentials (logins, sessions, API tokens, calendar feeds) are found by an email or a secret's
  digest before anyone knows the organisation (log-in, authentication, password reset, feeds,
  pruning), so a transaction that has not named an organisation may reach them; once it has, it
  sees only that organisation's;
- the outbox, read across organisations by the relay (`ACROSS_ORGS_FOR_OUTBOX`);
- security events, whose old rows pruning deletes across organisations (`ACROSS_ORGS_FOR_PRUNE`),
  and clients' dead sessions and sign-in links, pruned the same way (migration 0017);
- automations, which the runner lists across organisations to find whose are enabled
  (`ACROSS_ORGS_FOR_AUTOMATIONS`, reads only; migration 0009);
- phone numbers, which an incoming text's webhook looks up by the number it was sent to before
  it knows the organisation (`ACROSS_ORGS_FOR_NUMBERS`, reads only; migration 0012);
- connected Stripe accounts, which a Stripe webhook looks up by account id before it knows the
  organisation (`ACROSS_ORGS_FOR_STRIPE_ACCOUNTS`, reads only; migration 0021);
- businesses' platform subscriptions and their ledgers, which the operator's revenue report sums
  across organisations (`ACROSS_ORGS_FOR_OPERATOR`, reads only; migration 0026).

SQLite has no row-level security; there these calls do nothing.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

import sqlalchemy as sa

#: The transaction-local setting the policies compare `org_id` with.
ORG_SETTING = "app.org_id"
#: Set to 'on' for a transaction that reads the outbox of every organisation (the relay).
ACROSS_ORGS_FOR_OUTBOX = "app.outbox_relay"
#: Set to 'on' for a transaction that deletes expired security events of every organisation (pruning).
ACROSS_ORGS_FOR_PRUNE = "app.prune"
#: Set to 'on' while the automation runner reads which organisations have enabled automations.
ACROSS_ORGS_FOR_AUTOMATIONS = "app.automation_runner"
#: Lets the message sender and the provider's status callback read and update every organisation's messages.
ACROSS_ORGS_FOR_MESSAGES = "app.message_sender"
#: Set to 'on' while an incoming text's number is looked up to find the organisation it belongs to.
ACROSS_ORGS_FOR_NUMBERS = "app.number_lookup"
#: The role the application works as on PostgreSQL; migration 0007 creates it (NOLOGIN).
APP_ROLE = "coachos_app"

_SCOPED = "coachos.scoped_to"


def scope_to(conn: sa.Connection, org_id: UUID) -> None:
    """Make `org_id` the organisation the current transaction works for (PostgreSQL).

    One `set_config` per transaction and organisation: repeating the same organisation in the
    same transaction costs nothing.
    """
    if conn.dialect.name != "postgresql":
        return
    scoped, tx = conn.info.get(_SCOPED), _innermost(conn)
    if tx is not None and scoped is not None and scoped[0]() is tx and scoped[1] == org_id:
        return
    conn.execute(sa.select(sa.func.set_config(ORG_SETTING, str(org_id), True)))
    # Remembered against the innermost transaction: the setting ends with a commit or rollback,
    # and a rolled-back savepoint undoes it, so any other transaction sets it again.
    tx = _innermost(conn)
    conn.info[_SCOPED] = None if tx is None else (weakref.ref(tx), org_id)


def read_outbox_across_orgs(conn: sa.Connection) -> None:
    """Let the current transaction read every organisation's outbox rows (and only those)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_OUTBOX, "on", True)))


def prune_across_orgs(conn: sa.Connection) -> None:
    """Let the current transaction delete expired security events of every organisation."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_PRUNE, "on", True)))


@contextmanager
def read_automations_across_orgs(conn: sa.Connection) -> Iterator[None]:
    """Let the block read every organisation's automations; the rest of the transaction cannot."""
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_AUTOMATIONS, "on", True)))
    try:
        yield
    finally:
        conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_AUTOMATIONS, "off", True)))


@contextmanager
def messages_across_orgs(conn: sa.Connection) -> Iterator[None]:
    """Let the block read and update every organisation's messages; the rest of the transaction cannot."""
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_MESSAGES, "on", True)))
    try:
        yield
    finally:
        conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_MESSAGES, "off", True)))


@contextmanager
def read_numbers_across_orgs(conn: sa.Connection) -> Iterator[None]:
    """Let the block read every organisation's phone numbers; the rest of the transaction cannot."""
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_NUMBERS, "on", True)))
    try:
        yield
    finally:
        conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_NUMBERS, "off", True)))


def _innermost(conn: sa.Connection) -> sa.Transaction | None:
    return conn.get_nested_transaction() or conn.get_transaction()


#: Set to 'on' while the reminder tick reads which organisations owe onboarding reminders.
ACROSS_ORGS_FOR_ONBOARDING = "app.onboarding_reminders"


@contextmanager
def read_onboarding_across_orgs(conn: sa.Connection) -> Iterator[None]:
    """Let the block read every organisation's onboarding starts; the rest of the transaction cannot."""
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_ONBOARDING, "on", True)))
    try:
        yield
    finally:
        conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_ONBOARDING, "off", True)))


#: Set to 'on' while a Stripe event's connected account is looked up to find its organisation.
ACROSS_ORGS_FOR_STRIPE_ACCOUNTS = "app.stripe_account_lookup"


@contextmanager
def read_stripe_accounts_across_orgs(conn: sa.Connection) -> Iterator[None]:
    """Let the block read every organisation's connected Stripe accounts; the rest of the transaction cannot."""
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_STRIPE_ACCOUNTS, "on", True)))
    try:
        yield
    finally:
        conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_STRIPE_ACCOUNTS, "off", True)))


#: Set to 'on' while the pausing job reads which memberships of any organisation ran out of grace.
ACROSS_ORGS_FOR_MEMBERSHIPS = "app.membership_lapse"


@contextmanager
def read_memberships_across_orgs(conn: sa.Connection) -> Iterator[None]:
    """Let the block read every organisation's memberships; the rest of the transaction cannot."""
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_MEMBERSHIPS, "on", True)))
    try:
        yield
    finally:
        conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_MEMBERSHIPS, "off", True)))


#: Set to 'on' while the operator's revenue report reads subscriptions and ledgers of every organisation.
ACROSS_ORGS_FOR_OPERATOR = "app.operator_report"


@contextmanager
def read_for_operator_across_orgs(conn: sa.Connection) -> Iterator[None]:
    """Let the block read every organisation's subscriptions and ledger lines; the rest of the transaction cannot."""
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_OPERATOR, "on", True)))
    try:
        yield
    finally:
        conn.execute(sa.select(sa.func.set_config(ACROSS_ORGS_FOR_OPERATOR, "off", True)))
