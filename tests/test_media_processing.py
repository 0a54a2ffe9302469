"""fedisora.media.processing: uploads made web-playable and safe to publish.

Every sample is synthetic (tests/media_samples.py); outputs are checked by
reading them back with PyAV and Pillow: codecs, sizes, box order, tags, pixels.
"""

from __future__ import annotations

import io
import re

import av
import blurhash
import numpy as np
import pytest
from PIL import Image

from fedisora.media.probe import probe
from fedisora.media.processing import (
    MediaLimits,
    MediaRejected,
    ProcessedMedia,
    make_thumbnail,
    process_file,
    sniff,
)
from tests.media_samples import (
    decode_frames,
    frame_rgb,
    make_audio_only,
    make_corrupt,
    make_gif,
    make_image,
    make_video,
    marker_quadrant,
    top_level_boxes,
)

LIMITS = MediaLimits(
    max_image_bytes=16 * 1024 * 1024,
    max_video_bytes=100 * 1024 * 1024,
    max_video_seconds=180.0,
    max_video_long_side=1080,
    max_video_fps=60.0,
)
GPS = "+48.8584+002.2945/"


@pytest.fixture
def workdir(tmp_path):
    path = tmp_path / "work"
    path.mkdir()
    return path


def run(src, workdir, limits=LIMITS, **kwargs) -> ProcessedMedia:
    return process_file(src, workdir, limits, **kwargs)


def assert_web_mp4(path, *, audio: bool):
    """H.264 yuv420p (+ AAC) in MP4 with moov before mdat, upright, no tags beyond the brand.

    Read from the file's bytes and with PyAV directly, not through ``probe`` (which decides
    what processing does); returns ``probe``'s reading for the caller's other checks.
    """
    data = path.read_bytes()
    boxes = [kind for kind, _, _ in top_level_boxes(data)]
    assert boxes[0] == "ftyp" and boxes.index("moov") < boxes.index("mdat")
    assert data[8:12] == b"isom"  # the ftyp box's major brand
    with av.open(str(path)) as container:
        assert container.format.name.startswith("mov,mp4")
        assert container.metadata.get("major_brand") == "isom"
        assert set(container.metadata) <= {"major_brand", "minor_version", "compatible_brands"}
        video = container.streams.video[0]
        assert video.codec_context.name == "h264" and video.codec_context.pix_fmt == "yuv420p"
        audios = container.streams.audio
        assert (audios[0].codec_context.name if audios else None) == ("aac" if audio else None)
        for stream in container.streams:  # only FFmpeg's generic per-track tags, nothing from the source
            assert set(stream.metadata) <= {"language", "handler_name", "vendor_id"}
            assert stream.metadata.get("handler_name", "VideoHandler") in {"VideoHandler", "SoundHandler"}
        first = next(container.decode(video))
        assert first.format.name == "yuv420p" and first.rotation == 0
    return probe(path)


def luma(img: Image.Image) -> float:
    return float(np.asarray(img.convert("L"), dtype=np.float32).mean())


# --- sniffing -----------------------------------------------------------------------------


def test_sniff_by_content_not_name(tmp_path):
    assert sniff(make_video(tmp_path / "a.mp4")) == "video"
    assert sniff(make_video(tmp_path / "b.webm", codec="vp9")) == "video"
    assert sniff(make_video(tmp_path / "c.mov")) == "video"
    assert sniff(make_image(tmp_path / "d.jpg")) == "image"
    assert sniff(make_gif(tmp_path / "e.gif")) == "image"
    disguised = tmp_path / "video.mp4"
    disguised.write_bytes(make_image(tmp_path / "f.png", "png").read_bytes())
    assert sniff(disguised) == "image"
    text = tmp_path / "g.mp4"
    text.write_text("hello")
    assert sniff(text) is None


def test_limits_from_config():
    from instance_config.schema import MediaSection

    section = MediaSection(max_video_seconds=60, max_video_long_side=720, max_video_fps=30)
    limits = MediaLimits.from_config(section)
    assert limits == MediaLimits(
        max_image_bytes=section.max_image_bytes,
        max_video_bytes=section.max_video_bytes,
        max_video_seconds=60.0,
        max_video_long_side=720,
        max_video_fps=30.0,
    )


# --- videos kept, remuxed, transcoded -------------------------------------------------------


