"""The Content-Security-Policy lets forms go on to Stripe's pages only when card payments are configured."""

from __future__ import annotations

from coachos import Settings
from coachos.entrypoints.web.app import CSP, content_security_policy


def form_action(policy: str) -> list[str]:
    """The sources of the policy's form-action directive."""
    (directive,) = [d.strip() for d in policy.split(";") if d.strip().startswith("form-action")]
    return directive.split()[1:]


class TestContentSecurityPolicy:
    def test_without_stripe_forms_stay_on_this_site(self) -> None:
        """With no Stripe key, forms may only post (and be redirected) to this site."""
        assert content_security_policy(Settings(database_url="memory://")) == CSP
        assert form_action(CSP) == ["'self'"]

    def test_with_stripe_forms_may_be_redirected_to_checkout_and_onboarding(self) -> None:
        """A 303 to Checkout or Connect onboarding after a form is allowed (browsers check redirects too)."""
        policy = content_security_policy(Settings(database_url="memory://", stripe_secret_key="sk_test_x"))
        assert form_action(policy) == ["'self'", "https://checkout.stripe.com", "https://connect.stripe.com"]
        assert "default-src 'self'" in policy

    def test_a_local_stripe_stub_serves_its_own_pages(self) -> None:
        """A Stripe API base other than Stripe's (a loopback stub) is allowed as a form target by its origin only."""
        settings = Settings(
            database_url="memory://", stripe_secret_key="sk_test_x", stripe_api_url="http://127.0.0.1:4242/"
        )
        assert form_action(content_security_policy(settings))[-1] == "http://127.0.0.1:4242"
