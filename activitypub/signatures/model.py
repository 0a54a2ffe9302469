"""The values passed between parsing, key lookup and verification."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from ._headers import HeaderLines, combined

Scheme = Literal["cavage", "rfc9421"]


@dataclass(frozen=True)
class ParsedSignature:
    """A signature read from a request, before its key is known.

    ``covered`` holds the signed component names in order: header names and
    ``(request-target)``/``(created)``/``(expires)`` for draft-cavage, component
    names such as ``@method`` or ``content-digest`` (parameters dropped) for RFC 9421.
    ``bases`` are the candidate signing strings (for draft-cavage, the second one
    drops the query string, as GoToSocial sometimes signs).
    """

    scheme: Scheme
    key_id: str
    algorithm: str | None
    covered: tuple[str, ...]
    created: datetime | None
    expires: datetime | None
    method: str
    label: str | None = None  # RFC 9421 signature label
    date: datetime | None = None  # the signed Date header, if any
    signature: bytes = field(default=b"", repr=False)
    bases: tuple[bytes, ...] = field(default=(), repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # combined, lowercased

    def header(self, name: str) -> str | None:
        return dict(self.headers).get(name.lower())


@dataclass(frozen=True)
class VerifiedSignature:
    """What a verified signature proves: who signed (``key_id``), how, and when."""

    key_id: str
    scheme: Scheme
    algorithm: str  # the concrete algorithm that verified, e.g. "rsa-v1_5-sha256"
    created: datetime | None


@dataclass(frozen=True)
class Target:
    """The request target split the way both schemes need it."""

    scheme: str
    authority: str  # lowercase host[:port], default port dropped
    path: str  # never empty
    query: str | None  # without "?", None when there is none

    @property
    def request_target(self) -> str:
        return self.path + ("" if self.query is None else "?" + self.query)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_authority(value: str, scheme: str = "https") -> str:
    """``Host``-style ``host[:port]`` lowercased, the scheme's default port dropped (ValueError on a bad port)."""
    where = urlsplit("//" + value.strip())
    hostname = where.hostname or ""
    authority = f"[{hostname}]" if ":" in hostname else hostname
    port = where.port
    if port is not None and port != _DEFAULT_PORTS.get(scheme.lower()):
        authority += f":{port}"
    return authority


def split_target(url: str, lines: HeaderLines) -> Target:
    """Split an absolute URL, or an origin-form path plus the Host header (https assumed)."""
    parts = urlsplit(url)
    scheme = (parts.scheme or "https").lower()
    # ValueError on a bad port; callers turn it into SignatureError
    authority = normalize_authority(parts.netloc if parts.netloc else (combined(lines, "host") or ""), scheme)
    query = parts.query if (parts.query or url.endswith("?")) else None
    return Target(scheme, authority, parts.path or "/", query)
