"""``fedisora serve`` (web + background jobs) and ``fedisora worker`` (background jobs only)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import uvicorn

from ..app import create_app
from ..db.migrate import DatabaseNotCurrent, ensure_current
from ..state import AppState
from ..workers import Workers
from .common import add_config_option, config_from, count_of, port, run
from .errors import CLIError

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10


def _check_database(url: str, config_path: object) -> None:
    try:
        run(ensure_current(url))
    except DatabaseNotCurrent as exc:
        raise CLIError(f"{exc}; run `fedisora db upgrade --config {config_path}` first") from None


def cmd_serve(args: argparse.Namespace) -> int:
    config = config_from(args)
    if args.host is not None:
        config.server.host = args.host
    if args.port is not None:
        config.server.port = args.port
    if args.workers is not None:
        config.server.workers = args.workers
    _check_database(config.database_url, config.path)
    app = create_app(config)
    print(
        f"fedisora serving {config.base_url} on http://{config.server.host}:{config.server.port} "
        f"with {config.server.workers} job runner(s)",
        flush=True,
    )
    # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly; make that,
    # and a SIGTERM that arrives before uvicorn installs its handlers, a normal exit.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    uvicorn.run(
        app,
        host=config.server.host,
        port=config.server.port,
        log_level=args.log_level,
        proxy_headers=True,
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=STOP_GRACE_SECONDS,  # open streams must not hold a stop forever
    )
    return 0


async def _work(state: AppState, count: int) -> None:
    loop = asyncio.get_running_loop()
    workers = Workers(state, count=count)
    try:
        async with workers:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, workers.stop)
            await workers.wait()
    finally:
        await state.close()


def cmd_worker(args: argparse.Namespace) -> int:
    config = config_from(args)
    count = args.concurrency if args.concurrency is not None else max(1, config.server.workers)
    _check_database(config.database_url, config.path)
    print(f"fedisora worker: {count} job runner(s) on {config.database_url}", flush=True)
    run(_work(AppState.open(config), count))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the web server and background jobs",
        description="Serve the instance over HTTP, with background job runners in the same "
        "process (unless --workers 0).  Refuses a database that needs migrating.",
    )
    add_config_option(p)
    p.add_argument("--host", default=None, help="listen address (default: [server] host)")
    p.add_argument("--port", type=port, default=None, help="listen port (default: [server] port)")
    p.add_argument(
        "--workers",
        type=count_of("workers", 0),
        default=None,
        metavar="N",
        help="background job runners in this process (default: [server] workers; 0 = none)",
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log verbosity (default: info)",
    )
    p.set_defaults(func=cmd_serve)

    w = subparsers.add_parser(
        "worker",
        help="run only background jobs",
        description="Run background job runners (delivery, inbox, media, generation) "
        "against the instance's database, e.g. on another machine.  Stops on SIGINT/SIGTERM "
        "after finishing running jobs.",
    )
    add_config_option(w)
    w.add_argument(
        "--concurrency",
        type=count_of("concurrency", 1),
        default=None,
        metavar="N",
        help="jobs run at once (default: [server] workers, at least 1)",
    )
    w.set_defaults(func=cmd_worker)
