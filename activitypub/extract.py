"""Compaction-tolerant accessors for the plain JSON peers send us.

Why: ActivityPub documents arrive compacted by whatever context the sender
used, so one property can be a string, an object, a list of either, ``null``
or missing; types may be full IRIs (``https://www.w3.org/ns/activitystreams#Note``)
or prefixed (``as:Note``); old PeerTube says ``mimeType`` where everyone else
says ``mediaType``.  Handlers should never index raw JSON: every function here
accepts *any* JSON value, validates what it reads (an ``id`` of ``42`` is not
an id) and returns ``None`` or an empty collection instead of raising.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "as_list",
    "bool_of",
    "datetime_of",
    "dig",
    "first",
    "has_type",
    "host_of",
    "id_of",
    "ids_of",
    "int_of",
    "links_of",
    "same_origin",
    "shared_inbox_of",
    "str_of",
    "text_of",
    "types_of",
    "url_of",
]

_AS_PREFIXES = ("https://www.w3.org/ns/activitystreams#", "http://www.w3.org/ns/activitystreams#", "as:")


def as_list(value: Any) -> list[Any]:
    """``None`` → ``[]``, a list → itself (copied), anything else → ``[value]``."""
    if value is None:
        return []
    if isinstance(value, list):
        return list(value)
    if isinstance(value, tuple):
        return list(value)
    return [value]


def first(value: Any) -> Any:
    """The first non-null element of a list, or the value itself; ``None`` if empty."""
    for item in as_list(value):
        if item is not None:
            return item
    return None


def dig(value: Any, *keys: str) -> Any:
    """Follow ``keys`` through nested objects (taking the first of any list on
    the way): ``dig(actor, "endpoints", "sharedInbox")``.  ``None`` when a step
    is missing or not an object."""
    for key in keys:
        value = first(value)
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def shared_inbox_of(actor: Any) -> str | None:
    """``endpoints.sharedInbox``, else the top-level ``sharedInbox`` older
    Misskey/Pleroma versions also send."""
    return id_of(dig(actor, "endpoints", "sharedInbox")) or id_of(dig(actor, "sharedInbox"))


def str_of(value: Any) -> str | None:
    """A non-empty string or ``None`` (first of a list; never ``str(42)``)."""
    value = first(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def _is_iri(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not value.isspace()


def id_of(value: Any) -> str | None:
    """The id a reference names: the string itself, or an object's ``id``/``href``.

    Lists yield the first usable reference.  Numbers, booleans and empty
    strings are not ids.
    """
    for item in as_list(value):
        if isinstance(item, str):
            if _is_iri(item):
                return item.strip()
        elif isinstance(item, Mapping):
            for key in ("id", "@id", "href"):
                candidate = item.get(key)
                if _is_iri(candidate):
                    return candidate.strip()
    return None


def ids_of(value: Any) -> list[str]:
    """Every id in a reference or list of references, in order, without duplicates."""
    out: list[str] = []
    for item in as_list(value):
        ident = id_of(item)
        if ident is not None and ident not in out:
            out.append(ident)
    return out


def _short_type(name: str) -> str:
    for prefix in _AS_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def types_of(obj: Any) -> set[str]:
    """The object's types with ActivityStreams prefixes stripped (``as:Note`` → ``Note``).

    Extension types keep their full form (``toot:Emoji``, ``https://…#Foo``).
    """
    if not isinstance(obj, Mapping):
        return set()
    raw = obj.get("type", obj.get("@type"))
    return {_short_type(t.strip()) for t in as_list(raw) if isinstance(t, str) and t.strip()}


def has_type(obj: Any, *names: str) -> bool:
    """Whether the object carries any of ``names`` (compared after prefix stripping)."""
    wanted = {_short_type(n) for n in names}
    return bool(types_of(obj) & wanted)


def text_of(obj: Any, key: str, language: str | None = None) -> str | None:
    """A natural-language property: ``key`` itself, else ``<key>Map[language]``, else the first.

    ``language`` matches exactly, then by primary subtag (``en`` finds ``en-GB``).
    """
    if not isinstance(obj, Mapping):
        return None
    plain = obj.get(key)
    if isinstance(plain, str):
        return plain
    if isinstance(plain, list):
        found = str_of([p for p in plain if isinstance(p, str)])
        if found is not None:
            return found
    lang_map = obj.get(f"{key}Map")
    if not isinstance(lang_map, Mapping):
        return None
    texts = {k: v for k, v in lang_map.items() if isinstance(k, str) and isinstance(v, str)}
    if not texts:
        return None
    if language:
        if language in texts:
            return texts[language]
        primary = language.split("-")[0].lower()
        for tag, text in texts.items():
            if tag.split("-")[0].lower() == primary:
                return text
    return next(iter(texts.values()))


def _media_type(link: Mapping[str, Any]) -> str | None:
    return str_of(link.get("mediaType")) or str_of(link.get("mimeType"))


def links_of(value: Any) -> list[dict[str, Any]]:
    """Normalise a ``url``/``icon``/``href``-ish value into ``[{"href", "mediaType", ...}]``.

    Strings become ``{"href": s}``; Link objects keep their fields with
    ``href`` resolved (``href``, else a nested ``url``) and ``mediaType``
    taken from ``mediaType`` or old PeerTube's ``mimeType``.  Entries without a
    usable href are dropped.
    """
    out: list[dict[str, Any]] = []
    for item in as_list(value):
        if isinstance(item, str):
            if _is_iri(item):
                out.append({"href": item.strip(), "mediaType": None})
        elif isinstance(item, Mapping):
            href = item.get("href")
            if not _is_iri(href):
                nested = links_of(item.get("url"))
                href = nested[0]["href"] if nested else None
                media_type = _media_type(item) or (nested[0]["mediaType"] if nested else None)
            else:
                media_type = _media_type(item)
            if isinstance(href, str):
                link = {k: v for k, v in item.items() if isinstance(k, str)}
                link["href"] = href.strip()
                link["mediaType"] = media_type
                out.append(link)
    return out


def url_of(value: Any, prefer_media_type: str | Iterable[str] | None = None) -> str | None:
    """The best URL in a ``url``-ish value.

    With ``prefer_media_type`` (``"video/mp4"``, ``"text/html"``, a prefix like
    ``"video/"``, or several in order of preference) the first matching link
    wins; among several matches for a video/image the largest
    ``height``/``width`` wins.  Without a match (or preference) the first link
    is returned.
    """
    links = links_of(value)
    if not links:
        return None
    if prefer_media_type is None:
        return str(links[0]["href"])
    prefs = [prefer_media_type] if isinstance(prefer_media_type, str) else list(prefer_media_type)
    for pref in prefs:
        if not isinstance(pref, str):
            continue
        matches = [
            link
            for link in links
            if isinstance(link.get("mediaType"), str)
            and (
                link["mediaType"].split(";")[0].strip().lower() == pref.lower()
                or (pref.endswith("/") and link["mediaType"].lower().startswith(pref.lower()))
            )
        ]
        if matches:
            best = max(matches, key=lambda ln: (int_of(ln.get("height")) or int_of(ln.get("width")) or 0))
            return str(best["href"])
    return str(links[0]["href"])


def bool_of(value: Any) -> bool | None:
    """JSON booleans, plus the strings ``"true"``/``"false"`` some servers send."""
    value = first(value) if isinstance(value, list) else value
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
    return None


def int_of(value: Any) -> int | None:
    """An integer from an int, an integral float or a decimal string; never from a bool."""
    value = first(value) if isinstance(value, list) else value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,18}\s*", value):
        return int(value)
    return None


_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?"
)


def datetime_of(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO 8601 (``Z``, ``+00:00``, fractions); ``None`` on garbage.

    A timestamp without an offset is taken as UTC (what servers mean).
    """
    value = first(value) if isinstance(value, list) else value
    if not isinstance(value, str):
        return None
    match = _ISO.fullmatch(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        naive = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro)
        if offset and offset not in ("Z", "z"):
            sign = 1 if offset[0] == "+" else -1
            digits = offset[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
            if hours > 23 or minutes > 59:
                return None
            naive = naive - sign * timedelta(hours=hours, minutes=minutes)
        return naive.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def host_of(uri: Any) -> str | None:
    """The lower-cased host of an http(s) URI (IDNA as given), or ``None``."""
    if not isinstance(uri, str):
        return None
    try:
        parts = urlsplit(uri.strip())
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return host.lower()


def domain_of(uri: Any) -> str | None:
    """The instance domain of an http(s) URI as handles write it: ``host`` or ``host:port``.

    A port is kept unless it is the scheme's default, so two servers on one
    host (``localhost:8001`` and ``localhost:8002``) stay two domains.
    """
    host = host_of(uri)
    if host is None:
        return None
    parts = urlsplit(uri.strip())
    try:
        port = parts.port
    except ValueError:
        return None
    default = 443 if parts.scheme.lower() == "https" else 80
    if ":" in host:
        host = f"[{host}]"
    return host if port in (None, default) else f"{host}:{port}"


def _origin(uri: Any) -> tuple[str, str, int] | None:
    if not isinstance(uri, str):
        return None
    try:
        parts = urlsplit(uri.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in ("http", "https") or not host:
        return None
    return scheme, host.lower(), port or (443 if scheme == "https" else 80)


def same_origin(a: Any, b: Any) -> bool:
    """Whether two URIs share scheme, host and port (the check for spoofed ids)."""
    origin_a, origin_b = _origin(a), _origin(b)
    return origin_a is not None and origin_a == origin_b
