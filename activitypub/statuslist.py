"""W3C Bitstring Status List v1.0: the pure parts an issuer and a verifier share.

A status list is a bitstring of at least 131,072 bits (16 KiB, the spec's
minimum, so one revoked credential hides among many).  Bit ``i`` is the
status of the credential whose ``statusListIndex`` is ``i``; index 0 is the
*left-most* bit, i.e. the most significant bit of the first byte.  ``1`` means
the status is set (for ``statusPurpose: revocation``: revoked).

On the wire the bitstring is GZIP-compressed and base64url-encoded without
padding, with the multibase prefix ``u``: that is ``encodedList``.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MIN_BITS",
    "MAX_ENCODED_BYTES",
    "StatusListError",
    "new_bitstring",
    "get_bit",
    "set_bit",
    "encode_list",
    "decode_list",
    "entry",
    "status_list_credential",
    "status_of",
]

MIN_BITS = 131_072
# A verifier's bound on what it will decompress: 16 MiB is 134 million credentials.
MAX_ENCODED_BYTES = 16 * 1024 * 1024

CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"


class StatusListError(ValueError):
    """A malformed status list, entry or index."""


def new_bitstring(bits: int = MIN_BITS) -> bytes:
    """An all-zero bitstring of ``bits`` bits (a multiple of 8, at least :data:`MIN_BITS`)."""
    if bits < MIN_BITS or bits % 8:
        raise StatusListError(f"a status list holds a multiple of 8 bits, at least {MIN_BITS}")
    return bytes(bits // 8)


def _position(bitstring: bytes, index: int) -> tuple[int, int]:
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(bitstring) * 8:
        raise StatusListError(f"status list index {index!r} is outside the list (0..{len(bitstring) * 8 - 1})")
    return index // 8, 7 - index % 8


def get_bit(bitstring: bytes, index: int) -> bool:
    byte, shift = _position(bitstring, index)
    return bool((bitstring[byte] >> shift) & 1)


def set_bit(bitstring: bytes, index: int, value: bool = True) -> bytes:
    """A copy of ``bitstring`` with bit ``index`` set to ``value``."""
    byte, shift = _position(bitstring, index)
    data = bytearray(bitstring)
    if value:
        data[byte] |= 1 << shift
    else:
        data[byte] &= ~(1 << shift) & 0xFF
    return bytes(data)


def encode_list(bitstring: bytes) -> str:
    """``encodedList``: ``u`` + base64url(gzip(bitstring)), no padding."""
    compressed = gzip.compress(bitstring, compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).decode("ascii").rstrip("=")


def decode_list(encoded: str, *, max_bytes: int = MAX_ENCODED_BYTES) -> bytes:
    """The bitstring inside an ``encodedList`` (``u``-prefixed or bare base64url).

    Decompression is bounded by ``max_bytes`` so a hostile list cannot
    exhaust memory.  Raises :class:`StatusListError`.
    """
    if not isinstance(encoded, str) or not encoded:
        raise StatusListError("encodedList must be a non-empty string")
    text = encoded[1:] if encoded.startswith("u") else encoded
    try:
        compressed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise StatusListError("encodedList is not base64url") from exc
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(compressed, max_bytes + 1)
    except zlib.error as exc:
        raise StatusListError("encodedList is not GZIP data") from exc
    if len(data) > max_bytes or decompressor.unconsumed_tail:
        raise StatusListError(f"the status list is larger than {max_bytes} bytes")
    if not data:
        raise StatusListError("the status list is empty")
    return data


def entry(*, list_url: str, index: int, purpose: str = "revocation") -> dict[str, Any]:
    """A ``BitstringStatusListEntry`` for a credential's ``credentialStatus``."""
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def status_list_credential(
    *,
    list_url: str,
    issuer: str,
    bitstring: bytes,
    valid_from: str,
    purpose: str = "revocation",
    ttl_ms: int | None = None,
    valid_until: str | None = None,
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` for ``bitstring``."""
    subject: dict[str, Any] = {
        "id": f"{list_url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": purpose,
        "encodedList": encode_list(bitstring),
    }
    if ttl_ms is not None:
        subject["ttl"] = ttl_ms
    doc: dict[str, Any] = {
        "@context": [CREDENTIALS_V2],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": valid_from,
    }
    if valid_until:
        doc["validUntil"] = valid_until
    doc["credentialSubject"] = subject
    return doc


def status_of(status_entry: Mapping[str, Any], list_credential: Mapping[str, Any]) -> bool:
    """Whether the bit ``status_entry`` points at is set in ``list_credential``.

    Checks that the entry names this list and the same purpose; the caller has
    already verified the list credential's proof and issuer.  Raises
    :class:`StatusListError` on any mismatch.
    """
    if status_entry.get("type") != "BitstringStatusListEntry":
        raise StatusListError("credentialStatus is not a BitstringStatusListEntry")
    if status_entry.get("statusListCredential") != list_credential.get("id"):
        raise StatusListError("the entry names a different status list")
    subject = list_credential.get("credentialSubject")
    if not isinstance(subject, Mapping) or subject.get("type") != "BitstringStatusList":
        raise StatusListError("not a BitstringStatusList credential")
    if subject.get("statusPurpose") != status_entry.get("statusPurpose"):
        raise StatusListError("the entry and the list have different purposes")
    raw_index = status_entry.get("statusListIndex")
    if not isinstance(raw_index, str) or not raw_index.isascii() or not raw_index.isdigit():
        raise StatusListError("statusListIndex must be a decimal string")
    return get_bit(decode_list(str(subject.get("encodedList", ""))), int(raw_index))
