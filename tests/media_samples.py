"""Small synthetic media files for tests, built with PyAV, Pillow and numpy.

Nothing is downloaded: every sample is drawn here (moving gradients and boxes)
and written into a directory the test gives (``tmp_path``).  Keep them small:
160x96 for 1-2 s is the default; only tests about scaling need large frames.

The frames carry a fixed marker, a saturated blue square in the top-left corner
of the *coded* picture (:data:`MARKER`), so that tests about rotation can see
where it ends up.  ``black_frames`` makes the first frames all black, for the
"poster is the first non-black frame" rule.
"""

from __future__ import annotations

import io
import struct
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from fedisora.media.c2pa import C2paSigner

__all__ = [
    "MARKER",
    "VIDEO_CODECS",
    "frame_rgb",
    "make_video",
    "make_audio_only",
    "make_gif",
    "make_image",
    "make_corrupt",
    "top_level_boxes",
    "decode_frames",
    "marker_quadrant",
    "png",
    "image_bytes",
    "c2pa_sign",
]

MARKER = (0, 0, 255)  # pure blue, top-left of the coded picture

# short codec names → PyAV encoder, for the codecs this PyAV build has
VIDEO_CODECS = {
    "h264": "libx264",
    "hevc": "libx265",
    "vp9": "libvpx-vp9",
    "vp8": "libvpx",
    "mpeg4": "mpeg4",
    "mjpeg": "mjpeg",
}
_AUDIO_DEFAULT = {"mp4": "aac", "mov": "aac", "m4v": "aac", "mkv": "aac", "webm": "libopus"}
_FORMATS = {"mp4": "mp4", "m4v": "mp4", "mov": "mov", "mkv": "matroska", "webm": "webm"}


