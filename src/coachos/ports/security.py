"""Security ports: password hashing and secret tokens (sending email is in coachos.ports.messaging)."""

from __future__ import annotations

from typing import Protocol


class PasswordHasher(Protocol):
    """Turns passwords into slow salted hashes and checks them."""

    def hash(self, password: str) -> str:
        """A hash of `password` safe to store."""
        ...

    def verify(self, stored: str, password: str) -> bool:
        """Whether `password` matches the stored hash."""
        ...

    def verify_absent(self, password: str) -> bool:
        """Spend as long as `verify` would, for an account that does not exist; always False."""
        ...

    def needs_rehash(self, stored: str) -> bool:
        """Whether the stored hash uses weaker parameters than current ones."""
        ...


class TokenSource(Protocol):
    """Hands out unguessable secrets (session ids, API tokens, reset links)."""

    def new_token(self) -> str:
        """A fresh URL-safe secret with at least 256 bits of randomness."""
        ...
