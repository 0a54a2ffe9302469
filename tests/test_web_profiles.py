"""Profile and post pages: HTML for browsers, ActivityPub for peers, from the same URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from fedisora.db.models import Actor
from fedisora.processing import posts
from tests.federation import Fediverse, Instance


@pytest.fixture
async def instance(tmp_path: Path) -> AsyncIterator[Instance]:
    world = Fediverse(tmp_path)
    try:
        a = await world.add("a.example")
        await a.create_account("alice")
        yield a
    finally:
        await world.close()


async def write(instance: Instance, text: str, visibility: str = "public", cw: str = "") -> str:
    async with instance.state.sessions() as session:
        alice = (await session.exec(select(Actor).where(Actor.username == "alice"))).one()
        status = await posts.create_post(session, instance.state, alice, text, visibility=visibility, spoiler_text=cw)
        await session.commit()
        return status.url or ""


async def test_profile_page_lists_public_posts_only(instance: Instance) -> None:
    await write(instance, "a <public> clip")
    await write(instance, "just for followers", visibility="private")
    assert instance.client is not None
    page = await instance.client.get("/@alice")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Accept" in page.headers["vary"].split(", ")
    assert "@alice@a.example" in page.text
    assert "a &lt;public&gt; clip" in page.text
    assert "just for followers" not in page.text
    as_ap = await instance.client.get("/@alice", headers={"Accept": "application/activity+json"})
    assert as_ap.json()["id"] == "https://a.example/users/alice"
    assert (await instance.client.get("/@nobody")).status_code == 404


async def test_post_page_and_content_warning(instance: Instance) -> None:
    url = await write(instance, "spoiler inside", cw="film ending")
    assert instance.client is not None
    page = await instance.client.get(url)
    assert page.status_code == 200
    assert "<summary>film ending</summary>" in page.text and "spoiler inside" in page.text
    note = (await instance.client.get(url, headers={"Accept": "application/activity+json"})).json()
    assert note["type"] == "Note" and note["summary"] == "film ending" and note["sensitive"] is True
    private_url = await write(instance, "secret", visibility="private")
    assert (await instance.client.get(private_url)).status_code == 404
