"""Move: an account announces it moved.  Recorded; migrating follows comes later."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.extract import id_of, ids_of

from ...db.models import Actor
from ...state import AppState
from ..remote import get_actor
from .common import Ignored


async def on_move(session: AsyncSession, state: AppState, actor: Actor, activity: dict[str, Any]) -> None:
    if id_of(activity.get("object")) != actor.uri:
        raise Ignored("an actor may only move itself")
    target_uri = id_of(activity.get("target"))
    if not target_uri:
        raise Ignored("Move without a target")
    target = await get_actor(session, state, target_uri, refresh=True)
    # The new account must claim the old one, or anyone could redirect followers.
    if actor.uri not in ids_of((target.raw or {}).get("alsoKnownAs")) and actor.uri not in target.also_known_as:
        raise Ignored(f"{target_uri} does not list {actor.uri} in alsoKnownAs")
    actor.moved_to_uri = target.uri
