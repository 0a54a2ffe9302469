"""Preview images: the poster frame of a video, JPEG thumbnails and their blurhash.

- :class:`PosterPicker` is fed decoded frames and keeps the first that is not
  (nearly) black: many videos fade in from black, and a black preview tells the
  viewer nothing.  When every sampled frame is dark it keeps the brightest.
- :func:`thumbnail_jpeg` turns a picture into the JPEG preview (long side at most
  :data:`THUMBNAIL_SIDE`), :func:`blurhash_of` into the placeholder string that
  clients draw while loading (4x4 components; Mastodon shows at most 5).
- :func:`decode_thumbnail` reads a thumbnail the user uploaded, already scaled to
  :data:`THUMBNAIL_SIDE` (a large JPEG is decoded reduced).
"""

from __future__ import annotations

import io
import warnings

import av
import blurhash
import numpy as np
from PIL import Image, ImageOps

from .images import MAX_SIDE, ImageInfo, fit_size, sniff_image
from .errors import MediaRejected

__all__ = [
    "THUMBNAIL_SIDE",
    "POSTER_SECONDS",
    "BLACK_LUMA",
    "BLURHASH_COMPONENTS",
    "PosterPicker",
    "frame_luma",
    "thumbnail_jpeg",
    "blurhash_of",
    "decode_thumbnail",
    "thumbnail_info",
    "poster_from_file",
]

THUMBNAIL_SIDE = 640
POSTER_SECONDS = 3.0  # frames are sampled from the start for this long
BLACK_LUMA = 12.0  # mean luma (0-255, full range) at or under which a frame counts as black
BLURHASH_COMPONENTS = (4, 4)
MAX_THUMBNAIL_PIXELS = 64_000_000


def frame_luma(frame: av.VideoFrame) -> float:
    """Mean luma of ``frame`` on a 0-255 scale, from a tiny RGB copy (cheap)."""
    w, h = frame.width, frame.height
    scale = 32 / max(w, h)
    small = frame.reformat(width=max(2, int(w * scale)), height=max(2, int(h * scale)), format="rgb24")
    rgb = small.to_ndarray().astype(np.float32)
    return float((rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114).mean())


class PosterPicker:
    """Choose the poster among the frames of the first :data:`POSTER_SECONDS`.

    Call :meth:`offer` with each frame (upright, as it will be shown) and its
    time; once :attr:`done`, stop offering.  :meth:`image` is the choice.
    """

    def __init__(self, seconds: float = POSTER_SECONDS, threshold: float = BLACK_LUMA) -> None:
        self.seconds = seconds
        self.threshold = threshold
        self.done = False
        self._frame: av.VideoFrame | None = None
        self._luma = -1.0
        self.time: float | None = None

    def offer(self, frame: av.VideoFrame, time: float) -> None:
        if self.done:
            return
        if self._frame is not None and time > self.seconds:
            self.done = True
            return
        luma = frame_luma(frame)
        if luma > self._luma:
            self._frame, self._luma, self.time = frame, luma, time
        if luma > self.threshold:
            self.done = True

    @property
    def found(self) -> bool:
        return self._frame is not None

    def image(self) -> Image.Image | None:
        if self._frame is None:
            return None
        return self._frame.to_image()


def thumbnail_jpeg(img: Image.Image, side: int = THUMBNAIL_SIDE) -> tuple[bytes, tuple[int, int]]:
    """``img`` as a JPEG whose long side is at most ``side``, with no metadata."""
    small = _rgb(_shrunk(img, side, Image.Resampling.LANCZOS, 3.0))
    buf = io.BytesIO()
    small.save(buf, format="JPEG", quality=85, optimize=True, progressive=True)
    return buf.getvalue(), small.size


def blurhash_of(img: Image.Image) -> str:
    """The blurhash of ``img`` (4x4 components), computed on a small copy."""
    small = _rgb(_shrunk(img, 32, Image.Resampling.BILINEAR, 2.0))
    return blurhash.encode(np.asarray(small).tolist(), *BLURHASH_COMPONENTS)


def _shrunk(img: Image.Image, side: int, resample: Image.Resampling, gap: float) -> Image.Image:
    """``img`` scaled into a ``side`` box as a new picture (``img`` itself when it fits), made
    from ``img`` directly: a large picture is never copied whole first, nor flattened at full size."""
    img = _resamplable(img)
    if max(img.size) <= side:
        return img
    return img.resize(fit_size(img.width, img.height, side), resample, reducing_gap=gap)


def _resamplable(img: Image.Image) -> Image.Image:
    """``img``, or as RGB(A) if it is a palette or 1-bit picture (Pillow would scale those by
    nearest neighbour)."""
    if img.mode in ("P", "PA", "1"):
        return img.convert("RGBA" if img.mode == "PA" or "transparency" in img.info else "RGB")
    return img


def _rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def thumbnail_info(data: bytes) -> ImageInfo:
    """The type and size of a thumbnail the user uploaded, read from its header; MediaRejected
    if it is no image or too large to decode."""
    info = sniff_image(data)
    if info is None:
        raise MediaRejected("the thumbnail must be a PNG, JPEG, GIF or WebP image")
    if not (0 < info.width <= MAX_SIDE and 0 < info.height <= MAX_SIDE) or info.width * info.height > MAX_THUMBNAIL_PIXELS:
        raise MediaRejected(f"the thumbnail is {info.width}x{info.height} pixels; that is too large")
    return info


def decode_thumbnail(data: bytes) -> Image.Image:
    """A thumbnail the user uploaded, decoded, scaled into :data:`THUMBNAIL_SIDE` and turned
    upright; MediaRejected if it is no image."""
    thumbnail_info(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.format == "JPEG" and max(img.size) > THUMBNAIL_SIDE:
                img.draft(None, fit_size(img.width, img.height, THUMBNAIL_SIDE))  # decoded reduced
            img.load()
            img = _resamplable(img)
            # Scaled to the preview's size first (in place), then turned: no full-size copies.
            img.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
            ImageOps.exif_transpose(img, in_place=True)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaRejected("the thumbnail image cannot be decoded (corrupt file?)") from exc
    return img


def poster_from_file(path, picker: PosterPicker | None = None) -> Image.Image | None:
    """Decode the start of the video at ``path`` (no rotation) and pick its poster frame."""
    picker = picker or PosterPicker()
    with av.open(str(path), metadata_errors="replace") as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                time = frame.time if frame.time is not None else 0.0
                small = _fit(frame)
                picker.offer(small, time)
                if picker.done:
                    break
        except (av.FFmpegError, ValueError):
            if not picker.found:
                raise
    return picker.image()


def _fit(frame: av.VideoFrame, side: int = THUMBNAIL_SIDE) -> av.VideoFrame:
    w, h = frame.width, frame.height
    if max(w, h) <= side:
        return frame
    scale = side / max(w, h)
    return frame.reformat(width=max(2, round(w * scale)), height=max(2, round(h * scale)))
