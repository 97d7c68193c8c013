"""Password hashing (argon2id) and opaque token helpers."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: Bytes of randomness in a bearer token (256 bits).
TOKEN_BYTES = 32

_hasher = PasswordHasher()  # argon2id with the library's recommended (RFC 9106 low-memory) costs
_dummy_hash: str | None = None


def set_password_hasher(hasher: PasswordHasher) -> None:
    """Replace the hasher (tests use cheap parameters; production keeps the default)."""
    global _hasher, _dummy_hash
    _hasher = hasher
    _dummy_hash = None


def hash_password(password: str) -> str:
    """Hash ``password`` with argon2id; the result embeds salt and parameters."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; never raises for a wrong or bad hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with older parameters and should be replaced on next login."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def burn_verify(password: str) -> None:
    """Spend the time of one verification, so unknown usernames cannot be told apart by timing."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_hex(16))
    verify_password(_dummy_hash, password)


def new_token() -> str:
    """A fresh URL-safe random token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """SHA-256 hex digest of a token: what the database stores (tokens are random, so no salt)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
