"""The size entries of Mastodon's media ``meta`` (``original``, ``small``): one shape, made here.
No heavy imports, so the API and converters can use it without loading the decoders."""

from __future__ import annotations

from typing import Any

__all__ = ["size_meta"]


def size_meta(width: Any, height: Any) -> dict[str, Any] | None:
    """``{"width", "height", "size": "WxH", "aspect": W/H}``, or ``None`` unless both are positive integers."""
    try:
        w, h = int(width), int(height)
    except (TypeError, ValueError):
        return None
    if w <= 0 or h <= 0:
        return None
    return {"width": w, "height": h, "size": f"{w}x{h}", "aspect": w / h}
