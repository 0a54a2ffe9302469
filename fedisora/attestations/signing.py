"""Signing credentials with the issuer's Ed25519 key (eddsa-jcs-2022 Data Integrity proofs).

A thin seam over :func:`fedisora.federation.proofs.sign_document`, imported on
first use so that importing this package never depends on the proofs module.
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from ..db.models import Actor

__all__ = ["sign"]


async def sign(session: AsyncSession, issuer: Actor, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with a ``proof`` made with ``issuer``'s active Ed25519 key (purpose
    ``assertionMethod``)."""
    from ..federation.proofs import sign_document

    return await sign_document(session, issuer, document)
