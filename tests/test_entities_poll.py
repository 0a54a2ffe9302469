"""Remote polls (ActivityPub ``Question``) show as Mastodon Poll entities, read-only."""

from __future__ import annotations

import json
from pathlib import Path

from fedisora.convert.statuses import poll
from fedisora.db.models import Status

DATA = Path(__file__).parent / "data" / "interop"
POLL_KEYS = {"id", "expires_at", "expired", "multiple", "votes_count", "voters_count", "options", "emojis",
             "voted", "own_votes"}


def question(name: str) -> Status:
    document = json.loads((DATA / name).read_text())
    obj = document.get("object", document)
    return Status(id=42, uri=obj["id"], actor_id=1, object_type="Question", raw=obj)


def test_mastodon_question_becomes_a_poll() -> None:
    entity = poll(question("mastodon-create-question.json"))
    assert entity is not None
    assert set(entity) == POLL_KEYS
    assert entity["id"] == "42"
    assert entity["multiple"] is False
    assert entity["expires_at"] == "2019-05-11T09:03:36.000Z"
    assert entity["expired"] is True
    assert [o["title"] for o in entity["options"]] == [
        "Dunno", "Everyone knows that!", "25 char limit is dumb", "I can't even fit a funny",
    ]
    assert [o["votes_count"] for o in entity["options"]] == [0, 1, 0, 1]
    assert entity["votes_count"] == 2
    assert entity["voted"] is False and entity["own_votes"] == []


def test_misskey_question_without_end_date() -> None:
    entity = poll(question("misskey-question-no-end-date.json"))
    assert entity is not None
    assert entity["expires_at"] is None and entity["expired"] is False
    assert [o["title"] for o in entity["options"]] == ["Working", "Broken af"]


def test_notes_have_no_poll() -> None:
    assert poll(Status(id=1, uri="https://x.example/1", actor_id=1, object_type="Note", raw={"oneOf": []})) is None