def test_conforming_upload_is_kept_byte_for_byte(tmp_path, workdir):
    src = make_video(tmp_path / "ok.mp4", audio=True, seconds=1.0)
    before = src.read_bytes()
    result = run(src, workdir)
    assert result.path == src and src.read_bytes() == before
    assert (result.media_type, result.mime_type, result.ext) == ("video", "video/mp4", "mp4")
    assert not result.transcoded and not result.remuxed
    assert list(workdir.iterdir()) == []
    assert result.thumbnail[:3] == b"\xff\xd8\xff"
    assert Image.open(io.BytesIO(result.thumbnail)).size == result.thumbnail_size == (160, 96)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("vp9.webm", {"codec": "vp9", "audio": True}),  # VP9 + Opus
        ("hevc.mov", {"codec": "hevc", "audio": True}),  # HEVC + AAC in QuickTime
        ("mpeg4.mkv", {"codec": "mpeg4", "audio": "libopus"}),
        ("yuv444.mp4", {"pix_fmt": "yuv444p", "audio": True}),
    ],
)
def test_other_videos_are_transcoded_to_h264_aac_faststart(tmp_path, workdir, name, kwargs):
    src = make_video(tmp_path / name, seconds=1.0, fps=25, **kwargs)
    result = run(src, workdir)
    assert result.transcoded and not result.remuxed
    assert result.path.parent == workdir and result.path.suffix == ".mp4"
    assert (result.media_type, result.mime_type, result.ext) == ("video", "video/mp4", "mp4")
    info = assert_web_mp4(result.path, audio=True)
    assert info.display_size == (160, 96)
    assert info.duration == pytest.approx(1.0, abs=0.1)
    assert len(decode_frames(result.path)) == 25
    assert sorted(p.name for p in workdir.iterdir()) == [result.path.name]  # no leftovers
    # the output conforms: processing it again keeps it as it is
    again = run(result.path, workdir)
    assert again.path == result.path and not again.transcoded and not again.remuxed


def test_an_interrupted_transcode_is_not_a_refusal(tmp_path, workdir):
    """A worker shutting down stops a transcode from its progress callback: the exception
    comes out as it was raised, never as "the video could not be converted"."""
    from fedisora.media.jobs import Interrupted

    src = make_video(tmp_path / "long.webm", codec="vp9", seconds=3.0, fps=25)
    reports = []

    def progress(fraction):
        reports.append(fraction)
        if len(reports) == 2:
            raise Interrupted("shutting down")

    with pytest.raises(Interrupted):
        process_file(src, workdir, LIMITS, progress=progress)
    assert len(reports) == 2 and reports[-1] < 0.5


def test_ten_bit_and_odd_sizes_become_8_bit_even(tmp_path, workdir):
    ten = run(make_video(tmp_path / "hdr.mp4", codec="hevc", pix_fmt="yuv420p10le"), workdir)
    assert ten.transcoded
    assert assert_web_mp4(ten.path, audio=False).display_size == (160, 96)
    odd = run(make_video(tmp_path / "odd.webm", codec="vp9", width=161, height=97), workdir)
    assert assert_web_mp4(odd.path, audio=False).display_size == (160, 96)


def test_extra_tracks_are_dropped_by_remux(tmp_path, workdir):
    src = make_video(tmp_path / "dual.mp4", audio=True, audio_tracks=2)
    assert probe(src).audio_streams == 2
    result = run(src, workdir)
    assert result.remuxed and not result.transcoded
    info = assert_web_mp4(result.path, audio=True)
    assert (info.video_streams, info.audio_streams, info.other_streams) == (1, 1, 0)


def test_large_video_is_scaled_to_the_long_side_limit(tmp_path, workdir):
    src = make_video(tmp_path / "big.mp4", width=1920, height=1080, seconds=0.25, fps=24)
    result = run(src, workdir, MediaLimits(max_video_long_side=640))
    assert result.transcoded
    info = assert_web_mp4(result.path, audio=False)
    assert info.display_size == (640, 360)
    assert result.meta["width"] == 640 and result.meta["height"] == 360
    assert result.meta["size"] == "640x360"
    # the default limit is 1080p (1920 on the long side): a 1440p clip comes down to 1080p
    bigger = make_video(tmp_path / "bigger.mp4", width=2560, height=1440, seconds=0.25, fps=24)
    other = run(bigger, workdir, MediaLimits())
    assert probe(other.path).display_size == (1920, 1080)


