"""SSRF guard: decide whether a remote URL may be fetched by the server.

Every URL we fetch or post to comes from someone else's JSON (actor ids,
inboxes, attachments, redirects), so a hostile peer could point us at
``http://127.0.0.1:5432`` or the cloud metadata service.  This module refuses
such targets in two steps:

* :func:`check_url` looks at the URL alone (scheme, userinfo, port, IP
  literals including the legacy ``127.1`` / ``2130706433`` spellings that the
  system resolver would happily accept, and ``localhost`` names);
* :func:`resolve_and_check` resolves a host name and refuses it if *any*
  address is not public.

DNS rebinding (a name that resolves to a public address for our check and to a
private one when the HTTP stack resolves it again) is out of scope: closing it
needs connecting to the checked address ourselves, which httpx's transport
does not expose.  Deployments that need that guarantee should add an egress
firewall.

The URL is parsed with :class:`httpx.URL`, the same parser that will send the
request, so the guard and the HTTP stack cannot disagree about the host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket

import httpx

__all__ = ["UnsafeURL", "check_url", "is_public_address", "resolve_and_check"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# What a DNS host name may contain once IDNA-encoded (underscores do occur).
_HOSTNAME_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?\.?$")
# Anything the legacy inet_aton parser might read as an IPv4 address.
_LEGACY_IPV4_RE = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?$")


class UnsafeURL(ValueError):
    """The URL must not be fetched; ``reason`` says why (for logs and job errors)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"unsafe url: {self.reason}"


def is_public_address(address: IPAddress) -> bool:
    """True when ``address`` is a globally routable unicast address.

    IPv4-mapped (``::ffff:a.b.c.d``) and 6to4/Teredo-embedded addresses are
    judged by the IPv4 address they carry, since that is where packets go.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public_address(embedded)
        if address.teredo is not None:
            return is_public_address(address.teredo[1])
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _parse_ip(host: str) -> IPAddress | None:
    """The address an IP-literal host names, or None for a DNS name."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _LEGACY_IPV4_RE.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return None
    return None


def check_url(url: str | httpx.URL, *, allow_http: bool = False, allow_private: bool = False) -> None:
    """Raise :class:`UnsafeURL` unless ``url`` is acceptable to fetch.

    ``allow_http`` admits plain ``http`` (development, test federations);
    ``allow_private`` admits loopback/private/link-local targets (a federation
    running on one LAN).  Neither is for production.
    """
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise UnsafeURL(f"unparsable url ({exc})") from None
    text = str(url)
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\\" for ch in text):
        raise UnsafeURL("whitespace, control character or backslash in url")

    allowed = {"https", "http"} if allow_http else {"https"}
    if parsed.scheme not in allowed:
        raise UnsafeURL(f"scheme {parsed.scheme!r} not allowed")
    if parsed.userinfo:
        raise UnsafeURL("userinfo in url")
    host = parsed.host
    if not host:
        raise UnsafeURL("no host")
    try:
        port = parsed.port
    except (httpx.InvalidURL, ValueError):
        raise UnsafeURL("invalid port") from None
    if port is not None and not 0 < port < 65536:
        raise UnsafeURL(f"port {port} out of range")

    address = _parse_ip(host)
    if address is None:
        raw = parsed.raw_host.decode("ascii", "replace").lower()
        if not _HOSTNAME_RE.match(raw) or ".." in raw:
            raise UnsafeURL(f"invalid host name {host!r}")
        name = raw.rstrip(".")
        if not allow_private and (name == "localhost" or name.endswith(".localhost")):
            raise UnsafeURL(f"host {host!r} is loopback")
        return
    if not allow_private and not is_public_address(address):
        raise UnsafeURL(f"address {address} is not public")


async def resolve_and_check(host: str, port: int, *, allow_private: bool) -> None:
    """Resolve ``host`` and raise :class:`UnsafeURL` if any address is not public.

    Refusing when *any* address is private (rather than picking a public one)
    is deliberate: the HTTP stack resolves again and may pick another one.
    Resolution failures propagate as :class:`OSError` (``socket.gaierror``) so
    callers can treat them as temporary.
    """
    if allow_private:
        return
    literal = _parse_ip(host)
    if literal is not None:
        if not is_public_address(literal):
            raise UnsafeURL(f"address {literal} is not public")
        return
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not infos:
        raise socket.gaierror(f"no addresses for {host!r}")
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = _parse_ip(str(sockaddr[0]))
        if address is None or not is_public_address(address):
            raise UnsafeURL(f"{host!r} resolves to non-public address {sockaddr[0]}")
