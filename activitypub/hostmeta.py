"""host-meta (RFC 6415): tells older clients where WebFinger lives, as XRD or JSON."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

XRD_CONTENT_TYPE = "application/xrd+xml; charset=utf-8"
JRD_CONTENT_TYPE = "application/jrd+json; charset=utf-8"


def webfinger_template(base_url: str) -> str:
    return f"{base_url}/.well-known/webfinger?resource={{uri}}"


def host_meta_xrd(base_url: str) -> str:
    template = quoteattr(webfinger_template(base_url))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template={template}/>\n'
        "</XRD>\n"
    )


def host_meta_json(base_url: str) -> dict[str, Any]:
    return {"links": [{"rel": "lrdd", "template": webfinger_template(base_url)}]}
