"""``fedisora media check|migrate``: the media storage backend (see docs/STORAGE.md)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from instance_config import Config

from ..media.storage import (
    LocalStorage,
    StorageError,
    StorageUnavailable,
    is_safe_relative_path,
    open_storage,
)
from .common import add_config_option, config_from
from .errors import CLIError

if TYPE_CHECKING:
    from ..media.s3 import S3Storage


def _describe(config: Config) -> str:
    media = config.media
    if media.backend == "local":
        return f"local storage in {config.media_dir}"
    served = media.s3_public_url or f"{config.base_url}/media (proxied)"
    return f"S3 bucket {media.s3_bucket!r} at {media.s3_endpoint}, served from {served}"


def cmd_check(args: argparse.Namespace) -> int:
    """Write a small file, read it back whole and in part, delete it."""
    config = config_from(args)
    storage = open_storage(config)
    probe = b"fedisora storage check " + os.urandom(16).hex().encode()
    try:
        storage.check()
        stored = storage.store_bytes(probe, "txt")
        if storage.read_bytes(stored.path) != probe or storage.read_bytes(stored.path, 9, 16) != probe[9:16]:
            raise CLIError(f"the storage gave back other bytes than were stored ({_describe(config)})")
        info = storage.stat(stored.path)
        if info is None or info.size != len(probe):
            raise CLIError(f"a stored file was not found again ({_describe(config)})")
        storage.delete(stored.path)
    except (StorageUnavailable, OSError) as exc:
        raise CLIError(str(exc)) from None
    print(f"ok: {_describe(config)}: write, read, ranged read and delete work")
    return 0


def _s3_target(config: Config) -> S3Storage:
    media = config.media
    if not (media.s3_endpoint and media.s3_bucket):
        raise CLIError("set [media] s3_endpoint and s3_bucket (and the keys) before migrating")
    from ..media.s3 import S3Storage  # needs the `s3` extra

    return S3Storage.for_config(config)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Copy every file of the local media directory into the configured S3 bucket."""
    config = config_from(args)
    try:
        target = _s3_target(config)
        target.check()
    except StorageUnavailable as exc:
        raise CLIError(str(exc)) from None
    source = LocalStorage(config.media_dir)
    copied = present = failed = removed = 0
    copied_bytes = 0
    for path in source.paths():
        local = source.resolve(path)
        if local is None or not is_safe_relative_path(path):
            continue
        size = local.stat().st_size
        try:
            if target.size(path) == size:
                present += 1
            elif args.dry_run:
                print(f"would copy {path} ({size} bytes)")
                copied += 1
                copied_bytes += size
                continue
            else:
                target.copy_in(path, local)
                copied += 1
                copied_bytes += size
            if args.delete_local and not args.dry_run and target.size(path) == size:
                local.unlink()
                removed += 1
        except (StorageError, StorageUnavailable) as exc:
            print(f"failed: {path}: {exc}")
            failed += 1
    verb = "would copy" if args.dry_run else "copied"
    summary = f"{verb} {copied} file(s) ({copied_bytes} bytes), {present} already in the bucket"
    if removed:
        summary += f", removed {removed} local file(s)"
    if failed:
        summary += f", {failed} failed"
    print(f"{summary}: {config.media_dir} -> bucket {config.media.s3_bucket!r}")
    if config.media.backend != "s3" and not args.dry_run:
        print('next: set [media] backend = "s3", restart, then run this again for files added meanwhile')
    return 1 if failed else 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    media = subparsers.add_parser(
        "media",
        help="check the media storage, move media files to S3",
        description="Check the media storage backend, or move media files to an S3 bucket.",
    )
    sub = media.add_subparsers(dest="media_command", required=True, metavar="COMMAND")

    check = sub.add_parser(
        "check",
        help="check that the configured storage can be written and read",
        description="Store a small file in the configured media storage, read it back whole "
        "and in part, and delete it.",
    )
    add_config_option(check)
    check.set_defaults(func=cmd_check)

    migrate = sub.add_parser(
        "migrate",
        help="copy the local media directory into the configured S3 bucket",
        description="Copy every file of the local media directory into the S3 bucket named "
        "by [media] s3_*, under the same paths; files already there are skipped, so it can be "
        "run again.  Works while [media] backend is still 'local'.",
    )
    add_config_option(migrate)
    migrate.add_argument("--dry-run", action="store_true", help="only list what would be copied")
    migrate.add_argument(
        "--delete-local",
        action="store_true",
        help="remove each local file once its copy in the bucket has the same size",
    )
    migrate.set_defaults(func=cmd_migrate)
