"""The recording payments fake, which unit tests of billing use cases stand on."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from coachos.adapters.payments import MemoryPayments
from coachos.domain.errors import PaymentRefused, PaymentUnavailable
from coachos.domain.ids import OrgId
from coachos.domain.money import Money
from coachos.ports.payments import checkout_key, refund_key

ORG = OrgId(UUID("00000000-0000-4000-8000-000000000001"))


def _checkout(fake: MemoryPayments, key: str) -> str:
    return fake.create_checkout(
        idempotency_key=key,
        account_id="acct_1",
        name="5 sessions",
        price=Money(20000, "GBP"),
        application_fee=Money(1000, "GBP"),
        success_url="https://coach.test/paid",
        cancel_url="https://coach.test/cancelled",
        reference="pkg",
        metadata={},
    ).session_id


class TestMemoryPayments:
    def test_a_failed_call_creates_nothing_and_the_retry_creates_one(self) -> None:
        """A queued PaymentUnavailable is raised once; the same key then creates one session."""
        fake = MemoryPayments()
        fake.fail_next(PaymentUnavailable("down"))
        key = checkout_key(ORG, uuid4(), uuid4())
        with pytest.raises(PaymentUnavailable):
            _checkout(fake, key)
        assert fake.created == {}
        assert _checkout(fake, key) == _checkout(fake, key)
        assert len(fake.created) == 1

    def test_different_attempts_make_different_sessions(self) -> None:
        """Two attempts at one package (new attempt ids) are two sessions."""
        fake = MemoryPayments()
        package = uuid4()
        first = _checkout(fake, checkout_key(ORG, package, uuid4()))
        assert first != _checkout(fake, checkout_key(ORG, package, uuid4()))

    def test_onboarding_reuses_the_orgs_account(self) -> None:
        """Asking twice for a new coach's link makes one account and two links."""
        fake = MemoryPayments()
        urls = {"return_url": "https://coach.test/back", "refresh_url": "https://coach.test/again"}
        first = fake.connect_onboarding_link(ORG, None, attempt_id=uuid4(), **urls)
        second = fake.connect_onboarding_link(ORG, None, attempt_id=uuid4(), **urls)
        assert first.account_id == second.account_id
        assert [c.method for c in fake.calls] == ["account", "account_link", "account", "account_link"]

    def test_a_full_refund_needs_a_known_payment(self) -> None:
        """A full refund returns what was paid; one for an unknown payment is refused."""
        fake = MemoryPayments(paid={"pi_1": Money(4500, "USD")})
        refunded = fake.refund(idempotency_key=refund_key(ORG, uuid4()), payment_intent_id="pi_1", amount=None)
        assert refunded.amount == Money(4500, "USD")
        with pytest.raises(PaymentRefused, match="no payment pi_2"):
            fake.refund(idempotency_key="refund:other", payment_intent_id="pi_2", amount=None)
