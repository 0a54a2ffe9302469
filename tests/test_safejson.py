"""activitypub.safejson: JSON depth bounded before parsing, no NaN, no NUL or lone surrogates."""

from __future__ import annotations

import json
import time

import pytest

from activitypub.safejson import MAX_DEPTH, JSONRejected, loads, printable, unstorable


def nested(depth: int, inside: str = "1") -> str:
    return "[" * depth + inside + "]" * depth


def test_depth_limit_is_exact() -> None:
    assert loads(nested(MAX_DEPTH)) == json.loads(nested(MAX_DEPTH))
    with pytest.raises(JSONRejected, match="nested more than 100 levels"):
        loads(nested(MAX_DEPTH + 1))
    mixed = '{"a":' * 50 + nested(50) + "}" * 50
    assert loads(mixed)
    with pytest.raises(JSONRejected):
        loads('{"a":' * 50 + nested(51) + "}" * 50)


def test_brackets_in_strings_do_not_count() -> None:
    text = json.dumps({"s": "[" * 1000 + '\\"{' * 500, "t": ["]]]]", "\\\\"]})
    assert loads(text) == json.loads(text)


def test_wide_documents_are_not_too_deep() -> None:
    wide = "[" + ",".join([nested(99, "0")] * 2000) + "]"
    assert len(loads(wide)) == 2000


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a": NaN}', "NaN is not a JSON number"),
        ("[Infinity]", "Infinity is not a JSON number"),
        ("[-Infinity]", "-Infinity is not a JSON number"),
        ("[1e999]", "the number 1e999 is too large"),
        ('["a\\u0000"]', "a string holds a NUL character"),
        ('{"k\\u0000": 1}', "a key holds a NUL character"),
        ('["\\ud800"]', "a string holds an unpaired surrogate (U+D800)"),
        ('["\\udc00\\ud800"]', "an unpaired surrogate (U+DC00)"),
        ('{"a": ', "Expecting value"),
    ],
)
def test_refused(text: str, reason: str) -> None:
    with pytest.raises(JSONRejected, match=__import__("re").escape(reason)):
        loads(text.encode())


def test_paired_surrogates_and_escaped_backslashes_are_fine() -> None:
    assert loads('["\\ud83c\\udfac", "\\\\u0000"]') == ["🎬", "\\u0000"]


def test_unstorable_and_printable() -> None:
    assert unstorable("plain 🎬 text") is None
    assert unstorable("a\x00") == "a NUL character"
    assert printable("a\x00b\ud800") == "a\\u0000b\\ud800"
    json.dumps(printable("\ud800"), ensure_ascii=False).encode()  # encodable in an error response


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        (b"[" * 1_000_000, True),
        (b"[" + b"[]," * 330_000 + b"[]]", False),
        (("[" + ",".join([nested(99, "0")] * 3000) + "]").encode(), False),
    ],
    ids=["deep", "wide", "deep-and-wide"],
)
def test_a_megabyte_of_brackets_costs_little(body: bytes, refused: bool) -> None:
    started = time.perf_counter()
    try:
        loads(body)
        assert not refused
    except JSONRejected:
        assert refused
    assert time.perf_counter() - started < 2.0  # measured: 10-250 ms on a loaded 2-core machine


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 101 + b'"' + b'\\"' * 500_000,  # a string that never ends, full of escaped quotes
        b"[" * 101 + b'"a' * 500_000,  # half a million strings that never end
        b"[" * 101 + b'"' + b"\\\\" * 250_000 + b"x",
    ],
    ids=["escaped-quotes", "many-quotes", "escaped-backslashes"],
)
def test_a_megabyte_of_unterminated_strings_costs_little(body: bytes) -> None:
    """The depth scan skips strings; one that never ends must not make it start over at every
    quote inside it (quadratic: an 80 kB inbox body took 20 s before anyone checked a signature)."""
    started = time.perf_counter()
    with pytest.raises(JSONRejected):
        loads(body)
    assert time.perf_counter() - started < 2.0
