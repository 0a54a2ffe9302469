"""Media as Mastodon.py uploads and posts them: ``media_post`` (an image answered at once, a
video processed by the app's own background runners), ``media`` while the video is
processing, ``media_update`` (alt text, focus, thumbnail) and ``status_post(media_ids=…)``.

Mastodon.py speaks ``requests``; a small adapter hands its requests to the app in process:
the app (with its lifespan and job runners) lives on an event loop in a second thread and
answers over ``httpx.ASGITransport``, so no server process or port is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from mastodon import Mastodon, MastodonAPIError
from requests.adapters import BaseAdapter

from fedisora.accounts.service import create_account, ensure_instance_actor
from fedisora.app import create_app
from fedisora.db.engine import make_engine, make_sessionmaker
from fedisora.db.migrate import upgrade
from instance_config import Config, parse_config, render_config
from tests.media_samples import make_video, png

PASSWORD = "correct horse battery staple"
SCOPES = ["read", "write"]
DOMAIN = "video.example.org"


class AppThread:
    """The app, its lifespan and an httpx client on an event loop of their own, in a thread."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.client: httpx.AsyncClient | None = None
        self._stack = contextlib.AsyncExitStack()

    def call(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        app = create_app(self.config)  # with its background job runners
        await self._stack.enter_async_context(app.router.lifespan_context(app))
        self.client = await self._stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                              base_url=self.config.base_url)
        )

    def __enter__(self) -> AppThread:
        self.thread.start()
        self.call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call(self._stack.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


class ASGIAdapter(BaseAdapter):
    """A ``requests`` transport that answers from the in-process app."""

    def __init__(self, app: AppThread) -> None:
        super().__init__()
        self.app = app

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        assert self.app.client is not None
        answer = self.app.call(self.app.client.request(
            request.method or "GET", request.url or "/", content=body or b"",
            headers={k: v for k, v in request.headers.items() if k.lower() != "content-length"},
        ))
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = requests.structures.CaseInsensitiveDict(answer.headers)
        response._content = answer.content
        response.url = request.url or ""
        response.request = request
        response.reason = answer.reason_phrase
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


async def _prepare(config: Config) -> None:
    await upgrade(config.database_url)
    engine = make_engine(config.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            await ensure_instance_actor(session, config)
            await create_account(session, config, "alice", password=PASSWORD)
            await session.commit()
    finally:
        await engine.dispose()


@pytest.fixture
def session(tmp_path: Path) -> Iterator[requests.Session]:
    path = tmp_path / "instance.toml"
    path.write_text(render_config(DOMAIN, database_url=f"sqlite+aiosqlite:///{tmp_path}/fedisora.db"))
    config = parse_config(path.read_text(), path=path, env={})
    asyncio.run(_prepare(config))
    with AppThread(config) as app:
        http = requests.Session()
        http.mount("https://", ASGIAdapter(app))
        http.mount("http://", ASGIAdapter(app))
        yield http


def test_upload_update_and_post_with_mastodon_py(session: requests.Session, tmp_path: Path) -> None:
    base = f"https://{DOMAIN}"
    client_id, client_secret = Mastodon.create_app("fedisora-media", api_base_url=base, scopes=SCOPES,
                                                   session=session)
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base, session=session)
    api.log_in("alice", PASSWORD, scopes=SCOPES)

    # An image: processed during the request, so its url is there at once.
    image = api.media_post(png(200, 100), mime_type="image/png", description="blue", focus=(0.5, -0.5))
    assert image.type == "image" and image.url and image.preview_url
    assert image.description == "blue" and image.meta.focus.x == 0.5 and image.meta.focus.y == -0.5
    assert image.meta.original.width == 200 and image.blurhash

    # A video: 202 with url None, processed by the app's job runners.
    clip = make_video(tmp_path / "clip.mp4", seconds=1.0)
    video = api.media_post(clip.read_bytes(), mime_type="video/mp4", description="a clip")
    assert video.type == "video" and video.url is None
    updated = api.media_update(video, description="a moving box", focus=(0.0, 0.25),
                               thumbnail=png(320, 180), thumbnail_mime_type="image/png")
    assert updated.description == "a moving box" and updated.preview_url

    deadline = time.monotonic() + 60
    while (current := api.media(video)).url is None:
        assert time.monotonic() < deadline, "the video was not processed in time"
        time.sleep(0.2)
    assert current.type == "video" and current.url.endswith(".mp4")
    assert current.preview_url == updated.preview_url  # the custom thumbnail was kept
    assert current.meta.original.width == 160 and current.meta.original.height == 96
    assert current.meta.focus.y == 0.25 and current.blurhash

    # Refused while both are still unattached, so that the mix is the reason.
    with pytest.raises(MastodonAPIError) as refused:
        api.status_post("video and image", media_ids=[image, video])
    _, status, _, error = refused.value.args  # Mastodon.py: (message, status code, reason, error)
    assert status == 422
    assert error == "Cannot attach a video to a post that already contains images"

    post = api.status_post("my video", media_ids=[video])
    assert [m.id for m in post.media_attachments] == [current.id]
    assert post.media_attachments[0].url == current.url
    picture_post = api.status_post("a picture", media_ids=[image])
    assert picture_post.media_attachments[0].description == "blue"
