"""RFC 9421 HTTP Message Signatures for requests (what Mastodon 4.5+ also accepts).

Supported components: ``@method @target-uri @authority @scheme @request-target
@path @query @query-param`` and header fields, with the ``key``, ``sf`` (for
dictionary fields) and ``bs`` parameters.  Not supported: responses (``@status``,
``req``) and trailers (``tr``).  The ``@signature-params`` line is the canonical
re-serialization of the parsed Signature-Input member (RFC 9421 section 2.3).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

from . import errors
from ._headers import HeaderLines, combined, header_lines
from .digest import content_digest_header
from .errors import SignatureError
from .keys import ED25519, RSA_V1_5_SHA256, load_private_key, sign_bytes
from .model import ParsedSignature, Target, split_target
from .sfv import (
    InnerList,
    Item,
    Params,
    SFError,
    Token,
    is_inner_list,
    parse_dictionary,
    parse_item,
    serialize_dictionary,
    serialize_inner_list,
    serialize_item,
    serialize_member,
)

_DICTIONARY_FIELDS = {"signature", "signature-input", "content-digest", "repr-digest", "want-content-digest"}
_PARAM_TYPES: dict[str, type] = {"created": int, "expires": int, "keyid": str, "alg": str, "nonce": str, "tag": str}


def _target_uri(url: str, target: Target) -> str:
    if "://" in url:
        return url
    return f"{target.scheme}://{target.authority}{target.request_target}"


def _component_values(name: str, params: Params, method: str, url: str, target: Target, lines: HeaderLines) -> list[str]:
    if name.startswith("@"):
        if name == "@query-param":
            wanted = params.get("name")
            if not isinstance(wanted, str) or isinstance(wanted, Token):
                raise SignatureError(errors.MALFORMED, '@query-param needs a name="…" parameter')
            pairs = parse_qsl(target.query or "", keep_blank_values=True)
            found = [quote(v, safe="") for k, v in pairs if quote(k, safe="") == wanted]
            if not found:
                raise SignatureError(errors.MISSING_HEADER, f"signed query parameter {wanted!r} is not in the URL")
            return found
        simple = {
            "@method": method.upper(),
            "@target-uri": _target_uri(url, target),
            "@authority": target.authority,
            "@scheme": target.scheme,
            "@request-target": target.request_target,
            "@path": target.path,
            "@query": "?" + (target.query or ""),
        }
        if name not in simple:
            raise SignatureError(errors.MALFORMED, f"unsupported derived component {name!r}")
        return [simple[name]]
    if name != name.lower():
        raise SignatureError(errors.MALFORMED, f"component name {name!r} is not lowercase")
    unsupported = set(params) - {"key", "sf", "bs"}
    if unsupported:
        raise SignatureError(errors.MALFORMED, f"unsupported parameters {sorted(unsupported)} on {name!r}")
    values = lines.get(name)
    if values is None:
        raise SignatureError(errors.MISSING_HEADER, f"signed header {name!r} is not in the request")
    if "bs" in params:
        return [", ".join(":" + base64.b64encode(v.encode("latin-1")).decode("ascii") + ":" for v in values)]
    value = ", ".join(values)
    if "key" in params or "sf" in params:
        if name not in _DICTIONARY_FIELDS:
            raise SignatureError(errors.MALFORMED, f"{name!r} is not a known dictionary field")
        try:
            members = parse_dictionary(value)
        except SFError as exc:
            raise SignatureError(errors.MALFORMED, f"{name!r} is not a structured field: {exc}") from exc
        if "key" in params:
            member = members.get(str(params["key"]))
            if member is None:
                raise SignatureError(errors.MISSING_HEADER, f"{name!r} has no member {params['key']!r}")
            return [serialize_member(member)]
        return [serialize_dictionary(members)]
    return [value]


def signature_base(method: str, url: str, lines: HeaderLines, inner: InnerList) -> str:
    """The signature base (RFC 9421 section 2.5) for one Signature-Input member."""
    try:
        target = split_target(url, lines)
    except ValueError as exc:
        raise SignatureError(errors.MALFORMED, f"bad request URL: {exc}") from exc
    out: list[str] = []
    seen: set[str] = set()
    for name, params in inner[0]:
        if not isinstance(name, str) or isinstance(name, Token):
            raise SignatureError(errors.MALFORMED, "component identifiers must be strings")
        identifier = serialize_item((name, params))
        if identifier in seen or name == "@signature-params":
            raise SignatureError(errors.MALFORMED, f"component {identifier} is listed twice or reserved")
        seen.add(identifier)
        for value in _component_values(name, params, method, url, target, lines):
            out.append(f"{identifier}: {value}")
    out.append(f'"@signature-params": {serialize_inner_list(inner)}')
    return "\n".join(out)


def _timestamp(params: Params, name: str) -> datetime | None:
    value = params.get(name)
    return None if value is None else datetime.fromtimestamp(int(value), UTC)


def parse_rfc9421(method: str, url: str, lines: HeaderLines) -> ParsedSignature:
    """Read the first signature of ``Signature-Input`` that also has a ``Signature`` value.

    Only one signature is verified: with several labels (e.g. a client's plus a
    proxy's) the first listed wins, as Mastodon accepts exactly one.
    """
    raw_input, raw_sig = combined(lines, "signature-input"), combined(lines, "signature")
    if raw_input is None or raw_sig is None:
        raise SignatureError(errors.MISSING_SIGNATURE, "Signature-Input and Signature must both be present")
    try:
        inputs, signatures = parse_dictionary(raw_input), parse_dictionary(raw_sig)
    except SFError as exc:
        raise SignatureError(errors.MALFORMED, f"Signature-Input/Signature is not a structured field: {exc}") from exc
    label = next((name for name in inputs if name in signatures), None)
    if label is None:
        raise SignatureError(errors.MALFORMED, "no Signature-Input label has a matching Signature")
    inner, sig = inputs[label], signatures[label]
    if not is_inner_list(inner):
        raise SignatureError(errors.MALFORMED, f"Signature-Input {label} is not an inner list")
    if is_inner_list(sig) or not isinstance(sig[0], bytes):
        raise SignatureError(errors.MALFORMED, f"Signature {label} is not a byte sequence")
    params = inner[1]
    for name, kind in _PARAM_TYPES.items():
        if name in params:
            value = params[name]
            ok = type(value) is int if kind is int else isinstance(value, str) and not isinstance(value, Token)
            if not ok:
                raise SignatureError(errors.MALFORMED, f"signature parameter {name} has the wrong type")
    if not params.get("keyid"):
        raise SignatureError(errors.MALFORMED, "Signature-Input lacks keyid")
    items: list[Item] = inner[0]  # type: ignore[assignment]
    base = signature_base(method, url, lines, inner)  # type: ignore[arg-type]
    return ParsedSignature(
        scheme="rfc9421",
        key_id=str(params["keyid"]),
        algorithm=str(params["alg"]) if "alg" in params else None,
        covered=tuple(str(name) for name, _ in items),
        created=_timestamp(params, "created"),
        expires=_timestamp(params, "expires"),
        method=method.upper(),
        label=label,
        signature=sig[0],
        bases=(base.encode("utf-8"),),
        headers=tuple((k, ", ".join(v)) for k, v in lines.items()),
    )


def _component_item(component: str) -> Item:
    if component.startswith('"'):
        return parse_item(component)
    return (component, {})


def sign_request_rfc9421(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    key_id: str,
    private_key_pem: str,
    *,
    alg: str | None = None,
    created: datetime | int | None = None,
    expires: datetime | int | None = None,
    components: Sequence[str] = ("@method", "@target-uri", "content-digest"),
    label: str = "sig1",
    nonce: str | None = None,
    tag: str | None = None,
    include_alg: bool = True,
) -> dict[str, str]:
    """Sign a request per RFC 9421; return all headers to send.

    ``alg`` defaults to ``rsa-v1_5-sha256`` for RSA keys (the only one Mastodon
    accepts) and ``ed25519`` for Ed25519 keys.  With a body, ``Content-Digest``
    (sha-256) is added unless present; without one, ``content-digest`` is dropped
    from ``components`` unless the header is there.  ``components`` may hold
    serialized identifiers such as ``'"@query-param";name="Pet"'``.
    """
    key = load_private_key(private_key_pem)
    alg = alg or (ED25519 if not hasattr(key, "key_size") else RSA_V1_5_SHA256)
    out = dict(headers)
    present = {k.lower() for k in out}
    if body is not None and "content-digest" not in present:
        out["Content-Digest"] = content_digest_header(body)
        present.add("content-digest")
    items = [_component_item(c) for c in components if c != "content-digest" or "content-digest" in present]

    def unix(moment: datetime | int) -> int:
        return moment if isinstance(moment, int) else int(moment.timestamp())

    params: Params = {"created": unix(created if created is not None else datetime.now(UTC)), "keyid": key_id}
    if include_alg:
        params["alg"] = alg
    for name, value in (("expires", expires), ("nonce", nonce), ("tag", tag)):
        if value is not None:
            params[name] = unix(value) if name == "expires" else value  # type: ignore[arg-type]
    for name in [k for k in out if k.lower() in ("signature", "signature-input")]:
        del out[name]
    inner: InnerList = (items, params)
    base = signature_base(method, url, header_lines(out), inner)
    signature = sign_bytes(alg, key, base.encode("utf-8"))
    out["Signature-Input"] = f"{label}={serialize_inner_list(inner)}"
    out["Signature"] = f"{label}=:{base64.b64encode(signature).decode('ascii')}:"
    return out
