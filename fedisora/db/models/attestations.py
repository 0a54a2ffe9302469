"""Issued attestations (signed W3C credentials), their status lists, and the moderation audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from fedisora.db.models.base import Base, datetime_field, snowflake_pk

__all__ = ["Attestation", "StatusList", "ModerationAuditEntry"]


class StatusList(Base, table=True):
    """A Bitstring Status List one local actor (the issuer) serves at ``/status-lists/<id>``.

    ``bits`` is the raw (uncompressed) bitstring; ``credential`` the signed
    ``BitstringStatusListCredential`` for the current bits (``None`` until first
    served after a change, then signed once and kept).
    """

    __tablename__ = "status_lists"

    id: int = snowflake_pk()
    issuer_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE", index=True
    )
    purpose: str = "revocation"
    size: int  # bits
    allocated: int = 0  # indexes handed out
    bits: bytes = Field(sa_type=sa.LargeBinary)
    credential: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    created_at: datetime = datetime_field()
    updated_at: datetime = datetime_field(onupdate=True)


class Attestation(Base, table=True):
    """One credential we issued, served at ``/attestations/<id>``.

    ``kind`` is the credential type (``AccountAttestation``, ``SelfDeclaration``,
    ``MediaProvenance``, ``LikenessConsent``); ``claim`` its main value
    (``human``/``automation``, a likeness policy, a digital source type) and
    ``method`` how a human was checked, both copied out of ``credential`` for
    queries and display.
    """

    __tablename__ = "attestations"
    __table_args__ = (sa.UniqueConstraint("status_list_id", "status_index"),)

    id: int = snowflake_pk()
    kind: str = Field(index=True)
    issuer_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE", index=True
    )
    subject_actor_id: int | None = Field(
        default=None, sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE", index=True
    )
    subject_media_id: int | None = Field(
        default=None,
        sa_type=sa.BigInteger,
        foreign_key="media_attachments.id",
        ondelete="CASCADE",
        index=True,
    )
    claim: str | None = None
    method: str | None = None
    credential: dict[str, Any] = Field(sa_type=sa.JSON)
    status_list_id: int | None = Field(
        default=None, sa_type=sa.BigInteger, foreign_key="status_lists.id", ondelete="SET NULL"
    )
    status_index: int | None = None
    valid_from: datetime = datetime_field()
    valid_until: datetime | None = datetime_field(nullable=True)
    revoked_at: datetime | None = datetime_field(nullable=True)
    created_at: datetime = datetime_field()


class ModerationAuditEntry(Base, table=True):
    """Who did what to whom: every attestation issued or revoked, and (later) moderation actions.

    ``actor_id`` is the admin's actor (``None`` for the console or the system);
    ``target`` names what was acted on (an actor URI, ``attestation:<id>``…).
    """

    __tablename__ = "moderation_audit_log"

    id: int = snowflake_pk()
    actor_id: int | None = Field(
        default=None, sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="SET NULL", index=True
    )
    action: str = Field(index=True)
    target: str
    details: dict[str, Any] = Field(default_factory=lambda: {}, sa_type=sa.JSON, nullable=False)
    created_at: datetime = datetime_field(index=True)
