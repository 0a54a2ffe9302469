"""Large still images are processed in bounded memory.

A PNG of 10,000 x 10,000 pixels is a 0.3 MB file (inside the 100-megapixel limit)
but 400 MB of pixels once decoded.  Processing one used to hold about 1.1 GB
(copies of the full picture while turning and scaling it), and uploads at once added
up (three: 3.4 GB).  Now nothing full-size is copied and concurrent decodes share one
memory budget.  Measured in a fresh subprocess: its peak resident size
(``ru_maxrss``) over what it had after importing the media code.  Figures:
docs/PERFORMANCE.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.media_samples import flat_png_file

# Processing two such uploads at once, on top of the process's own memory.  Today: about
# 630 MiB (one decode at a time: 400 MB of pixels, the scaler's passes, the 4096 result);
# before: about 2,250 MiB.
BOUND_MIB = 850
SCRIPT = """
import json, resource, sys, threading
from pathlib import Path
from fedisora.media import processing
src, work = Path(sys.argv[1]), Path(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
results, errors = [], []
def one(i):
    out = work / str(i)
    out.mkdir()
    try:
        results.append(processing.process_file(src, out, processing.MediaLimits()).meta["original"])
    except BaseException as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=one, args=(i,)) for i in range(int(sys.argv[3]))]
[t.start() for t in threads]
[t.join() for t in threads]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kib": before, "peak_kib": peak, "results": results, "errors": errors}))
"""


def process_in_subprocess(src: Path, work: Path, count: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(src), str(work), str(count)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_ten_thousand_pixel_pngs_at_once_stay_within_bounded_memory(tmp_path: Path) -> None:
    src = flat_png_file(tmp_path / "big.png", 10_000, 10_000)
    assert src.stat().st_size < 1_000_000
    work = tmp_path / "work"
    work.mkdir()
    report = process_in_subprocess(src, work, 2)
    assert report["errors"] == []
    assert report["results"] == [{"width": 4096, "height": 4096, "size": "4096x4096", "aspect": 1.0}] * 2
    grown_mib = (report["peak_kib"] - report["before_kib"]) / 1024
    assert grown_mib < BOUND_MIB, f"processing two 100-megapixel PNGs took {grown_mib:.0f} MiB"
    # What was published is the picture, scaled down.
    [out] = [p for p in (work / "0").iterdir() if p.suffix == ".png"]
    with Image.open(out) as img:
        assert img.size == (4096, 4096) and img.getpixel((2000, 2000)) == (200, 30, 30)
