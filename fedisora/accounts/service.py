"""Creating and finding local accounts.  The CLI, and later the client API, call these."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub import keys
from instance_config import Config

from ..db.models import Actor, ActorType, Domain, Key, KeyAlgorithm, KeyPurpose, User, username_key
from .passwords import hash_password
from .uris import ActorURIs, instance_actor_uris, local_actor_uris
from .usernames import validate_username


class AccountError(ValueError):
    """An account operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class Account:
    actor: Actor
    user: User


async def ensure_local_domain(session: AsyncSession, config: Config) -> Domain:
    domain = await session.get(Domain, config.instance.domain)
    if domain is None:
        domain = Domain(domain=config.instance.domain, local=True, software="fedisora")
        session.add(domain)
        await session.flush()
    return domain


def _new_keys(actor: Actor, uris: ActorURIs) -> list[Key]:
    rsa = keys.generate_rsa()
    ed = keys.generate_ed25519()
    return [
        Key(
            actor_id=actor.id,
            key_id=uris.main_key,
            algorithm=KeyAlgorithm.RSA.value,
            purpose=KeyPurpose.HTTP_SIGNATURE.value,
            public_key_pem=rsa.public_pem,
            private_key_pem=rsa.private_pem,
        ),
        Key(
            actor_id=actor.id,
            key_id=uris.ed25519_key,
            algorithm=KeyAlgorithm.ED25519.value,
            purpose=KeyPurpose.ASSERTION.value,
            public_key_pem=ed.public_pem,
            public_key_multibase=ed.public_multibase,
            private_key_pem=ed.private_pem,
        ),
    ]


def _local_actor(config: Config, username: str, uris: ActorURIs, actor_type: ActorType) -> Actor:
    return Actor(
        uri=uris.id,
        domain=config.instance.domain,
        username=username,
        username_key=username_key(username),
        local=True,
        actor_type=actor_type.value,
        url=uris.url,
        inbox_uri=uris.inbox,
        outbox_uri=uris.outbox,
        shared_inbox_uri=uris.shared_inbox,
        followers_uri=uris.followers,
        following_uri=uris.following,
        featured_uri=uris.featured,
    )


async def get_instance_actor(session: AsyncSession, config: Config) -> Actor | None:
    uri = instance_actor_uris(config.base_url).id
    return (await session.exec(select(Actor).where(Actor.uri == uri))).first()


async def ensure_instance_actor(session: AsyncSession, config: Config) -> Actor:
    """The ``Application`` actor that signs requests made on the instance's behalf."""
    existing = await get_instance_actor(session, config)
    if existing is not None:
        return existing
    await ensure_local_domain(session, config)
    uris = instance_actor_uris(config.base_url)
    actor = _local_actor(config, config.instance.domain, uris, ActorType.APPLICATION)
    actor.display_name = config.instance.name
    actor.manually_approves_followers = True
    actor.discoverable = False
    session.add(actor)
    await session.flush()
    session.add_all(_new_keys(actor, uris))
    await session.flush()
    return actor


async def create_account(
    session: AsyncSession,
    config: Config,
    username: str,
    *,
    admin: bool = False,
    bot: bool = False,
    email: str | None = None,
    password: str | None = None,
    allow_reserved: bool = False,
) -> Account:
    """Create a local actor, its login and its keys.  The caller commits."""
    try:
        validate_username(username, allow_reserved=allow_reserved)
        password_hash = hash_password(password) if password is not None else None
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    if email is not None and ("@" not in email or " " in email):
        raise AccountError(f"not an e-mail address: {email!r}")
    if await find_account(session, username) is not None:
        raise AccountError(f"the username {username!r} is already taken")
    if email is not None:
        taken = await session.exec(select(User).where(sa.func.lower(User.email) == email.lower()))
        if taken.first() is not None:
            raise AccountError(f"the e-mail address {email!r} is already in use")

    await ensure_local_domain(session, config)
    uris = local_actor_uris(config.base_url, username)
    actor = _local_actor(config, username, uris, ActorType.SERVICE if bot else ActorType.PERSON)
    session.add(actor)
    await session.flush()
    user = User(actor_id=actor.id, email=email, password_hash=password_hash, is_admin=admin)
    session.add(user)
    session.add_all(_new_keys(actor, uris))
    await session.flush()
    return Account(actor=actor, user=user)


async def find_account(session: AsyncSession, username: str) -> Account | None:
    """The local account with this username (case-insensitive), if any."""
    query = (
        select(Actor, User)
        .join(User, User.actor_id == Actor.id)
        .where(Actor.local, Actor.username_key == username_key(username))
    )
    row = (await session.exec(query)).first()
    return Account(actor=row[0], user=row[1]) if row else None


async def list_accounts(session: AsyncSession) -> list[Account]:
    query = select(Actor, User).join(User, User.actor_id == Actor.id).order_by(Actor.id)
    return [Account(actor=a, user=u) for a, u in (await session.exec(query)).all()]
