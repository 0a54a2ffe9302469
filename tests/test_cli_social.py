"""``fedisora post|follow|like|boost …``: local actions from the console script, in subprocesses.

One dev instance (SQLite and PostgreSQL): two local accounts follow, post, like,
boost and delete through the real ``fedisora`` command; the jobs those commands
queue run in process (as ``fedisora worker`` would), and the results are checked
over the app (ActivityPub JSON) and in the database.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from fedisora.app import create_app
from fedisora.db.models import Actor, Follow, FollowState, Like, Status
from fedisora.jobs.runner import JobRunner
from fedisora.state import AppState
from fedisora.workers import job_handlers
from instance_config import load_config
from tests.asgi import app_client
from tests.processes import assert_one_line_error, assert_usage_error, cli, parallel, shown

DOMAIN = "localhost:8000"
AP = {"Accept": "application/activity+json"}


def init(tmp_path: Path, database_url: str) -> Path:
    result = cli(
        "init", "--domain", DOMAIN, "--dev", "--data-dir", "D", "--database-url", database_url, cwd=tmp_path
    )
    assert result.returncode == 0, shown(result)
    return tmp_path / "D" / "instance.toml"


async def run_jobs(state: AppState) -> int:
    """Run every due job, as ``fedisora worker`` would; returns how many ran."""
    runner = JobRunner(state.engine, job_handlers(state), worker_id="test-cli-social")
    ran = 0
    while await runner.run_once():
        ran += 1
        assert ran < 100, "jobs keep coming"
    return ran


async def test_social_commands_on_one_instance(tmp_path: Path, database_url: str) -> None:
    config_path = init(tmp_path, database_url)

    def fedisora(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return lambda: cli(*args, "--config", config_path, cwd=tmp_path, input=input)

    for result in parallel(fedisora("account", "create", "alice"), fedisora("account", "create", "bob")):
        assert result.returncode == 0, shown(result)

    follow = fedisora("follow", "bob", f"@alice@{DOMAIN}")()
    assert follow.returncode == 0, shown(follow)
    assert f"@bob@{DOMAIN} follows @alice@{DOMAIN}: pending" in follow.stdout, shown(follow)
    assert "fedisora worker" in follow.stdout  # says the work is only queued

    config = load_config(config_path, env={})
    app = create_app(config, run_workers=False)
    async with app_client(app, base_url=f"http://{DOMAIN}") as client:
        state: AppState = app.state.fedisora
        assert await run_jobs(state) >= 2  # the Follow, then the Accept
        async with state.sessions() as session:
            states = (await session.exec(select(Follow.state))).all()
        assert states == [FollowState.ACCEPTED.value]
        followers = await client.get("/users/alice/followers", headers=AP)
        assert followers.status_code == 200 and followers.json()["totalItems"] == 1

        created, from_stdin, requests = parallel(
            fedisora("post", "create", "alice", "hello @bob, a #clip", "--language", "en"),
            fedisora("post", "create", "alice", "-", "--visibility", "unlisted", "--cw", "spoiler",
                     input="from stdin\n"),
            fedisora("follow-requests", "list", "alice"),
        )
        assert created.returncode == 0, shown(created)
        uri = created.stdout.splitlines()[0]
        assert uri.startswith(f"http://{DOMAIN}/users/alice/statuses/"), shown(created)
        assert f"public post by @alice@{DOMAIN}" in created.stdout and "language: en" in created.stdout
        assert requests.returncode == 0 and "no pending follow requests" in requests.stdout, shown(requests)

        note = await client.get(uri, headers=AP)
        assert note.status_code == 200, note.text
        assert note.json()["type"] == "Note" and note.json()["id"] == uri
        assert "hello" in note.json()["content"] and f"http://{DOMAIN}/@bob" in note.json()["content"]

        assert from_stdin.returncode == 0, shown(from_stdin)
        other = (await client.get(from_stdin.stdout.splitlines()[0], headers=AP)).json()
        assert "from stdin" in other["content"] and other["summary"] == "spoiler" and other["sensitive"]

        liked, boosted = parallel(fedisora("like", "bob", uri), fedisora("boost", "bob", uri))
        assert liked.returncode == 0 and f"likes {uri}" in liked.stdout, shown(liked)
        assert boosted.returncode == 0 and f"boosted {uri}" in boosted.stdout, shown(boosted)
        await run_jobs(state)
        async with state.sessions() as session:
            status = (await session.exec(select(Status).where(Status.uri == uri))).one()
            bob = (await session.exec(select(Actor).where(Actor.local, Actor.username == "bob"))).one()
            likes = (await session.exec(select(Like).where(Like.status_id == status.id))).all()
            boosts = (await session.exec(select(Status).where(Status.reblog_of_id == status.id))).all()
        assert [like.actor_id for like in likes] == [bob.id]
        assert [boost.actor_id for boost in boosts] == [bob.id]

        deleted = fedisora("post", "delete", "alice", uri)()
        assert deleted.returncode == 0 and f"deleted {uri}" in deleted.stdout, shown(deleted)
        gone = await client.get(uri, headers=AP)
        assert gone.status_code == 410 and gone.json()["type"] == "Tombstone", gone.text

        unknown_user, unknown_remote, empty, bad_visibility, not_mine, liked_gone = parallel(
            fedisora("follow", "nobody", f"@alice@{DOMAIN}"),
            fedisora("follow", "alice", "@x@nowhere.invalid"),
            fedisora("post", "create", "alice", "   "),
            fedisora("post", "create", "alice", "hi", "--visibility", "everyone"),
            fedisora("post", "delete", "bob", from_stdin.stdout.splitlines()[0]),
            fedisora("like", "bob", uri),
        )
    assert_one_line_error(unknown_user, "no local account named 'nobody'")
    assert_one_line_error(unknown_remote, "@x@nowhere.invalid")
    assert_one_line_error(empty, "a post needs some text")
    assert_usage_error(bad_visibility, "--visibility", "everyone")
    assert_one_line_error(not_mine, "only delete your own posts")
    assert_one_line_error(liked_gone, "deleted")

