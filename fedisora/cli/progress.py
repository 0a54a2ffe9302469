"""A dependency-free progress bar for long CLI work (migrations, imports, generation).

On a terminal it redraws one line; elsewhere (CI logs, pipes) it prints one
line per step so logs stay readable.
"""

from __future__ import annotations

import sys
from typing import TextIO

WIDTH = 28


class ProgressBar:
    def __init__(self, label: str, *, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last = ""

    def update(self, message: str, done: int, total: int) -> None:
        if total <= 0:
            return
        filled = int(WIDTH * done / total)
        bar = "#" * filled + "-" * (WIDTH - filled)
        line = f"{self.label} [{bar}] {done}/{total} {message}"
        if self.tty:
            self.stream.write("\r\033[K" + line)
            if done >= total:
                self.stream.write("\n")
        elif line != self._last:
            self.stream.write(line + "\n")
        self._last = line
        self.stream.flush()
