"""What a media file is, from its first bytes (never from what a client or peer says)."""

from __future__ import annotations

from pathlib import Path

from .images import sniff_image

__all__ = ["sniff_media", "sniff_file"]

_VIDEO_BRANDS_QT = (b"qt  ",)
_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ")
_AVIF_BRANDS = (b"avif", b"avis")


def sniff_media(head: bytes) -> tuple[str, str] | None:
    """``(mime type, extension)`` of a media file from its first bytes, or ``None``."""
    image = sniff_image(head)
    if image is not None:
        return image.mime_type, image.ext
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AVIF_BRANDS:
            return "image/avif", "avif"
        if brand in _VIDEO_BRANDS_QT:
            return "video/quicktime", "mov"
        if brand in _AUDIO_BRANDS:
            return "audio/mp4", "m4a"
        return "video/mp4", "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm", "webm"
    if head.startswith(b"OggS"):
        return "audio/ogg", "ogg"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg", "mp3"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav", "wav"
    return None



def sniff_file(path: Path, size: int = 64 * 1024) -> tuple[str, str] | None:
    """:func:`sniff_media` of the file at ``path``."""
    with open(path, "rb") as handle:
        return sniff_media(handle.read(size))
