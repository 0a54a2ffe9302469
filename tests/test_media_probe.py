"""fedisora.media.probe: what FFmpeg reads from synthetic videos of several codecs and containers."""

from __future__ import annotations

from fractions import Fraction

import pytest

from fedisora.media.probe import MediaRejected, moov_before_mdat, normalize_rotation, probe
from tests.media_samples import make_audio_only, make_corrupt, make_gif, make_image, make_video, top_level_boxes


@pytest.mark.parametrize(
    ("name", "kwargs", "expect"),
    [
        ("h264.mp4", {}, {"video_codec": "h264", "format": "mov,mp4", "audio_codec": None, "brand": "isom"}),
        (
            "vp9.webm",
            {"codec": "vp9", "audio": True},
            {"video_codec": "vp9", "format": "matroska,webm", "audio_codec": "opus", "rate": 48000, "brand": None},
        ),
        (
            "h264.mov",
            {"audio": True},
            {"video_codec": "h264", "format": "mov,mp4", "audio_codec": "aac", "rate": 44100, "brand": "qt"},
        ),
        ("mpeg4.mkv", {"codec": "mpeg4"}, {"video_codec": "mpeg4", "format": "matroska,webm", "audio_codec": None}),
        ("hevc.mp4", {"codec": "hevc"}, {"video_codec": "hevc", "format": "mov,mp4", "audio_codec": None, "brand": "isom"}),
    ],
)
def test_probe_reads_streams(tmp_path, name, kwargs, expect):
    path = make_video(tmp_path / name, width=176, height=96, seconds=1.0, fps=25, **kwargs)
    info = probe(path)
    assert info.format_name.startswith(expect["format"])
    assert info.video_codec == expect["video_codec"]
    assert (info.width, info.height) == (176, 96)
    assert info.display_size == (176, 96)
    assert info.pix_fmt == "yuv420p"
    assert info.frame_rate == Fraction(25)
    assert info.fps == 25.0
    assert info.duration == pytest.approx(1.0, abs=0.05)
    assert info.bitrate and info.bitrate > 1000
    assert info.size_bytes == path.stat().st_size
    assert info.rotation == 0
    assert info.audio_codec == expect["audio_codec"]
    assert info.has_video and info.video_streams == 1
    assert info.has_audio == (expect["audio_codec"] is not None)
    if expect["audio_codec"]:
        assert info.audio_sample_rate == expect["rate"]
        assert info.audio_channels == 2
        assert info.audio_layout == "stereo"
    assert info.major_brand == expect.get("brand")


def test_probe_pixel_format_and_mono_audio(tmp_path):
    info = probe(make_video(tmp_path / "v.mp4", pix_fmt="yuv444p", audio=True, audio_layout="mono"))
    assert info.pix_fmt == "yuv444p"
    assert info.audio_channels == 1 and info.audio_layout == "mono"


@pytest.mark.parametrize(("rotate", "expected"), [(-90, 270), (90, 90), (180, 180)])
def test_probe_rotation_from_display_matrix(tmp_path, rotate, expected):
    info = probe(make_video(tmp_path / "r.mp4", width=160, height=96, rotate=rotate))
    assert info.rotation == expected
    assert (info.width, info.height) == (160, 96)  # as stored
    assert info.display_size == ((96, 160) if expected in (90, 270) else (160, 96))


def test_probe_rotation_from_rotate_tag(tmp_path):
    # Matroska keeps an old-style "rotate" tag (degrees clockwise) as a plain tag.
    info = probe(make_video(tmp_path / "r.mkv", stream_metadata={"rotate": "90"}))
    assert info.rotation == 270
    assert info.display_size == (96, 160)


def test_normalize_rotation():
    assert [normalize_rotation(a) for a in (0, 90, -90, 180, -180, 270, 89.6, 360)] == [0, 90, 270, 180, 180, 270, 90, 0]


def test_faststart_detection(tmp_path):
    fast = make_video(tmp_path / "fast.mp4", faststart=True)
    slow = make_video(tmp_path / "slow.mp4", faststart=False)
    assert [b[0] for b in top_level_boxes(fast.read_bytes())].index("moov") < [
        b[0] for b in top_level_boxes(fast.read_bytes())
    ].index("mdat")
    assert moov_before_mdat(fast) is True
    assert moov_before_mdat(slow) is False
    assert probe(fast).faststart is True
    assert probe(slow).faststart is False
    assert probe(make_video(tmp_path / "v.webm", codec="vp9")).faststart is None


def test_probe_reads_tags(tmp_path):
    path = make_video(
        tmp_path / "tags.mov", metadata={"location": "+48.8584+002.2945/", "make": "FedisoraCam", "model": "X1"}
    )
    info = probe(path)
    assert info.tags["location"] == "+48.8584+002.2945/"
    assert info.tags["make"] == "FedisoraCam"
    assert info.tags["model"] == "X1"


def test_probe_animated_gif(tmp_path):
    info = probe(make_gif(tmp_path / "a.gif", width=120, height=80, frames=10))
    assert (info.width, info.height) == (120, 80)
    assert info.video_codec == "gif"
    assert info.duration == pytest.approx(1.0, abs=0.05)
    assert info.fps == pytest.approx(10.0)


def test_probe_rejects_audio_only(tmp_path):
    with pytest.raises(MediaRejected, match="audio-only"):
        probe(make_audio_only(tmp_path / "a.m4a"))


@pytest.mark.parametrize("how", ["garbled", "truncated", "noise"])
def test_probe_rejects_corrupt(tmp_path, how):
    with pytest.raises(MediaRejected, match="corrupt"):
        probe(make_corrupt(tmp_path / f"{how}.mp4", how=how))


def test_probe_rejects_non_media(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video at all\n" * 50)
    with pytest.raises(MediaRejected, match="not a video"):
        probe(text)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaRejected, match="empty"):
        probe(empty)


def test_probe_still_image_has_no_length(tmp_path):
    # FFmpeg reads a PNG as a one-frame "video"; the processing layer sends images elsewhere.
    info = probe(make_image(tmp_path / "i.png", "png", width=64, height=48))
    assert (info.width, info.height) == (64, 48)
    assert info.duration < 0.1
