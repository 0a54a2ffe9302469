"""What this instance concluded about attestations it received, and the status lists it read.

A remote instance's credentials (account attestations, self-declarations, media
provenance, likeness consent) are verified on receipt and again when their
validity or our cached revocation status runs out.  Each result is one row per
credential and per thing it was found on (``target``: ``actor:ID``,
``status:ID`` or ``media:ID``), so a credential seen again replaces its row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from fedisora.db.models.base import Base, datetime_field, snowflake_pk

__all__ = ["AttestationVerification", "StatusListCache"]


class AttestationVerification(Base, table=True):
    """The verification result of one received credential (or object proof)."""

    __tablename__ = "attestation_verifications"
    __table_args__ = (sa.UniqueConstraint("target", "credential_id"),)

    id: int = snowflake_pk()
    # Where it was found: "actor:ID", "status:ID" or "media:ID" (one of the ids below is set).
    target: str
    credential_id: str = Field(sa_type=sa.Text)
    kind: str  # human, automation, self-declared-human, self-declared-automation, media-provenance, likeness-consent, object-proof
    issuer_uri: str | None = Field(default=None, sa_type=sa.Text)
    subject_uri: str | None = Field(default=None, sa_type=sa.Text, index=True)
    actor_id: int | None = Field(
        default=None, sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE", index=True
    )
    status_id: int | None = Field(
        default=None, sa_type=sa.BigInteger, foreign_key="statuses.id", ondelete="CASCADE", index=True
    )
    media_id: int | None = Field(
        default=None, sa_type=sa.BigInteger, foreign_key="media_attachments.id", ondelete="CASCADE", index=True
    )
    # verified, expired, revoked, tampered, unknown-issuer, digest-mismatch, not-yet-valid, error
    result: str
    reason: str = Field(default="", sa_type=sa.Text)
    # What the credential says (for display without re-reading it).
    details: dict[str, Any] = Field(default_factory=lambda: {}, sa_type=sa.JSON, nullable=False)
    valid_from: datetime | None = datetime_field(nullable=True)
    valid_until: datetime | None = datetime_field(nullable=True)
    checked_at: datetime = datetime_field()
    next_check_at: datetime | None = datetime_field(nullable=True, index=True)
    credential: dict[str, Any] = Field(default_factory=lambda: {}, sa_type=sa.JSON, nullable=False)
    created_at: datetime = datetime_field()
    updated_at: datetime = datetime_field(onupdate=True)


class StatusListCache(Base, table=True):
    """A Bitstring Status List credential fetched from its issuer, kept until ``expires_at``."""

    __tablename__ = "attestation_status_lists"

    url: str = Field(primary_key=True)
    issuer_uri: str | None = Field(default=None, sa_type=sa.Text)
    purpose: str = "revocation"
    encoded_list: str = Field(default="", sa_type=sa.Text)
    fetched_at: datetime = datetime_field()
    expires_at: datetime = datetime_field()
