"""``fedisora db upgrade|current``: the schema is only ever changed by migrations."""

from __future__ import annotations

import argparse

from ..db.migrate import current_revision, head_revision, upgrade
from .common import add_config_option, config_from, run
from .progress import ProgressBar


async def migrate(url: str, *, quiet: bool = False) -> list[str]:
    """Bring the database at ``url`` to the newest schema, showing progress."""
    bar = None if quiet else ProgressBar("migrating")
    return await upgrade(url, progress=bar.update if bar else None)


def cmd_upgrade(args: argparse.Namespace) -> int:
    config = config_from(args)
    applied = run(migrate(config.database_url))
    if applied:
        print(f"database upgraded to {applied[-1]} ({len(applied)} migration(s) applied)")
    else:
        print(f"database is already current ({head_revision()})")
    return 0


def cmd_current(args: argparse.Namespace) -> int:
    config = config_from(args)
    current = run(current_revision(config.database_url))
    head = head_revision()
    if current is None:
        print(f"current: none (empty database); newest: {head}; run `fedisora db upgrade`")
        return 1
    state = "up to date" if current == head else "behind: run `fedisora db upgrade`"
    print(f"current: {current}; newest: {head} ({state})")
    return 0 if current == head else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = subparsers.add_parser("db", help="database migrations", description="Database migrations.")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    up = db_sub.add_parser(
        "upgrade", help="apply pending migrations", description="Apply all pending migrations."
    )
    add_config_option(up)
    up.set_defaults(func=cmd_upgrade)
    cur = db_sub.add_parser(
        "current",
        help="show the database's migration revision",
        description="Show the database's revision; exit 1 when it is not current.",
    )
    add_config_option(cur)
    cur.set_defaults(func=cmd_current)
