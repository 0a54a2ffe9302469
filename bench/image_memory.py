"""Benchmark: peak memory of processing large still images, one and several at once.

Run from the repository root::

    .venv/bin/python bench/image_memory.py [--side 10000] [--counts 1,3] [--root DIR]

Makes a one-colour PNG (written row by row: 0.3 MB for 10,000 x 10,000) and a JPEG
of ``--side`` x ``--side`` pixels, then, for each and for each count, runs
:func:`fedisora.media.processing.process_file` on that many copies at once (one
thread each, as concurrent uploads are) in a fresh Python process, and prints its
peak resident size (``ru_maxrss``) and how much it grew over the process after
importing the media code.  ``--root`` measures another checkout (e.g. the code
before a change).  See docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.media_samples import flat_png_file  # noqa: E402

CHILD = """
import json, resource, sys, threading, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import fedisora
from fedisora.media import processing
assert fedisora.__file__.startswith(sys.argv[1]), fedisora.__file__
src, work, count = Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
began = time.monotonic()
def one(i):
    out = work / str(i)
    out.mkdir(parents=True)
    processing.process_file(src, out, processing.MediaLimits())
threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
[t.start() for t in threads]
[t.join() for t in threads]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before": before / 1024, "peak": peak / 1024, "seconds": time.monotonic() - began}))
"""

MAKE_JPEG = """
import sys
from PIL import Image, ImageDraw
side = int(sys.argv[2])
img = Image.new("RGB", (side, side), (200, 30, 30))
draw = ImageDraw.Draw(img)
for i in range(0, side, max(1, side // 20)):
    draw.line((0, i, side, side - i), fill=(i % 255, 90, 200), width=9)
img.save(sys.argv[1], quality=85)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=10_000)
    parser.add_argument("--counts", default="1,3")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose fedisora to measure")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        png = flat_png_file(Path(tmp) / "big.png", args.side, args.side)
        jpeg = Path(tmp) / "big.jpg"
        subprocess.run([sys.executable, "-c", MAKE_JPEG, str(jpeg), str(args.side)], check=True)
        print(f"code: {args.root.resolve()}")
        print(f"{'image':>18} | {'file MB':>7} | {'at once':>7} | {'peak MiB':>8} | {'grew MiB':>8} | {'seconds':>7}")
        for src in (png, jpeg):
            for count in counts:
                work = Path(tmp) / f"work-{src.suffix[1:]}-{count}"
                done = subprocess.run(
                    [sys.executable, "-c", CHILD, str(args.root.resolve()), str(src), str(work), str(count)],
                    check=True, capture_output=True, text=True,
                )  # fmt: skip
                r = json.loads(done.stdout.strip().splitlines()[-1])
                name = f"{args.side}x{args.side} {src.suffix[1:].upper()}"
                print(
                    f"{name:>18} | {src.stat().st_size / 1e6:7.2f} | {count:7d} | {r['peak']:8.0f} | "
                    f"{r['peak'] - r['before']:8.0f} | {r['seconds']:7.1f}"
                )


if __name__ == "__main__":
    main()