def test_portrait_video_scaled_by_its_long_side(tmp_path, workdir):
    src = make_video(tmp_path / "tall.mp4", width=360, height=640, seconds=0.25)
    result = run(src, workdir, MediaLimits(max_video_long_side=320))
    assert probe(result.path).display_size == (180, 320)


@pytest.mark.parametrize(("rotate", "corner", "size"), [(90, "bl", (96, 160)), (180, "br", (160, 96))])
def test_other_rotations(tmp_path, workdir, rotate, corner, size):
    # display matrix angles are counterclockwise: 90 takes the top-left corner to the bottom-left
    result = run(make_video(tmp_path / "r.mp4", width=160, height=96, rotate=rotate), workdir)
    frame = decode_frames(result.path, limit=1)[0]
    assert (frame.shape[1], frame.shape[0]) == size
    assert marker_quadrant(frame) == corner
    assert probe(result.path).rotation == 0


def test_rotated_video_comes_out_upright(tmp_path, workdir):
    # Stored landscape, displayed turned 90° clockwise (what a phone held upright writes).
    src = make_video(tmp_path / "phone.mp4", width=160, height=96, rotate=-90)
    result = run(src, workdir)
    assert result.transcoded
    info = assert_web_mp4(result.path, audio=False)
    assert (info.width, info.height) == (96, 160)
    assert result.meta["width"] == 96 and result.meta["height"] == 160
    frame = decode_frames(result.path, limit=1)[0]
    assert frame.shape[:2] == (160, 96)
    # The marker drawn top-left of the stored picture is top-right once turned clockwise,
    # as Pillow turns a photo tagged with EXIF orientation 6 (also "rotate 90° clockwise").
    assert marker_quadrant(decode_frames(src, limit=1)[0]) == "tl"
    assert marker_quadrant(frame) == "tr"
    assert Image.open(io.BytesIO(result.thumbnail)).size == (96, 160)


def test_fps_is_capped(tmp_path, workdir):
    src = make_video(tmp_path / "fast.mp4", fps=60, seconds=1.0)
    result = run(src, workdir, MediaLimits(max_video_fps=30))
    assert result.transcoded
    info = probe(result.path)
    assert info.fps == pytest.approx(30, abs=1)
    assert len(decode_frames(result.path)) == pytest.approx(30, abs=1)
    assert info.duration == pytest.approx(1.0, abs=0.1)


def test_audio_kept_as_aac(tmp_path, workdir):
    # AAC with a video to re-encode: the sound is copied untouched
    src = make_video(tmp_path / "a.mov", codec="mpeg4", audio=True, audio_layout="mono")
    result = run(src, workdir)
    info = assert_web_mp4(result.path, audio=True)
    assert (info.audio_sample_rate, info.audio_channels) == (44100, 1)
    assert result.meta["audio_encode"] == "aac"
    assert result.meta["audio_bitrate"] == "44100 Hz"
    assert result.meta["audio_channels"] == "mono"
    # Opus is encoded to AAC, same rate, stereo
    webm = run(make_video(tmp_path / "b.webm", codec="vp9", audio=True), workdir)
    info = assert_web_mp4(webm.path, audio=True)
    assert (info.audio_sample_rate, info.audio_channels) == (48000, 2)
    assert info.duration == pytest.approx(1.0, abs=0.1)
    assert webm.meta["audio_channels"] == "stereo"


def test_index_at_the_end_is_remuxed(tmp_path, workdir):
    src = make_video(tmp_path / "slow.mp4", faststart=False, audio=True)
    result = run(src, workdir)
    assert result.remuxed and not result.transcoded
    assert_web_mp4(result.path, audio=True)
    # stream copy: the very same pictures
    assert [f.tobytes() for f in decode_frames(result.path)] == [f.tobytes() for f in decode_frames(src)]


def test_quicktime_with_h264_is_remuxed_to_mp4(tmp_path, workdir):
    src = make_video(tmp_path / "clip.mov", audio=True)
    result = run(src, workdir)
    assert result.remuxed and not result.transcoded
    assert result.path.suffix == ".mp4"
    assert_web_mp4(result.path, audio=True)


