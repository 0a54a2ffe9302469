"""The public Mastodon API endpoints (instance v1/v2, peers, activity, rules, emoji, trends),
over HTTP in process, and read back by Mastodon.py itself."""

from __future__ import annotations

import asyncio
import re
import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from mastodon import Mastodon
from mastodon.versions import parse_version_string
from requests.structures import CaseInsensitiveDict

from fedisora import __version__
from fedisora.accounts.service import create_account, ensure_instance_actor
from fedisora.app import create_app
from fedisora.db.models import Domain, Status
from fedisora.state import AppState
from instance_config import Config, parse_config, render_config
from tests.asgi import app_client

BASE = "https://video.example.org"

# From docs.joinmastodon.org/entities/Instance (v2) and V1_Instance, as of Mastodon 4.3.
V2_KEYS = {
    "domain", "title", "version", "source_url", "description", "usage", "thumbnail", "icon",
    "languages", "configuration", "registrations", "api_versions", "contact", "rules",
}
V2_CONFIGURATION_KEYS = {"urls", "accounts", "statuses", "media_attachments", "polls", "translation"}
V1_KEYS = {
    "uri", "title", "short_description", "description", "email", "version", "urls", "stats",
    "thumbnail", "languages", "registrations", "approval_required", "invites_enabled",
    "configuration", "contact_account", "rules",
}
V1_CONFIGURATION_KEYS = {"accounts", "statuses", "media_attachments", "polls"}
MEDIA_CONFIGURATION_KEYS = {
    "supported_mime_types", "image_size_limit", "image_matrix_limit", "video_size_limit",
    "video_frame_rate_limit", "video_matrix_limit",
}
MEDIA_ENV = {
    "FEDISORA_MEDIA__MAX_IMAGE_BYTES": "8388608",
    "FEDISORA_MEDIA__MAX_VIDEO_BYTES": "41943040",
    "FEDISORA_MEDIA__MAX_VIDEO_FPS": "30",
    "FEDISORA_MEDIA__MAX_VIDEO_LONG_SIDE": "720",
}


def make_config(tmp_path: Path, database_url: str) -> Config:
    path = tmp_path / "instance.toml"
    text = render_config("video.example.org", database_url=database_url, name="Clip Club")
    path.write_text(text.replace('contact_email = ""', 'contact_email = "admin@video.example.org"'))
    return parse_config(path.read_text(), path=path, env=MEDIA_ENV)


@pytest.fixture
async def config(tmp_path: Path, migrated_url: str) -> Config:
    config = make_config(tmp_path, migrated_url)
    state = AppState.open(config)
    try:
        async with state.sessions() as session:
            await ensure_instance_actor(session, config)
            await create_account(session, config, "user")
            admin = (await create_account(session, config, "boss", admin=True)).actor
            session.add_all(
                [
                    Domain(domain="peer.example"),
                    Domain(domain="another.example"),
                    Domain(domain="blocked.example", blocked=True),
                    Domain(domain="spam.bad.example"),  # blocked by the config below
                    Status(uri=f"{admin.uri}/statuses/1", actor_id=admin.id, local=True, content="<p>hi</p>"),
                ]
            )
            await session.commit()
    finally:
        await state.close()
    config.moderation.blocked_domains = ["bad.example"]
    return config


@pytest.fixture
async def client(config: Config) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(config, run_workers=False), base_url=BASE) as c:
        yield c


async def get_json(client: httpx.AsyncClient, path: str) -> Any:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


async def test_instance_v2(client: httpx.AsyncClient) -> None:
    body = await get_json(client, "/api/v2/instance")
    assert set(body) == V2_KEYS
    assert body["domain"] == "video.example.org" and body["title"] == "Clip Club"
    assert body["version"] == f"4.3.0 (compatible; fedisora {__version__})"
    assert body["api_versions"] == {"mastodon": 2}
    assert body["usage"] == {"users": {"active_month": 1}}  # the admin posted just now
    assert body["thumbnail"] == {"url": f"{BASE}/images/preview.png"}
    assert body["languages"] == ["en"] and body["rules"] == [] and body["icon"] == []
    configuration = body["configuration"]
    assert set(configuration) == V2_CONFIGURATION_KEYS
    assert configuration["urls"] == {"streaming": "wss://video.example.org", "status": None}
    assert set(configuration["accounts"]) == {"max_featured_tags", "max_pinned_statuses"}
    assert configuration["statuses"] == {
        "max_characters": 5000, "max_media_attachments": 4, "characters_reserved_per_url": 23
    }
    media = configuration["media_attachments"]
    assert set(media) == MEDIA_CONFIGURATION_KEYS
    assert media["image_size_limit"] == 8388608 and media["video_size_limit"] == 41943040
    assert media["video_frame_rate_limit"] == 30 and media["video_matrix_limit"] == 720 * 720
    assert {"video/mp4", "video/webm", "video/quicktime", "image/jpeg", "image/png", "image/webp",
            "image/gif"} == set(media["supported_mime_types"])
    assert set(configuration["polls"]) == {
        "max_options", "max_characters_per_option", "min_expiration", "max_expiration"
    }
    assert configuration["translation"] == {"enabled": False}
    assert body["registrations"] == {"enabled": False, "approval_required": False, "message": None, "url": None}
    assert body["contact"]["email"] == "admin@video.example.org"
    assert body["contact"]["account"]["acct"] == "boss"


