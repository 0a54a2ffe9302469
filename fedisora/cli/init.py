"""``fedisora init``: a new instance — config file, database, instance actor keys, C2PA certificate."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
from pathlib import Path

from instance_config import Config, is_loopback_domain, parse_config, render_config

from ..accounts.service import ensure_instance_actor
from ..db.migrate import current_revision, downgrade
from ..media.c2pa import create_instance_certificate
from ..state import AppState
from .common import run
from .db import migrate
from .errors import CLIError

CONFIG_NAME = "instance.toml"


async def _create(config: Config) -> str:
    """Migrate the (empty) database and make the instance actor; undo the schema on failure."""
    url = config.database_url
    if await current_revision(url) is not None:
        raise CLIError(
            f"the database {url} already holds a fedisora instance; "
            "use a new database or `fedisora db upgrade` for the existing one"
        )
    try:
        await migrate(url)
        state = AppState.open(config)
        try:
            async with state.sessions() as session:
                actor = await ensure_instance_actor(session, config)
                await session.commit()
                return actor.uri
        finally:
            await state.close()
    except BaseException:
        with contextlib.suppress(Exception):  # best effort: leave the database as we found it
            await downgrade(url, "base")
        raise


def _sqlite_files(url: str) -> list[Path]:
    if not url.startswith("sqlite"):
        return []
    database = Path(url.split(":///", 1)[1])
    return [database, Path(f"{database}-wal"), Path(f"{database}-shm")]


def cmd_init(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir
    config_path = data_dir / CONFIG_NAME
    if config_path.exists():
        raise CLIError(f"{config_path} already exists; refusing to overwrite an existing instance")
    if args.dev and not is_loopback_domain(args.domain):
        raise CLIError(f"--dev is only for a loopback domain such as localhost:8000, not {args.domain!r}")
    text = render_config(args.domain, dev=args.dev, name=args.name, database_url=args.database_url)
    # Validate before anything touches the disk, naming the file the admin will see.
    config = parse_config(text, path=config_path, env=os.environ)

    created_dir = not data_dir.exists()
    c2pa_dir = config.data_dir / "c2pa"
    make_c2pa = not config.attestations.c2pa_cert and not c2pa_dir.exists()
    sqlite_files = [f for f in _sqlite_files(config.database_url) if not f.exists()]
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = config_path.with_suffix(".toml.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, config_path)
        actor_uri = run(_create(config))
        if make_c2pa:  # the certificate generated videos are signed with (C2PA)
            c2pa_cert, _ = create_instance_certificate(c2pa_dir, common_name=config.instance.domain)
    except BaseException:
        # Leave nothing half-made behind, so the same command can simply be run again.
        if make_c2pa:
            shutil.rmtree(c2pa_dir, ignore_errors=True)
        for path in (tmp, config_path, *sqlite_files):
            path.unlink(missing_ok=True)
        if created_dir:
            with contextlib.suppress(OSError):
                data_dir.rmdir()
        raise

    print(f"created {config_path}")
    print(f"instance actor: {actor_uri}")
    if make_c2pa:
        print(f"C2PA certificate: {c2pa_cert}")
    print(f"next: fedisora account create USERNAME --config {config_path}")
    print(f"      fedisora serve --config {config_path}")
    print(
        f"serve listens on http://{config.server.host}:{config.server.port} "
        f"(change it with `serve --port N` or [server] port in {config_path})"
    )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "init",
        help="create a new instance",
        description="Write instance.toml, create and migrate the database, "
        "and generate the instance actor's keys.  Refuses to overwrite an existing instance.",
    )
    p.add_argument("--domain", required=True, help="public host name, e.g. video.example.org")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path("instance"),
        metavar="DIR",
        help="where instance.toml, the SQLite database and media go (default: ./instance)",
    )
    p.add_argument(
        "--dev",
        action="store_true",
        help="development mode: http://, open registrations, loopback peers (loopback domains only)",
    )
    p.add_argument("--name", default=None, help="instance name shown to people")
    p.add_argument(
        "--database-url",
        default=None,
        metavar="URL",
        help="database URL (default: SQLite in the data dir), e.g. postgresql+asyncpg://…",
    )
    p.set_defaults(func=cmd_init)

