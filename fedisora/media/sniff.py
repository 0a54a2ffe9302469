"""What a media file is, from its first bytes (never from what a client or peer says)."""

from __future__ import annotations

from pathlib import Path

from .images import sniff_image

__all__ = ["sniff_media", "sniff_file"]

_VIDEO_BRANDS_QT = (b"qt  ",)
_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ")
_AVIF_BRANDS = (b"avif", b"avis")
# HEIF (ISO/IEC 23008-12) still images and image sequences: HEIC, or AVIF when a
# compatible brand says so; never a video.
_HEIF_BRANDS = (b"mif1", b"msf1", b"heic", b"heix", b"heim", b"heis")


def _compatible_brands(head: bytes) -> list[bytes]:
    """The compatible brands of the ``ftyp`` box at the start of ``head``."""
    size = int.from_bytes(head[:4], "big")
    end = min(size if size >= 16 else 16, len(head))
    return [head[i : i + 4] for i in range(16, end - 3, 4)]


def sniff_media(head: bytes) -> tuple[str, str] | None:
    """``(mime type, extension)`` of a media file from its first bytes, or ``None``."""
    image = sniff_image(head)
    if image is not None:
        return image.mime_type, image.ext
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AVIF_BRANDS:
            return "image/avif", "avif"
        if brand in _HEIF_BRANDS:  # an image: AVIF, or HEIC, which we do not take
            if any(b in _AVIF_BRANDS for b in _compatible_brands(head)):
                return "image/avif", "avif"
            return None
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
