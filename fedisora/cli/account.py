"""``fedisora account create|list|show``: local accounts, until the client API has sign-up."""

from __future__ import annotations

import argparse
import sys

from ..accounts.service import Account, create_account, find_account, list_accounts
from ..state import AppState
from .common import add_config_option, config_from, run
from .errors import CLIError


def _describe(account: Account) -> dict[str, str]:
    actor, user = account.actor, account.user
    roles = [r for r, on in (("admin", user.is_admin), ("bot", actor.actor_type == "Service")) if on]
    return {
        "username": actor.username,
        "address": f"@{actor.username}@{actor.domain}",
        "actor": actor.uri,
        "type": actor.actor_type,
        "roles": ",".join(roles) or "-",
        "email": user.email or "-",
        "login": "password" if user.password_hash else "no password",
        "created": actor.created_at.isoformat(timespec="seconds"),
    }


def _read_password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CLIError("--password-stdin was given but standard input held no password")
    return password


async def _create(args: argparse.Namespace, password: str | None) -> Account:
    config = config_from(args)
    state = AppState.open(config)
    try:
        async with state.sessions() as session:
            account = await create_account(
                session,
                config,
                args.username,
                admin=args.admin,
                bot=args.bot,
                email=args.email,
                password=password,
                allow_reserved=True,  # the admin at the console may take any valid name
            )
            await session.commit()
            return account
    finally:
        await state.close()


def cmd_create(args: argparse.Namespace) -> int:
    password = _read_password(args.password_stdin)
    account = run(_create(args, password))
    info = _describe(account)
    print(f"created {info['address']} ({info['type']}, roles: {info['roles']})")
    print(f"actor: {info['actor']}")
    if password is None:
        print("no password set: the account cannot log in until one is set (--password-stdin)")
    return 0


async def _list(args: argparse.Namespace) -> list[Account]:
    state = AppState.open(config_from(args))
    try:
        async with state.sessions() as session:
            return await list_accounts(session)
    finally:
        await state.close()


def cmd_list(args: argparse.Namespace) -> int:
    accounts = run(_list(args))
    if not accounts:
        print("no accounts yet: create one with `fedisora account create USERNAME`")
        return 0
    rows = [_describe(a) for a in accounts]
    columns = ["username", "type", "roles", "email", "created"]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for row in rows:
        print("  ".join(row[c].ljust(widths[c]) for c in columns).rstrip())
    return 0


async def _show(args: argparse.Namespace) -> Account | None:
    state = AppState.open(config_from(args))
    try:
        async with state.sessions() as session:
            return await find_account(session, args.username)
    finally:
        await state.close()


def cmd_show(args: argparse.Namespace) -> int:
    account = run(_show(args))
    if account is None:
        raise CLIError(f"no local account named {args.username!r}")
    for key, value in _describe(account).items():
        print(f"{key + ':':10} {value}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    acc = subparsers.add_parser(
        "account", help="manage local accounts", description="Manage local accounts."
    )
    sub = acc.add_subparsers(dest="account_command", required=True, metavar="COMMAND")

    create = sub.add_parser(
        "create",
        help="create a local account",
        description="Create a local account with its keys.  A bot account is published as an "
        "ActivityPub Service actor and shown as automated everywhere.",
    )
    add_config_option(create)
    create.add_argument("username")
    create.add_argument("--admin", action="store_true", help="give the account admin rights")
    create.add_argument("--bot", action="store_true", help="an automated (bot / AI) account")
    create.add_argument("--email", default=None, metavar="E", help="e-mail address for login")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    create.set_defaults(func=cmd_create)

    lst = sub.add_parser("list", help="list local accounts", description="List local accounts.")
    add_config_option(lst)
    lst.set_defaults(func=cmd_list)

    show = sub.add_parser(
        "show", help="show one local account", description="Show one local account."
    )
    add_config_option(show)
    show.add_argument("username")
    show.set_defaults(func=cmd_show)
