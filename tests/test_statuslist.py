"""activitypub.statuslist: the W3C Bitstring Status List v1.0 encoding (pure, no database)."""

from __future__ import annotations

import base64
import gzip

import pytest

from activitypub import statuslist as sl

LIST_URL = "https://video.example.org/status-lists/7"

# The spec's example (Bitstring Status List v1.0, §2.1): an all-zero 16 KiB list.
SPEC_EMPTY_LIST = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"


def test_new_bitstring_is_at_least_the_spec_minimum() -> None:
    assert len(sl.new_bitstring()) * 8 == sl.MIN_BITS == 131_072
    assert len(sl.new_bitstring(sl.MIN_BITS * 2)) == 32_768
    for bad in (sl.MIN_BITS - 8, sl.MIN_BITS + 1):
        with pytest.raises(sl.StatusListError):
            sl.new_bitstring(bad)


def test_index_zero_is_the_leftmost_bit() -> None:
    bits = sl.set_bit(sl.new_bitstring(), 0)
    assert bits[0] == 0b1000_0000
    bits = sl.set_bit(bits, 9)
    assert bits[1] == 0b0100_0000
    assert sl.get_bit(bits, 0) and sl.get_bit(bits, 9) and not sl.get_bit(bits, 1)
    assert not sl.get_bit(sl.set_bit(bits, 9, False), 9)
    last = sl.MIN_BITS - 1
    assert sl.get_bit(sl.set_bit(bits, last), last)
    for bad in (-1, sl.MIN_BITS, True):
        with pytest.raises(sl.StatusListError):
            sl.get_bit(bits, bad)  # type: ignore[arg-type]


def test_encode_is_multibase_base64url_gzip_and_round_trips() -> None:
    bits = sl.set_bit(sl.set_bit(sl.new_bitstring(), 3), 100_000)
    encoded = sl.encode_list(bits)
    assert encoded.startswith("u") and "=" not in encoded and "+" not in encoded and "/" not in encoded
    raw = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
    assert gzip.decompress(raw) == bits
    assert sl.decode_list(encoded) == bits
    assert sl.decode_list(encoded[1:]) == bits  # bare base64url is accepted too
    assert sl.encode_list(bits) == encoded  # deterministic (no timestamp in the header)


def test_decodes_the_spec_example() -> None:
    assert sl.decode_list(SPEC_EMPTY_LIST) == bytes(16_384)


@pytest.mark.parametrize("bad", ["", "u", "u!!!!", "u" + base64.urlsafe_b64encode(b"not gzip").decode()])
def test_decode_rejects_garbage(bad: str) -> None:
    with pytest.raises(sl.StatusListError):
        sl.decode_list(bad)


def test_decode_is_bounded() -> None:
    bomb = sl.encode_list(bytes(1024 * 1024))
    with pytest.raises(sl.StatusListError, match="larger than"):
        sl.decode_list(bomb, max_bytes=64 * 1024)
    assert len(sl.decode_list(bomb)) == 1024 * 1024


def test_entry_and_list_credential_shapes() -> None:
    entry = sl.entry(list_url=LIST_URL, index=42)
    assert entry == {
        "id": f"{LIST_URL}#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "42",
        "statusListCredential": LIST_URL,
    }
    credential = sl.status_list_credential(
        list_url=LIST_URL, issuer="https://video.example.org/actor", bitstring=sl.new_bitstring(),
        valid_from="2026-11-26T00:00:00Z", ttl_ms=300_000,
    )  # fmt: skip
    assert credential == {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": LIST_URL,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": "https://video.example.org/actor",
        "validFrom": "2026-11-26T00:00:00Z",
        "credentialSubject": {
            "id": f"{LIST_URL}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": sl.encode_list(sl.new_bitstring()),
            "ttl": 300_000,
        },
    }


def test_status_of_reads_the_bit_and_checks_the_entry() -> None:
    bits = sl.set_bit(sl.new_bitstring(), 42)
    credential = sl.status_list_credential(
        list_url=LIST_URL, issuer="https://video.example.org/actor", bitstring=bits, valid_from="2026-11-26T00:00:00Z"
    )
    assert sl.status_of(sl.entry(list_url=LIST_URL, index=42), credential) is True
    assert sl.status_of(sl.entry(list_url=LIST_URL, index=41), credential) is False
    mismatches = [
        {**sl.entry(list_url=LIST_URL, index=42), "statusListCredential": "https://elsewhere.example/list"},
        {**sl.entry(list_url=LIST_URL, index=42), "statusPurpose": "suspension"},
        {**sl.entry(list_url=LIST_URL, index=42), "statusListIndex": 42},
        {**sl.entry(list_url=LIST_URL, index=42), "statusListIndex": "-1"},
        {**sl.entry(list_url=LIST_URL, index=42), "type": "StatusList2021Entry"},
        sl.entry(list_url=LIST_URL, index=sl.MIN_BITS),
    ]
    for entry in mismatches:
        with pytest.raises(sl.StatusListError):
            sl.status_of(entry, credential)
