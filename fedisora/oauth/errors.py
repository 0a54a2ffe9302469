"""OAuth protocol errors (RFC 6749 §5.2) with Doorkeeper's wording, which Mastodon clients see."""

from __future__ import annotations

DESCRIPTIONS = {
    "invalid_request": (
        "The request is missing a required parameter, includes an unsupported parameter value, "
        "or is otherwise malformed."
    ),
    "invalid_client": (
        "Client authentication failed due to unknown client, no client authentication included, "
        "or unsupported authentication method."
    ),
    "invalid_grant": (
        "The provided authorization grant is invalid, expired, revoked, does not match the "
        "redirection URI used in the authorization request, or was issued to another client."
    ),
    "unsupported_grant_type": (
        "The authorization grant type is not supported by the authorization server."
    ),
    "invalid_scope": "The requested scope is invalid, unknown, or malformed.",
    "unauthorized_client": "You are not authorized to revoke this token",
}

STATUS = {"invalid_client": 401, "unauthorized_client": 403}


class OAuthError(Exception):
    """Answered as ``{"error": error, "error_description": description}``."""

    def __init__(self, error: str, description: str | None = None, *, status: int | None = None) -> None:
        self.error = error
        self.description = description or DESCRIPTIONS.get(error, error)
        self.status = status or STATUS.get(error, 400)
        super().__init__(f"{error}: {self.description}")

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class ValidationError(ValueError):
    """Bad input to a Mastodon API method (answered 422 with Mastodon's wording)."""
