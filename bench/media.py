"""Benchmark: how long a video upload takes to become ``ready``, against a bare PyAV transcode.

Run from the repository root::

    .venv/bin/python bench/media.py [--seconds 10] [--repeat 3] [--height 720] [--clips ...]

For each synthetic clip (built here with PyAV, into a temporary directory) and
each of ``--repeat`` rounds, three things are timed on the same file, one after
the other, in the same process:

``baseline``
    a bare PyAV transcode: demux, decode (threaded), scale to the size our
    pipeline produces, libx264 with the transcoder's own options
    (:data:`fedisora.media.video.X264_OPTIONS`, yuv420p), audio copied when it
    is AAC and encoded to AAC otherwise, into a faststart MP4.  This is the
    least work that turns the file into what we serve.
``process``
    :func:`fedisora.media.processing.process_file` alone: sniff, probe, plan,
    keep/remux/transcode, poster frame, thumbnail, blurhash, probe of the output.
``fedisora``
    the whole path a client sees: ``POST /api/v2/media`` to the app in process
    (a fresh instance: its own ``instance.toml``, SQLite database migrated with
    :func:`fedisora.db.migrate.upgrade`, an account and a token), the
    ``process_media`` job run by an in-process :class:`~fedisora.jobs.runner.JobRunner`
    (as ``fedisora serve`` runs them: ``server.workers`` runners, polling the
    queue every ``--job-poll`` seconds), and ``GET /api/v1/media/:id`` polled
    every ``--poll`` seconds until it answers 200 with ``state: ready``.

Two tables give the medians of the rounds, in wall-clock seconds and in CPU
seconds of this process (all threads), with the ratios ``process / baseline``
and ``fedisora / baseline`` (the figure to watch; the aim is <= 1.2 for clips
that are transcoded).  Rounds interleave the three measurements so that a
change in the machine's load touches all of them alike.  See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere, without installing

import av  # noqa: E402
import httpx  # noqa: E402
import numpy as np  # noqa: E402
from av.video.reformatter import VideoReformatter  # noqa: E402
from PIL import Image  # noqa: E402

from fedisora.media.probe import probe  # noqa: E402
from fedisora.media.processing import MediaLimits, process_file  # noqa: E402
from fedisora.media.video import OUTPUT_OPTIONS, X264_OPTIONS, plan, target_size  # noqa: E402

# --- the clips -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClipSpec:
    name: str
    what: str  # for the table's legend
    container: str  # "mp4" or "webm"
    video_codec: str  # PyAV encoder
    audio_codec: str
    width: int
    height: int


def clip_specs(height: int) -> dict[str, ClipSpec]:
    width = int(round(height * 16 / 9)) // 2 * 2
    return {
        "h264": ClipSpec(f"h264-{height}p", f"{width}x{height} H.264+AAC MP4, faststart, no tags",
                         "mp4", "libx264", "aac", width, height),
        "vp9": ClipSpec(f"vp9-{height}p", f"{width}x{height} VP9+Opus WebM (every stream re-encoded)",
                        "webm", "libvpx-vp9", "libopus", width, height),
        "1440p": ClipSpec("h264-1440p", "2560x1440 H.264+AAC MP4 (scaled down to 1080p, audio copied)",
                          "mp4", "libx264", "aac", 2560, 1440),
    }


FPS = 30
AUDIO_RATE = 48000


def _texture(height: int, width: int, seed: int = 7) -> np.ndarray:
    """A fixed picture with coarse and fine detail (smooth gradients compress unrealistically well)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (max(2, height // 48), max(2, width // 48), 3), dtype=np.uint8)
    img = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), dtype=np.int16)
    medium = rng.integers(0, 256, (max(2, height // 6), max(2, width // 6), 3), dtype=np.uint8)
    img += (np.asarray(Image.fromarray(medium).resize((width, height), Image.BILINEAR), dtype=np.int16) - 128) // 4
    img += rng.integers(-6, 7, (height, width, 1), dtype=np.int16)  # grain that pans with the picture
    return np.clip(img, 0, 255).astype(np.uint8)


def make_clip(path: Path, spec: ClipSpec, seconds: float) -> Path:
    """Write ``spec`` as ``seconds`` of a panning textured picture with a moving box, and a tone."""
    w, h = spec.width, spec.height
    n_frames = max(1, round(seconds * FPS))
    pan_x, pan_y = 2, 1  # pixels per frame: the camera pans right and down
    texture = _texture(h + pan_y * n_frames + 2, w + pan_x * n_frames + 2)
    box = max(8, h // 6)
    if spec.container == "mp4":
        options = dict(OUTPUT_OPTIONS)  # faststart, and bitexact: no "encoder" tags
        fmt = "mp4"
    else:
        options = {"fflags": "+bitexact"}
        fmt = "webm"
    rate = Fraction(FPS)
    with av.open(str(path), "w", format=fmt, options=options) as out:
        vs = out.add_stream(spec.video_codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        if spec.video_codec == "libx264":
            vs.options = {"preset": "veryfast", "crf": "20"}  # about what a phone writes at this size
        else:
            vs.options = {"deadline": "realtime", "cpu-used": "8", "crf": "30", "b": "0", "row-mt": "1"}
        aus = out.add_stream(spec.audio_codec, rate=AUDIO_RATE, layout="stereo")
        aus.bit_rate = 128_000
        audio_done = 0
        chunk = 960
        for i in range(n_frames):
            y0, x0 = i * pan_y, i * pan_x
            img = texture[y0 : y0 + h, x0 : x0 + w].copy()
            bx = (i * 7) % max(w - box, 1)
            img[h // 2 - box // 2 : h // 2 + box // 2, bx : bx + box] = (240, 240, 40)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = 1 / rate
            for packet in vs.encode(frame):
                out.mux(packet)
            until = round((i + 1) / FPS * AUDIO_RATE)
            while audio_done + chunk <= until:
                t = (audio_done + np.arange(chunk)) / AUDIO_RATE
                tone = (0.2 * np.sin(2 * math.pi * 440 * t) + 0.05 * np.sin(2 * math.pi * 1250 * t)).astype(np.float32)
                afr = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
                afr.sample_rate = AUDIO_RATE
                afr.pts = audio_done
                afr.time_base = Fraction(1, AUDIO_RATE)
                for packet in aus.encode(afr):
                    out.mux(packet)
                audio_done += chunk
        for packet in vs.encode():
            out.mux(packet)
        for packet in aus.encode():
            out.mux(packet)
    return path


# --- baseline: a bare PyAV transcode -----------------------------------------------------------


def bare_transcode(src: Path, dst: Path, width: int, height: int) -> None:
    """Decode ``src`` and encode it as our transcoder's H.264 (+AAC) at ``width`` x ``height``."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4", options=dict(OUTPUT_OPTIONS)) as out:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        ain = inp.streams.audio[0] if inp.streams.audio else None
        vout = out.add_stream("libx264", rate=vin.average_rate or Fraction(FPS))
        vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
        vout.time_base = vin.time_base
        vout.codec_context.time_base = vin.time_base
        vout.options = dict(X264_OPTIONS)
        aout, copy_audio = None, False
        if ain is not None:
            if ain.codec_context.name == "aac":
                aout, copy_audio = out.add_stream_from_template(ain), True
            else:
                ain.thread_type = "AUTO"
                aout = out.add_stream("aac", rate=48000, layout="stereo")
                aout.bit_rate = 128_000
        scaler = VideoReformatter()
        for packet in inp.demux(*[s for s in (vin, ain) if s is not None]):
            if packet.stream is ain:
                if copy_audio:
                    if packet.dts is not None:
                        packet.stream = aout
                        out.mux(packet)
                else:
                    for frame in packet.decode():
                        for p in aout.encode(frame):
                            out.mux(p)
                continue
            for frame in packet.decode():
                if (frame.width, frame.height, frame.format.name) != (width, height, "yuv420p"):
                    frame = scaler.reformat(frame, width=width, height=height, format="yuv420p")
                for p in vout.encode(frame):
                    out.mux(p)
        for p in vout.encode():
            out.mux(p)
        if aout is not None and not copy_audio:
            for p in aout.encode():
                out.mux(p)


# --- the whole path: an instance in process -------------------------------------------------------

RATE_LIMIT_BUDGET = 250  # GETs per token; the API allows 300 per token per 5 minutes


@dataclass
class Timings:
    post: float = 0.0  # the upload's answer (202)
    job_start: float = 0.0
    job_end: float = 0.0
    ready: float = 0.0  # the GET that said ready
    cpu: float = 0.0  # CPU seconds this process used from the POST to the GET that said ready
    polls: int = 0


@dataclass
class Bench:
    directory: Path
    job_poll: float
    poll: float
    app: Any = None
    state: Any = None
    client: httpx.AsyncClient | None = None
    tokens: list[str] = field(default_factory=list)
    marks: dict[int, list[float]] = field(default_factory=dict)  # media id -> [job start, job end]
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _runner_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from fedisora.accounts.service import create_account, ensure_instance_actor
        from fedisora.app import create_app
        from fedisora.db.migrate import upgrade
        from fedisora.jobs.runner import JobRunner
        from fedisora.media.jobs import PROCESS_MEDIA
        from fedisora.workers import job_handlers
        from instance_config import parse_config, render_config

        self.directory.mkdir(parents=True, exist_ok=True)
        url = f"sqlite+aiosqlite:///{self.directory}/fedisora.db"
        path = self.directory / "instance.toml"
        path.write_text(render_config("bench.example", database_url=url))
        config = parse_config(path.read_text(), path=path, env={})
        await upgrade(url)
        self.app = create_app(config, run_workers=False)
        await self._stack.enter_async_context(self.app.router.lifespan_context(self.app))
        self.state = self.app.state.fedisora
        async with self.state.sessions() as session:
            await ensure_instance_actor(session, config)
            await create_account(session, config, "bench")
            await session.commit()
        self.client = await self._stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app, raise_app_exceptions=False),
                base_url=config.base_url,
                timeout=None,
            )
        )
        # The job runners, as `fedisora serve` starts them (see fedisora.workers.Workers),
        # with process_media wrapped to note when it starts and ends.
        handlers = job_handlers(self.state)
        inner = handlers[PROCESS_MEDIA]

        async def timed_process_media(ctx: Any) -> None:
            media_id = int(str(ctx.payload.get("media_id")))
            marks = self.marks.setdefault(media_id, [0.0, 0.0])
            marks[0] = time.perf_counter()
            try:
                await inner(ctx)
            finally:
                marks[1] = time.perf_counter()

        handlers[PROCESS_MEDIA] = timed_process_media
        runner = JobRunner(
            self.state.engine, handlers, concurrency=max(1, config.server.workers), poll_interval=self.job_poll
        )
        self._runner_task = asyncio.create_task(runner.run_forever(self._stop))

    async def close(self) -> None:
        self._stop.set()
        if self._runner_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._runner_task, 30)
        await self._stack.aclose()

    async def new_token(self) -> str:
        from sqlmodel import select

        from fedisora.db.models import Actor, User
        from fedisora.oauth.apps import register_app
        from fedisora.oauth.tokens import issue_token

        scopes = "read write"
        async with self.state.sessions() as session:
            query = select(User.id).join(Actor, Actor.id == User.actor_id).where(Actor.local, Actor.username == "bench")
            user_id = (await session.exec(query)).one()
            app = await register_app(session, name="bench", redirect_uris="urn:ietf:wg:oauth:2.0:oob", scopes=scopes)
            issued = await issue_token(session, application_id=app.app.id, user_id=user_id, scopes=scopes.split())
            await session.commit()
            return issued.access_token

    async def upload_until_ready(self, data: bytes, name: str, mime: str, timeout: float = 900.0) -> Timings:
        """Upload ``data`` and poll until it is ready; times are seconds since the POST began."""
        assert self.client is not None
        # Fresh tokens, issued before the clock starts, so that polling stays within the rate limit.
        tokens = [await self.new_token() for _ in range(4)]
        used = 0
        timings = Timings()
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        response = await self.client.post(
            "/api/v2/media",
            files={"file": (name, data, mime)},
            headers={"Authorization": f"Bearer {tokens[0]}"},
        )
        timings.post = time.perf_counter() - t0
        if response.status_code not in (200, 202):
            raise RuntimeError(f"upload answered {response.status_code}: {response.text[:300]}")
        media_id = response.json()["id"]
        while True:
            if response.status_code == 200 and response.json().get("fedisora", {}).get("state", "ready") == "ready":
                break
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"media {media_id} not ready after {timeout:g} s")
            await asyncio.sleep(self.poll)
            used += 1
            if used // RATE_LIMIT_BUDGET >= len(tokens):
                tokens.append(await self.new_token())  # rare: a very slow run
            token = tokens[used // RATE_LIMIT_BUDGET]
            response = await self.client.get(f"/api/v1/media/{media_id}", headers={"Authorization": f"Bearer {token}"})
            timings.polls += 1
            if response.status_code not in (200, 206):
                raise RuntimeError(f"GET media answered {response.status_code}: {response.text[:300]}")
        timings.ready = time.perf_counter() - t0
        timings.cpu = time.process_time() - cpu0
        # The row turns ready inside the job, before the handler returns: wait for its end
        # (outside the measured time) so that the breakdown is complete.
        marks = self.marks.setdefault(int(media_id), [0.0, 0.0])
        deadline = time.perf_counter() + 30
        while not marks[1] and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        start, end = (marks[0] or t0), (marks[1] or t0)
        timings.job_start, timings.job_end = start - t0, end - t0
        return timings


# --- running it ----------------------------------------------------------------------------------


def _timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, all threads, the result) of ``fn()``."""
    t, c = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - t, time.process_time() - c, result


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _cpu_info() -> str:
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ""
    with contextlib.suppress(OSError):
        load = ", load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{usable} CPUs usable ({os.cpu_count()} online), {name}{load}"


async def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    specs = clip_specs(args.height)
    chosen = [specs[key] for key in args.clips]
    limits = MediaLimits()  # the instance defaults, as the fresh instance below uses
    print(f"fedisora media benchmark: {args.seconds:g} s clips, {FPS} fps, {args.repeat} round(s)")
    print(f"machine: {_cpu_info()}")
    print(f"python {platform.python_version()}, PyAV {av.__version__}, FFmpeg {av.library_versions['libavcodec']}")
    print(f"x264 options: {X264_OPTIONS}; job queue poll {args.job_poll:g} s, GET poll {args.poll:g} s")
    print()
    root = Path(tempfile.mkdtemp(prefix="fedisora-bench-", dir=args.tmp))
    bench = Bench(root / "instance", job_poll=args.job_poll, poll=args.poll)
    results: dict[str, dict[str, list[float]]] = {}
    breakdown: dict[str, list[Timings]] = {}
    try:
        clips: dict[str, tuple[Path, tuple[int, int], str]] = {}
        for spec in chosen:
            path = root / f"{spec.name}.{spec.container}"
            seconds, _, _ = _timed(lambda: make_clip(path, spec, args.seconds))
            info = probe(path)
            target = plan(info, limits)
            size = target_size(*info.display_size, limits.max_video_long_side)
            reasons = f" ({'; '.join(target.reasons)})" if target.reasons else ""
            print(f"clip {spec.name}: {spec.what}; {path.stat().st_size / 1e6:.1f} MB, {info.duration:.2f} s, "
                  f"built in {seconds:.1f} s; pipeline: {target.action}{reasons} -> {size[0]}x{size[1]}")
            clips[spec.name] = (path, size, "video/mp4" if spec.container == "mp4" else "video/webm")
        print()
        await bench.start()
        for round_ in range(1, args.repeat + 1):
            for name, (path, (width, height), mime) in clips.items():
                row = results.setdefault(name, {k: [] for k in ("baseline", "process", "fedisora",
                                                                "baseline_cpu", "process_cpu", "fedisora_cpu")})
                out = root / "out"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                base, base_cpu, _ = await asyncio.to_thread(
                    _timed, lambda: bare_transcode(path, out / "bare.mp4", width, height)
                )
                proc, proc_cpu, media = await asyncio.to_thread(
                    _timed, lambda: process_file(path, out, limits, declared_type="video")
                )
                data = path.read_bytes()
                timings = await bench.upload_until_ready(data, path.name, mime)
                row["baseline"].append(base)
                row["process"].append(proc)
                row["fedisora"].append(timings.ready)
                row["baseline_cpu"].append(base_cpu)
                row["process_cpu"].append(proc_cpu)
                row["fedisora_cpu"].append(timings.cpu)
                breakdown.setdefault(name, []).append(timings)
                action = "transcoded" if media.transcoded else "remuxed" if media.remuxed else "kept"
                print(f"round {round_} {name:>12}: baseline {base:6.2f} s ({base_cpu:5.2f} cpu)  "
                      f"process {proc:6.2f} s ({proc_cpu:5.2f} cpu, {action})  "
                      f"fedisora {timings.ready:6.2f} s ({timings.cpu:5.2f} cpu)  [202 after {timings.post:.2f} s, "
                      f"job {timings.job_start:.2f}-{timings.job_end:.2f} s, {timings.polls} GETs]", flush=True)
    finally:
        await bench.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"files kept in {root}")

    print()
    print(f"wall-clock seconds, median of {args.repeat} round(s); ratio = median / median baseline "
          "(aim: fedisora <= 1.2 where transcoded)")
    header = (f"{'clip':>12} | {'baseline s':>10} | {'process s':>9} | {'fedisora s':>10} | {'process/base':>12} | "
              f"{'fedisora/base':>13} | {'queue wait s':>12} | {'after job s':>11} | fedisora/base by round")
    print(header)
    print("-" * len(header))
    for name, row in results.items():
        base, proc, full = (_median(row[k]) for k in ("baseline", "process", "fedisora"))
        wait = _median([t.job_start - t.post for t in breakdown[name]])
        after = _median([t.ready - t.job_end for t in breakdown[name]])
        rounds = " ".join(f"{f / b:.2f}" for f, b in zip(row["fedisora"], row["baseline"]))
        print(f"{name:>12} | {base:10.2f} | {proc:9.2f} | {full:10.2f} | {proc / base:12.2f} | {full / base:13.2f} "
              f"| {wait:12.2f} | {after:11.2f} | {rounds}")
    print()
    print("CPU seconds of this process (all threads; less sensitive to other load on the machine), medians:")
    header = (f"{'clip':>12} | {'baseline s':>10} | {'process s':>9} | {'fedisora s':>10} | {'process/base':>12} | "
              f"{'fedisora/base':>13} | fedisora/base by round")
    print(header)
    print("-" * len(header))
    for name, row in results.items():
        base, proc, full = (_median(row[k]) for k in ("baseline_cpu", "process_cpu", "fedisora_cpu"))
        rounds = " ".join(f"{f / b:.2f}" for f, b in zip(row["fedisora_cpu"], row["baseline_cpu"]))
        print(f"{name:>12} | {base:10.2f} | {proc:9.2f} | {full:10.2f} | {proc / base:12.2f} | {full / base:13.2f} "
              f"| {rounds}")
    print()
    print(f"machine: {_cpu_info()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each clip (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the table shows medians (default 3)")
    parser.add_argument("--height", type=int, default=720, help="height of the h264 and vp9 clips (default 720)")
    parser.add_argument(
        "--clips", default="h264,vp9,1440p",
        type=lambda s: [c.strip() for c in s.split(",") if c.strip()],
        help="which clips, comma-separated, of: h264, vp9, 1440p (default all)",
    )
    parser.add_argument("--job-poll", type=float, default=1.0,
                        help="seconds an idle job runner waits before looking again (serve's default: 1)")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between GET /api/v1/media/:id (default 0.2)")
    parser.add_argument("--tmp", default=None, help="where the temporary directory goes (default: the system's)")
    parser.add_argument("--keep", action="store_true", help="keep the clips and the instance afterwards")
    args = parser.parse_args(argv)
    unknown = [c for c in args.clips if c not in clip_specs(args.height)]
    if unknown or not args.clips:
        parser.error(f"unknown clip(s) {', '.join(unknown) or '(none)'}; choose from h264, vp9, 1440p")
    if args.repeat < 1 or args.seconds <= 0 or args.height < 16:
        parser.error("--repeat must be >= 1, --seconds > 0, --height >= 16")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
