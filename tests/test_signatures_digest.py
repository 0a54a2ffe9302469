"""Body digests: draft-cavage ``Digest`` (RFC 3230) and RFC 9530 ``Content-Digest``."""

from __future__ import annotations

import base64
import hashlib

import pytest

from activitypub.signatures import SignatureError, content_digest_header, digest_header, verify_body_digest
from activitypub.signatures import errors

BODY = b'{"hello": "world"}'
SHA256 = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
SHA512 = base64.b64encode(hashlib.sha512(BODY).digest()).decode()


def test_known_values() -> None:
    """draft-cavage Appendix C and RFC 9530 Appendix/RFC 9421 B.2 example digests of the same body."""
    assert digest_header(BODY) == "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="
    assert content_digest_header(BODY, "sha-512") == (
        "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Digest": f"SHA-256={SHA256}"},
        {"digest": f"sha-256={SHA256}"},
        {"Digest": f"SHA-512={SHA512}"},
        {"Digest": f"MD5=abc, SHA-256={SHA256}"},
        {"Content-Digest": f"sha-256=:{SHA256}:"},
        {"Content-Digest": f"sha-512=:{SHA512}:, sha-256=:{SHA256}:"},
        {"Content-Digest": f"md5=:AAAA:, sha-256=:{SHA256}:", "Digest": f"SHA-256={SHA256}"},
    ],
)
def test_matching_digests(headers: dict[str, str]) -> None:
    assert verify_body_digest(headers, BODY)


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Digest": f"SHA-256={SHA256}"[:-4] + "AAA="}, errors.DIGEST_MISMATCH),
        ({"Content-Digest": f"sha-256=:{SHA512}:"}, errors.DIGEST_MISMATCH),
        ({"Content-Digest": f"sha-256=:{SHA256}:", "Digest": f"SHA-512={SHA256}"}, errors.DIGEST_MISMATCH),
        ({"Digest": "MD5=abc"}, errors.DIGEST_UNSUPPORTED),
        ({"Content-Digest": "sha-256=abc"}, errors.MALFORMED),
        ({}, errors.DIGEST_MISSING),
    ],
)
def test_failing_digests(headers: dict[str, str], code: str) -> None:
    with pytest.raises(SignatureError) as err:
        verify_body_digest(headers, BODY)
    assert err.value.code == code


def test_no_body_needs_no_digest() -> None:
    assert verify_body_digest({}, None) == []
    assert verify_body_digest({}, b"") == []
