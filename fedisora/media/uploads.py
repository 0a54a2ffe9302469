"""Reading ``multipart/form-data`` bodies with their files (python-multipart is not a
dependency; :func:`fedisora.api.mastodon.auth.request_params` reads text fields only).

:func:`read_form` reads a request's body up to a limit (413 beyond it) and
splits it at the boundary exactly (RFC 7578), so binary file contents come back
byte for byte.  Text fields follow Rails' conventions like ``request_params``:
``name[]`` and repeated names become lists.
"""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from ..errors import APIError

__all__ = ["Upload", "Form", "read_body", "parse_multipart", "read_form"]

MAX_PARTS = 200
MAX_HEADER_BYTES = 8 * 1024


@dataclass(frozen=True)
class Upload:
    """An uploaded file: its bytes and what the client said about them (not to be trusted)."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class Form:
    fields: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)


def _add(params: dict[str, Any], key: str, value: Any) -> None:
    if key.endswith("[]"):
        existing = params.setdefault(key[:-2], [])
        if isinstance(existing, list):
            existing.append(value)
        return
    if key in params:
        existing = params[key]
        params[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
    else:
        params[key] = value


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, or ``APIError(413)`` as soon as it grows past ``max_bytes``."""
    length = request.headers.get("content-length")
    if length is not None and length.strip().isdigit() and int(length) > max_bytes:
        raise APIError(413, "Request body is too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise APIError(413, "Request body is too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _boundary(content_type: str) -> bytes:
    header = email.parser.HeaderParser(policy=email.policy.HTTP).parsestr(
        f"Content-Type: {content_type}\r\n\r\n"
    )
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary or len(boundary) > 200:
        raise ValueError("multipart body without a boundary")
    return boundary.encode("latin-1")


def _part_headers(raw: bytes) -> tuple[str | None, str | None, str | None]:
    """``(field name, filename, content type)`` from a part's header block (``None`` for
    what the part does not say)."""
    message = email.parser.HeaderParser(policy=email.policy.HTTP).parsestr(
        raw.decode("utf-8", "replace") + "\r\n\r\n"
    )
    name = message.get_param("name", header="content-disposition")
    filename = message.get_filename()
    content_type = message.get_content_type() if message.get("content-type") else None
    return (
        str(name) if isinstance(name, str) else None,
        str(filename) if filename is not None else None,
        content_type,
    )


def parse_multipart(content_type: str, body: bytes) -> Form:
    """Split a ``multipart/form-data`` body; ``ValueError`` if it is malformed.

    A part with a filename (or a non-text content type) is a file (the last one wins
    for a repeated name); others are UTF-8 text fields.
    """
    delimiter = b"--" + _boundary(content_type)
    form = Form()
    # The first delimiter may follow a preamble; the others follow a CRLF.
    if body.startswith(delimiter):
        pos = len(delimiter)
    else:
        start = body.find(b"\r\n" + delimiter)
        if start < 0:
            raise ValueError("multipart body without its boundary")
        pos = start + 2 + len(delimiter)
    separator = b"\r\n" + delimiter
    for _ in range(MAX_PARTS + 1):
        if body[pos : pos + 2] == b"--":
            return form  # the close delimiter (an epilogue may follow)
        # transport padding, then the CRLF that ends the delimiter line
        line_end = body.find(b"\r\n", pos)
        if line_end < 0 or body[pos:line_end].strip(b" \t"):
            raise ValueError("malformed multipart delimiter line")
        headers_end = body.find(b"\r\n\r\n", line_end)
        if headers_end < 0 and body[line_end + 2 : line_end + 4] != b"\r\n":
            raise ValueError("multipart part without a header block end")
        if body[line_end + 2 : line_end + 4] == b"\r\n":  # a part with no headers at all
            raw_headers, content_start = b"", line_end + 4
        else:
            raw_headers, content_start = body[line_end + 2 : headers_end], headers_end + 4
        if len(raw_headers) > MAX_HEADER_BYTES:
            raise ValueError("multipart part headers are too long")
        if separator in raw_headers:
            raise ValueError("multipart part without a header block end")
        end = body.find(separator, content_start)
        if end < 0:
            raise ValueError("multipart body is truncated")
        content = body[content_start:end]
        name, filename, part_type = _part_headers(raw_headers)
        if name:
            # A file has a filename, or at least a content type that is not text
            # (some clients leave out an empty filename).
            if filename is not None or (part_type is not None and part_type != "text/plain"):
                form.files[name.removesuffix("[]")] = Upload(
                    filename or "", part_type or "application/octet-stream", content
                )
            else:
                _add(form.fields, name, content.decode("utf-8", "replace"))
        pos = end + len(separator)
    raise ValueError("too many parts in the multipart body")


async def read_form(request: Request, max_bytes: int) -> Form:
    """A multipart request's fields and files (``APIError`` 413 for an oversized body,
    400 for a malformed one)."""
    body = await read_body(request, max_bytes)
    try:
        return parse_multipart(request.headers.get("content-type", ""), body)
    except (ValueError, UnicodeError, LookupError) as exc:
        raise APIError(400, "Error while parsing request body") from exc
