"""Verifying incoming requests in two steps, so the app can fetch the key in between.

    parsed = parse_signature(request.method, str(request.url), request.headers)
    pem = await fetch_key(parsed.key_id)          # app: check the key's owner too
    verified = verify_signature(parsed, pem, body)

The scheme is detected from the headers: ``Signature-Input`` means RFC 9421,
otherwise ``Signature`` (or ``Authorization: Signature …``) means draft-cavage.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from . import errors
from ._headers import header_lines
from .cavage import parse_cavage
from .digest import verify_body_digest_lines
from .errors import SignatureError
from .keys import candidates, load_public_key, verify_bytes
from .model import ParsedSignature, VerifiedSignature, normalize_authority
from .rfc9421 import parse_rfc9421

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def parse_signature(method: str, url: str, headers: Mapping[str, str] | Any) -> ParsedSignature:
    """Read the request's signature; raises :class:`SignatureError` if absent or malformed.

    ``url`` is the absolute URL the client used (behind a proxy: the public one),
    or an origin-form path, in which case the Host header and https are assumed.
    """
    lines = header_lines(headers)
    if "signature-input" in lines:
        return parse_rfc9421(method, url, lines)
    if "signature" in lines or (lines.get("authorization", [""])[0][:10].lower() == "signature "):
        return parse_cavage(method, url, lines)
    raise SignatureError(errors.MISSING_SIGNATURE, "the request carries no HTTP signature")


def key_owner_hint(key_id: str) -> str:
    """The document to fetch for a keyId: ``…/users/x#main-key`` -> ``…/users/x``.

    GoToSocial's ``…/users/x/main-key`` has no fragment and is returned as is; its
    key document names the actor in ``owner``, which the app must check either way.
    """
    return key_id.split("#", 1)[0]


def _require_coverage(parsed: ParsedSignature) -> None:
    covered = set(parsed.covered)

    def missing(what: str) -> SignatureError:
        return SignatureError(errors.MISSING_COMPONENT, f"the signature does not cover {what}")

    if parsed.scheme == "cavage":
        for name in ("(request-target)", "host"):
            if name not in covered:
                raise missing(name)
        if "date" not in covered and "(created)" not in covered:
            raise missing("date or (created)")
        if parsed.method in BODY_METHODS and not covered & {"digest", "content-digest"}:
            raise missing(f"digest (required for {parsed.method})")
    else:
        if "@method" not in covered:
            raise missing("@method")
        has_target = "@target-uri" in covered or (
            "@authority" in covered and covered & {"@path", "@request-target"}
        )
        if not has_target:
            raise missing("the target (@target-uri, or @authority with @path)")
        if parsed.method in BODY_METHODS and "content-digest" not in covered:
            raise missing(f"content-digest (required for {parsed.method})")
        if parsed.created is None:
            raise SignatureError(errors.MISSING_CREATED, "the signature has no created parameter")


def _check_time(parsed: ParsedSignature, now: datetime, max_age: float, max_future: float) -> None:
    def window(moment: datetime, what: str) -> None:
        age = (now - moment).total_seconds()
        if age > max_age:
            raise SignatureError(errors.EXPIRED, f"{what} is {age:.0f} s old (max {max_age:g} s)")
        if -age > max_future:
            raise SignatureError(errors.FUTURE, f"{what} is {-age:.0f} s in the future (max {max_future:g} s)")

    if parsed.scheme == "cavage" and "date" in parsed.covered:
        if parsed.date is None:
            raise SignatureError(errors.MISSING_HEADER, "signed header 'date' is not in the request")
        window(parsed.date, "Date")
    if parsed.created is not None and (parsed.scheme == "rfc9421" or "(created)" in parsed.covered):
        window(parsed.created, "created")
    if parsed.expires is not None and now > parsed.expires:
        raise SignatureError(errors.EXPIRED, f"the signature expired at {parsed.expires.isoformat()}")


def _check_host(parsed: ParsedSignature, origin: str) -> None:
    """A signed ``Host`` must name ``origin``'s host (ours): else the request was signed for
    another server and replayed to us.  (RFC 9421's ``@authority``/``@target-uri`` are
    derived from the URL the app passes, so they bind to our host by construction.)"""
    if "host" not in parsed.covered:
        return
    signed = parsed.header("host")
    if signed is None:
        return  # absent: the signing string used the request's own authority
    scheme, _, ours = origin.partition("://")
    try:
        host = normalize_authority(signed, scheme)
        ours = normalize_authority(ours.split("/", 1)[0], scheme)
    except ValueError:
        raise SignatureError(errors.MALFORMED, f"signed Host {signed!r} is not a host name") from None
    if host != ours:
        raise SignatureError(errors.WRONG_HOST, f"the signature was made for host {host}, not for {ours}")


def verify_signature_value(parsed: ParsedSignature, public_key_pem: str) -> str:
    """Check only the signature bytes (no time, coverage or digest policy); return the algorithm.

    Test vectors and diagnostics use this; apps use :func:`verify_signature`.
    """
    key = load_public_key(public_key_pem)
    for algorithm in candidates(parsed.algorithm, key):
        for base in parsed.bases:
            if verify_bytes(algorithm, key, base, parsed.signature):
                return algorithm
    reason = "the signature does not match the request and key"
    bound = [name for name in ("@target-uri", "@authority") if name in parsed.covered]
    if parsed.scheme == "rfc9421" and bound:
        reason += f" ({' and '.join(bound)} taken from the URL it was received at)"
    raise SignatureError(errors.BAD_SIGNATURE, reason)


def verify_signature(
    parsed: ParsedSignature,
    public_key_pem: str,
    body: bytes | None,
    *,
    now: datetime | None = None,
    max_age: float = 3600,
    max_future: float = 300,
    origin: str | None = None,
) -> VerifiedSignature:
    """Verify a parsed signature with the signer's key; raise :class:`SignatureError` if not.

    Checks, in order: the required components are signed (see module docs of each
    scheme), the time window, the signature bytes, then the body digest (for
    POST/PUT/PATCH, or whenever a digest header is signed).  With ``origin``
    (our ``https://host[:port]``), a signed ``Host`` naming another server is refused first.
    """
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    _require_coverage(parsed)
    if origin is not None:
        _check_host(parsed, origin)
    _check_time(parsed, now, max_age, max_future)
    algorithm = verify_signature_value(parsed, public_key_pem)
    if parsed.method in BODY_METHODS or set(parsed.covered) & {"digest", "content-digest"}:
        verify_body_digest_lines({k: [v] for k, v in parsed.headers}, body)
    created = parsed.created
    if parsed.scheme == "cavage" and "(created)" not in parsed.covered:
        created = parsed.date  # an unsigned created parameter proves nothing
    return VerifiedSignature(parsed.key_id, parsed.scheme, algorithm, created)
