"""Creating (and withdrawing) notifications for local accounts.

Called where things happen: follows and follow requests (inbox handler, for
local and remote followers alike), mentions, likes, boosts and edits (the
local action in ``fedisora.processing``, the remote one in the federation
handlers).  The caller commits; the notification becomes visible with the
change that caused it.

:func:`notify` is idempotent: one notification per ``(recipient, type, sender,
status)``; a repeated Like or Follow does not notify twice (and a dismissed
notification stays dismissed).  ``update`` is the exception: every edit is a new
event, so the earlier ``update`` notification is replaced by a new one.
:func:`withdraw` removes a notification when its cause is undone (unfollow,
unlike, unboost, an answered follow request), as Mastodon does.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from .db import upsert
from .db.ids import new_id
from .db.models import Actor, Block, Mention, Mute, Notification, NotificationType, Status, utcnow

__all__ = [
    "notify",
    "withdraw",
    "withdraw_boost_notification",
    "refuses",
    "notify_mentions",
    "notify_boosters_of_edit",
]


async def refuses(session: AsyncSession, recipient: Actor, sender: Actor) -> bool:
    """Whether ``recipient`` blocks ``sender`` or mutes them with notifications."""
    blocked = await session.exec(
        select(Block.id).where(Block.actor_id == recipient.id, Block.target_id == sender.id)
    )
    if blocked.first() is not None:
        return True
    now = utcnow()
    muted = await session.exec(
        select(Mute.id).where(
            Mute.actor_id == recipient.id,
            Mute.target_id == sender.id,
            Mute.notifications == True,  # noqa: E712 - SQL comparison
            sa.or_(Mute.expires_at.is_(None), Mute.expires_at > now),  # type: ignore[union-attr,operator]
        )
    )
    return muted.first() is not None


def _same_event(recipient_id: int, type: str, from_actor_id: int, status_id: int | None) -> list[sa.ColumnElement[bool]]:
    return [
        Notification.recipient_id == recipient_id,  # type: ignore[list-item]
        Notification.type == type,  # type: ignore[list-item]
        Notification.from_actor_id == from_actor_id,  # type: ignore[list-item]
        Notification.status_id.is_(None) if status_id is None else Notification.status_id == status_id,  # type: ignore[union-attr,list-item]
    ]


async def notify(
    session: AsyncSession,
    *,
    recipient: Actor,
    type: str,
    from_actor: Actor,
    status: Status | None = None,
) -> None:
    """Tell local ``recipient`` that ``from_actor`` did ``type`` (about ``status``).

    Nothing happens for remote recipients, for one's own actions, or when the
    recipient blocks or mutes (with notifications) the sender.
    """
    if type not in NotificationType.ALL:
        raise ValueError(f"not a notification type: {type!r}")
    if not recipient.local or recipient.id == from_actor.id:
        return
    if await refuses(session, recipient, from_actor):
        return
    await session.flush()  # the status (and actors) must exist before the row that names them
    status_id = status.id if status is not None else None
    same = _same_event(recipient.id, type, from_actor.id, status_id)
    if type == NotificationType.UPDATE:
        await session.exec(sa.delete(Notification).where(*same))  # type: ignore[call-overload]
    elif (await session.exec(select(Notification.id).where(*same))).first() is not None:
        return  # NULL status ids are distinct to the unique constraint: check first
    values = {
        "id": new_id(),
        "recipient_id": recipient.id,
        "type": type,
        "from_actor_id": from_actor.id,
        "status_id": status_id,
        "created_at": utcnow(),
        "dismissed_at": None,
    }
    await session.exec(upsert.insert(session, Notification).values(**values).on_conflict_do_nothing())  # type: ignore[call-overload]


async def withdraw(
    session: AsyncSession,
    *,
    recipient: Actor | int,
    type: str,
    from_actor: Actor | int,
    status: Status | int | None = None,
) -> None:
    """Remove the notification of an event that was undone (no-op when there is none)."""
    recipient_id = recipient if isinstance(recipient, int) else recipient.id
    from_actor_id = from_actor if isinstance(from_actor, int) else from_actor.id
    status_id = status if isinstance(status, int) or status is None else status.id
    await session.exec(  # type: ignore[call-overload]
        sa.delete(Notification).where(*_same_event(recipient_id, type, from_actor_id, status_id))
    )


async def notify_mentions(session: AsyncSession, status: Status, author: Actor) -> None:
    """``mention`` for every local actor ``status`` mentions (again after an edit: only the
    newly mentioned get one)."""
    if status.reblog_of_id is not None or status.deleted_at is not None or status.actor_id != author.id:
        return
    await session.flush()
    query = (
        select(Actor)
        .join(Mention, Mention.actor_id == Actor.id)  # type: ignore[arg-type]
        .where(Mention.status_id == status.id, Actor.local)
        .order_by(Actor.id)
    )
    for actor in (await session.exec(query)).all():
        await notify(session, recipient=actor, type=NotificationType.MENTION, from_actor=author, status=status)


async def notify_boosters_of_edit(session: AsyncSession, status: Status, author: Actor) -> None:
    """``update`` for the local actors who boosted ``status``, which was just edited."""
    if status.deleted_at is not None:
        return
    boosters = (
        select(Actor)
        .join(Status, Status.actor_id == Actor.id)  # type: ignore[arg-type]
        .where(Status.reblog_of_id == status.id, Status.deleted_at.is_(None), Actor.local)  # type: ignore[union-attr]
        .order_by(Actor.id)
    )
    for actor in (await session.exec(boosters)).all():
        await notify(session, recipient=actor, type=NotificationType.UPDATE, from_actor=author, status=status)


async def withdraw_boost_notification(session: AsyncSession, booster: Actor, original_id: int) -> None:
    """A boost of the post ``original_id`` by ``booster`` was undone: its ``reblog`` goes too."""
    author_id = (await session.exec(select(Status.actor_id).where(Status.id == original_id))).first()
    if author_id is not None:
        await withdraw(session, recipient=author_id, type=NotificationType.REBLOG, from_actor=booster, status=original_id)
