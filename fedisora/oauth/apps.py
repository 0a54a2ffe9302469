"""Registered client applications: creating them, finding them, checking their secrets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..convert.applications import application as convert_application
from ..db.models import OAuthApplication
from . import crypto
from .errors import ValidationError
from .scopes import InvalidScope, format_scopes, parse_scopes

OOB_REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"
MAX_NAME_LENGTH = 60  # Mastodon's limits
MAX_URI_LENGTH = 2000
FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "vbscript"})


@dataclass(frozen=True)
class NewApplication:
    """A just-registered app and its client secret (shown once, never stored)."""

    app: OAuthApplication
    client_secret: str


def _strings(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.splitlines()
    return [line for item in value for line in str(item).splitlines()]


def validate_redirect_uris(value: str | Iterable[str] | None) -> list[str]:
    """The redirect URIs as a list, or :class:`ValidationError` with Mastodon's message."""
    uris = list(dict.fromkeys(u.strip() for u in _strings(value) if u.strip()))
    if not uris:
        raise ValidationError("Validation failed: Redirect URI can't be blank")
    for uri in uris:
        if len(uri) > MAX_URI_LENGTH:
            raise ValidationError(
                f"Validation failed: Redirect URI is too long (maximum is {MAX_URI_LENGTH} characters)"
            )
        if uri == OOB_REDIRECT_URI:
            continue
        try:
            parts = urlsplit(uri)
        except ValueError:
            raise ValidationError("Validation failed: Redirect URI must be a valid URI.") from None
        if any(ch.isspace() for ch in uri):
            raise ValidationError("Validation failed: Redirect URI must be a valid URI.")
        if not parts.scheme:
            raise ValidationError("Validation failed: Redirect URI must be an absolute URI.")
        if parts.scheme.lower() in FORBIDDEN_SCHEMES:
            raise ValidationError("Validation failed: Redirect URI is forbidden by the server.")
        if parts.fragment or uri.endswith("#"):
            raise ValidationError("Validation failed: Redirect URI cannot contain a fragment.")
        if parts.scheme.lower() in ("http", "https") and not parts.netloc:
            raise ValidationError("Validation failed: Redirect URI must be an absolute URI.")
    return uris


def _validate_website(website: str | None) -> str | None:
    website = (website or "").strip()
    if not website:
        return None
    parts = urlsplit(website)
    if len(website) > MAX_URI_LENGTH or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError("Validation failed: Website is invalid")
    return website


async def register_app(
    session: AsyncSession,
    *,
    name: str | None,
    redirect_uris: str | Iterable[str] | None,
    scopes: str | Iterable[str] | None = None,
    website: str | None = None,
    user_id: int | None = None,
) -> NewApplication:
    """Validate and add an application (the caller commits).  Raises :class:`ValidationError`."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("Validation failed: Application name can't be blank")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"Validation failed: Application name is too long (maximum is {MAX_NAME_LENGTH} characters)"
        )
    uris = validate_redirect_uris(redirect_uris)
    try:
        scope_list = parse_scopes(scopes)
    except InvalidScope:
        raise ValidationError("Validation failed: Scopes doesn't match configured on the server.") from None
    client_secret = crypto.new_secret()
    app = OAuthApplication(
        name=name,
        website=_validate_website(website),
        redirect_uris="\n".join(uris),
        scopes=format_scopes(scope_list),
        client_id=crypto.new_secret(),
        client_secret_hash=crypto.digest(client_secret),
        user_id=user_id,
    )
    session.add(app)
    await session.flush()
    return NewApplication(app=app, client_secret=client_secret)


async def find_app(session: AsyncSession, client_id: str | None) -> OAuthApplication | None:
    if not client_id:
        return None
    query = select(OAuthApplication).where(OAuthApplication.client_id == client_id)
    return (await session.exec(query)).first()


async def authenticate_client(
    session: AsyncSession, client_id: str | None, client_secret: str | None
) -> OAuthApplication | None:
    """The app when ``client_secret`` is its secret, else ``None``."""
    app = await find_app(session, client_id)
    if app is None or not client_secret:
        return None
    return app if crypto.matches(client_secret, app.client_secret_hash) else None


def redirect_uri_list(app: OAuthApplication) -> list[str]:
    return [u for u in app.redirect_uris.split("\n") if u]


def scope_list(app: OAuthApplication) -> tuple[str, ...]:
    return tuple(app.scopes.split())


def application_entity(app: OAuthApplication, *, client_secret: str | None = None) -> dict[str, Any]:
    """Mastodon's ``Application`` entity for ``app`` (built by :mod:`fedisora.convert`); with
    ``client_secret`` the ``CredentialApplication`` returned once by ``POST /api/v1/apps``."""
    return convert_application(
        id=app.id,
        name=app.name,
        website=app.website,
        scopes=scope_list(app),
        redirect_uris=redirect_uri_list(app),
        client_id=app.client_id if client_secret is not None else None,
        client_secret=client_secret,
    )