def frame_rgb(index: int, width: int, height: int, *, black: bool = False) -> np.ndarray:
    """Frame ``index``: a gradient with a white box moving left to right and the marker."""
    if black:
        return np.zeros((height, width, 3), np.uint8)
    ys, xs = np.mgrid[0:height, 0:width]
    img = np.empty((height, width, 3), np.uint8)
    img[..., 0] = (xs * 200 // max(width - 1, 1) + 30).astype(np.uint8)
    img[..., 1] = (ys * 200 // max(height - 1, 1) + 30).astype(np.uint8)
    img[..., 2] = 60
    box = max(4, min(width, height) // 5)
    x0 = (index * 3) % max(width - box, 1)
    y0 = height // 2 - box // 2
    img[y0 : y0 + box, x0 : x0 + box] = 255
    m = max(4, min(width, height) // 4)
    img[:m, :m] = MARKER
    return img


def make_video(
    path: Path,
    *,
    codec: str = "h264",
    container: str | None = None,
    width: int = 160,
    height: int = 96,
    seconds: float = 1.0,
    fps: float = 24,
    pix_fmt: str = "yuv420p",
    audio: bool | str = False,
    audio_rate: int = 44100,
    audio_layout: str = "stereo",
    rotate: int = 0,
    faststart: bool = True,
    metadata: dict[str, str] | None = None,
    stream_metadata: dict[str, str] | None = None,
    black_frames: int = 0,
    use_metadata_tags: bool = False,
    audio_tracks: int = 1,
) -> Path:
    """Write a synthetic video to ``path`` and return it.

    ``container`` defaults to the suffix of ``path`` (mp4, m4v, mov, mkv, webm).
    ``audio``: ``True`` for the container's usual codec (AAC, Opus for WebM), or a
    PyAV encoder name; ``audio_tracks`` of them.  ``rotate``: display-matrix rotation in degrees,
    counterclockwise as FFmpeg's ``av_display_rotation_set`` (a phone held upright
    records landscape frames with -90).  ``metadata``: container tags (``location``,
    ``make``, ``model``…); with ``use_metadata_tags`` MP4/MOV write any key
    (``com.apple.quicktime.location.ISO6709``…).
    """
    path = Path(path)
    container = container or path.suffix.lstrip(".").lower()
    options: dict[str, str] = {}
    if container in ("mp4", "m4v", "mov"):
        flags = []
        if faststart:
            flags.append("+faststart")
        if use_metadata_tags:
            flags.append("+use_metadata_tags")
        if flags:
            options["movflags"] = "".join(flags)
    rate = Fraction(fps).limit_denominator(1001)
    n_frames = max(1, round(seconds * fps))
    with av.open(str(path), "w", format=_FORMATS[container], options=options) as out:
        for key, value in (metadata or {}).items():
            out.metadata[key] = value
        vs = out.add_stream(VIDEO_CODECS.get(codec, codec), rate=rate)
        vs.width = width
        vs.height = height
        vs.pix_fmt = pix_fmt
        if codec in ("h264", "hevc"):
            vs.options = {"preset": "ultrafast"}
            if codec == "hevc":
                vs.options["x265-params"] = "log-level=none"
        elif codec in ("vp9", "vp8"):
            vs.options = {"deadline": "realtime", "cpu-used": "8"}
        elif codec == "mpeg4":
            vs.bit_rate = 400_000
        for key, value in (stream_metadata or {}).items():
            vs.metadata[key] = value
        if rotate:
            vs.set_display_rotation(rotate)
        audio_streams = []
        if audio:
            acodec = audio if isinstance(audio, str) else _AUDIO_DEFAULT[container]
            if acodec in ("libopus", "opus"):
                audio_rate = 48000
            for _ in range(audio_tracks):
                audio_streams.append(out.add_stream(acodec, rate=audio_rate, layout=audio_layout))
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(frame_rgb(i, width, height, black=i < black_frames), format="rgb24")
            frame.pts = i
            frame.time_base = 1 / rate
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        for aus in audio_streams:
            _write_tone(out, aus, n_frames / float(rate), audio_rate, audio_layout)
    return path


def _write_tone(out, stream, seconds: float, rate: int, layout: str) -> None:
    channels = 1 if layout == "mono" else 2
    chunk = 1024
    total = int(seconds * rate)
    t = np.arange(total, dtype=np.float32) / rate
    tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for start in range(0, total, chunk):
        piece = tone[start : start + chunk]
        data = np.tile(piece, (channels, 1))
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def make_audio_only(path: Path, *, seconds: float = 1.0) -> Path:
    """An MP4 (m4a) with one AAC track and no video."""
    path = Path(path)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100, layout="stereo")
        _write_tone(out, stream, seconds, 44100, "stereo")
    return path


def make_gif(path: Path, *, width: int = 120, height: int = 80, frames: int = 10, animated: bool = True) -> Path:
    """An (animated) GIF of the moving box, 10 frames per second."""
    path = Path(path)
    images = [Image.fromarray(frame_rgb(i * 4, width, height)) for i in range(frames if animated else 1)]
    if animated:
        images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    else:
        images[0].save(path, format="GIF")
    return path


GPS_LATITUDE = 48.8584


def make_image(
    path: Path,
    fmt: str = "jpeg",
    *,
    width: int = 800,
    height: int = 600,
    exif_gps: bool = True,
    orientation: int | None = None,
    camera: tuple[str, str] | None = ("FedisoraCam", "Model X1"),
) -> Path:
    """A still image (``jpeg``, ``png`` or ``webp``) with EXIF: GPS position, camera make
    and model, and an optional ``Orientation`` tag (6: to be turned 90° clockwise)."""
    path = Path(path)
    img = Image.fromarray(frame_rgb(0, width, height))
    exif = Image.Exif()
    if camera:
        exif[0x010F], exif[0x0110] = camera  # Make, Model
    if orientation:
        exif[0x0112] = orientation
    if exif_gps:
        gps = exif.get_ifd(0x8825)
        gps[1] = "N"
        gps[2] = (48.0, 51.0, 30.24)
        gps[3] = "E"
        gps[4] = (2.0, 17.0, 40.2)
    kwargs = {"exif": exif.tobytes()} if len(exif) or exif_gps else {}
    save_fmt = {"jpeg": "JPEG", "jpg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt]
    img.save(path, format=save_fmt, **kwargs)
    return path


def make_corrupt(path: Path, *, how: str = "garbled") -> Path:
    """A broken MP4.

    ``garbled``: a valid header (``ftyp`` and ``moov``) but the media data
    overwritten with zeros, so nothing decodes; ``truncated``: cut in the middle
    of the ``moov`` box; ``noise``: random bytes after a plausible ``ftyp``.
    """
    path = Path(path)
    if how == "noise":
        rng = np.random.default_rng(1)
        path.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + rng.bytes(4096))
        return path
    make_video(path, seconds=1.0)
    data = bytearray(path.read_bytes())
    boxes = dict((kind, (start, size)) for kind, start, size in top_level_boxes(bytes(data)))
    if how == "garbled":
        start, size = boxes["mdat"]
        data[start + 8 : start + size] = bytes(size - 8)
    elif how == "truncated":
        start, size = boxes["moov"]
        data = data[: start + size // 2]
    else:
        raise ValueError(how)
    path.write_bytes(bytes(data))
    return path


def top_level_boxes(data: bytes) -> list[tuple[str, int, int]]:
    """(type, offset, size) of the top-level ISO-BMFF boxes of an MP4/MOV file."""
    boxes = []
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        elif size == 0:
            size = len(data) - pos
        if size < 8:
            break
        boxes.append((kind.decode("latin-1"), pos, size))
        pos += size
    return boxes


def decode_frames(path: Path, limit: int | None = None) -> list[np.ndarray]:
    """The video frames of ``path`` as RGB arrays (as stored, no rotation applied)."""
    frames = []
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if limit and len(frames) >= limit:
                break
    return frames


def marker_quadrant(rgb: np.ndarray) -> str:
    """Which quadrant ("tl", "tr", "bl", "br") of the picture the blue marker is in."""
    h, w = rgb.shape[:2]
    blue = rgb[..., 2].astype(int) - (rgb[..., 0].astype(int) + rgb[..., 1].astype(int)) // 2
    scores = {
        "tl": blue[: h // 2, : w // 2].mean(),
        "tr": blue[: h // 2, w // 2 :].mean(),
        "bl": blue[h // 2 :, : w // 2].mean(),
        "br": blue[h // 2 :, w // 2 :].mean(),
    }
    return max(scores, key=scores.get)


def image_bytes(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def png(width: int, height: int, color: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    """A plain ``width`` x ``height`` PNG of one ``color``, no metadata."""
    return image_bytes(Image.new("RGB", (width, height), color))


def flat_png_file(path: Path, width: int, height: int, color: tuple[int, int, int] = (200, 30, 30)) -> Path:
    """A one-colour 8-bit RGB PNG written row by row (a 10,000 x 10,000 one is 0.3 MB and
    takes no memory to make: Pillow would hold all its pixels)."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(color) * width  # filter type 0, then the pixels
    packer = zlib.compressobj(9)
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        data = bytearray()
        for start in range(0, height, 256):
            data += packer.compress(row * min(256, height - start))
        data += packer.flush()
        out.write(chunk(b"IDAT", bytes(data)) + chunk(b"IEND", b""))
    return Path(path)


def c2pa_sign(src: Path, dst: Path, definition: dict[str, Any], signer: C2paSigner) -> Path:
    """``src`` signed with a C2PA manifest built from ``definition`` (its ``format`` is the
    MIME type of both files), by c2pa-python's own ``Builder``, as other software signs; into ``dst``."""
    import c2pa

    with (
        signer.native() as native,
        c2pa.Builder(definition) as builder,
        open(src, "rb") as source,
        open(dst, "w+b") as target,
    ):
        builder.sign(native, definition["format"], source, target)
    return Path(dst)
