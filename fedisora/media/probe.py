"""What is in an uploaded video file, read with PyAV (FFmpeg's demuxers and decoders).

:func:`probe` opens the file, reads the streams' parameters and the container's
and streams' tags, and decodes the first video frames to be sure the file is not
corrupt.  It raises :class:`MediaRejected` with a reason a user can read when
the file is not media at all, cannot be decoded, or has no video.

Rotation follows FFmpeg: :attr:`Probe.rotation` is the angle, in degrees
counterclockwise, by which the stored picture is turned for display (the
display matrix's rotation, ``av_display_rotation_get``); an old-style
``rotate`` tag (clockwise degrees) is read as its negative.  A phone held upright
typically stores landscape frames with rotation -90.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from .errors import MediaRejected, check_file_size  # re-exported: their old home

__all__ = ["MediaRejected", "check_file_size", "Probe", "probe", "normalize_rotation", "moov_before_mdat", "MAX_VIDEO_SIDE"]

MAX_VIDEO_SIDE = 8192  # pixels; larger inputs are refused outright (they are scaled down otherwise)
PROBE_FRAMES = 3  # decoded to tell a sound file from a corrupt one


def normalize_rotation(angle: float) -> int:
    """``angle`` rounded to a quarter turn, in 0, 90, 180, 270."""
    return int(round(angle / 90.0)) % 4 * 90


@dataclass(frozen=True)
class Probe:
    format_name: str  # FFmpeg's demuxer names, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"
    duration: float  # seconds
    size_bytes: int
    bitrate: int | None  # bits per second, of the whole file
    width: int  # as stored (before rotation)
    height: int
    frame_rate: Fraction | None  # average frame rate
    nominal_rate: Fraction | None  # FFmpeg's r_frame_rate guess (what ffprobe calls the frame rate)
    video_codec: str | None
    video_profile: str | None
    pix_fmt: str | None
    video_frames: int  # from the container; 0 if it doesn't say
    rotation: int  # degrees counterclockwise for display, 0/90/180/270
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    audio_layout: str | None = None
    audio_bitrate: int | None = None
    video_streams: int = 0
    audio_streams: int = 0
    other_streams: int = 0  # subtitles, data (timecode, GPS tracks…), attachments
    major_brand: str | None = None
    faststart: bool | None = None  # MP4/MOV: is ``moov`` before ``mdat``; None for other containers
    tags: dict[str, str] = field(default_factory=dict)  # the container's
    stream_tags: tuple[dict[str, str], ...] = ()  # each stream's

    @property
    def has_video(self) -> bool:
        return self.video_streams > 0

    @property
    def has_audio(self) -> bool:
        return self.audio_streams > 0

    @property
    def is_mp4_family(self) -> bool:
        return self.format_name.startswith("mov,mp4")

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as shown, rotation applied."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height

    @property
    def display_rate(self) -> Fraction | None:
        """The frame rate to show: the nominal one unless the average says otherwise (variable rate)."""
        nominal, average = self.nominal_rate, self.frame_rate
        if nominal and average and abs(float(nominal) - float(average)) <= 0.05 * float(average):
            return nominal
        return average or nominal

    @property
    def fps(self) -> float:
        return float(self.frame_rate) if self.frame_rate else 0.0


def moov_before_mdat(path: Path) -> bool | None:
    """For an ISO-BMFF file: is the index (``moov``) before the media data (``mdat``)?

    This is "faststart": a browser can start playing before the whole file is
    loaded.  ``None`` if neither box is found among the top-level boxes.
    """
    with open(path, "rb") as f:
        pos = 0
        end = f.seek(0, 2)
        while pos + 8 <= end:
            f.seek(pos)
            head = f.read(16)
            size = int.from_bytes(head[:4], "big")
            kind = head[4:8]
            if size == 1 and len(head) >= 16:
                size = int.from_bytes(head[8:16], "big")
            elif size == 0:
                size = end - pos
            if kind == b"moov":
                return True
            if kind == b"mdat":
                return False
            if size < 8:
                return None
            pos += size
    return None


def _rotation(stream, first_frame) -> int:
    if first_frame is not None:
        try:
            angle = first_frame.rotation
        except Exception:  # pragma: no cover - very old PyAV
            angle = 0
        if angle:
            return normalize_rotation(angle)
    tag = next((value for key, value in stream.metadata.items() if key.lower() == "rotate"), None)
    if tag and re.fullmatch(r"-?\d+(\.\d+)?", tag.strip()):
        return normalize_rotation(-float(tag))
    return 0


def _duration(container, stream) -> float:
    if stream is not None and stream.duration is not None and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
        if seconds > 0:
            return seconds
    if container.duration:
        return container.duration / av.time_base
    if stream is not None:
        tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
        if tag:
            match = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d+)?)", tag.strip())
            if match:
                h, m, s = match.groups()
                return int(h) * 3600 + int(m) * 60 + float(s)
    return 0.0


def probe(path: Path, *, decode_frames: int = PROBE_FRAMES) -> Probe:
    """Read ``path``'s streams; :class:`MediaRejected` if it is not readable media with video.

    The first ``decode_frames`` video frames are decoded: a file whose header
    reads well but whose pictures do not decode is refused as corrupt.
    """
    path = Path(path)
    size_bytes = path.stat().st_size
    if size_bytes == 0:
        raise MediaRejected("the file is empty")
    try:
        container = av.open(str(path), metadata_errors="replace")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise MediaRejected("the file is not a video this instance can read (unknown format or corrupt)") from exc
    try:
        streams = list(container.streams)
        videos = [s for s in streams if s.type == "video" and not (s.disposition & av.stream.Disposition.attached_pic)]
        audios = [s for s in streams if s.type == "audio"]
        others = len(streams) - len(videos) - len(audios)
        if not videos:
            if audios:
                raise MediaRejected("the file has no video track (audio-only files are not accepted)")
            raise MediaRejected("the file has no video track")
        video = videos[0]
        audio = audios[0] if audios else None
        vcc = video.codec_context
        if not vcc.width or not vcc.height:
            raise MediaRejected("the video's picture size cannot be read (corrupt file?)")
        first = None
        if decode_frames:
            first = _first_frames(container, video, decode_frames)
        rate = video.average_rate or video.guessed_rate or video.base_rate
        frame_rate = Fraction(rate) if rate and rate > 0 else None
        guessed = video.guessed_rate or video.base_rate
        nominal = Fraction(guessed) if guessed and guessed > 0 else frame_rate
        duration = _duration(container, video)
        bitrate = container.bit_rate or (int(size_bytes * 8 / duration) if duration > 0 else None)
        acc = audio.codec_context if audio is not None else None
        major = container.metadata.get("major_brand")
        fmt = container.format.name
        return Probe(
            format_name=fmt,
            duration=duration,
            size_bytes=size_bytes,
            bitrate=bitrate,
            width=vcc.width,
            height=vcc.height,
            frame_rate=frame_rate,
            nominal_rate=nominal,
            video_codec=vcc.name,
            video_profile=vcc.profile,
            pix_fmt=vcc.pix_fmt,
            video_frames=video.frames or 0,
            rotation=_rotation(video, first),
            audio_codec=acc.name if acc is not None else None,
            audio_sample_rate=acc.sample_rate if acc is not None else None,
            audio_channels=acc.channels if acc is not None else None,
            audio_layout=acc.layout.name if acc is not None else None,
            audio_bitrate=acc.bit_rate if acc is not None else None,
            video_streams=len(videos),
            audio_streams=len(audios),
            other_streams=others,
            major_brand=major.strip() if major else None,
            faststart=moov_before_mdat(path) if fmt.startswith("mov,mp4") else None,
            tags=dict(container.metadata),
            stream_tags=tuple(dict(s.metadata) for s in streams),
        )
    finally:
        container.close()


def _first_frames(container, video, count: int):
    """Decode up to ``count`` frames of ``video``; the first, or MediaRejected if none decodes."""
    first = None
    decoded = 0
    try:
        for packet in container.demux(video):
            for frame in packet.decode():
                if first is None:
                    first = frame
                decoded += 1
                if decoded >= count:
                    return first
    except (av.FFmpegError, ValueError) as exc:
        if first is None:
            raise MediaRejected("the video cannot be decoded (the file is corrupt or truncated)") from exc
    if first is None:
        raise MediaRejected("the video cannot be decoded (the file is corrupt or truncated)")
    return first
