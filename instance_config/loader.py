"""Reading ``instance.toml``, applying environment overrides, and explaining failures.

The loader fails fast: one :class:`ConfigError` whose message names the file,
the key and what was expected, so an admin can fix the file without reading code.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .schema import Config

ENV_PREFIX = "FEDISORA_"
ENV_CONFIG_PATH = "FEDISORA_CONFIG"
DEFAULT_CONFIG_PATH = Path("instance") / "instance.toml"


class ConfigError(Exception):
    """The configuration cannot be used; ``str(error)`` is a message for the admin."""


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$FEDISORA_CONFIG`` if set, else ``./instance/instance.toml``."""
    env = os.environ if env is None else env
    return Path(env.get(ENV_CONFIG_PATH) or DEFAULT_CONFIG_PATH)


def _parse_env_value(raw: str) -> Any:
    """Read an override as a TOML value (``8080``, ``true``, ``["en", "de"]``), else as a string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def env_overrides(env: Mapping[str, str]) -> dict[tuple[str, str], tuple[str, Any]]:
    """``FEDISORA_<SECTION>__<KEY>`` variables as ``{(section, key): (variable, value)}``."""
    found: dict[tuple[str, str], tuple[str, Any]] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].partition("__")
        if not section or not key:
            raise ConfigError(f"{name}: expected FEDISORA_<SECTION>__<KEY>, e.g. FEDISORA_SERVER__PORT")
        found[(section.lower(), key.lower())] = (name, _parse_env_value(raw))
    return found


def _location(loc: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(str(part) for part in loc)


def _describe(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (not a fedisora setting; check the spelling)"
    if kind == "missing":
        return "required key is missing"
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Input should be ")
    if isinstance(error.get("input"), dict):  # a check across several keys of a table
        return message
    if "input" in error and kind not in ("model_type", "dict_type"):
        return f"expected {message}, got {error['input']!r}"
    return f"expected {message}"


def format_validation_error(
    source: str, error: ValidationError, from_env: Mapping[tuple[str, ...], str]
) -> str:
    lines = []
    for item in error.errors():
        loc = _location(item["loc"])
        key = ".".join(loc) if loc else "settings"
        origin = from_env.get(loc[:2])
        where = f"{origin} (environment)" if origin else source
        lines.append(f"{where}: {key}: {_describe(item)}")
    return "\n".join(lines)


def parse_config(
    text: str, *, path: Path | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Validate TOML text (plus overrides from ``env``) into a :class:`Config`."""
    source = str(path) if path else "<config>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None

    from_env: dict[tuple[str, ...], str] = {}
    known_sections = set(Config.model_fields) - {"path"}
    for (section, key), (variable, value) in env_overrides(env or {}).items():
        if section not in known_sections:
            raise ConfigError(
                f"{variable}: unknown section {section!r}; expected one of {sorted(known_sections)}"
            )
        table = data.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [{section}] must be a table")
        table[key] = value
        from_env[(section, key)] = variable

    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc, from_env)) from None
    config.path = path.resolve() if path else None
    return config


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load ``path`` (default: :func:`default_config_path`) with overrides from ``env``.

    ``env`` defaults to ``os.environ``; tests pass a dict to stay hermetic.
    """
    env = os.environ if env is None else env
    config_path = Path(path) if path is not None else default_config_path(env)
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{config_path}: no such file; create an instance with `fedisora init --domain DOMAIN` "
            f"or point --config / {ENV_CONFIG_PATH} at your instance.toml"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_path}: cannot read: {exc}") from None
    return parse_config(text, path=config_path, env=env)
