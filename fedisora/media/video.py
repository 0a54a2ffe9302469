"""Making an uploaded video web-playable: keep it, remux it, or transcode it.

Browsers play H.264 (yuv420p) with AAC audio in MP4.  :func:`plan` compares a
:class:`~fedisora.media.probe.Probe` with that target and the instance's limits
and says what has to be done:

- nothing (``keep``): the upload is served byte for byte;
- ``remux``: the streams are right but the container is not (another container
  or brand, the index after the media data, extra tracks, tags that identify
  the uploader's device or location): the packets are copied into a fresh MP4;
- ``transcode``: the pictures or the sound must change (another codec or pixel
  format, too large, too many frames per second, a rotation to apply): decoded
  and encoded again with libx264 and AAC.

Outputs are MP4 with the index first ("faststart"), no container tags and no
rotation, written under a temporary name and renamed when complete, so that a
failure leaves no partial file behind.
"""

from __future__ import annotations

import math
import re
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from .probe import MediaRejected, Probe
from .thumbnails import PosterPicker

__all__ = [
    "BROWSER_BRANDS",
    "Plan",
    "plan",
    "identifying_tags",
    "target_size",
    "remux",
    "transcode",
    "OUTPUT_OPTIONS",
    "X264_OPTIONS",
]

# ISO-BMFF major brands of files that browsers play as video/mp4
BROWSER_BRANDS = frozenset(
    {"isom", "iso2", "iso3", "iso4", "iso5", "iso6", "mp41", "mp42", "avc1", "M4V", "M4VH", "M4VP", "dash", "mmp4", "MSNV"}
)
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)

# Tags that say nothing about who made the file, where or with what
_HARMLESS_CONTAINER_TAGS = {"major_brand", "minor_version", "compatible_brands"}
_HARMLESS_STREAM_TAGS = {"language": None, "handler_name": {"VideoHandler", "SoundHandler"}, "vendor_id": {"[0][0][0][0]", "FFMP"}}
_GENERIC_ENCODER = re.compile(r"Lavf\d+(\.\d+)*")  # FFmpeg's muxer, no device in it

OUTPUT_OPTIONS = {"movflags": "+faststart", "fflags": "+bitexact"}  # bitexact: no "encoder" tag
X264_OPTIONS = {"preset": "veryfast", "crf": "23", "profile": "high"}


def identifying_tags(info: Probe) -> list[str]:
    """The tags of ``info`` that could identify the uploader (device, place, time, software)."""
    found = []
    for key, value in info.tags.items():
        if key in _HARMLESS_CONTAINER_TAGS:
            continue
        if key == "encoder" and _GENERIC_ENCODER.fullmatch(value.strip()):
            continue
        found.append(key)
    for tags in info.stream_tags:
        for key, value in tags.items():
            if key in _HARMLESS_STREAM_TAGS:
                allowed = _HARMLESS_STREAM_TAGS[key]
                if allowed is None or value in allowed:
                    continue
            found.append(key)
    return found


@dataclass
class Plan:
    action: str  # "keep", "remux" or "transcode"
    reasons: list[str] = field(default_factory=list)  # why not kept, for logs
    width: int = 0  # output size, upright
    height: int = 0
    fps: Fraction | None = None  # output frame rate cap, None: as the input

    @property
    def keep(self) -> bool:
        return self.action == "keep"


def target_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(width, height) scaled so the long side is at most ``long_side``, aspect kept, both even."""
    scale = min(1.0, long_side / max(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def plan(info: Probe, limits, *, silent: bool = False) -> Plan:
    """What must be done to ``info``'s file (``silent``: audio is dropped, as for GIFs)."""
    transcode_reasons: list[str] = []
    remux_reasons: list[str] = []
    dw, dh = info.display_size
    width, height = target_size(dw, dh, limits.max_video_long_side)
    if info.video_codec != "h264":
        transcode_reasons.append(f"video codec {info.video_codec}")
    if info.pix_fmt != "yuv420p":
        transcode_reasons.append(f"pixel format {info.pix_fmt}")
    if (width, height) != (dw, dh):
        transcode_reasons.append(f"size {dw}x{dh}")
    if info.rotation:
        transcode_reasons.append(f"rotation {info.rotation}")
    fps_cap = None
    if info.frame_rate and info.fps > limits.max_video_fps + 0.01:
        fps_cap = Fraction(limits.max_video_fps).limit_denominator(1001)
        transcode_reasons.append(f"{info.fps:.2f} frames per second")
    if info.has_audio and not silent and info.audio_codec != "aac":
        transcode_reasons.append(f"audio codec {info.audio_codec}")
    if info.has_audio and silent:
        remux_reasons.append("audio to drop")
    if not info.is_mp4_family:
        remux_reasons.append(f"container {info.format_name}")
    elif info.major_brand not in BROWSER_BRANDS:
        remux_reasons.append(f"brand {info.major_brand!r}")
    if info.is_mp4_family and not info.faststart:
        remux_reasons.append("index after the media data")
    if info.video_streams > 1 or info.audio_streams > 1 or info.other_streams:
        remux_reasons.append("extra tracks")
    tags = identifying_tags(info)
    if tags:
        remux_reasons.append("metadata " + ", ".join(sorted(set(tags))))
    if transcode_reasons:
        return Plan("transcode", transcode_reasons + remux_reasons, width, height, fps_cap)
    if remux_reasons:
        return Plan("remux", remux_reasons, width, height, None)
    return Plan("keep", [], width, height, None)


