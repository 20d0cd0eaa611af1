"""Secrets: API keys, passwords and session tokens; created here, stored only as hashes.

An API key reads `cgtm_<key id>_<secret>`: the key id finds the stored row, the secret is compared
with its stored SHA-256 in constant time. Keys and session tokens are 256-bit random, so a fast
hash is enough; passwords, chosen by people, get scrypt.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from ..errors import InvalidQuery, NotAuthenticated

KEY_PREFIX = "cgtm"
_KEY = re.compile(r"^cgtm_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
MIN_PASSWORD = 12


@dataclass(frozen=True)
class NewKey:
    key_id: str
    secret_hash: str
    key: str
    """The whole key: shown once, never stored."""


def new_key() -> NewKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, digest(secret), f"{KEY_PREFIX}_{key_id}_{secret}")


def split_key(key: str) -> tuple[str, str]:
    """The key id and the secret of a presented key. Raises NotAuthenticated when malformed."""
    match = _KEY.match(key.strip())
    if match is None:
        raise NotAuthenticated(
            "The API key is malformed: keys read cgtm_<12 hex>_<43 characters>. "
            "Ask an admin for a key."
        )
    return match.group(1), match.group(2)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_digest(secret: str, stored: str) -> bool:
    """Constant-time comparison of a presented secret with a stored digest."""
    return hmac.compare_digest(digest(secret), stored)


def new_token() -> tuple[str, str]:
    """A session token and its digest."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidQuery(f"A password needs at least {MIN_PASSWORD} characters.")
    salt = secrets.token_bytes(16)
    derived = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${derived.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    """Whether the password matches; always does the work of one hash, even without a stored one,
    so timing does not tell which usernames exist."""
    scheme, salt, expected = (stored or "scrypt$00$00").split("$")
    derived = hashlib.scrypt(
        password.encode(),
        salt=bytes.fromhex(salt),
        **_SCRYPT,
    )
    return (
        scheme == "scrypt" and stored is not None and hmac.compare_digest(derived.hex(), expected)
    )
