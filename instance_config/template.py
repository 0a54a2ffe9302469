"""Writing a new ``instance.toml`` from the commented example.

``fedisora init`` starts from :data:`EXAMPLE_PATH` and changes only the values
it must, so the admin's file keeps every comment and every default.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .schema import split_host_port

EXAMPLE_PATH = Path(__file__).with_name("instance.example.toml")


def example_text() -> str:
    return EXAMPLE_PATH.read_text(encoding="utf-8")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a TOML value")


def set_value(text: str, section: str, key: str, value: Any) -> str:
    """Replace ``key = …`` inside ``[section]`` of ``text``, keeping the comment after it."""
    header = re.search(rf"^\[{re.escape(section)}\]\s*$", text, re.MULTILINE)
    if not header:
        raise KeyError(f"no [{section}] section in the template")
    end = re.search(r"^\[", text[header.end() :], re.MULTILINE)
    stop = header.end() + end.start() if end else len(text)
    body = text[header.end() : stop]
    line = re.compile(rf"^{re.escape(key)}\s*=\s*[^#\n]*?(\s*#.*)?$", re.MULTILINE)
    if not line.search(body):
        raise KeyError(f"no {key} in [{section}] of the template")
    body = line.sub(lambda m: f"{key} = {_toml_value(value)}{m.group(1) or ''}", body, count=1)
    return text[: header.end()] + body + text[stop:]


def render_config(
    domain: str,
    *,
    dev: bool = False,
    name: str | None = None,
    data_dir: str = ".",
    database_url: str | None = None,
) -> str:
    """The text of a new instance.toml for ``domain``; ``dev`` selects http and dev federation.

    A dev instance (a loopback domain, no proxy in front) listens on its domain's port
    (``localhost:18000`` -> ``[server] port = 18000``; no port is http's 80), so its URLs
    reach it as they are.
    """
    text = example_text()
    text = set_value(text, "instance", "domain", domain)
    if name:
        text = set_value(text, "instance", "name", name)
    text = set_value(text, "server", "data_dir", data_dir)
    if database_url:
        text = set_value(text, "database", "url", database_url)
    if dev:
        text = set_value(text, "server", "scheme", "http")
        text = set_value(text, "federation", "dev", True)
        text = set_value(text, "instance", "registrations", "open")
        _, port = split_host_port(domain)
        text = set_value(text, "server", "port", 80 if port is None else port)
    return text