IDENTIFYING = {
    "location": GPS,
    "make": "FedisoraCam",
    "model": "Model X1",
    "creation_time": "2026-05-01T10:00:00.000000Z",
}


def test_device_and_location_metadata_stripped_by_remux(tmp_path, workdir):
    src = make_video(tmp_path / "phone.mov", audio=True, metadata=IDENTIFYING)
    assert {"location", "make", "model", "creation_time"} <= set(probe(src).tags)
    assert b"FedisoraCam" in src.read_bytes()
    result = run(src, workdir)
    assert result.remuxed and not result.transcoded
    assert_web_mp4(result.path, audio=True)
    data = result.path.read_bytes()
    for needle in (b"FedisoraCam", b"Model X1", b"48.8584", b"2026-05"):
        assert needle not in data


def test_apple_metadata_keys_stripped(tmp_path, workdir):
    src = make_video(
        tmp_path / "iphone.mp4",
        use_metadata_tags=True,
        metadata={
            "com.apple.quicktime.location.ISO6709": GPS,
            "com.apple.quicktime.make": "Apple",
            "com.apple.quicktime.model": "iPhone 15 Pro",
            "com.apple.quicktime.software": "17.4",
        },
    )
    assert b"iPhone 15 Pro" in src.read_bytes()
    result = run(src, workdir)
    assert result.remuxed
    data = result.path.read_bytes()
    assert b"iPhone 15 Pro" not in data and b"48.8584" not in data and b"Apple" not in data
    assert_web_mp4(result.path, audio=False)


def test_metadata_stripped_when_transcoding(tmp_path, workdir):
    src = make_video(tmp_path / "cam.mkv", codec="vp9", audio=True, metadata=IDENTIFYING)
    assert b"FedisoraCam" in src.read_bytes()
    result = run(src, workdir)
    assert result.transcoded
    assert_web_mp4(result.path, audio=True)
    data = result.path.read_bytes()
    for needle in (b"FedisoraCam", b"Model X1", b"48.8584", b"Lavf"):
        assert needle not in data


def test_stream_tags_count_as_metadata(tmp_path, workdir):
    src = make_video(tmp_path / "s.mp4", stream_metadata={"handler_name": "Samsung SM-G991B Video"})
    result = run(src, workdir)
    assert result.remuxed
    assert b"SM-G991B" not in result.path.read_bytes()


# --- rejected uploads ------------------------------------------------------------------------


def rejected(src, workdir, limits=LIMITS, **kwargs) -> str:
    with pytest.raises(MediaRejected) as info:
        process_file(src, workdir, limits, **kwargs)
    assert list(workdir.iterdir()) == []  # nothing left behind
    return str(info.value)


def test_too_long_is_rejected(tmp_path, workdir):
    src = make_video(tmp_path / "long.mp4", seconds=2.0, fps=10)
    reason = rejected(src, workdir, MediaLimits(max_video_seconds=1.5))
    assert reason == "the video is 2.0 s long; this instance accepts up to 1.5 s"


def test_too_large_is_rejected(tmp_path, workdir):
    src = make_video(tmp_path / "big.mp4", audio=True)
    reason = rejected(src, workdir, MediaLimits(max_video_bytes=2048))
    assert re.fullmatch(r"the file is 0\.\d MB; this instance accepts videos up to 0\.00195312 MB", reason)
    image = make_image(tmp_path / "big.png", "png")
    assert "accepts images up to" in rejected(image, workdir, MediaLimits(max_image_bytes=1024))


def test_absurd_resolution_is_rejected(tmp_path, workdir):
    src = make_video(tmp_path / "wide.webm", codec="vp9", width=8200, height=16, seconds=0.1, fps=10)
    assert rejected(src, workdir) == "the video is 8200x16 pixels; this instance accepts up to 8192 pixels a side"


@pytest.mark.parametrize("how", ["garbled", "truncated", "noise"])
def test_corrupt_is_rejected(tmp_path, workdir, how):
    assert "corrupt" in rejected(make_corrupt(tmp_path / "bad.mp4", how=how), workdir)


def test_not_media_is_rejected(tmp_path, workdir):
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"#!/bin/sh\necho this is a script, not a video\n" * 20)
    assert "not a video or image" in rejected(src, workdir, declared_type="video")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert "empty" in rejected(empty, workdir)


