"""The URLs of local actors: one place, so routes and documents agree.

They follow Mastodon's shapes (``/users/<name>``, ``/@<name>``) because some
clients and peers recognise them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActorURIs:
    id: str
    url: str
    inbox: str
    outbox: str
    followers: str
    following: str
    featured: str
    shared_inbox: str

    @property
    def main_key(self) -> str:
        return f"{self.id}#main-key"

    @property
    def ed25519_key(self) -> str:
        return f"{self.id}#ed25519-key"


def local_actor_uris(base_url: str, username: str) -> ActorURIs:
    actor = f"{base_url}/users/{username}"
    return ActorURIs(
        id=actor,
        url=f"{base_url}/@{username}",
        inbox=f"{actor}/inbox",
        outbox=f"{actor}/outbox",
        followers=f"{actor}/followers",
        following=f"{actor}/following",
        featured=f"{actor}/collections/featured",
        shared_inbox=f"{base_url}/inbox",
    )


def instance_actor_uris(base_url: str) -> ActorURIs:
    """The instance actor lives at ``/actor``, as Mastodon's does."""
    actor = f"{base_url}/actor"
    return ActorURIs(
        id=actor,
        url=f"{base_url}/about",
        inbox=f"{actor}/inbox",
        outbox=f"{actor}/outbox",
        followers=f"{actor}/followers",
        following=f"{actor}/following",
        featured=f"{actor}/collections/featured",
        shared_inbox=f"{base_url}/inbox",
    )
