"""The ``fedisora`` command as an admin runs it: the installed console script in a subprocess.

Every test runs in ``tmp_path`` with all ``FEDISORA_*`` variables removed from
the environment, and checks what a person at the terminal sees: the exit
status, what is printed on stdout and stderr, and which files exist afterwards.
Commands touching a database run on SQLite and on PostgreSQL (``database_url``).
"""

from __future__ import annotations

import argparse
import socket
from collections.abc import Iterator
from pathlib import Path

from sqlmodel import select

from fedisora import __version__
from fedisora.accounts.passwords import verify_password
from fedisora.accounts.service import find_account, get_instance_actor
from fedisora.accounts.uris import instance_actor_uris
from fedisora.cli.main import build_parser
from fedisora.db.migrate import head_revision
from fedisora.db.models import Actor, Key
from fedisora.state import AppState
from instance_config import Config, load_config, parse_config, render_config
from tests.processes import (
    assert_one_line_error,
    assert_usage_error,
    cli,
    files_under,
    free_port,
    parallel,
    shown,
    start,
    stop,
    wait_healthy,
)

DOMAIN = "localhost:8000"
PASSWORD = "correct horse battery staple"


def command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path of the parser, the bare ``fedisora`` included, parents first."""
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from command_paths(sub, (*prefix, name))


def init(tmp_path: Path, database_url: str, data_dir: str = "D") -> Path:
    """``fedisora init`` a dev instance; returns its instance.toml."""
    result = cli(
        "init", "--domain", DOMAIN, "--dev", "--data-dir", data_dir, "--database-url", database_url,
        cwd=tmp_path,
    )
    assert result.returncode == 0, shown(result)
    return tmp_path / data_dir / "instance.toml"


def rows(listing: str) -> dict[str, list[str]]:
    """``account list`` output as ``{username: [type, roles, email, created]}``."""
    lines = listing.splitlines()
    assert lines[0].split() == ["USERNAME", "TYPE", "ROLES", "EMAIL", "CREATED"], listing
    return {cols[0]: cols[1:] for cols in (line.split() for line in lines[1:])}


# ---- help and version ------------------------------------------------------------------------


def test_every_command_has_help_and_there_is_a_version(tmp_path: Path) -> None:
    paths = list(dict.fromkeys(command_paths(build_parser())))
    # The walk itself must work, or this test would silently cover nothing.
    assert {
        (), ("init",), ("serve",), ("worker",), ("account", "create"), ("account", "list"),
        ("account", "show"), ("db", "upgrade"), ("db", "current"), ("config", "check"),
        ("config", "example"),
    } <= set(paths)

    results = parallel(
        *(lambda p=p: cli(*p, "--help", cwd=tmp_path) for p in paths),  # type: ignore[misc]
        lambda: cli("--version", cwd=tmp_path),
    )
    for path, result in zip(paths, results):
        usage = " ".join(("usage: fedisora", *path))
        assert result.returncode == 0, shown(result)
        assert result.stdout.startswith(usage + " ") or result.stdout.startswith(usage + "\n"), shown(result)
        assert result.stderr == "", shown(result)
    version = results[-1]
    assert version.returncode == 0, shown(version)
    assert version.stdout == f"fedisora {__version__}\n"
    assert files_under(tmp_path) == []  # asking for help writes nothing


# ---- init --------------------------------------------------------------------------------------


async def test_init_creates_a_working_instance_and_never_overwrites(
    tmp_path: Path, database_url: str
) -> None:
    result = cli(
        "init", "--domain", DOMAIN, "--dev", "--data-dir", "D", "--database-url", database_url,
        cwd=tmp_path,
    )
    assert result.returncode == 0, shown(result)
    config_path = tmp_path / "D" / "instance.toml"
    assert f"created {Path('D') / 'instance.toml'}" in result.stdout
    actor_uri = instance_actor_uris(f"http://{DOMAIN}").id
    assert f"instance actor: {actor_uri}" in result.stdout
    assert "fedisora account create" in result.stdout  # says what to do next
    assert "Traceback" not in result.stderr

    config = load_config(config_path, env={})
    assert config.instance.domain == DOMAIN
    assert config.base_url == f"http://{DOMAIN}"
    assert config.federation.dev is True
    assert config.database_url == database_url
    assert not (tmp_path / "D" / "instance.toml.tmp").exists()

    current, listing = parallel(
        lambda: cli("db", "current", "--config", config_path, cwd=tmp_path),
        lambda: cli("account", "list", "--config", config_path, cwd=tmp_path),
    )
    assert current.returncode == 0, shown(current)
    assert "up to date" in current.stdout and head_revision() in current.stdout
    # The instance actor exists (below) but is no login account: not listed.
    assert listing.returncode == 0, shown(listing)
    assert listing.stdout.startswith("no accounts yet"), shown(listing)

    state = AppState.open(config)
    try:
        async with state.sessions() as session:
            actor = await get_instance_actor(session, config)
            assert actor is not None
            assert actor.uri == actor_uri and actor.actor_type == "Application" and actor.local
            keys = (await session.exec(select(Key).where(Key.actor_id == actor.id))).all()
            assert len(keys) == 2 and all(k.private_key_pem for k in keys)
    finally:
        await state.close()

    before = config_path.read_bytes()
    again, same_db = parallel(
        lambda: cli(
            "init", "--domain", DOMAIN, "--dev", "--data-dir", "D", "--database-url", database_url,
            cwd=tmp_path,
        ),
        lambda: cli(
            "init", "--domain", DOMAIN, "--dev", "--data-dir", "D2", "--database-url", database_url,
            cwd=tmp_path,
        ),
    )
    assert_one_line_error(again, "already exists")
    assert config_path.read_bytes() == before
    assert_one_line_error(same_db, "already holds")
    assert files_under(tmp_path / "D2") == []  # no instance.toml (or its temp file) left behind
    # ... and the database is still the first instance's, untouched.
    state = AppState.open(config)
    try:
        async with state.sessions() as session:
            actors = (await session.exec(select(Actor))).all()
            assert [a.uri for a in actors] == [actor_uri]
    finally:
        await state.close()


def test_a_dev_instance_serves_on_its_domains_port(tmp_path: Path) -> None:
    """``init --domain localhost:P --dev`` then plain ``serve``: the instance answers on P,
    where its URLs point (not on the template's 8000)."""
    port = free_port()
    result = cli("init", "--domain", f"localhost:{port}", "--dev", "--data-dir", "D", cwd=tmp_path)
    assert result.returncode == 0, shown(result)
    config_path = tmp_path / "D" / "instance.toml"
    assert f"serve listens on http://127.0.0.1:{port} " in result.stdout, shown(result)
    assert load_config(config_path, env={}).server.port == port
    # A production domain keeps the template's port: a proxy in front terminates TLS.
    assert parse_config(render_config("video.example.org:8443"), env={}).server.port == 8000

    server = start("serve", "--config", config_path, "--workers", "0", cwd=tmp_path, log_path=tmp_path / "serve.log")
    try:
        health = wait_healthy(server, port)
        assert health.json()["status"] == "ok"
        assert f"fedisora serving http://localhost:{port} on http://127.0.0.1:{port}" in server.log()
    finally:
        stop(server)


# ---- refusals: one line, no traceback, nothing left behind ------------------------------------


def test_bad_input_is_refused_in_one_line_leaving_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    bad = tmp_path / "conf" / "bad.toml"
    bad.write_text(
        render_config("video.example.org").replace("[instance]\n", '[instance]\ncolour = "blue"\n', 1)
    )
    before = files_under(tmp_path)

    (
        bad_domain, dev_public, bad_port, unknown_key, missing, no_domain, no_subcommand, nothing,
    ) = parallel(
        lambda: cli("init", "--domain", "not a domain", "--data-dir", "A", cwd=tmp_path),
        lambda: cli("init", "--domain", "video.example.org", "--dev", "--data-dir", "B", cwd=tmp_path),
        lambda: cli("serve", "--config", bad, "--port", "99999", cwd=tmp_path),
        lambda: cli("config", "check", "--config", bad, cwd=tmp_path),
        lambda: cli("config", "check", "--config", "conf/missing.toml", cwd=tmp_path),
        lambda: cli("init", "--data-dir", "C", cwd=tmp_path),
        lambda: cli("account", cwd=tmp_path),
        lambda: cli(cwd=tmp_path),
    )
    assert_one_line_error(bad_domain, "instance.domain", "'not a domain'")
    assert_one_line_error(dev_public, "--dev", "loopback", "video.example.org")
    assert_usage_error(bad_port, "--port", "99999")
    assert_one_line_error(unknown_key, "instance.colour", "unknown key", str(bad))
    assert_one_line_error(missing, "conf/missing.toml", "no such file", "fedisora init")
    assert_usage_error(no_domain, "--domain")
    assert_usage_error(no_subcommand)
    assert_usage_error(nothing)
    assert files_under(tmp_path) == before
    for data_dir in ("B", "C"):
        assert not (tmp_path / data_dir).exists()


# ---- accounts ----------------------------------------------------------------------------------


async def test_account_create_list_show_and_refusals(tmp_path: Path, database_url: str) -> None:
    config_path = init(tmp_path, database_url)
    alice = cli(
        "account", "create", "alice", "--admin", "--email", "a@example.org", "--password-stdin",
        "--config", config_path,
        cwd=tmp_path, input=PASSWORD + "\n",
    )
    assert alice.returncode == 0, shown(alice)
    assert alice.stdout.splitlines()[0] == f"created @alice@{DOMAIN} (Person, roles: admin)"
    assert f"actor: http://{DOMAIN}/users/alice" in alice.stdout
    assert "no password set" not in alice.stdout
    assert PASSWORD not in alice.stdout + alice.stderr

    bot = cli("account", "create", "bot1", "--bot", "--config", config_path, cwd=tmp_path)
    assert bot.returncode == 0, shown(bot)
    assert bot.stdout.splitlines()[0] == f"created @bot1@{DOMAIN} (Service, roles: bot)"
    assert "no password set" in bot.stdout

    # Reads, and refusals that must write nothing, side by side.
    listing, show, dup, bad_name, short, empty, nobody, bad_email = parallel(
        lambda: cli("account", "list", "--config", config_path, cwd=tmp_path),
        lambda: cli("account", "show", "ALICE", "--config", config_path, cwd=tmp_path),
        lambda: cli("account", "create", "Alice", "--config", config_path, cwd=tmp_path),
        lambda: cli("account", "create", "bad name!", "--config", config_path, cwd=tmp_path),
        lambda: cli(
            "account", "create", "carol", "--password-stdin", "--config", config_path,
            cwd=tmp_path, input="short\n",
        ),
        lambda: cli(
            "account", "create", "dave", "--password-stdin", "--config", config_path,
            cwd=tmp_path, input="",
        ),
        lambda: cli("account", "show", "nobody", "--config", config_path, cwd=tmp_path),
        lambda: cli(
            "account", "create", "erin", "--email", "not-an-address", "--config", config_path,
            cwd=tmp_path,
        ),
    )
    assert_one_line_error(dup, "'Alice'", "already taken")
    assert_one_line_error(bad_name, "username")
    assert_one_line_error(short, "password", "at least 8")
    assert_one_line_error(empty, "--password-stdin")
    assert_one_line_error(nobody, "'nobody'")
    assert nobody.stdout == ""
    assert_one_line_error(bad_email, "e-mail")

    assert listing.returncode == 0, shown(listing)
    table = rows(listing.stdout)
    assert list(table) == ["alice", "bot1"]
    assert table["alice"][:3] == ["Person", "admin", "a@example.org"]
    assert table["bot1"][:3] == ["Service", "bot", "-"]

    assert show.returncode == 0, shown(show)
    fields = dict(line.split(None, 1) for line in show.stdout.splitlines())
    assert fields["username:"] == "alice"
    assert fields["address:"] == f"@alice@{DOMAIN}"
    assert fields["type:"] == "Person"
    assert fields["roles:"] == "admin"
    assert fields["email:"] == "a@example.org"
    assert fields["login:"] == "password"

    config = load_config(config_path, env={})
    state = AppState.open(config)
    try:
        async with state.sessions() as session:
            account = await find_account(session, "alice")
            assert account is not None and account.user.is_admin
            stored = account.user.password_hash
            assert stored is not None and stored.startswith("$argon2id$")
            assert PASSWORD not in stored
            assert verify_password(stored, PASSWORD)
            assert not verify_password(stored, PASSWORD + "!")
            bot_account = await find_account(session, "bot1")
            assert bot_account is not None
            assert bot_account.user.password_hash is None and not bot_account.user.is_admin
            # No refused command left a half-made account behind.
            usernames = (await session.exec(select(Actor.username).where(Actor.local))).all()
            assert sorted(usernames) == sorted(["alice", "bot1", DOMAIN])  # + the instance actor
    finally:
        await state.close()


# ---- migrations --------------------------------------------------------------------------------


async def test_migrations_from_the_cli(tmp_path: Path, database_url: str) -> None:
    config_path = tmp_path / "instance.toml"
    config_path.write_text(render_config(DOMAIN, dev=True, database_url=database_url))
    head = head_revision()

    # serve must refuse before binding its port: give it a port that is taken.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        current, serve = parallel(
            lambda: cli("db", "current", "--config", config_path, cwd=tmp_path),
            lambda: cli("serve", "--config", config_path, "--port", str(port), cwd=tmp_path),
        )
    assert current.returncode == 1, shown(current)
    assert "run `fedisora db upgrade`" in current.stdout and "none" in current.stdout
    line = assert_one_line_error(serve, "fedisora db upgrade", str(config_path.resolve()))
    assert "address already in use" not in line.lower()
    assert "fedisora serving" not in serve.stdout

    up = cli("db", "upgrade", "--config", config_path, cwd=tmp_path)
    assert up.returncode == 0, shown(up)
    assert "migrating [" in up.stderr
    steps = [line for line in up.stderr.splitlines() if line.startswith("migrating [")]
    total = steps[-1].split("] ", 1)[1].split()[0]
    assert total.split("/")[0] == total.split("/")[1], steps  # the last line says n/n
    assert "Traceback" not in up.stderr
    assert up.stdout.startswith(f"database upgraded to {head}"), shown(up)

    again = cli("db", "upgrade", "--config", config_path, cwd=tmp_path)
    assert again.returncode == 0, shown(again)
    assert again.stdout == f"database is already current ({head})\n"
    assert "migrating" not in again.stderr


