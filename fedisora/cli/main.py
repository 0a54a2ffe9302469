"""Entry point of the ``fedisora`` command: parse, dispatch, turn failures into one line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from instance_config import ConfigError

from .. import __version__
from ..accounts.service import AccountError
from ..db.migrate import DatabaseNotCurrent
from . import account, attest, attest_verify, config, db, deliveries, init, media, serve, social
from .errors import CLIError

EXPECTED_ERRORS = (CLIError, ConfigError, AccountError, DatabaseNotCurrent)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fedisora",
        description="fedisora: a self-hostable ActivityPub server for AI-video social media.",
    )
    parser.add_argument("--version", action="version", version=f"fedisora {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks for unexpected errors"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (init, serve, account, social, db, config, media, deliveries):
        module.register(sub)
    register_attest(sub)
    return parser


def register_attest(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """``fedisora attest …`` (issuing commands and ``verify``); returns its command group."""
    attest_commands = attest.register(sub)
    attest_verify.register(attest_commands)
    return attest_commands


MAX_MESSAGE = 400


def _one_line(error: BaseException) -> str:
    """The first line of an error's message, bounded: a long SQL statement is no help here."""
    lines = str(error).strip().splitlines()
    text = lines[0].strip() if lines else type(error).__name__
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.debug:
        logging.getLogger("alembic").setLevel(logging.WARNING)  # the progress bar says enough
    try:
        return int(args.func(args) or 0)
    except EXPECTED_ERRORS as exc:
        # ConfigError may list several problems, one per line: each is worth reading.
        print(f"fedisora: error: {str(exc).strip()}", file=sys.stderr)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"fedisora: error: {problems}", file=sys.stderr)
    except KeyboardInterrupt:
        print("fedisora: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"fedisora: error: {type(exc).__name__}: {_one_line(exc)} (run with --debug for details)",
            file=sys.stderr,
        )
    return 1


if __name__ == "__main__":
    sys.exit(main())
