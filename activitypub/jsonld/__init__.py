"""JSON-LD processing that never touches the network.

``expand`` and ``compact`` wrap pyld and always pass our offline loader
(:mod:`activitypub.jsonld.loader`), with a context cache of our own so pyld's
process-wide cache can never hold a context that some other loader produced.

Policy for unknown remote contexts (``unknown_contexts``):

``"error"`` (default)
    Raise :class:`UnknownContext` naming the URL.  Right for our own documents
    and for signature work, where silently dropping terms would change meaning.
``"ignore"``
    Treat the unknown URL as an empty context: its terms fall back to the
    ActivityStreams ``@vocab`` (blank-node IRIs) instead of failing the whole
    document.  Right for reading what peers send, e.g. GoToSocial's
    ``"http://joinmastodon.org/ns"``.  Pleroma/Akkoma's per-host
    ``…/schemas/litepub-0.1.jsonld`` is never unknown: it is served from the
    bundled copy in either mode.  Nothing is ever fetched.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Literal

from pyld import jsonld
from pyld.context_resolver import ContextResolver

from activitypub.jsonld.loader import (
    UnknownContext,
    document_loader,
    lenient_loader,
    register_context,
    registry_version,
)

__all__ = ["UnknownContext", "compact", "document_loader", "expand", "register_context"]

UnknownContextPolicy = Literal["error", "ignore"]


class _BoundedCache(OrderedDict[str, Any]):
    """The tiny mapping interface pyld's ContextResolver wants, size-capped."""

    def __init__(self, maxsize: int = 256) -> None:
        super().__init__()
        self.maxsize = maxsize

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)


_caches: dict[str, _BoundedCache] = {}
_cache_version = -1


def _options(unknown_contexts: UnknownContextPolicy) -> dict[str, Any]:
    global _cache_version
    if unknown_contexts not in ("error", "ignore"):
        raise ValueError(f"unknown_contexts must be 'error' or 'ignore', not {unknown_contexts!r}")
    if _cache_version != registry_version():
        _caches.clear()
        _cache_version = registry_version()
    loader = document_loader if unknown_contexts == "error" else lenient_loader
    cache = _caches.setdefault(unknown_contexts, _BoundedCache())
    return {"documentLoader": loader, "contextResolver": ContextResolver(cache, loader)}


def _reraise_unknown(exc: jsonld.JsonLdError) -> None:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, UnknownContext):
            raise cause from exc
        cause = cause.__cause__ or cause.__context__


def expand(doc: Any, *, unknown_contexts: UnknownContextPolicy = "error") -> list[Any]:
    """Expand ``doc`` with bundled contexts only (see the module doc for the policy)."""
    try:
        return jsonld.expand(doc, _options(unknown_contexts))
    except UnknownContext:
        raise
    except jsonld.JsonLdError as exc:
        _reraise_unknown(exc)
        raise


def compact(
    doc: Any, context: Any, *, unknown_contexts: UnknownContextPolicy = "error"
) -> dict[str, Any]:
    """Compact ``doc`` against ``context`` with bundled contexts only."""
    try:
        return jsonld.compact(doc, context, _options(unknown_contexts))
    except UnknownContext:
        raise
    except jsonld.JsonLdError as exc:
        _reraise_unknown(exc)
        raise
