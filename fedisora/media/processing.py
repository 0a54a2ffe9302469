"""Processing an uploaded media file: checks, conversion, poster, blurhash and ``meta``.

This layer knows no database and no web: :func:`process_file` takes a file on
disk and the instance's :class:`MediaLimits` and returns a :class:`ProcessedMedia`
describing the file to publish, or raises :class:`MediaRejected` whose message
is the reason to show to the uploader.  It blocks (decoding and encoding take
seconds); callers run it in a worker thread (``anyio.to_thread.run_sync``).

What is accepted is decided by the file's content (magic bytes, then FFmpeg's
probe or Pillow), never by its name or the client's Content-Type:

- videos (MP4, M4V, MOV, WebM, Matroska) become H.264 + AAC in a faststart MP4
  (:mod:`.video`); a file that already is one and carries no identifying
  metadata is kept byte for byte;
- an animated GIF becomes a silent MP4 (``"gifv"``, as Mastodon does);
- still images lose their EXIF (after being turned upright) and are scaled
  down to 4096 pixels (:func:`.images.prepare_image`), one large picture at a
  time: each holds its estimated decoded size of :data:`.budget.IMAGE_BUDGET`.
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from .budget import IMAGE_BUDGET
from .images import MAX_PIXELS, MAX_SIDE, check_dimensions, decode_estimate, prepare_image, sniff_image
from .errors import MediaRejected, check_file_size
from .probe import MAX_VIDEO_SIDE, Probe, probe
from .sizes import size_meta
from .thumbnails import (
    THUMBNAIL_SIDE, PosterPicker, blurhash_of, decode_thumbnail, poster_from_file, thumbnail_info, thumbnail_jpeg,
)
from .video import plan, remux, transcode

if TYPE_CHECKING:  # pragma: no cover
    from instance_config.schema import MediaSection

__all__ = [
    "MediaLimits",
    "MediaRejected",
    "ProcessedMedia",
    "sniff",
    "process_file",
    "make_thumbnail",
    "video_meta",
    "image_meta",
]


@dataclass(frozen=True)
class MediaLimits:
    max_image_bytes: int = 16 * 1024 * 1024
    max_video_bytes: int = 100 * 1024 * 1024
    max_video_seconds: float = 180.0
    max_video_long_side: int = 1920
    max_video_fps: float = 60.0

    @classmethod
    def from_config(cls, media: MediaSection) -> MediaLimits:
        return cls(
            max_image_bytes=media.max_image_bytes,
            max_video_bytes=media.max_video_bytes,
            max_video_seconds=media.max_video_seconds,
            max_video_long_side=media.max_video_long_side,
            max_video_fps=media.max_video_fps,
        )


@dataclass
class ProcessedMedia:
    media_type: str  # "video", "gifv" or "image"
    mime_type: str  # "video/mp4", "image/jpeg", "image/png", "image/webp"
    path: Path  # the result (in workdir), or the source itself when kept untouched
    ext: str  # "mp4", "jpg", "png", "webp"
    transcoded: bool  # re-encoded
    remuxed: bool  # container rewritten, streams copied
    thumbnail: bytes | None  # JPEG, long side <= 640
    thumbnail_size: tuple[int, int] | None
    blurhash: str | None
    meta: dict = field(default_factory=dict)  # Mastodon's MediaAttachment meta, without "focus"


# --- what is it ---------------------------------------------------------------------------

_EBML = b"\x1a\x45\xdf\xa3"  # Matroska / WebM
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}  # old MOV files without ftyp


def sniff(path: Path) -> str | None:
    """``"video"``, ``"image"`` or ``None``, from the first bytes of the file."""
    with open(path, "rb") as f:
        head = f.read(256 * 1024)
    if sniff_image(head) is not None:
        return "image"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video"
    if head[:4] == _EBML:
        return "video"
    if len(head) >= 8 and head[4:8] in _QUICKTIME_ATOMS:
        return "video"
    return None


# --- the whole job ------------------------------------------------------------------------


def process_file(
    src: Path,
    workdir: Path,
    limits: MediaLimits,
    *,
    declared_type: str | None = None,
    thumbnail: bytes | None = None,
    progress: Callable[[float], None] | None = None,
) -> ProcessedMedia:
    """Check and convert the upload at ``src``; results are written into ``workdir``.

    ``declared_type`` is what the client said ("video" or "image", from its
    Content-Type): a file sent as a video must have a video track.  ``thumbnail``
    is a preview image the user uploaded with it, used instead of a poster frame.
    ``progress`` is called with fractions 0.0-1.0 while transcoding, and with 1.0
    at the end.  Raises :class:`MediaRejected` with the reason.
    """
    src = Path(src)
    workdir = Path(workdir)
    if not src.is_file() or src.stat().st_size == 0:
        raise MediaRejected("the file is empty")
    kind = sniff(src)
    if kind is None:
        raise MediaRejected(
            "the file is not a video or image this instance accepts (MP4, WebM, MOV, JPEG, PNG, WebP or GIF)"
        )
    custom = _custom_thumbnail(thumbnail) if thumbnail is not None else None
    if kind == "image":
        if declared_type == "video":
            raise MediaRejected("the file was sent as a video but it is an image, with no video track")
        if _animated_gif(src, limits):
            info = probe(src)
            _check_video(info, limits)
            result = _process_video(src, workdir, limits, info, custom, progress, gifv=True)
        else:
            result = _process_image(src, workdir, limits, custom)
    else:
        check_file_size(src, limits.max_video_bytes, "video")
        info = probe(src)
        _check_video(info, limits)
        result = _process_video(src, workdir, limits, info, custom, progress, gifv=False)
    if progress is not None:
        progress(1.0)
    return result


def _check_video(info: Probe, limits: MediaLimits) -> None:
    if info.duration > limits.max_video_seconds:
        raise MediaRejected(
            f"the video is {info.duration:.1f} s long; this instance accepts up to {limits.max_video_seconds:g} s"
        )
    width, height = info.display_size
    if max(width, height) > MAX_VIDEO_SIDE:
        raise MediaRejected(
            f"the video is {width}x{height} pixels; this instance accepts up to {MAX_VIDEO_SIDE} pixels a side"
        )


def _animated_gif(src: Path, limits: MediaLimits) -> bool:
    with open(src, "rb") as f:
        if f.read(6) not in (b"GIF87a", b"GIF89a"):
            return False
    check_file_size(src, limits.max_image_bytes, "image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(src) as img:
                if not (0 < img.width <= MAX_SIDE and 0 < img.height <= MAX_SIDE) or img.width * img.height > MAX_PIXELS:
                    return False  # prepare_image refuses it with the reason
                return bool(getattr(img, "is_animated", False))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaRejected("the image cannot be decoded (the file is corrupt or truncated)") from exc


def _custom_thumbnail(data: bytes) -> tuple[bytes, tuple[int, int], str]:
    return make_thumbnail(data)


def make_thumbnail(data: bytes) -> tuple[bytes, tuple[int, int], str]:
    """An uploaded thumbnail image → (JPEG bytes, (width, height), blurhash); MediaRejected if no image."""
    info = thumbnail_info(data)  # refused before waiting for room it would never use
    with IMAGE_BUDGET.reserve(decode_estimate(info, THUMBNAIL_SIDE)):
        img = decode_thumbnail(data)
        jpeg, size = thumbnail_jpeg(img)
        return jpeg, size, blurhash_of(img)


def _process_video(
    src: Path,
    workdir: Path,
    limits: MediaLimits,
    info: Probe,
    custom: tuple[bytes, tuple[int, int], str] | None,
    progress: Callable[[float], None] | None,
    *,
    gifv: bool,
) -> ProcessedMedia:
    target = plan(info, limits, silent=gifv)
    if gifv:
        target.action = "transcode"
    dst = workdir / f"video-{secrets.token_hex(8)}.mp4"
    poster = None if custom is not None else PosterPicker()
    try:
        if target.action == "transcode":
            transcode(src, dst, info, target, silent=gifv, poster=poster, progress=progress)
            out_path = dst
        elif target.action == "remux":
            remux(src, dst, silent=gifv)
            out_path = dst
        else:
            out_path = src
        out_info = probe(out_path, decode_frames=0) if out_path != src else info
        if custom is not None:
            thumb, thumb_size, hash_ = custom
        else:
            picture = poster.image() if poster.found else poster_from_file(out_path, poster)
            if picture is None:
                raise MediaRejected("the video cannot be decoded (no picture in it)")
            thumb, thumb_size = thumbnail_jpeg(picture)
            hash_ = blurhash_of(picture)
    except BaseException:
        dst.unlink(missing_ok=True)
        raise
    return ProcessedMedia(
        media_type="gifv" if gifv else "video",
        mime_type="video/mp4",
        path=out_path,
        ext="mp4",
        transcoded=target.action == "transcode",
        remuxed=target.action == "remux",
        thumbnail=thumb,
        thumbnail_size=thumb_size,
        blurhash=hash_,
        meta=video_meta(out_info, thumb_size, silent=gifv),
    )


def _process_image(
    src: Path, workdir: Path, limits: MediaLimits, custom: tuple[bytes, tuple[int, int], str] | None
) -> ProcessedMedia:
    with open(src, "rb") as f:
        info = sniff_image(f.read(256 * 1024))
    if info is not None:
        check_dimensions(info)  # refused before waiting for room it would never use
    # The decoded picture is far larger than its file: wait for room in the process's budget.
    with IMAGE_BUDGET.reserve(decode_estimate(info) if info else 0):
        return _prepared_image(src, workdir, limits, custom)


def _prepared_image(
    src: Path, workdir: Path, limits: MediaLimits, custom: tuple[bytes, tuple[int, int], str] | None
) -> ProcessedMedia:
    prepared = prepare_image(src, workdir, limits.max_image_bytes)
    try:
        if custom is not None:
            thumb, thumb_size, hash_ = custom
        elif max(prepared.width, prepared.height) > THUMBNAIL_SIDE:
            thumb, thumb_size = thumbnail_jpeg(prepared.image)
            hash_ = blurhash_of(prepared.image)
        else:
            thumb, thumb_size = None, None
            hash_ = blurhash_of(prepared.image)
    except BaseException:
        if prepared.path != src:
            prepared.path.unlink(missing_ok=True)
        raise
    return ProcessedMedia(
        media_type="image",
        mime_type=prepared.mime_type,
        path=prepared.path,
        ext=prepared.ext,
        transcoded=prepared.transcoded,
        remuxed=False,
        thumbnail=thumb,
        thumbnail_size=thumb_size,
        blurhash=hash_,
        meta=image_meta((prepared.width, prepared.height), thumb_size),
    )


# --- meta ---------------------------------------------------------------------------------


def _length(seconds: float) -> str:
    centis = int(round(seconds * 100))
    hours, centis = divmod(centis, 360_000)
    minutes, centis = divmod(centis, 6_000)
    return f"{hours}:{minutes:02d}:{centis // 100:02d}.{centis % 100:02d}"


_CHANNELS = {1: "mono", 2: "stereo"}


def video_meta(info: Probe, small: tuple[int, int] | None, *, silent: bool = False) -> dict:
    """Mastodon's ``meta`` for a video or gifv (the published file's ``info``)."""
    width, height = info.display_size
    rate = info.display_rate
    meta: dict = {
        "length": _length(info.duration),
        "duration": round(info.duration, 2),
        "fps": int(round(float(rate))) if rate else 0,
        **(size_meta(width, height) or {}),
    }
    if info.has_audio and not silent:
        meta["audio_encode"] = info.audio_codec
        meta["audio_bitrate"] = f"{info.audio_sample_rate} Hz"
        channels = info.audio_channels or 0
        meta["audio_channels"] = _CHANNELS.get(channels, f"{channels} channels")
    meta["original"] = {
        "width": width,
        "height": height,
        "frame_rate": f"{rate.numerator}/{rate.denominator}" if rate else None,
        "duration": round(info.duration, 3),
        "bitrate": info.bitrate,
    }
    if small:
        meta["small"] = size_meta(*small)
    return meta


def image_meta(original: tuple[int, int], small: tuple[int, int] | None) -> dict:
    """Mastodon's ``meta`` for an image: ``original`` and ``small`` (the preview, or the image itself)."""
    return {"original": size_meta(*original), "small": size_meta(*(small or original))}
