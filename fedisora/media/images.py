"""Is an uploaded image (avatar, header) a real PNG, JPEG, GIF or WebP, and small enough?
And :func:`prepare_image`: an image attached to a post, made safe to publish.

The type is decided by the file's own bytes (its magic number and the start of
its structure: PNG's IHDR, JPEG's frame header, GIF's screen descriptor,
WebP's VP8/VP8L/VP8X chunk), never by the name or the Content-Type the client
sent.  The dimensions read there must be sensible.  Nothing is decoded: this
keeps out mislabelled and truncated files, not every malformed one.

:func:`prepare_image` decodes (Pillow): it turns the picture upright by its
EXIF orientation, drops EXIF, XMP and comments (camera, GPS position, time),
scales it down to :data:`MAX_OUTPUT_SIDE` and keeps its format (a still GIF
becomes PNG).  A file that needs none of this is kept byte for byte.

Memory: the decoded pixels of a large image dwarf its file (a 0.3 MB PNG of
10,000 x 10,000 pixels is 400 MB decoded), so a JPEG larger than it will be
shown is decoded already reduced (``Image.draft``: libjpeg scales by 1/2 to 1/8
while decoding), nothing full-size is copied (turning upright and scaling work
in place), and callers hold :func:`decode_estimate` bytes of
:data:`fedisora.media.budget.IMAGE_BUDGET` while they decode, so a few huge
uploads at once run one after the other instead of adding up.
"""

from __future__ import annotations

import io
import secrets
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from .errors import MediaRejected, check_file_size

__all__ = [
    "ImageError",
    "ImageInfo",
    "IMAGE_TYPES",
    "sniff_image",
    "check_image",
    "PreparedImage",
    "prepare_image",
    "open_image",
    "decode_estimate",
    "fit_size",
    "check_dimensions",
    "MAX_OUTPUT_SIDE",
    "MAX_PIXELS",
]

# MIME type → the extension files of that type are stored with.
IMAGE_TYPES: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
}
MAX_SIDE = 16384  # pixels; larger images are refused before anything tries to decode them
MAX_PIXELS = 100_000_000  # width x height; more is refused before decoding (decompression bombs)
MAX_OUTPUT_SIDE = 4096  # post images are scaled down to this long side

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


# What an image file may carry and still be kept byte for byte: nothing that
# says who took it, where, when or with what.
_CLEAN_INFO = {
    "JPEG": {"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi", "icc_profile", "adobe", "adobe_transform",
             "progressive", "progression"},
    "PNG": {"dpi", "gamma", "srgb", "chromaticity", "transparency", "icc_profile", "aspect", "interlace"},
    "WEBP": {"loop", "background", "icc_profile", "duration", "timestamp"},
}
_CLEAN_JPEG_SEGMENTS = {"APP0", "APP2", "APP14"}  # JFIF, ICC profile, Adobe colour transform
_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}


@dataclass
class PreparedImage:
    path: Path  # the result, or the source itself when kept
    mime_type: str
    ext: str
    width: int
    height: int
    transcoded: bool
    image: Image.Image  # upright, first frame; for the thumbnail


