"""draft-cavage-http-signatures-12, as Mastodon, GoToSocial, PeerTube and friends use it.

Signing string: one ``name: value`` line per entry of ``headers``, joined by
``\\n``; ``(request-target)`` is the lowercase method, a space, and path+query.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from . import errors
from ._headers import HeaderLines, combined, header_lines
from .digest import digest_header
from .errors import SignatureError
from .keys import ED25519, RSA_V1_5_SHA256, load_private_key, sign_bytes
from .model import ParsedSignature, Target, split_target

_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^",\s]*))\s*(,|$)')
DEFAULT_HEADERS = ("date",)  # draft-cavage-09..12 fallback when `headers` is absent (Appendix C.1)


def parse_params(value: str) -> dict[str, str]:
    """``keyId="a",algorithm="rsa-sha256",created=123`` -> {"keyid": "a", ...} (names lowercased)."""
    if value[:10].lower() == "signature ":
        value = value[10:]  # Authorization: Signature ...
    params: dict[str, str] = {}
    pos = 0
    value = value.strip()
    while pos < len(value):
        match = _PARAM.match(value, pos)
        if not match or match.end() == pos:
            raise SignatureError(errors.MALFORMED, f"cannot parse Signature header near {value[pos:pos + 20]!r}")
        name = match.group(1).lower()
        if name in params:
            raise SignatureError(errors.MALFORMED, f"Signature parameter {name!r} appears twice")
        raw = match.group(2)
        params[name] = re.sub(r"\\(.)", r"\1", raw) if raw is not None else match.group(3)
        pos = match.end()
    return params


def _timestamp(params: dict[str, str], name: str) -> datetime | None:
    if name not in params:
        return None
    try:
        return datetime.fromtimestamp(float(params[name]), UTC)
    except (ValueError, OverflowError) as exc:
        raise SignatureError(errors.MALFORMED, f"{name}={params[name]!r} is not a Unix time") from exc


def signing_string(
    method: str,
    target: Target,
    lines: HeaderLines,
    covered: tuple[str, ...],
    params: Mapping[str, str],
    *,
    with_query: bool = True,
) -> str:
    out = []
    for name in covered:
        if name == "(request-target)":
            path = target.request_target if with_query else target.path
            value = f"{method.lower()} {path}"
        elif name in ("(created)", "(expires)"):
            value = params.get(name[1:-1]) or ""
            if not value:
                raise SignatureError(errors.MALFORMED, f"{name} is signed but the {name[1:-1]} parameter is absent")
        elif name.startswith("("):
            raise SignatureError(errors.MALFORMED, f"unknown pseudo-header {name}")
        else:
            header = combined(lines, name)
            if header is None and name == "host":
                header = target.authority  # HTTP/2 has :authority instead of Host
            if header is None:
                raise SignatureError(errors.MISSING_HEADER, f"signed header {name!r} is not in the request")
            value = header
        out.append(f"{name}: {value}")
    return "\n".join(out)


def parse_cavage(method: str, url: str, lines: HeaderLines) -> ParsedSignature:
    value = combined(lines, "signature")
    if value is None:
        value = combined(lines, "authorization")
    if value is None:
        raise SignatureError(errors.MISSING_SIGNATURE, "no Signature header")
    params = parse_params(value)
    for required in ("keyid", "signature"):
        if not params.get(required):
            raise SignatureError(errors.MALFORMED, f"Signature header lacks {required}")
    try:
        signature = base64.b64decode("".join(params["signature"].split()), validate=True)
    except ValueError as exc:
        raise SignatureError(errors.MALFORMED, "signature is not base64") from exc
    covered = tuple(params["headers"].lower().split()) if "headers" in params else DEFAULT_HEADERS
    if not covered:
        raise SignatureError(errors.MALFORMED, "the headers list is empty")
    try:
        target = split_target(url, lines)
    except ValueError as exc:
        raise SignatureError(errors.MALFORMED, f"bad request URL: {exc}") from exc
    date = None
    if "date" in covered and combined(lines, "date") is not None:
        try:
            date = parsedate_to_datetime(combined(lines, "date"))
        except (TypeError, ValueError) as exc:
            raise SignatureError(errors.MALFORMED, f"Date {combined(lines, 'date')!r} is not an HTTP date") from exc
        if date.tzinfo is None:
            date = date.replace(tzinfo=UTC)
    bases = [signing_string(method, target, lines, covered, params).encode("utf-8")]
    if "(request-target)" in covered and target.query is not None:
        # GoToSocial sometimes signs the path without its query string.
        bases.append(signing_string(method, target, lines, covered, params, with_query=False).encode("utf-8"))
    return ParsedSignature(
        scheme="cavage",
        key_id=params["keyid"],
        algorithm=params.get("algorithm"),
        covered=covered,
        created=_timestamp(params, "created"),
        expires=_timestamp(params, "expires"),
        method=method.upper(),
        date=date,
        signature=signature,
        bases=tuple(bases),
        headers=tuple((k, ", ".join(v)) for k, v in lines.items()),
    )


def sign_cavage(
    method: str,
    url: str,
    headers: Mapping[str, str],
    key_id: str,
    private_key_pem: str,
    covered: tuple[str, ...],
    *,
    algorithm: str | None = None,
    include_headers_param: bool = True,
    created: int | None = None,
    expires: int | None = None,
) -> str:
    """The ``Signature`` header value over ``covered``; RSA keys sign rsa-sha256, Ed25519 hs2019.

    ``created``/``expires`` (Unix times) become parameters, for ``(created)``/``(expires)``.
    """
    key = load_private_key(private_key_pem)
    is_ed = not hasattr(key, "key_size")
    concrete = ED25519 if is_ed else RSA_V1_5_SHA256
    algorithm = algorithm or ("hs2019" if is_ed else "rsa-sha256")
    lines = header_lines(headers)
    times = {k: str(v) for k, v in (("created", created), ("expires", expires)) if v is not None}
    base = signing_string(method, split_target(url, lines), lines, covered, times)
    signature = base64.b64encode(sign_bytes(concrete, key, base.encode("utf-8"))).decode("ascii")
    extra = "".join(f"{k}={v}," for k, v in times.items())
    listed = f'headers="{" ".join(covered)}",' if include_headers_param else ""
    return f'keyId="{key_id}",algorithm="{algorithm}",{extra}{listed}signature="{signature}"'


def http_date(moment: datetime) -> str:
    """RFC 7231 IMF-fixdate, e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    key_id: str,
    private_key_pem: str,
    *,
    now: datetime | None = None,
) -> dict[str, str]:
    """Sign an outgoing request as Mastodon does; return all headers to send.

    Adds ``Host`` (unless present), ``Date`` (always, from ``now``), and for a body
    ``Digest: SHA-256=…``; signs ``(request-target) host date`` plus ``digest`` and
    ``content-type`` (if present) for a body, or ``accept`` (if present) without.
    """
    out = dict(headers)

    def put(name: str, value: str) -> None:
        for existing in [k for k in out if k.lower() == name.lower()]:
            del out[existing]
        out[name] = value

    present = {k.lower() for k in out}
    if "host" not in present:
        put("Host", split_target(url, header_lines(out)).authority)
    put("Date", http_date(now or datetime.now(UTC)))
    covered = ["(request-target)", "host", "date"]
    if body is not None:
        put("Digest", digest_header(body))
        covered.append("digest")
        if "content-type" in present:
            covered.append("content-type")
    elif "accept" in present:
        covered.append("accept")
    put("Signature", sign_cavage(method, url, out, key_id, private_key_pem, tuple(covered)))
    return out
