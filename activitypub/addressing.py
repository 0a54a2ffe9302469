"""Visibility ⇄ ``to``/``cc`` addressing, exactly as Mastodon does it.

Why: visibility is not a property on the wire; peers infer it from where
``Public`` and the followers collection sit.  Mastodon's rules (see its
``StatusSerializer``/``ActivityPub::TagManager#to``/``#cc``) are what every
peer expects, so we produce and read the same table:

============  =========================  ===========================
visibility    to                         cc
============  =========================  ===========================
public        [Public]                   [followers, *mentions]
unlisted      [followers]                [Public, *mentions]
private       [followers]                [*mentions]
direct        [*mentions]                []
============  =========================  ===========================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from activitypub.extract import ids_of

__all__ = ["PUBLIC", "PUBLIC_ALIASES", "VISIBILITIES", "Visibility", "addressing", "is_public", "visibility_of"]

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
# Compacted forms of the same IRI that peers really send (and the http variant
# old Mastodon Announces carry).
PUBLIC_ALIASES = frozenset({PUBLIC, "http://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"})

Visibility = Literal["public", "unlisted", "private", "direct"]
VISIBILITIES: tuple[Visibility, ...] = ("public", "unlisted", "private", "direct")


def is_public(addr: Any) -> bool:
    """Whether an address (string or ``{"id": …}``) is the Public collection."""
    return any(a in PUBLIC_ALIASES for a in ids_of(addr))


def _unique(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def addressing(
    visibility: Visibility, *, followers_uri: str, mentioned: Iterable[str] = ()
) -> tuple[list[str], list[str]]:
    """``(to, cc)`` for a post of ``visibility`` mentioning ``mentioned`` actors."""
    mentions = _unique(mentioned)
    if visibility == "public":
        return [PUBLIC], _unique([followers_uri, *mentions])
    if visibility == "unlisted":
        return [followers_uri], _unique([PUBLIC, *mentions])
    if visibility == "private":
        return [followers_uri], [m for m in mentions if m != followers_uri]
    if visibility == "direct":
        return mentions, []
    raise ValueError(f"unknown visibility {visibility!r}")


def visibility_of(to: Any, cc: Any, followers_uri: str | None = None) -> Visibility:
    """Mastodon's inference: Public in ``to`` → public; in ``cc`` → unlisted;
    the followers collection anywhere → private; otherwise direct.

    ``to``/``cc`` may be any compaction (string, object, list).  Without
    ``followers_uri`` any address ending in ``/followers`` counts, which is
    how Mastodon treats peers whose followers URI it has not fetched.
    """
    to_ids, cc_ids = ids_of(to), ids_of(cc)
    if any(a in PUBLIC_ALIASES for a in to_ids):
        return "public"
    if any(a in PUBLIC_ALIASES for a in cc_ids):
        return "unlisted"
    everyone = to_ids + cc_ids
    if followers_uri is not None and followers_uri in everyone:
        return "private"
    if followers_uri is None and any(a.rstrip("/").endswith("/followers") for a in everyone):
        return "private"
    return "direct"
