"""Random secrets and the digests we keep of them.

Client secrets, authorization codes and access tokens are 256-bit random
strings (``secrets.token_urlsafe(32)``); only their SHA-256 hex digests are
stored.  They are looked up by digest (a unique index), so the lookup itself
leaks nothing useful; where a known row is checked against a presented
secret, the digests are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def matches(value: str, stored_digest: str) -> bool:
    """Whether ``value`` is the secret whose digest is ``stored_digest`` (constant time)."""
    return hmac.compare_digest(digest(value), stored_digest)
