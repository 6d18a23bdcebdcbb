"""Stripe events kept exactly once, handlers run in the same transaction, account.updated applied in order."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from coachos import CoachOS, Conflict, ValidationError
from coachos.adapters.clock import FixedClock
from coachos.domain.stripe_events import StripeAccount, StripeEvent
from coachos.domain.usecases import STRIPE_HANDLERS, ReceiveStripeEvent, StripeEventReceived
from coachos.domain.usecases._base import Deps
from coachos.ports.storage import UnitOfWork
from tests.helpers import World

#: The `created` of the events tests send (1 March 2026), and one second later.
CREATED = int(datetime(2026, 3, 1, 9, 0, tzinfo=UTC).timestamp())
#: A type only the tests register a handler for (one that fails after the event is kept).
FAILING = "coachos_test.failing"


class HandlerBroke(RuntimeError):
    """What the failing test handler raises."""


def fresh_account() -> str:
    """A connected account id no other test uses (tests share databases)."""
    return "acct_" + uuid.uuid4().hex[:16]


def event_body(
    kind: str = "account.updated",
    *,
    account: str | None = None,
    created: int = CREATED,
    obj: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> str:
    """A Stripe event as Stripe sends it (the fields Coach OS reads, and some it ignores)."""
    return json.dumps(
        {
            "id": event_id or "evt_" + uuid.uuid4().hex,
            "object": "event",
            "api_version": "2024-06-20",
            "type": kind,
            "account": account,
            "created": created,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj or {"id": "cus_" + uuid.uuid4().hex[:14], "object": "customer"}},
        }
    )


def account_event(account: str, *, charges: bool, created: int = CREATED, event_id: str | None = None) -> str:
    """An account.updated for a connected account: whether it can take charges."""
    obj = {
        "id": account,
        "object": "account",
        "charges_enabled": charges,
        "details_submitted": charges,
        "email": "owner@private.test",
    }
    return event_body("account.updated", account=account, created=created, obj=obj, event_id=event_id)


def link(app: CoachOS, world: World, account: str, clock: FixedClock) -> None:
    """Record that the world's business connected `account` (Connect onboarding does this; not built yet)."""
    with app.deps.uow() as uow:
        uow.stripe.link_account(world.org.id, account, clock.now())
        uow.commit()


def stored_event(app: CoachOS, event_id: str) -> StripeEvent | None:
    with app.deps.uow() as uow:
        return uow.stripe.event(event_id)


def account_of(app: CoachOS, world: World) -> StripeAccount | None:
    with app.deps.uow() as uow:
        return uow.stripe.account(world.org.id)


def receive(app: CoachOS, body: str) -> StripeEventReceived:
    return app.execute(ReceiveStripeEvent(body=body))


def event_id(body: str) -> str:
    return str(json.loads(body)["id"])


