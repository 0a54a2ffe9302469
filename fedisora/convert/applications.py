"""The Mastodon ``Application`` entity (Mastodon 4.3 shape).

Takes plain values rather than a model, so it does not depend on how the
OAuth code stores client applications.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["application", "status_application"]


def application(
    *,
    id: int | str,
    name: str,
    website: str | None,
    scopes: Sequence[str],
    redirect_uris: Sequence[str],
    client_id: str | None = None,
    client_secret: str | None = None,
) -> dict[str, Any]:
    """``Application`` (``GET /api/v1/apps/verify_credentials``); with ``client_id`` and
    ``client_secret`` it is the ``CredentialApplication`` that ``POST /api/v1/apps`` answers."""
    entity: dict[str, Any] = {
        "id": str(id),
        "name": name,
        "website": website or None,
        "scopes": list(scopes),
        "redirect_uris": list(redirect_uris),
        "redirect_uri": "\n".join(redirect_uris),  # deprecated in 4.3, still read by older clients
        "vapid_key": "",  # deprecated in 4.3; no Web Push here
    }
    if client_id is not None and client_secret is not None:
        entity["client_id"] = client_id
        entity["client_secret"] = client_secret
        entity["client_secret_expires_at"] = 0  # secrets do not expire
    return entity


def status_application(name: str, website: str | None) -> dict[str, Any]:
    """The short form inside ``Status.application``."""
    return {"name": name, "website": website or None}
