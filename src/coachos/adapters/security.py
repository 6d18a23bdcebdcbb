"""Security adapters: argon2id password hashing and secure random tokens.

The email senders moved to coachos.adapters.email and coachos.adapters.smtp_email; their names are
re-exported here so older imports keep working.
"""

from __future__ import annotations

import secrets

import argon2

from coachos.adapters.email import FileEmail, MemoryEmail, SentEmail, email_from_url
from coachos.adapters.smtp_email import SmtpEmail

__all__ = [
    "Argon2Hasher",
    "FileEmail",
    "MemoryEmail",
    "SecretsTokens",
    "SentEmail",
    "SmtpEmail",
    "email_from_url",
    "fast_test_hasher",
]


class Argon2Hasher:
    """argon2id with the library's recommended parameters (RFC 9106 low-memory profile)."""

    def __init__(self, *, time_cost: int | None = None, memory_cost: int | None = None) -> None:
        default = argon2.PasswordHasher()
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost or default.time_cost,
            memory_cost=memory_cost or default.memory_cost,
            parallelism=default.parallelism,
            hash_len=default.hash_len,
            salt_len=default.salt_len,
        )
        self._decoy: str | None = None

    def hash(self, password: str) -> str:
        """An argon2id hash of `password`."""
        return self._hasher.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        """Whether `password` matches `stored`."""
        try:
            return self._hasher.verify(stored, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def verify_absent(self, password: str) -> bool:
        """Check `password` against a decoy hash with today's parameters, so an unknown email takes as long."""
        if self._decoy is None:
            self._decoy = self._hasher.hash("coachos-decoy-password")
        self.verify(self._decoy, password)
        return False

    def needs_rehash(self, stored: str) -> bool:
        """Whether `stored` was made with other parameters than today's."""
        return self._hasher.check_needs_rehash(stored)


def fast_test_hasher() -> Argon2Hasher:
    """Real argon2id with tiny costs, for tests that sign in many times (never for production)."""
    return Argon2Hasher(time_cost=1, memory_cost=64)


class SecretsTokens:
    """Tokens from the operating system's secure random source."""

    def new_token(self) -> str:
        """43 URL-safe characters (256 bits)."""
        return secrets.token_urlsafe(32)
