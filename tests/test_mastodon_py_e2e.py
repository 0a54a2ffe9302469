"""The client API as an app sees it: Mastodon.py against two real ``fedisora serve`` processes.

bob (on B) logs in through the authorization-code form, alice (on A) with the
password grant; bob finds and follows alice across instances, alice posts, and
bob sees the post in his home timeline and over the streaming API; bob's
favourite reaches alice as a notification.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from mastodon import Mastodon, StreamListener

from tests.media_samples import make_video
from tests.processes import cli, free_port, shown, start, stop, wait_healthy
from tests.test_mastodon_py_login import OOB, fill_in_form, inputs

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
SCOPES = ["read", "write", "follow"]


def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def make_instance(tmp_path: Path, name: str, user: str) -> tuple[int, Path]:
    port = free_port()
    folder = tmp_path / name
    result = cli("init", "--domain", f"localhost:{port}", "--dev", "--data-dir", folder, cwd=tmp_path)
    assert result.returncode == 0, shown(result)
    config = folder / "instance.toml"
    created = cli("account", "create", user, "--password-stdin", "--config", config, cwd=tmp_path,
                  input=PASSWORD + "\n")
    assert created.returncode == 0, shown(created)
    return port, config


class Collector(StreamListener):
    def __init__(self) -> None:
        self.updates: list[Any] = []

    def on_update(self, status: Any) -> None:
        self.updates.append(status)


def password_login(base: str) -> Mastodon:
    client_id, client_secret = Mastodon.create_app("fedisora-e2e", api_base_url=base, scopes=SCOPES,
                                                   redirect_uris=OOB)
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)
    api.log_in("alice", PASSWORD, scopes=SCOPES, allow_http=True)
    return api


def code_login(base: str) -> Mastodon:
    client_id, client_secret = Mastodon.create_app("fedisora-e2e", api_base_url=base, scopes=SCOPES,
                                                   redirect_uris=OOB)
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)
    url = api.auth_request_url(redirect_uris=OOB, scopes=SCOPES, allow_http=True)
    answer = fill_in_form(url, "bob", PASSWORD)
    assert answer.status_code == 200, answer.text  # out of band: the page shows the code
    code = inputs(answer.text).fields["code"]
    api.log_in(code=code, redirect_uri=OOB, scopes=SCOPES, allow_http=True)
    return api


def test_two_instances_through_mastodon_py(tmp_path: Path) -> None:
    port_a, config_a = make_instance(tmp_path, "A", "alice")
    port_b, config_b = make_instance(tmp_path, "B", "bob")
    servers = [
        start("serve", "--config", config_a, "--port", str(port_a), "--workers", "1",
              cwd=tmp_path, log_path=tmp_path / "a.log"),
        start("serve", "--config", config_b, "--port", str(port_b), "--workers", "1",
              cwd=tmp_path, log_path=tmp_path / "b.log"),
    ]
    try:
        wait_healthy(servers[0], port_a)
        wait_healthy(servers[1], port_b)
        alice_api = password_login(f"http://localhost:{port_a}")
        bob_api = code_login(f"http://localhost:{port_b}")
        assert alice_api.account_verify_credentials()["username"] == "alice"
        assert bob_api.account_verify_credentials()["username"] == "bob"

        found = bob_api.search_v2(f"@alice@localhost:{port_a}", resolve=True, result_type="accounts")
        alice_on_b = found["accounts"][0]
        assert alice_on_b["acct"] == f"alice@localhost:{port_a}"
        bob_api.account_follow(alice_on_b["id"])
        eventually(lambda: bob_api.account_relationships(alice_on_b["id"])[0]["following"], "the follow to be accepted")

        collector = Collector()
        stream = bob_api.stream_user(collector, run_async=True, reconnect_async=False)
        time.sleep(1.0)  # let the stream connect before posting
        try:
            posted = alice_api.status_post("hello from A, watch my video soon", visibility="public")
            seen = eventually(
                lambda: [s for s in bob_api.timeline_home() if s["uri"] == posted["uri"]],
                "alice's post in bob's home timeline",
            )
            eventually(lambda: any(s["uri"] == posted["uri"] for s in collector.updates), "the post on bob's stream")
        finally:
            stream.close()

        bob_api.status_favourite(seen[0]["id"])
        notification = eventually(
            lambda: [n for n in alice_api.notifications() if n["type"] == "favourite"],
            "the favourite notification on A",
        )[0]
        assert notification["account"]["acct"] == f"bob@localhost:{port_b}"
        assert notification["status"]["id"] == posted["id"]
        assert any(s["id"] == posted["id"] for s in alice_api.timeline_public(local=True))

        # A video: uploaded with Mastodon.py, processed by A's workers, posted; B receives
        # the Note with the video Document, copies the file and serves it with Range requests.
        clip = make_video(tmp_path / "clip.mp4", seconds=1.0, audio=True)
        with open(clip, "rb") as handle:  # Mastodon.py leaves a file it opened itself unclosed
            media = alice_api.media_post(handle, mime_type="video/mp4", description="a moving box")
        ready = eventually(lambda: alice_api.media(media["id"])["url"], "the video to be processed", timeout=60.0)
        assert ready.startswith(f"http://localhost:{port_a}/media/")
        video_post = alice_api.status_post("my first video", media_ids=[media["id"]], visibility="public")
        on_b = eventually(
            lambda: [s for s in bob_api.timeline_home() if s["uri"] == video_post["uri"] and s["media_attachments"]
                     and s["media_attachments"][0]["url"].startswith(f"http://localhost:{port_b}/")],
            "the video post on B, served from B's copy",
            timeout=60.0,
        )[0]
        [attachment] = on_b["media_attachments"]
        assert attachment["type"] == "video" and attachment["description"] == "a moving box"
        assert attachment["remote_url"] == ready
        assert attachment["meta"]["original"]["width"] == 160 and attachment["blurhash"]
        response = httpx.get(attachment["url"], headers={"Range": "bytes=0-99"}, timeout=10.0)
        assert response.status_code == 206 and len(response.content) == 100
        assert response.headers["content-type"].startswith("video/mp4")
        assert response.headers["content-range"].startswith("bytes 0-99/")
    finally:
        for server in servers:
            stop(server)
    for log in ("a.log", "b.log"):
        assert "Traceback" not in (tmp_path / log).read_text(), log