async def test_instance_v1(client: httpx.AsyncClient) -> None:
    body = await get_json(client, "/api/v1/instance")
    assert set(body) == V1_KEYS
    assert body["uri"] == "video.example.org"
    assert body["urls"] == {"streaming_api": "wss://video.example.org"}
    assert body["stats"] == {"user_count": 2, "status_count": 1, "domain_count": 2}
    assert body["registrations"] is False and body["approval_required"] is False
    assert body["invites_enabled"] is False
    assert body["thumbnail"] == f"{BASE}/images/preview.png"
    assert body["email"] == "admin@video.example.org"
    assert set(body["configuration"]) == V1_CONFIGURATION_KEYS
    assert set(body["configuration"]["media_attachments"]) == MEDIA_CONFIGURATION_KEYS
    assert body["contact_account"]["username"] == "boss"


def test_version_string_parses_as_mastodon_4_3() -> None:
    from fedisora.convert import version_string

    version = version_string()
    # Mastodon.py keeps what is before the first space, then reads major.minor.patch.
    assert parse_version_string(version.split(" ")[0]) == (4, 3, 0)
    assert re.match(r"^\d+\.\d+\.\d+ \(compatible; fedisora [^)]+\)$", version)


async def test_trailing_slash_is_answered_without_redirect(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/instance/", "/api/v2/instance/"):
        response = await client.get(path)
        assert response.status_code == 200 and response.json()["title"] == "Clip Club"


async def test_peers(client: httpx.AsyncClient) -> None:
    # Neither ourselves, nor a domain blocked in the table or (with its subdomains) in the config.
    assert await get_json(client, "/api/v1/instance/peers") == ["another.example", "peer.example"]


async def test_activity(client: httpx.AsyncClient) -> None:
    weeks = await get_json(client, "/api/v1/instance/activity")
    assert len(weeks) == 12
    for week in weeks:
        assert set(week) == {"week", "statuses", "logins", "registrations"}
        assert all(isinstance(v, str) and v.isdigit() for v in week.values())
    starts = [datetime.fromtimestamp(int(w["week"]), UTC) for w in weeks]
    assert all(s.weekday() == 0 and s.hour == 0 and s.minute == 0 for s in starts)  # Mondays, 00:00 UTC
    assert all(a - b == timedelta(weeks=1) for a, b in zip(starts, starts[1:]))  # newest first
    assert starts[0] <= datetime.now(UTC) < starts[0] + timedelta(weeks=1)
    assert weeks[0]["statuses"] == "1" and weeks[0]["registrations"] == "2"
    assert all(w["statuses"] == "0" for w in weeks[1:])


@pytest.mark.parametrize(
    "path",
    ["/api/v1/instance/rules", "/api/v1/custom_emojis", "/api/v1/trends", "/api/v1/trends/tags",
     "/api/v1/trends/statuses", "/api/v1/trends/links"],
)
async def test_empty_lists(client: httpx.AsyncClient, path: str) -> None:
    assert await get_json(client, path) == []


async def test_cors_preflight(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/api/v2/instance",
        headers={"Origin": "https://elk.zone", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"},
    )
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] == "*"
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert "GET" in response.headers["access-control-allow-methods"]


@pytest.mark.parametrize(
    ("path", "size"),
    [("/avatars/original/missing.png", (400, 400)), ("/headers/original/missing.png", (1500, 500)),
     ("/images/preview.png", (1200, 630))],
)
async def test_default_images(client: httpx.AsyncClient, path: str, size: tuple[int, int]) -> None:
    response = await client.get(path)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n" and response.content[12:16] == b"IHDR"
    assert struct.unpack(">II", response.content[16:24]) == size


# ---- Mastodon.py reads the answers --------------------------------------------------------


class ASGIAdapter(requests.adapters.BaseAdapter):
    """Lets the synchronous Mastodon.py (in a worker thread) call the app on the test's event loop."""

    def __init__(self, client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.client, self.loop = client, loop

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        call = self.client.request(
            request.method or "GET", request.url or "", headers=dict(request.headers), content=request.body
        )
        answer = asyncio.run_coroutine_threadsafe(call, self.loop).result(timeout=30)
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = answer.content
        response.url = str(answer.url)
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


async def test_mastodon_py_reads_the_instance(client: httpx.AsyncClient) -> None:
    session = requests.Session()
    session.mount("https://", ASGIAdapter(client, asyncio.get_running_loop()))

    def use() -> dict[str, Any]:
        # "created" makes Mastodon.py fetch both instance documents and check versions at once;
        # it warns (an error under our pytest settings) if api_versions were missing.
        api = Mastodon(api_base_url=BASE, session=session, version_check_mode="created")
        instance = api.instance()
        return {
            "version": api.retrieve_mastodon_version(fail_hard=True),
            "api_version": api.mastodon_api_version,
            "at_least_4_3": api.verify_minimum_version("4.3.0"),
            "title": instance.title,
            "video_limit": instance.configuration.media_attachments.video_size_limit,
            "contact": instance.contact.account.acct,
            "peers": api.instance_peers(),
            "weeks": len(api.instance_activity()),
            "emojis": api.custom_emojis(),
            "trends": api.trending_tags(),
        }

    seen = await asyncio.to_thread(use)
    assert seen == {
        "version": "4.3.0",
        "api_version": 2,
        "at_least_4_3": True,
        "title": "Clip Club",
        "video_limit": 41943040,
        "contact": "boss",
        "peers": ["another.example", "peer.example"],
        "weeks": 12,
        "emojis": [],
        "trends": [],
    }
