"""Checking a person's username (or e-mail address) and password, for the authorize form
and the password grant, within the sign-in limits of :mod:`fedisora.oauth.login_limits`."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..accounts.passwords import hash_password, verify_password
from ..accounts.service import Account, find_account
from ..db.models import Actor, User, utcnow
from .login_limits import LoginLimits

BAD_CREDENTIALS = "Invalid username, e-mail address or password."


class LoginFailed(Exception):
    """The credentials do not open an account; ``message`` is safe to show."""

    def __init__(self, message: str = BAD_CREDENTIALS) -> None:
        super().__init__(message)
        self.message = message


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when there is no account, so timing does not tell."""
    return hash_password("fedisora-no-such-account")


@dataclass(frozen=True)
class LoginContext:
    """Where a sign-in attempt is made: this instance's ``domain`` (``alice@<domain>`` names
    the local account ``alice``), and the ``limits`` it counts against, for the client
    ``address``, from a browser with a known-device cookie for the name typed (``device``,
    checked) or not."""

    domain: str
    limits: LoginLimits
    address: str | None = None
    device: str | None = None


def _limited_name(identifier: str, domain: str) -> str:
    """The name an attempt counts under: ``alice@<our domain>`` counts as ``alice``, as
    :func:`_find` reads it, so that writing a name another way buys no more guesses."""
    name = identifier.strip().removeprefix("@")
    local, at, host = name.partition("@")
    return local if at and host.lower() == domain.lower() else name


async def _find(session: AsyncSession, identifier: str, domain: str) -> Account | None:
    identifier = identifier.strip().removeprefix("@")
    if not identifier:
        return None
    if "@" in identifier:
        query = (
            select(Actor, User)
            .join(User, User.actor_id == Actor.id)  # type: ignore[arg-type]
            .where(sa.func.lower(User.email) == identifier.lower())
        )
        row = (await session.exec(query)).first()
        if row is not None:
            return Account(actor=row[0], user=row[1])
        # "alice@our.domain" names a local account too (and "alice@elsewhere" none, so that
        # an account cannot be tried under endless names)
        identifier, _, host = identifier.partition("@")
        if host.lower() != domain.lower():
            return None
    return await find_account(session, identifier)


async def check_login(
    session: AsyncSession, identifier: str | None, password: str | None, context: LoginContext
) -> Account:
    """The account these credentials open, or :class:`LoginFailed`; or
    :class:`~fedisora.oauth.login_limits.TooManyAttempts` before anything is looked up.

    Accepts the username (also as ``username@domain``) or the e-mail address;
    the Argon2 check runs in a thread so the event loop keeps serving.  Records
    ``last_login_at`` (the caller commits).
    """
    if not identifier or not password:
        raise LoginFailed()
    await context.limits.attempt(context.address, _limited_name(identifier, context.domain), device=context.device)
    account = await _find(session, identifier, context.domain)
    stored = account.user.password_hash if account is not None else None
    ok = await asyncio.to_thread(verify_password, stored or _dummy_hash(), password)
    if account is None or not stored or not ok:
        raise LoginFailed()
    if account.actor.suspended_at is not None or account.actor.deleted_at is not None:
        raise LoginFailed("This account is suspended.")
    if not account.user.approved:
        raise LoginFailed("Your account is pending approval.")
    account.user.last_login_at = utcnow()
    session.add(account.user)
    return account
