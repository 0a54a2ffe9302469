"""Federation identities: known domains, actors (local and remote), local users, keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from fedisora.db.models.base import Base, datetime_field, snowflake_pk

__all__ = [
    "ActorType",
    "KeyAlgorithm",
    "KeyPurpose",
    "Domain",
    "Actor",
    "User",
    "Key",
    "username_key",
]


class ActorType(StrEnum):
    PERSON = "Person"
    SERVICE = "Service"
    APPLICATION = "Application"
    GROUP = "Group"
    ORGANIZATION = "Organization"


class KeyAlgorithm(StrEnum):
    RSA = "rsa"
    ED25519 = "ed25519"


class KeyPurpose(StrEnum):
    HTTP_SIGNATURE = "http-signature"
    ASSERTION = "assertion"


def username_key(username: str) -> str:
    """Case-insensitive lookup key for ``Actor.username_key``."""
    return username.lower()


class Domain(Base, table=True):
    """A host we know about (including our own), with its health and policy."""

    __tablename__ = "domains"

    domain: str = Field(primary_key=True)  # lowercase host[:port]
    local: bool = False
    software: str | None = None
    software_version: str | None = None
    nodeinfo_fetched_at: datetime | None = datetime_field(nullable=True)
    blocked: bool = False
    unreachable_since: datetime | None = datetime_field(nullable=True)
    last_success_at: datetime | None = datetime_field(nullable=True)
    last_failure_at: datetime | None = datetime_field(nullable=True)
    failure_count: int = 0
    created_at: datetime = datetime_field()


class Actor(Base, table=True):
    """An ActivityPub actor.  ``raw`` keeps the last fetched remote document."""

    __tablename__ = "actors"
    __table_args__ = (sa.UniqueConstraint("username_key", "domain"),)

    id: int = snowflake_pk()
    uri: str = Field(unique=True)
    domain: str = Field(foreign_key="domains.domain", index=True)
    username: str
    username_key: str  # username.lower(); see username_key()
    local: bool = False
    actor_type: str = ActorType.PERSON.value
    display_name: str = ""
    summary: str = Field(default="", sa_type=sa.Text)  # HTML
    url: str | None = None
    inbox_uri: str | None = None
    outbox_uri: str | None = None
    shared_inbox_uri: str | None = None
    followers_uri: str | None = None
    following_uri: str | None = None
    featured_uri: str | None = None
    icon_url: str | None = None
    header_url: str | None = None
    manually_approves_followers: bool = False
    discoverable: bool = True
    indexable: bool = False
    moved_to_uri: str | None = None
    also_known_as: list[str] = Field(default_factory=lambda: [], sa_type=sa.JSON, nullable=False)
    raw: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    fetched_at: datetime | None = datetime_field(nullable=True)
    suspended_at: datetime | None = datetime_field(nullable=True)
    deleted_at: datetime | None = datetime_field(nullable=True)  # remote actor sent Delete(self)
    created_at: datetime = datetime_field()
    updated_at: datetime = datetime_field(onupdate=True)


class User(Base, table=True):
    """A local login account; its public face is the linked :class:`Actor`."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE", unique=True
    )
    email: str | None = Field(default=None, unique=True)
    password_hash: str | None = None
    is_admin: bool = False
    approved: bool = True
    locale: str = "en"
    created_at: datetime = datetime_field()
    last_login_at: datetime | None = datetime_field(nullable=True)


class Key(Base, table=True):
    """A public (and for local actors, private) key belonging to an actor."""

    __tablename__ = "keys"

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE", index=True
    )
    key_id: str = Field(unique=True)  # public key URI, e.g. "<actor>#main-key"
    algorithm: str = KeyAlgorithm.RSA.value
    purpose: str = KeyPurpose.HTTP_SIGNATURE.value
    public_key_pem: str | None = Field(default=None, sa_type=sa.Text)
    public_key_multibase: str | None = None
    private_key_pem: str | None = Field(default=None, sa_type=sa.Text)  # local only
    created_at: datetime = datetime_field()
    revoked_at: datetime | None = datetime_field(nullable=True)
