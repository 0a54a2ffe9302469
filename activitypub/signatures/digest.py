"""Body digests: draft-cavage ``Digest`` (RFC 3230) and RFC 9530 ``Content-Digest``.

A signature covers only the digest header, so the body is authenticated only if
the digest also matches it.  Mastodon sends ``Digest: SHA-256=<b64>``; RFC 9421
peers send ``Content-Digest: sha-256=:<b64>:``.  We check every supported
algorithm present in either header and ignore unknown ones (RFC 9530 section 2),
but a header made only of unknown algorithms cannot vouch for the body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from . import errors
from ._headers import HeaderLines, combined, header_lines
from .errors import SignatureError
from .sfv import SFError, is_inner_list, parse_dictionary

_HASHES = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def digest_header(body: bytes, algorithm: str = "sha-256") -> str:
    """The draft-cavage ``Digest`` value Mastodon sends: ``SHA-256=<base64>``."""
    raw = _HASHES[algorithm.lower()](body).digest()
    return f"{algorithm.upper()}={base64.b64encode(raw).decode('ascii')}"


def content_digest_header(body: bytes, algorithm: str = "sha-256") -> str:
    """The RFC 9530 ``Content-Digest`` value: ``sha-256=:<base64>:``."""
    raw = _HASHES[algorithm.lower()](body).digest()
    return f"{algorithm.lower()}=:{base64.b64encode(raw).decode('ascii')}:"


def _digest_values(value: str) -> dict[str, bytes]:
    """``Digest: SHA-256=abc=, SHA-512=def=`` -> {"sha-256": raw, ...} (known algorithms only)."""
    out: dict[str, bytes] = {}
    for part in value.split(","):
        name, sep, b64 = part.strip().partition("=")
        if not sep:
            raise SignatureError(errors.MALFORMED, f"Digest member {part.strip()!r} has no '='")
        if name.lower() in _HASHES:
            try:
                out[name.lower()] = base64.b64decode(b64.strip(), validate=True)
            except ValueError as exc:
                raise SignatureError(errors.MALFORMED, f"Digest {name} is not base64") from exc
    return out


def _content_digest_values(value: str) -> dict[str, bytes]:
    try:
        members = parse_dictionary(value)
    except SFError as exc:
        raise SignatureError(errors.MALFORMED, f"Content-Digest is not a structured field: {exc}") from exc
    out: dict[str, bytes] = {}
    for name, member in members.items():
        if name in _HASHES:
            if is_inner_list(member) or not isinstance(member[0], bytes):
                raise SignatureError(errors.MALFORMED, f"Content-Digest {name} is not a byte sequence")
            out[name] = member[0]
    return out


def verify_body_digest(headers: Mapping[str, str] | Any, body: bytes | None) -> list[str]:
    """Check ``Digest`` and ``Content-Digest`` against ``body``; return the headers checked.

    Raises :class:`SignatureError` on a mismatch, on a header with no algorithm we
    know, or when a non-empty body comes with neither header.
    """
    return verify_body_digest_lines(header_lines(headers), body)


def verify_body_digest_lines(lines: HeaderLines, body: bytes | None) -> list[str]:
    body = body or b""
    checked: list[str] = []
    for header, parse in (("digest", _digest_values), ("content-digest", _content_digest_values)):
        value = combined(lines, header)
        if value is None:
            continue
        expected = parse(value)
        if not expected:
            raise SignatureError(
                errors.DIGEST_UNSUPPORTED, f"{header} uses no supported algorithm (sha-256, sha-512): {value!r}"
            )
        for algorithm, digest in expected.items():
            if not hmac.compare_digest(_HASHES[algorithm](body).digest(), digest):
                raise SignatureError(
                    errors.DIGEST_MISMATCH, f"{header} {algorithm} does not match the request body"
                )
        checked.append(header)
    if not checked and body:
        raise SignatureError(errors.DIGEST_MISSING, "the request has a body but no Digest or Content-Digest header")
    return checked
