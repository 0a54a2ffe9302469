"""WebFinger (RFC 7033) as the fediverse uses it: ``acct:`` resources and JRDs.

Why: WebFinger is how ``@user@host`` becomes an actor URL.  Peers send the
resource as ``acct:user@host`` (Mastodon), bare ``user@host`` or with a
leading ``@`` (people typing), and mark the actor link either
``application/activity+json`` or the long ``application/ld+json; profile=…``
form; we accept all of them and answer the way Mastodon does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

__all__ = [
    "ACTIVITY_JSON",
    "JRD_CONTENT_TYPE",
    "LD_JSON_ACTIVITYSTREAMS",
    "PROFILE_PAGE_REL",
    "SUBSCRIBE_REL",
    "acct_uri",
    "actor_id_from_jrd",
    "is_acct",
    "jrd",
    "parse_acct",
    "webfinger_url",
]

JRD_CONTENT_TYPE = "application/jrd+json; charset=utf-8"
ACTIVITY_JSON = "application/activity+json"
LD_JSON_ACTIVITYSTREAMS = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
PROFILE_PAGE_REL = "http://webfinger.net/rel/profile-page"
AVATAR_REL = "http://webfinger.net/rel/avatar"
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"

# A username is anything but the separators; a host is a DNS name or an IP
# literal, optionally with a port (dev setups, tests on localhost:8000).
_ACCT = re.compile(r"^@?(?P<user>[^@\s/:]+)@(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d{1,5}))?$")


def parse_acct(resource: str) -> tuple[str, str]:
    """``(username, host)`` from ``acct:user@host``, ``user@host`` or ``@user@host``.

    The host is lower-cased (and keeps an explicit ``:port``); the username
    keeps its case — servers decide themselves whether lookups fold case.
    Raises ``ValueError`` for anything else (URLs, missing parts, spaces).
    """
    if not isinstance(resource, str):
        raise ValueError("resource must be a string")
    text = resource.strip()
    if text[:5].lower() == "acct:":
        text = text[5:]
    match = _ACCT.match(text)
    if not match:
        raise ValueError(f"not an acct resource: {resource!r}")
    host = match["host"].lower().rstrip(".")
    if not host or host.startswith(".") or ".." in host:
        raise ValueError(f"bad host in acct resource: {resource!r}")
    if match["port"]:
        port = int(match["port"])
        if not 0 < port < 65536:
            raise ValueError(f"bad port in acct resource: {resource!r}")
        host = f"{host}:{port}"
    return match["user"], host


def is_acct(resource: str) -> bool:
    """Whether :func:`parse_acct` accepts ``resource``."""
    try:
        parse_acct(resource)
    except ValueError:
        return False
    return True


def acct_uri(username: str, host: str) -> str:
    """``acct:username@host`` (host lower-cased): the JRD ``subject``."""
    return f"acct:{username}@{host.lower()}"


def webfinger_url(host: str, resource: str, scheme: str = "https") -> str:
    """The lookup URL ``{scheme}://{host}/.well-known/webfinger?resource=…``."""
    return f"{scheme}://{host}/.well-known/webfinger?{urlencode({'resource': resource})}"


def jrd(
    *,
    subject: str,
    aliases: Iterable[str],
    actor_id: str,
    profile_url: str,
    avatar_url: str | None = None,
    avatar_media_type: str | None = None,
    subscribe_template: str | None = None,
) -> dict[str, Any]:
    """A JRD shaped like Mastodon's answer.

    ``subscribe_template`` defaults to ``https://<actor host>/authorize_interaction?uri={uri}``
    — the remote-follow URL Mastodon advertises.
    """
    if subscribe_template is None:
        scheme, _, rest = actor_id.partition("://")
        origin = f"{scheme}://{rest.split('/', 1)[0]}"
        subscribe_template = f"{origin}/authorize_interaction?uri={{uri}}"
    links: list[dict[str, str]] = [
        {"rel": PROFILE_PAGE_REL, "type": "text/html", "href": profile_url},
        {"rel": "self", "type": ACTIVITY_JSON, "href": actor_id},
        {"rel": SUBSCRIBE_REL, "template": subscribe_template},
    ]
    if avatar_url:
        avatar = {"rel": AVATAR_REL, "href": avatar_url}
        if avatar_media_type:
            avatar["type"] = avatar_media_type
        links.append(avatar)
    return {"subject": subject, "aliases": list(aliases), "links": links}


def _is_activity_type(media_type: str) -> bool:
    base, _, params = media_type.partition(";")
    base = base.strip().lower()
    if base == ACTIVITY_JSON:
        return True
    if base == "application/ld+json":
        return "https://www.w3.org/ns/activitystreams" in params
    return False


def actor_id_from_jrd(document: Any) -> str | None:
    """The ``href`` of the first ``rel=self`` link with an ActivityPub media type."""
    if not isinstance(document, Mapping):
        return None
    links = document.get("links")
    if not isinstance(links, list):
        return None
    for link in links:
        if not isinstance(link, Mapping) or link.get("rel") != "self":
            continue
        media_type, href = link.get("type"), link.get("href")
        if isinstance(media_type, str) and _is_activity_type(media_type) and isinstance(href, str) and href:
            return href
    return None
