"""Reading untrusted JSON into values every peer can read and every database can store.

:func:`loads` is ``json.loads`` with limits, for every JSON body a server parses
(requests it receives, documents it fetches):

* nesting is bounded (:data:`MAX_DEPTH`, Ruby's ``JSON.parse`` default, which
  Mastodon uses) by a cheap scan *before* parsing, so a body of 100,000 ``[``
  is refused at once instead of raising ``RecursionError`` in the parser or
  in whatever walks the value later;
* ``NaN``, ``Infinity`` and numbers that overflow to infinity are refused
  (RFC 8259 has no such numbers; I-JSON, RFC 7493, forbids them);
* strings (keys and values) holding a NUL character (PostgreSQL's ``text`` and
  ``jsonb`` cannot store it) or an unpaired surrogate (not Unicode: no UTF-8
  encoder, so no database driver, accepts it; I-JSON forbids it) are refused.

Everything refused raises :class:`JSONRejected` (a ``ValueError``) saying why.
:func:`unstorable` is the same text check for strings that do not come as JSON
(paths, query strings, form fields).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["MAX_DEPTH", "JSONRejected", "check_value", "loads", "printable", "unstorable"]

MAX_DEPTH = 100

# A string, or what is left of the body after a quote that never closes: matching to the end
# there (rather than failing and trying again at the next quote inside) keeps the scan linear.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_RISKY_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class JSONRejected(ValueError):
    """JSON that is malformed or holds what we refuse; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def unstorable(text: str) -> str | None:
    """What in ``text`` no database can store (``"a NUL character"`` …), or ``None``."""
    if "\x00" in text:
        return "a NUL character"
    found = _SURROGATE.search(text)
    if found is not None:
        return f"an unpaired surrogate (U+{ord(found.group()):04X})"
    return None


def printable(text: str, limit: int = 100) -> str:
    """``text`` cut to ``limit`` characters with NULs and unpaired surrogates escaped: safe to
    quote in an error message (a lone surrogate cannot even be encoded in the response)."""
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text[:limit])


def _too_deep(data: bytes, max_depth: int) -> bool:
    """Whether the brackets outside strings nest deeper than ``max_depth`` (linear, C-speed mostly)."""
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False  # most documents: too few brackets to nest that deep
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKET).replace(b"{", b"[").replace(b"}", b"]")
    if brackets.count(b"[") <= max_depth:
        return False
    depth = 0
    for opens in brackets.split(b"]"):  # a run of openers, then one closer
        depth += len(opens)
        if depth > max_depth:
            return True
        depth -= 1
    return False


def _constant(name: str) -> Any:
    raise JSONRejected(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONRejected(f"the number {text[:40]} is too large")
    return value


def check_value(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`JSONRejected` if a parsed ``value`` breaks the rules above (without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            problem = unstorable(item)
            if problem is not None:
                raise JSONRejected(f"a string holds {problem}")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise JSONRejected(f"{item} is not a JSON number")
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                raise JSONRejected(f"the JSON is nested more than {max_depth} levels deep")
            if isinstance(item, dict):
                for key, member in item.items():
                    if isinstance(key, str) and (problem := unstorable(key)) is not None:
                        raise JSONRejected(f"a key holds {problem}")
                    stack.append((member, depth + 1))
            else:
                stack.extend((member, depth + 1) for member in item)


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data`` as JSON under the rules above; :class:`JSONRejected` if it breaks one."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if _too_deep(raw, max_depth):
        raise JSONRejected(f"the JSON is nested more than {max_depth} levels deep")
    try:
        value = json.loads(data, parse_constant=_constant, parse_float=_float)
    except JSONRejected:
        raise
    except RecursionError:  # unreachable after the scan, kept as a guard
        raise JSONRejected(f"the JSON is nested more than {max_depth} levels deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JSONRejected(str(exc)) from None
    # A NUL or a surrogate can only come from a \u escape (raw ones are invalid JSON or UTF-8):
    # without one, no string needs looking at.
    if _RISKY_ESCAPE.search(raw):
        check_value(value, max_depth=max_depth)
    return value
