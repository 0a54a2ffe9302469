"""A real Fedify server (tests/fedify/server.mjs, npm ``@fedify/fedify``) as a test peer.

:func:`install` puts the pinned npm packages (tests/fedify/package-lock.json) into a cache
directory outside the repository, ``$XDG_CACHE_HOME/fedisora-fedify/<lock digest>`` (or
``~/.cache/…``), once: ``npm ci`` runs only when that directory is missing.  Without
``node`` and ``npm`` the tests are skipped, saying so; in CI (``CI=true`` or
``FEDISORA_TEST_REQUIRE_NODE=1``, set by .ci/run) that is a failure instead.

:class:`FedifyPeer` runs the server on a free loopback port and drives its control API
(``/_test/…``, see server.mjs) with an async client, so that the fedisora app serving in
the same event loop keeps answering Fedify's requests while a test waits.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from activitypub.jsonld import loader
from tests.processes import clean_env, free_port

SOURCE = Path(__file__).parent / "fedify"
NODE_MAJOR = 20
INSTALL_TIMEOUT = 300.0


def required() -> bool:
    """Whether a missing Node.js must fail the run (CI) instead of skipping."""
    return os.environ.get("CI", "").lower() in {"1", "true"} or os.environ.get("FEDISORA_TEST_REQUIRE_NODE") == "1"


def unavailable(reason: str) -> None:
    if required():
        pytest.fail(f"Fedify interop tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"Fedify interop tests need Node.js {NODE_MAJOR}+ with npm: {reason}")


def _node() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        unavailable("`node` and `npm` are not both on PATH")
        raise AssertionError("unreachable")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        major = 0
    if major < NODE_MAJOR:
        unavailable(f"`node --version` says {version!r}")
    return node, npm


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fedisora-fedify"


def install() -> tuple[str, Path]:
    """``(node, directory with node_modules)``: the pinned packages, installed once."""
    node, npm = _node()
    lock = (SOURCE / "package.json").read_bytes() + (SOURCE / "package-lock.json").read_bytes()
    target = cache_root() / hashlib.sha256(lock).hexdigest()[:16]
    if not (target / "node_modules" / ".package-lock.json").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="install-", dir=target.parent))
        for name in ("package.json", "package-lock.json"):
            shutil.copy(SOURCE / name, staging / name)
        try:
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=staging, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, env=clean_env(),
            )
            failure = f"exit {done.returncode}: {done.stderr.strip()[-800:]}" if done.returncode else None
        except subprocess.TimeoutExpired:
            failure = f"no answer within {INSTALL_TIMEOUT:.0f}s"
        if failure is not None:
            shutil.rmtree(staging, ignore_errors=True)
            unavailable(f"`npm ci` in {staging} failed ({failure})")
        try:
            staging.rename(target)  # atomic; another run may have won the race
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return node, target


def _contexts_file(directory: Path) -> Path:
    """Every JSON-LD context fedisora bundles, ``{url: document}``, for the peer's loader."""
    import fedisora.attestations.vocabulary  # noqa: F401  (registers our own context)

    documents = {f"https://{key}": loader.lookup(f"https://{key}") for key in loader.bundled_keys()}
    path = directory / "contexts.json"
    path.write_text(json.dumps(documents))
    return path


class FedifyPeer:
    """The running Fedify server: ``actor`` is its one account (``/users/fedi``)."""

    def __init__(self, node: str, modules: Path, workdir: Path) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.actor = f"{self.origin}/users/fedi"
        script = SOURCE / "server.mjs"
        # Node resolves packages from the script's directory upwards: the script goes
        # next to the cached node_modules, under a name that changes with its content.
        digest = hashlib.sha256(script.read_bytes()).hexdigest()[:12]
        self.script = modules / f"server-{digest}.mjs"
        if not self.script.is_file():
            partial = modules / f".server-{digest}-{os.getpid()}.mjs"
            shutil.copy(script, partial)
            partial.replace(self.script)
        self.log_path = workdir / "fedify.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [node, str(self.script)],
            cwd=workdir,
            env=clean_env({"PORT": str(self.port), "CONTEXTS": str(_contexts_file(workdir))}),
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(f"the Fedify server exited with {self.proc.returncode}\n{self.log()}")
                try:
                    if client.get(f"{self.origin}/_test/ready").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise AssertionError(f"the Fedify server did not start within {timeout:.0f}s\n{self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def complaints(self, since: int = 0, limit: int = 20) -> str:
        """The first line of each warning and error Fedify logged after the first ``since``
        characters of its log (its log records are long)."""
        lines = self.log()[since:].splitlines()
        picked = []
        for number, line in enumerate(lines):
            if re.match(r"\d\d:\d\d:\d\d\.\d+ (WRN|ERR|FTL) ", line):
                if line.endswith(":") and number + 1 < len(lines):  # the error is on the next line
                    line = f"{line} {lines[number + 1].strip()}"
                picked.append(line[:400])
        return "\n".join(picked[-limit:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    async def call(self, path: str, body: dict[str, Any] | None = None, *, timeout: float = 60.0) -> Any:
        """One control request; a failure (Fedify threw) is an assertion error with its message."""
        async with httpx.AsyncClient(timeout=timeout) as client:
            if body is None:
                response = await client.get(f"{self.origin}/_test/{path}")
            else:
                response = await client.post(f"{self.origin}/_test/{path}", json=body)
        if response.status_code != 200:
            raise AssertionError(f"Fedify /_test/{path} failed: {response.text[:2000]}\n--- refused ---\n"
                                 f"{json.dumps(await self.refused(), indent=1)[:3000]}")
        return response.json()

    async def received(self) -> list[dict[str, Any]]:
        return await self.call("received")  # type: ignore[no-any-return]

    async def refused(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=10.0) as client:
            return (await client.get(f"{self.origin}/_test/refused")).json()  # type: ignore[no-any-return]