def test_audio_only_is_rejected(tmp_path, workdir):
    assert "audio-only" in rejected(make_audio_only(tmp_path / "song.m4a"), workdir, declared_type="video")


def test_declared_video_but_image_is_rejected(tmp_path, workdir):
    src = make_image(tmp_path / "photo.mp4", "jpeg")
    assert "sent as a video" in rejected(src, workdir, declared_type="video")
    # declared as an image, it is processed as the image it is
    assert run(src, workdir, declared_type="image").media_type == "image"


def test_declared_image_but_video_is_processed_as_video(tmp_path, workdir):
    result = run(make_video(tmp_path / "v.mp4"), workdir, declared_type="image")
    assert result.media_type == "video"


def test_failure_mid_transcode_leaves_nothing(tmp_path, workdir):
    src = make_video(tmp_path / "v.webm", codec="vp9", seconds=2.0)

    def progress(fraction):
        if fraction > 0.3:
            raise RuntimeError("job cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        run(src, workdir, progress=progress)
    assert list(workdir.iterdir()) == []


# --- GIFs and images ---------------------------------------------------------------------


def test_animated_gif_becomes_gifv(tmp_path, workdir):
    src = make_gif(tmp_path / "anim.gif", width=121, height=81, frames=10)
    result = run(src, workdir, declared_type="image")
    assert (result.media_type, result.mime_type, result.ext) == ("gifv", "video/mp4", "mp4")
    assert result.transcoded
    info = assert_web_mp4(result.path, audio=False)
    assert info.display_size == (120, 80)  # even sizes for yuv420p
    assert len(decode_frames(result.path)) == 10
    assert result.meta["fps"] == 10
    assert result.meta["duration"] == pytest.approx(1.0, abs=0.1)
    assert "audio_encode" not in result.meta


def test_still_gif_becomes_png(tmp_path, workdir):
    src = make_gif(tmp_path / "still.gif", animated=False)
    result = run(src, workdir)
    assert (result.media_type, result.mime_type, result.ext) == ("image", "image/png", "png")
    with Image.open(result.path) as img:
        assert img.format == "PNG" and img.size == (120, 80)


def test_jpeg_exif_gps_stripped_and_orientation_applied(tmp_path, workdir):
    src = make_image(tmp_path / "photo.jpg", "jpeg", width=800, height=600, orientation=6)
    assert b"FedisoraCam" in src.read_bytes()
    result = run(src, workdir)
    assert (result.media_type, result.mime_type, result.ext) == ("image", "image/jpeg", "jpg")
    assert result.transcoded and result.path.parent == workdir
    assert b"FedisoraCam" not in result.path.read_bytes()
    with Image.open(result.path) as img:
        assert img.format == "JPEG"
        assert len(img.getexif()) == 0 and "exif" not in img.info
        assert img.size == (600, 800)
        assert marker_quadrant(np.asarray(img.convert("RGB"))) == "tr"
    assert result.meta["original"] == {"width": 600, "height": 800, "size": "600x800", "aspect": 0.75}
    assert result.meta["small"] == {"width": 480, "height": 640, "size": "480x640", "aspect": 0.75}
    assert result.thumbnail_size == (480, 640)


@pytest.mark.parametrize(("fmt", "mime", "ext"), [("png", "image/png", "png"), ("webp", "image/webp", "webp")])
def test_png_and_webp_exif_stripped(tmp_path, workdir, fmt, mime, ext):
    src = make_image(tmp_path / f"p.{ext}", fmt, width=300, height=200)
    with Image.open(src) as img:
        assert img.getexif()[0x010F] == "FedisoraCam"
    result = run(src, workdir)
    assert (result.mime_type, result.ext, result.transcoded) == (mime, ext, True)
    with Image.open(result.path) as img:
        assert len(img.getexif()) == 0 and img.size == (300, 200)
    assert result.thumbnail is None  # no larger than a thumbnail: the image is its own preview
    assert result.meta["small"] == result.meta["original"]
    assert len(result.blurhash) == 36


def test_animated_webp_stays_animated_without_exif(tmp_path, workdir):
    src = tmp_path / "anim.webp"
    frames = [Image.fromarray(frame_rgb(i * 5, 100, 60)) for i in range(5)]
    exif = Image.Exif()
    exif[0x010F] = "FedisoraCam"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, loop=0, exif=exif.tobytes())
    assert b"FedisoraCam" in src.read_bytes()
    result = run(src, workdir)
    assert (result.media_type, result.ext, result.transcoded) == ("image", "webp", True)
    assert b"FedisoraCam" not in result.path.read_bytes()
    with Image.open(result.path) as img:
        assert img.is_animated and img.n_frames == 5 and img.size == (100, 60)