def _streams(container, silent: bool):
    video = next(s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic))
    audio = None if silent or not container.streams.audio else container.streams.audio[0]
    return video, audio


def _part(dst: Path) -> Path:
    return dst.with_name(dst.name + ".part")


def _finish(tmp: Path, dst: Path) -> None:
    tmp.replace(dst)


def remux(src: Path, dst: Path, *, silent: bool = False) -> None:
    """Copy the video (and first audio) packets of ``src`` into a clean faststart MP4 ``dst``."""
    tmp = _part(dst)
    try:
        with av.open(str(src), metadata_errors="replace") as inp:
            vin, ain = _streams(inp, silent)
            with av.open(str(tmp), "w", format="mp4", options=dict(OUTPUT_OPTIONS)) as out:
                mapping = {vin.index: out.add_stream_from_template(vin)}
                if ain is not None:
                    mapping[ain.index] = out.add_stream_from_template(ain)
                for stream in mapping.values():
                    for key in list(stream.metadata):
                        del stream.metadata[key]
                wanted = [vin] + ([ain] if ain is not None else [])
                for packet in inp.demux(*wanted):
                    if packet.dts is None:  # the demuxer's flush packet
                        continue
                    packet.stream = mapping[packet.stream.index]
                    out.mux(packet)
        _finish(tmp, dst)
    except av.FFmpegError as exc:
        tmp.unlink(missing_ok=True)
        raise MediaRejected("the video could not be rewritten (corrupt or unsupported data)") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class _Progress:
    def __init__(self, callback: Callable[[float], None] | None, duration: float) -> None:
        self.callback = callback
        self.duration = duration
        self.last = 0.0
        self.last_call = 0.0

    def update(self, seconds: float) -> None:
        if self.callback is None or self.duration <= 0:
            return
        fraction = min(max(seconds / self.duration, 0.0), 0.99)
        now = _time.monotonic()
        if fraction > self.last and (now - self.last_call >= 0.2 or fraction - self.last >= 0.1):
            self.last, self.last_call = fraction, now
            self.callback(fraction)


