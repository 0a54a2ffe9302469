"""What a local username may be: Mastodon's rule, so addresses work everywhere."""

from __future__ import annotations

import re

MAX_LENGTH = 30
_USERNAME_RE = re.compile(r"^[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?$", re.IGNORECASE)
# Names that would be confusing or collide with fedisora's own paths and roles.
RESERVED = frozenset(
    {"admin", "administrator", "root", "support", "help", "abuse", "postmaster", "webmaster",
     "security", "instance", "actor", "inbox", "outbox", "api", "oauth", "well-known",
     "nodeinfo", "media", "static", "users", "about", "settings", "fedisora"}
)


def validate_username(username: str, *, allow_reserved: bool = False) -> str:
    """Return the username unchanged, or raise ``ValueError`` saying what is wrong."""
    if not username:
        raise ValueError("username must not be empty")
    if len(username) > MAX_LENGTH:
        raise ValueError(f"username must be at most {MAX_LENGTH} characters")
    if not _USERNAME_RE.match(username):
        raise ValueError(
            "username may contain only letters, digits and underscores "
            "(dots and dashes only in the middle)"
        )
    if not allow_reserved and username.lower() in RESERVED:
        raise ValueError(f"username {username!r} is reserved")
    return username