@pytest.fixture
def failing_handler() -> Iterator[list[str]]:
    """A handler for FAILING that changes the account, then raises; it lists the events it saw."""
    seen: list[str] = []

    def broken(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
        seen.append(event.id)
        owner = uow.stripe.account_owner(str(event.account))
        if owner is not None:
            now = deps.clock.now()
            uow.stripe.update_account(
                StripeAccount(
                    org_id=owner,
                    account_id=str(event.account),
                    charges_enabled=True,
                    details_submitted=True,
                    status_at=now,
                    updated_at=now,
                )
            )
        if len(seen) == 1:
            raise HandlerBroke("the first delivery fails after the event is kept")

    STRIPE_HANDLERS[FAILING] = [broken]
    try:
        yield seen
    finally:
        del STRIPE_HANDLERS[FAILING]


class TestReceiveStripeEvent:
    def test_an_event_is_kept_with_what_stripe_said(self, app: CoachOS) -> None:
        """A new event is kept by its id with its type, account, time, mode and whole payload."""
        account = fresh_account()
        body = event_body("customer.created", account=account)
        received = receive(app, body)
        assert received.new
        assert not received.handled
        kept = stored_event(app, received.event_id)
        assert kept is not None
        assert (kept.type, kept.account, kept.livemode) == ("customer.created", account, False)
        assert kept.created == datetime.fromtimestamp(CREATED, UTC)
        assert kept.payload == json.loads(body)

    def test_a_redelivery_changes_nothing(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """The same event delivered again is acknowledged as a duplicate and its handler does not run again."""
        account = fresh_account()
        link(app, world, account, clock)
        body = account_event(account, charges=True)
        first = receive(app, body)
        again = receive(app, body)
        assert first.new
        assert first.handled
        assert not again.new
        assert not again.handled

    def test_an_unknown_type_is_kept_and_acknowledged(self, app: CoachOS) -> None:
        """A type without a handler is kept (to replay later) and answered as received."""
        received = receive(app, event_body("coachos_test.never_heard_of"))
        assert received.new
        assert not received.handled
        assert stored_event(app, received.event_id) is not None

    def test_a_platform_event_names_no_account(self, app: CoachOS) -> None:
        """An event of the platform's own account is kept with no account."""
        received = receive(app, event_body("balance.available"))
        assert received.account is None

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"id": "not an id"}, "id"),
            ({"object": "customer"}, "object"),
            ({"type": "Account Updated!"}, "type"),
            ({"created": "yesterday"}, "created"),
            ({"created": True}, "created"),
            ({"livemode": "no"}, "livemode"),
            ({"account": 42}, "account"),
        ],
    )
    def test_a_body_not_shaped_like_an_event_is_refused(self, app: CoachOS, change: dict[str, Any], field: str) -> None:
        """A signed body that is not a Stripe event is a ValidationError naming the field, and nothing is kept."""
        payload = json.loads(event_body()) | change
        with pytest.raises(ValidationError) as refused:
            receive(app, json.dumps(payload))
        assert refused.value.field == field
        if isinstance(payload["id"], str) and payload["id"].startswith("evt_"):
            assert stored_event(app, payload["id"]) is None

    def test_a_body_that_is_not_json_is_refused(self, app: CoachOS) -> None:
        """Text that is not JSON is a ValidationError saying so."""
        with pytest.raises(ValidationError, match="not JSON"):
            receive(app, "t=1,v1=abc")


class TestHandlerFailure:
    def test_a_failing_handler_rolls_back_the_event_and_its_effects(
        self, app: CoachOS, world: World, clock: FixedClock, failing_handler: list[str]
    ) -> None:
        """A handler raising after the event is kept undoes the event row and its changes; the redelivery runs once."""
        account = fresh_account()
        link(app, world, account, clock)
        body = event_body(FAILING, account=account)
        with pytest.raises(HandlerBroke):
            receive(app, body)
        assert stored_event(app, event_id(body)) is None
        status = account_of(app, world)
        assert status is not None
        assert not status.charges_enabled
        again = receive(app, body)
        assert again.new
        assert again.handled
        assert receive(app, body).new is False
        assert failing_handler == [event_id(body), event_id(body)]
        status = account_of(app, world)
        assert status is not None
        assert status.charges_enabled


class TestAccountUpdated:
    def test_it_records_whether_the_account_can_take_charges(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """account.updated records charges_enabled and details_submitted on the business's account."""
        account = fresh_account()
        link(app, world, account, clock)
        receive(app, account_event(account, charges=True))
        status = account_of(app, world)
        assert status is not None
        assert (status.account_id, status.charges_enabled, status.details_submitted) == (account, True, True)
        assert status.status_at == datetime.fromtimestamp(CREATED, UTC)

    def test_an_older_event_delivered_late_changes_nothing(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """An account.updated older than the one applied is kept but does not undo the newer state."""
        account = fresh_account()
        link(app, world, account, clock)
        receive(app, account_event(account, charges=True, created=CREATED + 60))
        late = receive(app, account_event(account, charges=False, created=CREATED))
        assert late.new
        status = account_of(app, world)
        assert status is not None
        assert status.charges_enabled
        receive(app, account_event(account, charges=False, created=CREATED + 120))
        status = account_of(app, world)
        assert status is not None
        assert not status.charges_enabled

    def test_an_unknown_account_is_kept_and_acknowledged(self, app: CoachOS, world: World) -> None:
        """An account.updated for an account no business connected is kept and changes no business."""
        received = receive(app, account_event(fresh_account(), charges=True))
        assert received.new
        assert received.handled
        assert stored_event(app, received.event_id) is not None
        assert account_of(app, world) is None

    def test_an_account_is_connected_to_one_business(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """Connecting an account a business already has is a Conflict."""
        account = fresh_account()
        link(app, world, account, clock)
        with pytest.raises(Conflict):
            link(app, world, account, clock)
