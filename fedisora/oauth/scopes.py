"""Mastodon's OAuth scopes and how they imply each other (docs.joinmastodon.org/api/oauth-scopes).

Scopes are hierarchical: ``read`` grants every ``read:*`` scope, ``write``
every ``write:*``, ``admin:read``/``admin:write`` their ``admin:…:*`` scopes,
and the deprecated ``follow`` grants reading and writing follows, blocks and
mutes.  ``profile`` (Mastodon 4.3) grants only
``GET /api/v1/accounts/verify_credentials``; that endpoint asks for
``profile``, which ``read`` and ``read:accounts`` satisfy too, as in Mastodon.
"""

from __future__ import annotations

from collections.abc import Iterable

READ_SCOPES = tuple(
    f"read:{s}"
    for s in (
        "accounts", "blocks", "bookmarks", "favourites", "filters", "follows", "lists",
        "mutes", "notifications", "search", "statuses",
    )
)  # fmt: skip
WRITE_SCOPES = tuple(
    f"write:{s}"
    for s in (
        "accounts", "blocks", "bookmarks", "conversations", "favourites", "filters", "follows",
        "lists", "media", "mutes", "notifications", "reports", "statuses",
    )
)  # fmt: skip
_ADMIN_OBJECTS = (
    "accounts", "reports", "domain_allows", "domain_blocks", "ip_blocks",
    "email_domain_blocks", "canonical_email_blocks",
)  # fmt: skip
ADMIN_READ_SCOPES = tuple(f"admin:read:{s}" for s in _ADMIN_OBJECTS)
ADMIN_WRITE_SCOPES = tuple(f"admin:write:{s}" for s in _ADMIN_OBJECTS)
FOLLOW_SCOPES = (
    "read:follows", "read:blocks", "read:mutes", "write:follows", "write:blocks", "write:mutes",
)  # fmt: skip

# Published order (as in Mastodon's /.well-known/oauth-authorization-server).
SCOPES_SUPPORTED: tuple[str, ...] = (
    "read", *READ_SCOPES,
    "write", *WRITE_SCOPES,
    "follow", "push", "profile",
    "admin:read", *ADMIN_READ_SCOPES,
    "admin:write", *ADMIN_WRITE_SCOPES,
)  # fmt: skip
ALL_SCOPES: frozenset[str] = frozenset(SCOPES_SUPPORTED)

DEFAULT_SCOPES: tuple[str, ...] = ("read",)

# What a scope grants beyond itself.
_IMPLIES: dict[str, frozenset[str]] = {
    "read": frozenset(READ_SCOPES),
    "write": frozenset(WRITE_SCOPES),
    "follow": frozenset(FOLLOW_SCOPES),
    "admin:read": frozenset(ADMIN_READ_SCOPES),
    "admin:write": frozenset(ADMIN_WRITE_SCOPES),
    # verify_credentials takes `profile`, `read` or `read:accounts` (Mastodon 4.3).
    "read:accounts": frozenset({"profile"}),
}


class InvalidScope(ValueError):
    """A scope string names a scope fedisora does not know; ``unknown`` lists them."""

    def __init__(self, unknown: list[str]) -> None:
        super().__init__(f"unknown scope(s): {' '.join(unknown)}")
        self.unknown = unknown


def parse_scopes(text: str | Iterable[str] | None, *, default: Iterable[str] = DEFAULT_SCOPES) -> tuple[str, ...]:
    """Scopes from a space (or ``+``) separated string or a list, in order, without
    duplicates; ``default`` when none are given.  Raises :class:`InvalidScope`."""
    if text is None:
        items: list[str] = []
    elif isinstance(text, str):
        items = text.replace("+", " ").split()
    else:
        items = [part for item in text for part in str(item).replace("+", " ").split()]
    scopes = tuple(dict.fromkeys(items)) or tuple(default)
    unknown = [s for s in scopes if s not in ALL_SCOPES]
    if unknown:
        raise InvalidScope(unknown)
    return scopes


def format_scopes(scopes: Iterable[str]) -> str:
    return " ".join(scopes)


def satisfies(granted: Iterable[str], required: str) -> bool:
    """Whether a token holding ``granted`` scopes may do what needs ``required``."""
    granted = granted if isinstance(granted, (set, frozenset)) else set(granted)
    if required in granted:
        return True
    if required == "profile" and "read" in granted:
        return True
    return any(required in _IMPLIES.get(scope, ()) for scope in granted)


def within(requested: Iterable[str], allowed: Iterable[str]) -> bool:
    """Whether every requested scope is allowed (directly or through a broader scope)."""
    allowed_set = set(allowed)
    return all(satisfies(allowed_set, scope) for scope in requested)
