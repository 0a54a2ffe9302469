"""Running the installed ``fedisora`` console script as real processes, hermetically.

Every helper strips ``FEDISORA_*`` variables from the environment (a developer's
``FEDISORA_CONFIG`` must never leak into a test) and runs with an explicit
working directory.  Long-running processes (``serve``, ``worker``) are started
with :func:`start` and always ended with :func:`stop` (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

import httpx

FEDISORA = Path(sys.executable).parent / "fedisora"
CLI_TIMEOUT = 60.0

T = TypeVar("T")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``os.environ`` without any ``FEDISORA_*`` variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISORA_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def cli(
    *args: str | Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float = CLI_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``fedisora ARGS`` to completion (``env`` adds to the clean environment)."""
    return subprocess.run(
        [str(FEDISORA), *map(str, args)],
        cwd=cwd,
        env=clean_env(env),
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def parallel(*calls: Callable[[], T]) -> list[T]:
    """Run independent blocking calls (usually :func:`cli`) at once; results in order.

    Each CLI start costs about a second of imports, so independent commands
    run side by side to keep the suite fast.
    """
    with ThreadPoolExecutor(max_workers=max(1, min(len(calls), 8))) as pool:
        futures = [pool.submit(call) for call in calls]
        return [f.result() for f in futures]


def shown(result: subprocess.CompletedProcess[str]) -> str:
    """A command's outcome, for assertion messages."""
    return f"exit {result.returncode}\n--- stdout ---\n{result.stdout}--- stderr ---\n{result.stderr}"


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit 1 with exactly one ``fedisora: error: …`` line on stderr, no traceback."""
    assert result.returncode == 1, shown(result)
    assert "Traceback" not in result.stderr, shown(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, shown(result)
    assert lines[0].startswith("fedisora: error: "), shown(result)
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in the error\n{shown(result)}"
    return lines[0]


def assert_usage_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """argparse's refusal: exit 2, usage plus one ``error:`` line, no traceback."""
    assert result.returncode == 2, shown(result)
    assert "Traceback" not in result.stderr, shown(result)
    assert result.stderr.startswith("usage: fedisora"), shown(result)
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, shown(result)
    for fragment in fragments:
        assert fragment in errors[0], shown(result)


def files_under(root: Path) -> list[str]:
    """Every file (not directory) below ``root``, relative, sorted."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    """A long-running ``fedisora`` process whose output goes to a log file."""

    popen: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] = field(repr=False)

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def start(*args: str | Path, cwd: Path, log_path: Path, env: Mapping[str, str] | None = None) -> Proc:
    """Start ``fedisora ARGS`` in the background; stdout and stderr go to ``log_path``."""
    log = log_path.open("wb")
    try:
        popen = subprocess.Popen(
            [str(FEDISORA), *map(str, args)],
            cwd=cwd,
            env=clean_env(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    except BaseException:
        log.close()
        raise
    return Proc(popen, log_path, log)


def terminate(proc: Proc, timeout: float = 15.0) -> tuple[int, float]:
    """SIGTERM ``proc`` and wait: ``(exit code, seconds it took)``; killed past ``timeout``."""
    began = time.monotonic()
    if proc.popen.poll() is None:
        proc.popen.send_signal(signal.SIGTERM)
    try:
        code = proc.popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.popen.kill()
        proc.popen.wait()
        code = None
    took = time.monotonic() - began
    proc._log.close()
    return (code if code is not None else -999), took


def stop(proc: Proc) -> None:
    """Make sure ``proc`` is gone (for ``finally`` blocks): SIGTERM, then SIGKILL."""
    if proc.popen.poll() is None:
        proc.popen.send_signal(signal.SIGTERM)
        try:
            proc.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait()
    if not proc._log.closed:
        proc._log.close()


def wait_healthy(proc: Proc, port: int, timeout: float = 20.0) -> httpx.Response:
    """Poll ``/healthz`` until it answers 200; fail with the server log otherwise."""
    deadline = time.monotonic() + timeout
    last: str = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise AssertionError(
                    f"server exited with {proc.popen.returncode} before answering\n{proc.log()}"
                )
            try:
                response = client.get(f"http://127.0.0.1:{port}/healthz")
                if response.status_code == 200:
                    return response
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            time.sleep(0.1)
    raise AssertionError(f"/healthz did not answer 200 within {timeout}s ({last})\n{proc.log()}")
