"""WebFinger resources and JRDs (activitypub.webfinger)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitypub.webfinger import (
    JRD_CONTENT_TYPE,
    acct_uri,
    actor_id_from_jrd,
    is_acct,
    jrd,
    parse_acct,
    webfinger_url,
)


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("acct:Gargron@Mastodon.Social", ("Gargron", "mastodon.social")),
        ("ACCT:alice@example.org", ("alice", "example.org")),
        ("alice@example.org", ("alice", "example.org")),
        ("@alice@example.org", ("alice", "example.org")),
        ("  acct:alice@example.org  ", ("alice", "example.org")),
        ("alice@localhost:8000", ("alice", "localhost:8000")),
        ("1happyturtle@example.org", ("1happyturtle", "example.org")),
        ("user.name-x_y@sub.example.org", ("user.name-x_y", "sub.example.org")),
        ("alice@example.org.", ("alice", "example.org")),
    ],
)
def test_parse_acct(resource: str, expected: tuple[str, str]) -> None:
    assert parse_acct(resource) == expected
    assert is_acct(resource)


@pytest.mark.parametrize(
    "resource",
    [
        "",
        "alice",
        "@alice",
        "acct:",
        "acct:@example.org",
        "alice@",
        "https://example.org/users/alice",
        "alice@exa mple.org",
        "alice@@example.org",
        "a@b@c.example",
        "alice@example..org",
        "alice@.example.org",
        "alice@example.org:0",
        "alice@example.org:70000",
        "acct:alice@example.org/path",
    ],
)
def test_parse_acct_rejects(resource: str) -> None:
    with pytest.raises(ValueError):
        parse_acct(resource)
    assert not is_acct(resource)


def test_parse_acct_rejects_non_strings() -> None:
    with pytest.raises(ValueError):
        parse_acct(None)  # type: ignore[arg-type]


@given(st.text(max_size=60))
def test_parse_acct_only_raises_value_error(text: str) -> None:
    try:
        user, host = parse_acct(text)
    except ValueError:
        return
    assert user and host and host == host.lower()


def test_acct_uri_and_url() -> None:
    assert acct_uri("Alice", "Example.ORG") == "acct:Alice@example.org"
    assert (
        webfinger_url("example.org", "acct:alice@example.org")
        == "https://example.org/.well-known/webfinger?resource=acct%3Aalice%40example.org"
    )
    assert webfinger_url("localhost:8000", "acct:a@localhost:8000", scheme="http").startswith(
        "http://localhost:8000/.well-known/webfinger?resource="
    )


def test_jrd_matches_mastodon_shape() -> None:
    doc = jrd(
        subject="acct:alice@example.org",
        aliases=["https://example.org/@alice", "https://example.org/users/alice"],
        actor_id="https://example.org/users/alice",
        profile_url="https://example.org/@alice",
        avatar_url="https://example.org/a.png",
        avatar_media_type="image/png",
    )
    assert doc["subject"] == "acct:alice@example.org"
    assert doc["aliases"] == ["https://example.org/@alice", "https://example.org/users/alice"]
    rels = {link["rel"]: link for link in doc["links"]}
    assert rels["self"] == {"rel": "self", "type": "application/activity+json", "href": "https://example.org/users/alice"}
    assert rels["http://webfinger.net/rel/profile-page"] == {
        "rel": "http://webfinger.net/rel/profile-page",
        "type": "text/html",
        "href": "https://example.org/@alice",
    }
    assert rels["http://ostatus.org/schema/1.0/subscribe"]["template"] == (
        "https://example.org/authorize_interaction?uri={uri}"
    )
    assert rels["http://webfinger.net/rel/avatar"]["type"] == "image/png"
    assert actor_id_from_jrd(doc) == "https://example.org/users/alice"
    assert JRD_CONTENT_TYPE == "application/jrd+json; charset=utf-8"


def test_jrd_without_avatar() -> None:
    doc = jrd(subject="acct:a@b.example", aliases=[], actor_id="http://b.example:8000/u/a", profile_url="http://b.example:8000/@a")
    assert [link["rel"] for link in doc["links"]] == [
        "http://webfinger.net/rel/profile-page",
        "self",
        "http://ostatus.org/schema/1.0/subscribe",
    ]
    assert doc["links"][2]["template"] == "http://b.example:8000/authorize_interaction?uri={uri}"


# A real Mastodon answer (mast.hpc.social, quoted in DrCuff/ActivityPub README.md).
MASTODON_JRD = {
    "subject": "acct:DrCuff@mast.hpc.social",
    "aliases": ["https://mast.hpc.social/@DrCuff", "https://mast.hpc.social/users/DrCuff"],
    "links": [
        {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": "https://mast.hpc.social/@DrCuff"},
        {"rel": "self", "type": "application/activity+json", "href": "https://mast.hpc.social/users/DrCuff"},
        {"rel": "http://ostatus.org/schema/1.0/subscribe", "template": "https://mast.hpc.social/authorize_interaction?uri={uri}"},
    ],
}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (MASTODON_JRD, "https://mast.hpc.social/users/DrCuff"),
        (
            {
                "links": [
                    {"rel": "self", "type": "text/html", "href": "https://x.example/html"},
                    {
                        "rel": "self",
                        "type": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
                        "href": "https://x.example/ap",
                    },
                ]
            },
            "https://x.example/ap",
        ),
        ({"links": [{"rel": "self", "type": "application/ld+json", "href": "https://x.example/ld"}]}, None),
        ({"links": [{"rel": "self", "type": "application/activity+json", "href": ""}]}, None),
        ({"links": [{"rel": "self", "type": "application/activity+json", "href": 5}]}, None),
        ({"links": "nope"}, None),
        ({"links": [None, "x", {"rel": "self"}]}, None),
        ([], None),
        (None, None),
    ],
)
def test_actor_id_from_jrd(document: Any, expected: str | None) -> None:
    assert actor_id_from_jrd(document) == expected