def fit_size(width: int, height: int, side: int) -> tuple[int, int]:
    """``(width, height)`` scaled down (never up) to fit a ``side`` x ``side`` box, aspect kept."""
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _draft_scale(info: ImageInfo, side: int | None) -> int:
    """By how much libjpeg shrinks ``info`` while decoding it for a ``side`` box (as
    ``Image.draft`` picks it: the largest of 1/2, 1/4, 1/8 that stays at least that big)."""
    if side is None or info.mime_type != "image/jpeg" or max(info.width, info.height) <= side:
        return 1
    box = fit_size(info.width, info.height, side)
    most = min(info.width // box[0], info.height // box[1])
    return next(scale for scale in (8, 4, 2, 1) if scale <= most)


def decode_estimate(info: ImageInfo, side: int | None = MAX_OUTPUT_SIDE) -> int:
    """Bytes that decoding ``info`` and scaling it into a ``side`` box may hold at its peak:
    the decoded pixels (4 bytes each, as Pillow keeps RGB, RGBA and CMYK), the scaler's
    intermediate row pass and the result."""
    scale = _draft_scale(info, side)
    width, height = -(-info.width // scale), -(-info.height // scale)
    out = fit_size(width, height, side) if side is not None else (width, height)
    return 4 * (width * height + out[0] * height + out[0] * out[1])


def open_image(path: Path, max_bytes: int, *, reduce_to: int | None = None) -> tuple[Image.Image, ImageInfo]:
    """The image at ``path`` opened with Pillow after the size and type checks; MediaRejected if not.

    ``reduce_to``: the picture will be scaled into a box of this side, so a larger JPEG is
    decoded already reduced (to at least that size): a fraction of the memory.  ``info``
    keeps the file's own size.
    """
    check_file_size(path, max_bytes, "image")
    data = path.read_bytes()  # at most max_bytes; kept in memory so frames can be read later
    info = sniff_image(data[: 256 * 1024])
    if info is None:
        raise MediaRejected("the file is not an image this instance accepts (PNG, JPEG, GIF or WebP)")
    check_dimensions(info)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if _draft_scale(info, reduce_to) > 1 and img.format == "JPEG":
                img.draft(None, fit_size(info.width, info.height, reduce_to or MAX_OUTPUT_SIDE))
            img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaRejected("the image cannot be decoded (the file is corrupt or truncated)") from exc
    return img, info


def check_dimensions(info: ImageInfo) -> None:
    """MediaRejected unless ``info`` is within :data:`MAX_SIDE` and :data:`MAX_PIXELS`."""
    if not (0 < info.width <= MAX_SIDE and 0 < info.height <= MAX_SIDE) or info.width * info.height > MAX_PIXELS:
        raise MediaRejected(
            f"the image is {info.width}x{info.height} pixels; this instance accepts up to "
            f"{MAX_PIXELS // 1_000_000} megapixels and {MAX_SIDE} pixels a side"
        )


def _is_clean(img: Image.Image) -> bool:
    fmt = img.format
    if fmt not in _CLEAN_INFO:
        return False
    if not set(img.info) <= _CLEAN_INFO[fmt]:
        return False
    if len(img.getexif()):
        return False
    if fmt == "JPEG" and any(marker not in _CLEAN_JPEG_SEGMENTS for marker, _ in getattr(img, "applist", [])):
        return False
    return True


def prepare_image(src: Path, workdir: Path, max_bytes: int) -> PreparedImage:
    """A still (or animated WebP/PNG) image ready to publish; MediaRejected if it is no acceptable image.

    Animated GIFs are not handled here: they become videos ("gifv").
    """
    img, info = open_image(src, max_bytes, reduce_to=MAX_OUTPUT_SIDE)
    fmt = img.format
    animated = bool(getattr(img, "is_animated", False)) and fmt in ("WEBP", "PNG")
    orientation = img.getexif().get(0x0112, 1)
    needs_scale = max(info.width, info.height) > MAX_OUTPUT_SIDE  # the file's size, not the draft's
    if fmt in _FORMATS and orientation in (None, 1) and not needs_scale and _is_clean(img):
        mime, ext = _FORMATS[fmt]
        first = img if not animated else _first_frame(img)
        return PreparedImage(src, mime, ext, img.width, img.height, False, first)
    if fmt == "GIF":
        fmt = "PNG"  # a still GIF: PNG is smaller and keeps the exact pixels
    elif fmt not in _FORMATS:
        fmt = "JPEG"  # MPO (a phone's multi-picture JPEG): its first picture
    mime, ext = _FORMATS[fmt]
    dst = workdir / f"image-{secrets.token_hex(8)}.{ext}"
    tmp = dst.with_name(dst.name + ".part")
    try:
        if animated:
            frames = [ImageOps.exif_transpose(_fit(frame.copy())) for frame in _frames(img)]
            out = frames[0]
            durations = img.info.get("duration")
            out.save(tmp, format=fmt, save_all=True, append_images=frames[1:], loop=img.info.get("loop", 0),
                     **({"duration": durations} if durations else {}))
        else:
            icc = img.info.get("icc_profile")
            # Scaled (in place), then turned: never a second full-size picture.
            out = _fit(img, copy=False)
            ImageOps.exif_transpose(out, in_place=True)
            _save_still(out, tmp, fmt, icc)
        tmp.replace(dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return PreparedImage(dst, mime, ext, out.width, out.height, True, out)


def _frames(img: Image.Image):
    for index in range(getattr(img, "n_frames", 1)):
        img.seek(index)
        yield img


def _first_frame(img: Image.Image) -> Image.Image:
    img.seek(0)
    return img.copy()


def _fit(img: Image.Image, *, copy: bool = True) -> Image.Image:
    if max(img.size) <= MAX_OUTPUT_SIDE:
        return img
    if copy:
        img = img.copy()
    img.thumbnail((MAX_OUTPUT_SIDE, MAX_OUTPUT_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return img


def _save_still(img: Image.Image, path: Path, fmt: str, icc: bytes | None) -> None:
    extra = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        if img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
        img.save(path, format="JPEG", quality=90, optimize=True, **extra)
    elif fmt == "WEBP":
        if img.mode not in ("RGB", "RGBA"):
            img = img.convert("RGBA" if "transparency" in img.info or "A" in img.mode else "RGB")
        img.save(path, format="WEBP", quality=90, **extra)
    else:
        img.save(path, format="PNG", **extra)
