"""What several commands share: the --config option and running async work."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from instance_config import Config, default_config_path, load_config

T = TypeVar("T")


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=None,
        metavar="PATH",
        help="instance.toml to use (default: $FEDISORA_CONFIG, else ./instance/instance.toml)",
    )


def config_from(args: argparse.Namespace) -> Config:
    return load_config(args.config if args.config is not None else default_config_path())


def port(text: str) -> int:
    """argparse type: a TCP port."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"port must be between 1 and 65535, got {value}")
    return value


def count_of(name: str, minimum: int, maximum: int = 64) -> Callable[[str], int]:
    """argparse type: an integer count between ``minimum`` and ``maximum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, got {text!r}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{name} must be between {minimum} and {maximum}")
        return value

    return parse


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)
