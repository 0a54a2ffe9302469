"""An offline pyld document loader serving the JSON-LD contexts we bundle.

Why: a JSON-LD processor that fetches ``@context`` URLs is a latency bomb, a
privacy leak and an SSRF vector (any peer can make us GET any URL), and the
well-known context hosts (w3id.org, w3.org) are slow and rate-limited.  Every
context the fediverse really uses ships inside this package, keyed by URL; an
unknown URL is an error naming it, never a fetch.

Files live under ``contexts/<host>/<path>.json`` with the dots of the host
written as underscores (``contexts/www_w3_org/ns/activitystreams.json``):
setuptools only ships data from directories whose names are valid package
names, so a ``www.w3.org`` directory would silently drop out of the wheel.
URLs are normalised before lookup: ``http``/``https`` are the same, a
trailing ``#``, ``/`` or ``.jsonld`` is ignored.  Pleroma/Akkoma's per-host
``https://<host>/schemas/litepub-0.1.jsonld``
is served from one bundled copy (``contexts/litepub/litepub-0.1.json``,
Akkoma's current file plus the terms only Pleroma's copy has).
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from pyld.jsonld import JsonLdError

__all__ = [
    "LITEPUB_KEY",
    "UnknownContext",
    "bundled_keys",
    "document_loader",
    "is_litepub",
    "normalize_url",
    "register_context",
    "registry_version",
]

LITEPUB_KEY = "litepub/litepub-0.1"

# Canonical URLs servers put in @context whose bundled file name differs from
# the URL path (after normalisation).  Most URLs map 1:1 onto <host>/<path>.
_ALIASES: dict[str, str] = {
    # Seen in the wild: the AS context addressed without "www.".
    "w3.org/ns/activitystreams": "www.w3.org/ns/activitystreams",
    # The security vocabulary's own IRI, sometimes used as a context URL.
    "w3id.org/security": "w3id.org/security/v1",
}


class UnknownContext(JsonLdError):
    """A ``@context`` URL that is neither bundled nor registered.

    Subclasses pyld's ``JsonLdError`` so callers that already catch pyld errors
    keep working; ``url`` names the offending context.
    """

    def __init__(self, url: str) -> None:
        super().__init__(
            f"JSON-LD context {url!r} is not bundled and will not be fetched",
            "jsonld.LoadDocumentError",
            {"url": url},
            code="loading remote context failed",
        )
        self.url = url


def normalize_url(url: str) -> str:
    """Reduce a context URL to ``host/path`` (no scheme, fragment, ``.jsonld``)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    path = parts.path.rstrip("/")
    for suffix in (".jsonld", ".json"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    key = f"{host}{path}"
    return _ALIASES.get(key, key)


def is_litepub(url: str) -> bool:
    """Whether ``url`` is some Pleroma/Akkoma host's ``/schemas/litepub-0.1.jsonld``."""
    if not isinstance(url, str):
        return False
    path = urlsplit(url.strip()).path.rstrip("/")
    return path.endswith("/schemas/litepub-0.1.jsonld") or path.endswith("/schemas/litepub-0.1.json")


def _read_bundled() -> dict[str, Any]:
    root = resources.files(__package__).joinpath("contexts")
    found: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        for child in node.iterdir():
            name = child.name
            if child.is_dir():
                walk(child, f"{prefix}{name}/")
            elif name.endswith(".json"):
                found[f"{prefix}{name[: -len('.json')]}"] = json.loads(child.read_text("utf-8"))

    for host_dir in root.iterdir():
        if host_dir.is_dir():
            walk(host_dir, host_dir.name.replace("_", ".") + "/")
    return found


_lock = threading.Lock()
_documents: dict[str, Any] = _read_bundled()
_version = 0


def bundled_keys() -> list[str]:
    """The normalised keys (``host/path``) of every context we can serve."""
    with _lock:
        return sorted(_documents)


def registry_version() -> int:
    """Bumped on every :func:`register_context`; lets callers drop their caches."""
    return _version


def register_context(url: str, document: Mapping[str, Any]) -> None:
    """Serve ``document`` for ``url`` from now on (e.g. fedisora's own vocabulary).

    ``document`` is the whole context document, i.e. ``{"@context": {...}}``.
    Re-registering a URL replaces it.
    """
    if not isinstance(document, Mapping) or "@context" not in document:
        raise ValueError("a context document is a JSON object with an '@context' key")
    global _version
    with _lock:
        _documents[normalize_url(url)] = json.loads(json.dumps(document))
        _version += 1


def lookup(url: str) -> Any | None:
    """The bundled document for ``url`` (a private copy) or ``None``."""
    if not isinstance(url, str):
        return None
    key = LITEPUB_KEY if is_litepub(url) else normalize_url(url)
    with _lock:
        doc = _documents.get(key)
    return copy.deepcopy(doc) if doc is not None else None


def document_loader(url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """pyld ``documentLoader``: bundled contexts only, :class:`UnknownContext` otherwise."""
    doc = lookup(url)
    if doc is None:
        raise UnknownContext(url)
    return {"contextUrl": None, "documentUrl": url, "document": doc}


def lenient_loader(url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Like :func:`document_loader` but an unknown URL reads as an empty context."""
    doc = lookup(url)
    if doc is None:
        doc = {"@context": {}}
    return {"contextUrl": None, "documentUrl": url, "document": doc}


Loader = Callable[[str, Mapping[str, Any] | None], dict[str, Any]]
