"""What the media checks raise, and the size check: no heavy imports (no PyAV, no Pillow),
so code that only needs these does not load the decoders."""

from __future__ import annotations

from pathlib import Path

__all__ = ["MediaRejected", "check_file_size"]


class MediaRejected(ValueError):
    """The upload is not accepted; ``str(exc)`` is the reason, fit to show to the user."""


def check_file_size(path: Path, max_bytes: int, kind: str) -> None:
    """:class:`MediaRejected` when ``path`` is larger than ``max_bytes`` (``kind``: "image" or "video")."""
    size = path.stat().st_size
    if size > max_bytes:
        noun = "image" if kind == "image" else "file"
        raise MediaRejected(
            f"the {noun} is {size / 1_048_576:.1f} MB; this instance accepts {kind}s up to {max_bytes / 1_048_576:g} MB"
        )
