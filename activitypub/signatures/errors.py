"""The one exception the signature code raises, so callers can turn it into a 401.

``code`` is a stable machine-readable tag (tests and logs match on it); ``reason`` is
a sentence a remote admin can act on ("Date is 7200 s old (max 3600 s)").
"""

from __future__ import annotations

# Stable codes, one per kind of failure.
MISSING_SIGNATURE = "missing_signature"
MALFORMED = "malformed"
MISSING_COMPONENT = "missing_component"  # a required component is not signed
MISSING_HEADER = "missing_header"  # a signed header is absent from the request
MISSING_CREATED = "missing_created"
UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
KEY_MISMATCH = "key_mismatch"  # algorithm does not fit the key type
BAD_KEY = "bad_key"
BAD_SIGNATURE = "bad_signature"
WRONG_HOST = "wrong_host"  # signed for another server (a replayed request)
EXPIRED = "expired"
FUTURE = "future"
DIGEST_MISSING = "digest_missing"
DIGEST_MISMATCH = "digest_mismatch"
DIGEST_UNSUPPORTED = "digest_unsupported"


class SignatureError(Exception):
    """An HTTP signature or body digest was absent, malformed or did not verify."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
