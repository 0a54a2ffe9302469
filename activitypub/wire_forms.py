"""Other JSON forms of a document that mean the same in JSON-LD and that a signer hashed.

Fedify (2.2 and later) makes an object's FEP-8b32 proof over its *normalized* JSON —
the public audience written ``https://www.w3.org/ns/activitystreams#Public`` instead of
``as:Public``, and a lone ``attachment`` as a one-element array — and sends activities in
that form, but serves objects at their ids (its object dispatchers) as plainly compacted:
``"to": "as:Public"``.  Hashed as served, such a Note's proof fails; Fedify's own verifier
tries the normalized form too.  Under the ActivityStreams context both forms expand to the
same triples (``as:`` is a prefix, ``to``/``cc``/… and ``attachment`` are sets of
``@id``s), so a proof over one vouches for the other, and :func:`fedify_forms` gives the
normalized forms only when nothing in the document's contexts could make them differ.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .jsonld.loader import lookup, normalize_url

__all__ = ["fedify_forms"]

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
AS_NAMESPACE = "https://www.w3.org/ns/activitystreams#"
PUBLIC = AS_NAMESPACE + "Public"
PUBLIC_CURIE = "as:Public"
ADDRESSING = frozenset({"to", "cc", "bto", "bcc", "audience"})
ATTACHMENT = "attachment"
# Terms whose meaning the rewrites rely on: another context may not redefine them.
_RELIED_ON = ADDRESSING | {ATTACHMENT, "as"}
_MAX_DEPTH = 64


def _as_definitions() -> dict[str, Any]:
    document = lookup(AS_CONTEXT)
    context = document["@context"] if document else {}
    return {term: context.get(term) for term in _RELIED_ON}


def _context_entries(context: Any) -> list[Any] | None:
    if isinstance(context, (str, dict)):
        return [context]
    if isinstance(context, list) and context:
        return context
    return None


def _definitions(entry: Any, depth: int = 0) -> list[Mapping[str, Any]] | None:
    """The term-definition objects an ``@context`` entry brings in, with the scoped contexts
    of their terms (a type- or property-scoped context can redefine a term inside the nodes
    it applies to) and what ``@import`` pulls in; ``None``: unknown."""
    if depth > 8:
        return None
    if isinstance(entry, str):
        document = lookup(entry)
        if document is None:
            return None
        entries = _context_entries(document.get("@context")) or []
    elif isinstance(entry, dict):
        entries = [entry]
    else:
        return None
    found: list[Mapping[str, Any]] = []
    for item in entries:
        if isinstance(item, str):  # a context that includes another: look at it too
            nested = _definitions(item, depth + 1)
            if nested is None:
                return None
            found.extend(nested)
            continue
        if not isinstance(item, dict):
            continue
        found.append(item)
        inner = [item["@import"]] if "@import" in item else []
        inner += [d["@context"] for d in item.values() if isinstance(d, dict) and "@context" in d]
        for context in inner:
            for nested_entry in _context_entries(context) or []:
                nested = _definitions(nested_entry, depth + 1)
                if nested is None:
                    return None
                found.extend(nested)
    return found


def _safe_context(context: Any) -> bool:
    """The context includes ActivityStreams and nothing redefines the terms relied on."""
    entries = _context_entries(context)
    if entries is None:
        return False
    as_key = normalize_url(AS_CONTEXT)
    if not any(isinstance(e, str) and normalize_url(e) == as_key for e in entries):
        return False
    expected = _as_definitions()
    for entry in entries:
        if isinstance(entry, str) and normalize_url(entry) == as_key:
            continue
        definitions = _definitions(entry)
        if definitions is None:
            return False
        for definition in definitions:
            for term in _RELIED_ON & set(definition):
                if definition[term] != expected[term]:
                    return False
    return True


def _nested_context(value: Any, depth: int = 0) -> bool:
    if depth > _MAX_DEPTH:
        return True
    if isinstance(value, list):
        return any(_nested_context(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return "@context" in value or any(_nested_context(v, depth + 1) for v in value.values())
    return False


def _rewrite(value: Any, *, audience: bool, attachments: bool, key: str | None = None, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, str):
        return PUBLIC if audience and key in ADDRESSING and value == PUBLIC_CURIE else value
    if isinstance(value, list):
        return [_rewrite(item, audience=audience, attachments=attachments, key=key, depth=depth + 1) for item in value]
    if not isinstance(value, dict) or "@value" in value:
        return value
    out: dict[str, Any] = {}
    for name, item in value.items():
        if name == "@context":
            out[name] = item
            continue
        if audience and name == "object" and value.get("type") == "Follow" and item == PUBLIC_CURIE:
            out[name] = PUBLIC
            continue
        item = _rewrite(item, audience=audience, attachments=attachments, key=name, depth=depth + 1)
        if attachments and name == ATTACHMENT and item is not None and not isinstance(item, list):
            item = [item]
        out[name] = item
    return out


def fedify_forms(document: Mapping[str, Any], *, received_context: Any = None) -> list[dict[str, Any]]:
    """The forms of ``document`` Fedify may have signed instead (each differs from it and
    means the same in JSON-LD); empty when there are none or they could mean otherwise.

    ``received_context``: the ``@context`` the document came with, when it is longer than the
    one hashed (a proof's ``@context`` may be a prefix of it): what was appended, unsigned,
    could change the meaning too, so the forms are judged by it.
    """
    context = document.get("@context") if received_context is None else received_context
    if not _safe_context(context):
        return []
    if any(_nested_context(v) for k, v in document.items() if k != "@context"):
        return []
    original = json.dumps(document, sort_keys=True)
    forms: list[dict[str, Any]] = []
    seen = {original}
    for audience, attachments in ((True, True), (True, False), (False, True)):
        form = _rewrite(dict(document), audience=audience, attachments=attachments)
        key = json.dumps(form, sort_keys=True)
        if key not in seen:
            seen.add(key)
            forms.append(form)
    return forms
