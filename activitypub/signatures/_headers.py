"""Case-insensitive header access over plain dicts, starlette ``Headers`` and ``httpx.Headers``.

Both signature schemes sign a header as its field lines, each trimmed, joined by
``", "``; so we keep every line (``multi_items`` where the mapping has it) under
its lowercased name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

HeaderLines = dict[str, list[str]]


def header_lines(headers: Mapping[str, str] | Any) -> HeaderLines:
    """Lowercased name -> list of trimmed field-line values, in order."""
    if hasattr(headers, "multi_items"):
        items = headers.multi_items()  # httpx.Headers, starlette Headers
    elif hasattr(headers, "raw") and isinstance(getattr(headers, "raw"), list):
        items = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers.raw]
    else:
        items = headers.items()
    lines: HeaderLines = {}
    for name, value in items:
        lines.setdefault(str(name).lower(), []).append(" ".join(str(value).split("\r\n")).strip())
    return lines


def combined(lines: HeaderLines, name: str) -> str | None:
    """The field value as both specs define it (lines joined by ``", "``), or None if absent."""
    values = lines.get(name.lower())
    return None if values is None else ", ".join(values)
