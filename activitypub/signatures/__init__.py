"""HTTP signatures for ActivityPub: draft-cavage-12 and RFC 9421, plus body digests.

Pure library (standard library + ``cryptography`` + ``httpx`` types).  Outgoing:
:func:`sign_request` (Mastodon-style draft-cavage), :func:`sign_request_rfc9421`,
:class:`HTTPSignatureAuth`.  Incoming: :func:`parse_signature`, fetch the key for
``parsed.key_id`` (:func:`key_owner_hint`), then :func:`verify_signature`.
"""

from .auth import HTTPSignatureAuth
from .cavage import http_date, sign_cavage, sign_request
from .digest import content_digest_header, digest_header, verify_body_digest
from .errors import SignatureError
from .keys import load_public_key
from .model import ParsedSignature, VerifiedSignature
from .rfc9421 import sign_request_rfc9421
from .verify import key_owner_hint, parse_signature, verify_signature, verify_signature_value

__all__ = [
    "HTTPSignatureAuth",
    "ParsedSignature",
    "SignatureError",
    "VerifiedSignature",
    "content_digest_header",
    "digest_header",
    "http_date",
    "key_owner_hint",
    "load_public_key",
    "parse_signature",
    "sign_cavage",
    "sign_request",
    "sign_request_rfc9421",
    "verify_body_digest",
    "verify_signature",
    "verify_signature_value",
]
