"""The status lists our issuers serve: allocating indexes, flipping bits, the signed credential.

Each issuing actor has its own revocation lists (the list credential must be
signed by the credential's issuer).  Indexes are handed out at random, as the
Bitstring Status List spec recommends, so a list does not reveal the order in
which credentials were issued.  The pure encoding lives in
:mod:`activitypub.statuslist` (verifiers use it too).
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub import statuslist as bitstring
from activitypub.vocab import iso_datetime
from instance_config import Config

from ..db.models import Actor, Attestation, StatusList, utcnow
from .signing import sign

__all__ = ["list_url", "allocate", "set_status", "list_credential", "REVOCATION"]

REVOCATION = "revocation"
_RANDOM_TRIES = 32


def list_url(config: Config, list_id: int) -> str:
    return f"{config.base_url}/status-lists/{list_id}"


async def _open_list(session: AsyncSession, issuer: Actor, purpose: str, size: int) -> StatusList:
    query = (
        select(StatusList)
        .where(StatusList.issuer_id == issuer.id, StatusList.purpose == purpose, StatusList.allocated < StatusList.size)
        .order_by(col(StatusList.id).desc())
    )
    found = (await session.exec(query)).first()
    if found is not None:
        return found
    created = StatusList(issuer_id=issuer.id, purpose=purpose, size=size, bits=bitstring.new_bitstring(size))
    session.add(created)
    await session.flush()
    return created


async def _taken(session: AsyncSession, list_id: int, index: int) -> bool:
    query = select(Attestation.id).where(Attestation.status_list_id == list_id, Attestation.status_index == index)
    return (await session.exec(query)).first() is not None


async def allocate(
    session: AsyncSession, issuer: Actor, *, purpose: str = REVOCATION, size: int = bitstring.MIN_BITS
) -> tuple[StatusList, int]:
    """A free index on one of ``issuer``'s lists (a new list when all are full)."""
    status_list = await _open_list(session, issuer, purpose, size)
    index: int | None = None
    for _ in range(_RANDOM_TRIES):
        candidate = secrets.randbelow(status_list.size)
        if not await _taken(session, status_list.id, candidate):
            index = candidate
            break
    if index is None:  # nearly full: take the first free one
        used = set(
            (await session.exec(select(Attestation.status_index).where(Attestation.status_list_id == status_list.id))).all()
        )
        index = next(i for i in range(status_list.size) if i not in used)
    status_list.allocated += 1
    session.add(status_list)
    return status_list, index


async def set_status(session: AsyncSession, list_id: int, index: int, value: bool = True) -> StatusList | None:
    """Set (or clear) one bit; the list's signed credential is re-made on its next fetch."""
    status_list = await session.get(StatusList, list_id)
    if status_list is None:
        return None
    status_list.bits = bitstring.set_bit(status_list.bits, index, value)
    status_list.credential = None
    status_list.updated_at = utcnow()
    session.add(status_list)
    return status_list


async def list_credential(session: AsyncSession, config: Config, status_list: StatusList) -> dict[str, Any]:
    """The signed ``BitstringStatusListCredential`` for the list's current bits.

    Signed once per change and stored; the caller commits when it was re-made.
    """
    if status_list.credential is not None:
        return status_list.credential
    issuer = await session.get(Actor, status_list.issuer_id)
    if issuer is None:  # pragma: no cover - the foreign key cascades
        raise LookupError(f"status list {status_list.id} has no issuer")
    ttl = config.attestations.status_list_ttl_seconds
    unsigned = bitstring.status_list_credential(
        list_url=list_url(config, status_list.id),
        issuer=issuer.uri,
        bitstring=status_list.bits,
        valid_from=iso_datetime(status_list.updated_at),
        purpose=status_list.purpose,
        ttl_ms=int(ttl * 1000) if ttl else None,
    )
    signed = await sign(session, issuer, unsigned)
    status_list.credential = signed
    session.add(status_list)
    return signed