# ---- config ------------------------------------------------------------------------------------


def test_config_check_and_example(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://fedi@db.example.internal:5432/fedisora"
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "instance.toml"
    path.write_text(render_config("video.example.org", database_url=url))
    dev = tmp_path / "dev.toml"
    dev.write_text(render_config(f"localhost:{free_port()}", dev=True))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    good, bad_env, from_env, default, example, dev_mode = parallel(
        lambda: cli("config", "check", "--config", path, cwd=tmp_path),
        lambda: cli(
            "config", "check", "--config", path, cwd=tmp_path,
            env={"FEDISORA_SERVER__PORT": "notaport"},
        ),
        lambda: cli("config", "check", cwd=elsewhere, env={"FEDISORA_CONFIG": str(path)}),
        lambda: cli("config", "check", cwd=elsewhere),
        lambda: cli("config", "example", cwd=tmp_path),
        lambda: cli("config", "check", "--config", dev, cwd=tmp_path),
    )
    assert good.returncode == 0, shown(good)
    assert good.stdout.startswith(f"{path}: ok")
    assert url in good.stdout
    assert "video.example.org (https://video.example.org)" in good.stdout
    assert "WARNING" not in good.stdout

    assert_one_line_error(bad_env, "FEDISORA_SERVER__PORT", "server.port", "notaport")

    assert from_env.returncode == 0, shown(from_env)
    assert from_env.stdout.startswith(f"{path}: ok") and url in from_env.stdout

    assert_one_line_error(default, str(Path("instance") / "instance.toml"), "no such file")

    assert example.returncode == 0, shown(example)
    config: Config = parse_config(example.stdout, env={})
    assert config.instance.domain == "video.example.org"
    assert files_under(elsewhere) == []

    assert dev_mode.returncode == 0, shown(dev_mode)
    assert "WARNING: federation.dev is on" in dev_mode.stdout
    assert not (tmp_path / "fedisora.db").exists()  # checking never creates the database

