"""``httpx.Auth`` that signs every outgoing request (deliveries, signed fetches).

GoToSocial and Mastodon in authorized-fetch mode refuse unsigned GETs, so the
same auth is used for reads and writes.  It needs the body to compute the digest.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Literal

import httpx

from .cavage import sign_request
from .rfc9421 import sign_request_rfc9421


class HTTPSignatureAuth(httpx.Auth):
    """Sign with draft-cavage (default, what every peer accepts) or RFC 9421."""

    requires_request_body = True

    def __init__(
        self, key_id: str, private_key_pem: str, *, scheme: Literal["cavage", "rfc9421"] = "cavage"
    ) -> None:
        self.key_id = key_id
        self.private_key_pem = private_key_pem
        self.scheme = scheme

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        method = request.method.upper()
        content = request.content
        body = content if content or method in ("POST", "PUT", "PATCH") else None
        sign = sign_request if self.scheme == "cavage" else sign_request_rfc9421
        signed = sign(method, str(request.url), dict(request.headers), body, self.key_id, self.private_key_pem)
        for name, value in signed.items():
            if request.headers.get(name) != value:
                request.headers[name] = value
        yield request
