"""``fedisora config check|example``."""

from __future__ import annotations

import argparse

from instance_config import example_text
from .common import add_config_option, config_from


def cmd_check(args: argparse.Namespace) -> int:
    config = config_from(args)
    print(f"{config.path}: ok")
    print(f"  instance:  {config.instance.domain} ({config.base_url})")
    print(f"  database:  {config.database_url}")
    print(f"  data dir:  {config.data_dir}")
    print(f"  media dir: {config.media_dir}")
    if config.federation.dev:
        print("  WARNING: federation.dev is on (http:// and loopback peers allowed)")
    return 0


def cmd_example(args: argparse.Namespace) -> int:
    print(example_text(), end="")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cfg = subparsers.add_parser(
        "config", help="check the configuration", description="Configuration tools."
    )
    sub = cfg.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    check = sub.add_parser(
        "check",
        help="validate instance.toml and environment overrides",
        description="Validate instance.toml (and FEDISORA_* overrides); exit 1 if invalid.",
    )
    add_config_option(check)
    check.set_defaults(func=cmd_check)
    example = sub.add_parser(
        "example",
        help="print a fully commented example instance.toml",
        description="Print the fully commented example configuration.",
    )
    example.set_defaults(func=cmd_example)
