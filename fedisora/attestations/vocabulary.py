"""The ``fedisora`` attestation vocabulary: names, IRIs and the bundled JSON-LD context.

Context URL ``https://fedisora.org/ns/attestations/v1`` (the copy in
``context/v1.json``, registered with the offline JSON-LD loader, never
fetched); every term IRI is under ``https://fedisora.org/ns#``.  See
docs/ATTESTATIONS.md for each term.

Credentials carry the context's definitions *inline* (``credential_context``),
not its URL: nobody serves ``fedisora.org``, and JSON-LD processors that fetch
unknown contexts (Fedify does) would fail on the whole actor or note carrying
the credential.  The inline object is exactly the bundled file's ``@context``.
"""

from __future__ import annotations

import functools
import json
from enum import StrEnum
from importlib import resources
from typing import Any

from activitypub.jsonld import register_context

__all__ = [
    "CONTEXT_URL",
    "NAMESPACE",
    "CREDENTIALS_V2",
    "credential_context",
    "IPTC_DIGITAL_SOURCE_TYPE",
    "Kind",
    "OperatedBy",
    "LikenessPolicy",
    "HUMAN_METHODS",
    "context_document",
    "source_type_iri",
    "source_type_name",
    "register",
    "PROVENANCE_KEY",
    "PROVENANCE_TERMS",
]

CONTEXT_URL = "https://fedisora.org/ns/attestations/v1"
NAMESPACE = "https://fedisora.org/ns#"
CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"

IPTC_DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
# IPTC digital source types that mean "made, wholly or in part, by a generative model".
AI_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"})

# A ``Document`` attachment carries its media provenance credential under this key; a
# Note's @context that wants the key to mean something in JSON-LD adds these terms.
PROVENANCE_KEY = "provenance"
PROVENANCE_TERMS: dict[str, Any] = {
    "fedisora": NAMESPACE,
    "provenance": {"@id": f"{NAMESPACE}provenance", "@type": "@id"},
}


class Kind(StrEnum):
    """What an attestation row holds; the credential ``type`` besides ``VerifiableCredential``."""

    ACCOUNT = "AccountAttestation"
    SELF_DECLARATION = "SelfDeclaration"
    MEDIA_PROVENANCE = "MediaProvenance"
    LIKENESS_CONSENT = "LikenessConsent"


class OperatedBy(StrEnum):
    HUMAN = "human"
    AUTOMATION = "automation"


class LikenessPolicy(StrEnum):
    NOBODY = "nobody"
    FOLLOWERS = "followers"
    NAMED = "named"
    EVERYONE = "everyone"


# Known ways an instance checked that a person operates an account; others are allowed.
HUMAN_METHODS: tuple[str, ...] = ("admin-vouched", "in-person", "video-check", "invite")


@functools.cache
def _context_text() -> str:
    return resources.files(__package__).joinpath("context").joinpath("v1.json").read_text("utf-8")


def context_document() -> dict[str, Any]:
    """The bundled context document (``{"@context": {...}}``), a fresh copy."""
    return json.loads(_context_text())  # type: ignore[no-any-return]


def credential_context() -> list[Any]:
    """The ``@context`` of every credential we issue: VC 2.0, then our terms inline."""
    return [CREDENTIALS_V2, context_document()["@context"]]


def source_type_iri(value: str | None) -> str | None:
    """An IPTC digital source type as its full IRI (``trainedAlgorithmicMedia`` → IRI)."""
    if not value:
        return None
    if value.startswith(("http://", "https://")):
        return value
    return IPTC_DIGITAL_SOURCE_TYPE + value


def source_type_name(value: str | None) -> str | None:
    """The short IPTC name of a digital source type IRI."""
    if not value:
        return None
    return value.rstrip("/").rsplit("/", 1)[-1] or None


_registered = False


def register() -> None:
    """Serve our context from the offline JSON-LD loader (idempotent)."""
    global _registered
    if not _registered:
        register_context(CONTEXT_URL, context_document())
        _registered = True


register()