def transcode(
    src: Path,
    dst: Path,
    info: Probe,
    target: Plan,
    *,
    silent: bool = False,
    poster: PosterPicker | None = None,
    progress: Callable[[float], None] | None = None,
) -> None:
    """Decode ``src`` and encode it as H.264 yuv420p (+ AAC) in a faststart MP4 ``dst``.

    Pictures are scaled to ``target``'s size and turned upright; frames beyond
    ``target.fps`` are dropped.  AAC audio is copied as it is, other audio is
    encoded to AAC.  ``poster`` is offered the first output frames.
    """
    tmp = _part(dst)
    turns = (info.rotation // 90) % 4
    if turns % 2:
        coded_w, coded_h = target.height, target.width
    else:
        coded_w, coded_h = target.width, target.height
    tracker = _Progress(progress, info.duration)
    try:
        with av.open(str(src), metadata_errors="replace") as inp:
            vin, ain = _streams(inp, silent)
            vin.thread_type = "AUTO"
            rate = target.fps or info.frame_rate or Fraction(30)
            with av.open(str(tmp), "w", format="mp4", options=dict(OUTPUT_OPTIONS)) as out:
                vout = out.add_stream("libx264", rate=rate)
                vout.width, vout.height = target.width, target.height
                vout.pix_fmt = "yuv420p"
                vout.time_base = vin.time_base
                vout.codec_context.time_base = vin.time_base
                vout.options = dict(X264_OPTIONS)
                aout = None
                copy_audio = False
                if ain is not None:
                    if ain.codec_context.name == "aac":
                        aout = out.add_stream_from_template(ain)
                        for key in list(aout.metadata):
                            del aout.metadata[key]
                        copy_audio = True
                    else:
                        ain.thread_type = "AUTO"
                        sample_rate = ain.codec_context.sample_rate
                        if sample_rate not in AAC_RATES:
                            sample_rate = 48000
                        layout = "mono" if ain.codec_context.channels == 1 else "stereo"
                        aout = out.add_stream("aac", rate=sample_rate, layout=layout)
                        aout.bit_rate = 128_000 if layout == "stereo" else 96_000
                interval = 1 / float(target.fps) if target.fps else 0.0
                start = stream_start(vin)
                next_slot = -math.inf
                reformatter = VideoReformatter()  # one scaler context for the whole video
                last_pts = None
                counter = 0
                wanted = [vin] + ([ain] if ain is not None else [])
                for packet in inp.demux(*wanted):
                    if packet.stream is ain:
                        if copy_audio:
                            if packet.dts is None:
                                continue
                            packet.stream = aout
                            out.mux(packet)
                        else:
                            for frame in packet.decode():
                                for out_packet in aout.encode(frame):
                                    out.mux(out_packet)
                        continue
                    for frame in packet.decode():
                        pts = frame.pts
                        if pts is None:
                            pts = counter if last_pts is None else last_pts + 1
                        counter += 1
                        if last_pts is not None and pts <= last_pts:
                            continue  # duplicate or out-of-order timestamp: x264 needs them increasing
                        seconds = float(pts * vin.time_base) if vin.time_base else counter / float(rate)
                        if interval:
                            if seconds < next_slot - 1e-6:
                                continue
                            if next_slot == -math.inf:
                                next_slot = seconds + interval
                            else:
                                next_slot = max(next_slot + interval, seconds + interval * 0.5)
                        last_pts = pts
                        picture = _prepare(frame, coded_w, coded_h, turns, reformatter)
                        picture.pts = pts
                        picture.time_base = vin.time_base
                        if poster is not None and not poster.done:
                            poster.offer(picture, seconds - start)
                        for out_packet in vout.encode(picture):
                            out.mux(out_packet)
                        tracker.update(seconds - start)
                for out_packet in vout.encode():
                    out.mux(out_packet)
                if aout is not None and not copy_audio:
                    for out_packet in aout.encode():
                        out.mux(out_packet)
                if last_pts is None:
                    raise MediaRejected("the video cannot be decoded (no picture in it)")
        _finish(tmp, dst)
    except av.FFmpegError as exc:
        tmp.unlink(missing_ok=True)
        raise MediaRejected("the video could not be converted (corrupt or unsupported data)") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def stream_start(stream) -> float:
    if stream.start_time is not None and stream.time_base:
        return float(stream.start_time * stream.time_base)
    return 0.0


def _prepare(frame: av.VideoFrame, width: int, height: int, turns: int, reformatter: VideoReformatter) -> av.VideoFrame:
    """``frame`` scaled to ``width`` x ``height`` (coded orientation) in yuv420p, then turned
    ``turns`` quarter turns counterclockwise."""
    if not (frame.width == width and frame.height == height and frame.format.name == "yuv420p"):
        frame = reformatter.reformat(frame, width=width, height=height, format="yuv420p")
    if not turns:
        return frame
    return _rotate_yuv420p(frame, turns)


def _rotate_yuv420p(frame: av.VideoFrame, turns: int) -> av.VideoFrame:
    """A yuv420p frame turned by quarter turns, plane by plane (no colour conversion)."""
    w, h = frame.width, frame.height
    out = av.VideoFrame(h, w, "yuv420p") if turns % 2 else av.VideoFrame(w, h, "yuv420p")
    for index, (pw, ph) in enumerate(((w, h), (w // 2, h // 2), (w // 2, h // 2))):
        src_plane = frame.planes[index]
        pixels = np.frombuffer(src_plane, np.uint8).reshape(-1, src_plane.line_size)[:ph, :pw]
        turned = np.rot90(pixels, k=turns)
        dst_plane = out.planes[index]
        dst = np.frombuffer(dst_plane, np.uint8).reshape(-1, dst_plane.line_size)
        dst[: turned.shape[0], : turned.shape[1]] = turned
    out.color_range = frame.color_range
    out.colorspace = frame.colorspace
    return out
