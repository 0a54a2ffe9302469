"""Is an uploaded image (avatar, header) a real PNG, JPEG, GIF or WebP, and small enough?

The type is decided by the file's own bytes (its magic number and the start of
its structure: PNG's IHDR, JPEG's frame header, GIF's screen descriptor,
WebP's VP8/VP8L/VP8X chunk), never by the name or the Content-Type the client
sent.  The dimensions read there must be sensible.  Nothing is decoded: this
keeps out mislabelled and truncated files, not every malformed one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["ImageError", "ImageInfo", "IMAGE_TYPES", "sniff_image", "check_image"]

# MIME type → the extension files of that type are stored with.
IMAGE_TYPES: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
}
MAX_SIDE = 16384  # pixels; larger images are refused before anything tries to decode them

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageError(ValueError):
    """Not an acceptable image; the message is safe to show."""


@dataclass(frozen=True)
class ImageInfo:
    mime_type: str
    ext: str
    width: int
    height: int


def _png(data: bytes) -> tuple[int, int] | None:
    # signature, then the IHDR chunk: length 13, "IHDR", width, height, bit depth, colour type…
    if len(data) < 33 or not data.startswith(_PNG_SIGNATURE):
        return None
    length, kind = struct.unpack(">I4s", data[8:16])
    if length != 13 or kind != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    if depth not in (1, 2, 4, 8, 16) or colour not in (0, 2, 3, 4, 6):
        return None
    return width, height


def _gif(data: bytes) -> tuple[int, int] | None:
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    width, height = struct.unpack("<HH", data[6:10])
    return width, height


# JPEG start-of-frame markers (baseline, progressive, lossless, …), which carry the size.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RSTn: markers without a length


def _jpeg(data: bytes) -> tuple[int, int] | None:
    if len(data) < 4 or data[:3] != b"\xff\xd8\xff":
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker in (0xD8, 0xD9, 0xDA):  # a second SOI, EOI or scan data before any frame header
            return None
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            return None
        if marker in _SOF:
            if pos + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    return None


def _webp(data: bytes) -> tuple[int, int] | None:
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    body = data[20:]
    if chunk == b"VP8 ":
        # frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height
        if body[3:6] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        if body[0] != 0x2F:
            return None
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(body[4:7], "little") + 1
        height = int.from_bytes(body[7:10], "little") + 1
        return width, height
    return None


_SNIFFERS = (("image/png", _png), ("image/jpeg", _jpeg), ("image/gif", _gif), ("image/webp", _webp))


def sniff_image(data: bytes) -> ImageInfo | None:
    """The image's type and size read from its bytes, or ``None`` if it is none of ours."""
    for mime, read in _SNIFFERS:
        try:
            size = read(data)
        except (struct.error, IndexError):
            size = None
        if size is not None:
            return ImageInfo(mime, IMAGE_TYPES[mime], size[0], size[1])
    return None


def check_image(data: bytes, max_bytes: int, *, what: str = "Image") -> ImageInfo:
    """``data`` as an accepted image, or :class:`ImageError` saying what is wrong."""
    if len(data) > max_bytes:
        raise ImageError(f"{what} file size must be at most {max_bytes} bytes")
    if not data:
        raise ImageError(f"{what} is empty")
    info = sniff_image(data)
    if info is None:
        raise ImageError(f"{what} must be a PNG, JPEG, GIF or WebP image")
    if not (0 < info.width <= MAX_SIDE and 0 < info.height <= MAX_SIDE):
        raise ImageError(f"{what} dimensions must be between 1 and {MAX_SIDE} pixels")
    return info