def test_broken_and_oversized_images_are_rejected(tmp_path, workdir):
    good = make_image(tmp_path / "good.jpg", "jpeg", exif_gps=False, camera=None).read_bytes()
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(good[: len(good) // 3])
    assert "corrupt" in rejected(truncated, workdir)
    # a PNG whose header claims 30000x30000 pixels is refused before anything decodes it
    header = tmp_path / "bomb.png"
    Image.new("L", (1, 1)).save(header)
    data = bytearray(header.read_bytes())
    data[16:24] = (30000).to_bytes(4, "big") * 2
    header.write_bytes(bytes(data))
    assert rejected(header, workdir) == (
        "the image is 30000x30000 pixels; this instance accepts up to 100 megapixels and 16384 pixels a side"
    )


def test_clean_image_kept_byte_for_byte(tmp_path, workdir):
    src = tmp_path / "clean.png"
    Image.fromarray(frame_rgb(0, 200, 100)).save(src)
    result = run(src, workdir)
    assert result.path == src and not result.transcoded
    assert list(workdir.iterdir()) == []


def test_huge_image_scaled_to_4096(tmp_path, workdir):
    src = tmp_path / "panorama.png"
    Image.new("RGB", (5000, 40), (200, 100, 50)).save(src)
    result = run(src, workdir)
    assert result.meta["original"]["width"] == 4096
    with Image.open(result.path) as img:
        assert img.size[0] == 4096 and img.size[1] in (32, 33)
    assert result.thumbnail_size[0] == 640


def test_large_turned_jpeg_decoded_reduced_comes_out_upright_at_4096(tmp_path, workdir):
    """A JPEG larger than 4096 is decoded at a fraction of its size (libjpeg's scaling) and
    then turned by its EXIF orientation: the result is upright, 4096 on its long side."""
    src = make_image(tmp_path / "big.jpg", "jpeg", width=8400, height=6300, orientation=6)
    result = run(src, workdir)
    assert result.transcoded and result.mime_type == "image/jpeg"
    with Image.open(result.path) as img:
        assert img.size == (3072, 4096)
        assert marker_quadrant(np.asarray(img.convert("RGB"))) == "tr"
    assert result.meta["original"] == {"width": 3072, "height": 4096, "size": "3072x4096", "aspect": 0.75}
    assert result.thumbnail_size == (480, 640)


def test_jpeg_that_libjpeg_would_halve_to_exactly_4096_is_still_scaled(tmp_path, workdir):
    """Whether to re-encode is decided by the file's size, not the reduced decode's."""
    src = make_image(tmp_path / "b.jpg", "jpeg", width=8192, height=4096, exif_gps=False, camera=None)
    result = run(src, workdir)
    assert result.transcoded and result.path != src
    assert result.meta["original"]["width"] == 4096
    with Image.open(result.path) as img:
        assert img.size == (4096, 2048)


# --- posters, thumbnails, blurhash, meta, progress ------------------------------------------


@pytest.mark.parametrize("codec", ["h264", "vp9"])  # kept as is / transcoded
def test_poster_skips_black_first_frames(tmp_path, workdir, codec):
    src = make_video(tmp_path / f"fade.{'mp4' if codec == 'h264' else 'webm'}", codec=codec, black_frames=6, fps=12)
    result = run(src, workdir)
    assert luma(decode_frames_image(result.path)) < 2  # the video does start black
    poster = Image.open(io.BytesIO(result.thumbnail))
    assert luma(poster) > 60  # the gradient, not black
    assert marker_quadrant(np.asarray(poster.convert("RGB"))) == "tl"


def decode_frames_image(path) -> Image.Image:
    return Image.fromarray(decode_frames(path, limit=1)[0])


def test_all_black_video_still_gets_a_poster(tmp_path, workdir):
    src = make_video(tmp_path / "night.mp4", black_frames=100, seconds=1.0)
    result = run(src, workdir)
    assert result.thumbnail is not None and luma(Image.open(io.BytesIO(result.thumbnail))) < 2


def test_uploaded_thumbnail_is_used(tmp_path, workdir):
    custom = io.BytesIO()
    Image.new("RGB", (1000, 500), (250, 20, 20)).save(custom, format="PNG")
    result = run(make_video(tmp_path / "v.webm", codec="vp9"), workdir, thumbnail=custom.getvalue())
    assert result.thumbnail_size == (640, 320)
    poster = Image.open(io.BytesIO(result.thumbnail))
    assert poster.format == "JPEG" and poster.size == (640, 320)
    r, g, b = np.asarray(poster, dtype=np.float32).reshape(-1, 3).mean(axis=0)
    assert r > 200 and g < 60 and b < 60
    assert result.meta["small"] == {"width": 640, "height": 320, "size": "640x320", "aspect": 2.0}


def test_bad_uploaded_thumbnail_is_rejected(tmp_path, workdir):
    src = make_video(tmp_path / "v.webm", codec="vp9")
    assert "thumbnail" in rejected(src, workdir, thumbnail=b"not an image at all")


def test_make_thumbnail():
    data = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (1280, 720), (20, 200, 20)).save(data, format="JPEG", exif=exif.tobytes())
    jpeg, size, hash_ = make_thumbnail(data.getvalue())
    assert size == (360, 640)  # upright, long side 640
    img = Image.open(io.BytesIO(jpeg))
    assert img.format == "JPEG" and img.size == size and len(img.getexif()) == 0
    assert len(hash_) == 36
    with pytest.raises(MediaRejected, match="thumbnail"):
        make_thumbnail(b"GIF89a-nope")


def test_blurhash_is_plausible(tmp_path, workdir):
    result = run(make_video(tmp_path / "v.mp4", width=320, height=192), workdir)
    hash_ = result.blurhash
    assert re.fullmatch(r"[0-9A-Za-z#$%*+,\-.:;=?@\[\]^_{|}~]{36}", hash_)
    assert hash_[0] == "U"  # size flag: 4x4 components
    decoded = np.asarray(blurhash.decode(hash_, 16, 10), dtype=np.float32)
    thumb = np.asarray(Image.open(io.BytesIO(result.thumbnail)).convert("RGB"), dtype=np.float32)
    assert np.abs(decoded.reshape(-1, 3).mean(axis=0) - thumb.reshape(-1, 3).mean(axis=0)).max() < 25
    # the top-left of the picture is the blue marker, the right side the red of the gradient
    assert decoded[0, 0, 2] > decoded[0, 0, 0]
    assert decoded[8, 15, 0] > decoded[8, 15, 2]


def test_video_meta(tmp_path, workdir):
    src = make_video(tmp_path / "v.webm", codec="vp9", width=320, height=180, seconds=2.0, fps=30, audio=True)
    meta = run(src, workdir).meta
    assert meta["length"] == "0:00:02.00"
    assert meta["duration"] == pytest.approx(2.0, abs=0.05)
    assert meta["fps"] == 30
    assert (meta["size"], meta["width"], meta["height"]) == ("320x180", 320, 180)
    assert meta["aspect"] == pytest.approx(16 / 9)
    assert (meta["audio_encode"], meta["audio_bitrate"], meta["audio_channels"]) == ("aac", "48000 Hz", "stereo")
    original = meta["original"]
    assert (original["width"], original["height"], original["frame_rate"]) == (320, 180, "30/1")
    assert original["duration"] == pytest.approx(2.0, abs=0.05)
    assert isinstance(original["bitrate"], int) and original["bitrate"] > 0
    assert meta["small"] == {"width": 320, "height": 180, "size": "320x180", "aspect": pytest.approx(16 / 9)}
    assert "focus" not in meta


def test_progress_increases_to_one(tmp_path, workdir):
    src = make_video(tmp_path / "v.webm", codec="vp9", seconds=3.0, fps=25)
    calls: list[float] = []
    run(src, workdir, progress=calls.append)
    assert len(calls) >= 3
    assert all(b > a for a, b in zip(calls, calls[1:]))
    assert all(0.0 <= c <= 1.0 for c in calls)
    assert calls[-1] == 1.0
    kept: list[float] = []
    run(make_video(tmp_path / "ok.mp4"), workdir, progress=kept.append)
    assert kept == [1.0]
