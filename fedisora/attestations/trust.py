"""The trust policy of ``[attestations]`` in ``instance.toml``, applied to verification results.

Verifying a credential says whether it is genuine; trusting it is a local
choice.  Only *human* attestations need a trusted issuer (this instance when
``trust_self``, plus the domains and actor URIs in ``trusted_issuers``): a
genuine one from anyone else shows as ``untrusted``.  Automation attestations,
self-declarations and media provenance are shown as what they are whoever
issued them — saying "this is automated" or "this is AI-generated" is never a
claim that needs vouching for.
"""

from __future__ import annotations

from dataclasses import dataclass

from activitypub.extract import domain_of
from instance_config import Config

__all__ = [
    "TRUST_REQUIRED_KINDS",
    "issuer_trusted",
    "needs_trust",
    "apply_policy",
    "Display",
]

HUMAN = "human"
# Kinds whose "verified" means something only when we trust who said it.
TRUST_REQUIRED_KINDS = frozenset({HUMAN})

VERIFIED = "verified"
UNTRUSTED = "untrusted"


def _same_actor(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def issuer_trusted(config: Config, issuer: str | None) -> bool:
    """Whether ``issuer`` (an actor URI) is trusted for human attestations here."""
    if not issuer:
        return False
    policy = config.attestations
    domain = (domain_of(issuer) or "").lower()
    if policy.trust_self and domain == config.instance.domain.lower():
        return True
    for entry in policy.trusted_issuers:
        if entry.startswith(("https://", "http://")):
            if _same_actor(entry, issuer):
                return True
        elif domain == entry:
            return True
    return False


def needs_trust(kind: str) -> bool:
    return kind in TRUST_REQUIRED_KINDS


def apply_policy(config: Config, kind: str, result: str, issuer: str | None) -> tuple[str, bool]:
    """``(shown result, trusted)``: a genuine human attestation from an issuer we do not
    trust becomes ``untrusted``; every other result passes unchanged."""
    trusted = issuer_trusted(config, issuer)
    if result == VERIFIED and needs_trust(kind) and not trusted:
        return UNTRUSTED, False
    return result, trusted


@dataclass(frozen=True)
class Display:
    """How one result is presented: its shown ``result``, whether the issuer is trusted,
    and whether it is shown at all (``untrusted_display = "hidden"`` hides untrusted and
    failed human attestations)."""

    result: str
    trusted: bool
    shown: bool


def display(config: Config, kind: str, result: str, issuer: str | None) -> Display:
    shown_result, trusted = apply_policy(config, kind, result, issuer)
    shown = True
    if config.attestations.untrusted_display == "hidden" and needs_trust(kind) and shown_result != VERIFIED:
        shown = False
    return Display(shown_result, trusted, shown)
