"""What we send (activitypub.vocab, activitypub.addressing), checked against Mastodon."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from activitypub import vocab
from activitypub.addressing import PUBLIC, addressing, is_public, visibility_of
from activitypub.jsonld import expand

INTEROP = Path(__file__).parent / "data" / "interop"
AS = "https://www.w3.org/ns/activitystreams#"
SEC = "https://w3id.org/security#"
TOOT = "http://joinmastodon.org/ns#"
ACTOR = "https://video.example/users/alice"
FOLLOWERS = f"{ACTOR}/followers"


def mastodon_actor() -> dict[str, Any]:
    return json.loads((INTEROP / "mastodon-activitypub.academy-person.json").read_text())


def our_actor(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "id": ACTOR,
        "type": "Person",
        "preferred_username": "alice",
        "name": "Alice",
        "summary_html": "<p>I make videos</p>",
        "url": "https://video.example/@alice",
        "inbox": f"{ACTOR}/inbox",
        "outbox": f"{ACTOR}/outbox",
        "followers": FOLLOWERS,
        "following": f"{ACTOR}/following",
        "featured": f"{ACTOR}/collections/featured",
        "shared_inbox": "https://video.example/inbox",
        "public_key_id": f"{ACTOR}#main-key",
        "public_key_pem": "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",
        "manually_approves_followers": False,
        "discoverable": True,
        "indexable": False,
        "published": datetime(2024, 9, 12, tzinfo=UTC),
        "icon_url": "https://video.example/avatar.png",
        "icon_media_type": "image/png",
        "image_url": "https://video.example/header.jpg",
        "image_media_type": "image/jpeg",
        "attachments": [("Website", '<a href="https://alice.example">alice.example</a>')],
        "assertion_keys": [{"id": f"{ACTOR}#ed25519-key", "multibase": "z6MkweqJajqa5jRAJTBVxxu47oCdB7HzmYbBKN8VGbFJmKkC"}],
    }
    kwargs.update(overrides)
    return vocab.actor_document(**kwargs)


# --- actor --------------------------------------------------------------------

COMMON_ACTOR_KEYS = {
    "@context", "id", "type", "following", "followers", "inbox", "outbox", "featured", "preferredUsername",
    "name", "summary", "url", "manuallyApprovesFollowers", "discoverable", "published", "publicKey", "tag",
    "attachment", "endpoints",
}  # fmt: skip


def test_actor_has_mastodons_keys_and_value_types() -> None:
    theirs, ours = mastodon_actor(), our_actor()
    assert COMMON_ACTOR_KEYS <= set(theirs)
    assert COMMON_ACTOR_KEYS <= set(ours)
    for key in COMMON_ACTOR_KEYS - {"@context"}:
        assert type(ours[key]) is type(theirs[key]), key
    assert set(ours["publicKey"]) == set(theirs["publicKey"]) == {"id", "owner", "publicKeyPem"}
    assert set(ours["endpoints"]) == set(theirs["endpoints"]) == {"sharedInbox"}
    # Keys we add on top of Mastodon's: every one is a Mastodon/FEP term.
    assert set(ours) - set(theirs) <= {"indexable", "icon", "image", "assertionMethod", "alsoKnownAs", "movedTo"}


def test_an_actor_without_a_display_name_has_no_name() -> None:
    """Peers show ``preferredUsername`` for an actor without ``name``; ``""`` some show as is."""
    for blank in ("", "   ", None):
        doc = our_actor(name=blank)
        assert "name" not in doc and doc["preferredUsername"] == "alice"
    assert our_actor(name="Alice")["name"] == "Alice"


def test_actor_context_extends_mastodons() -> None:
    ours = our_actor()["@context"]
    theirs = mastodon_actor()["@context"]
    assert ours[:2] == theirs[:2] == ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"]
    assert "https://w3id.org/security/data-integrity/v2" in ours  # v2: it sits beside VC 2.0 credentials
    assert "https://w3id.org/security/data-integrity/v1" not in ours
    assert "https://w3id.org/security/multikey/v1" in ours
    terms = ours[-1]
    for term in ("manuallyApprovesFollowers", "toot", "featured", "featuredTags", "alsoKnownAs", "movedTo",
                 "schema", "PropertyValue", "value", "discoverable", "suspended"):  # fmt: skip
        assert terms[term] == theirs[-1][term], term
    for term in ("indexable", "memorial", "focalPoint", "blurhash", "sensitive", "Hashtag", "Emoji",
                 "votersCount", "attributionDomains", "assertionMethod"):  # fmt: skip
        assert term in terms


def test_actor_values() -> None:
    doc = our_actor(also_known_as=["https://old.example/users/alice"], moved_to="https://new.example/users/alice")
    assert doc["publicKey"] == {
        "id": f"{ACTOR}#main-key",
        "owner": ACTOR,
        "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",
    }
    assert doc["endpoints"] == {"sharedInbox": "https://video.example/inbox"}
    assert doc["icon"] == {"type": "Image", "mediaType": "image/png", "url": "https://video.example/avatar.png"}
    assert doc["image"] == {"type": "Image", "mediaType": "image/jpeg", "url": "https://video.example/header.jpg"}
    assert doc["published"] == "2024-09-12T00:00:00Z"
    assert doc["attachment"] == [
        {"type": "PropertyValue", "name": "Website", "value": '<a href="https://alice.example">alice.example</a>'}
    ]
    assert doc["assertionMethod"] == [
        {
            "id": f"{ACTOR}#ed25519-key",
            "type": "Multikey",
            "controller": ACTOR,
            "publicKeyMultibase": "z6MkweqJajqa5jRAJTBVxxu47oCdB7HzmYbBKN8VGbFJmKkC",
        }
    ]
    assert doc["alsoKnownAs"] == ["https://old.example/users/alice"]
    assert doc["movedTo"] == "https://new.example/users/alice"


def test_minimal_actor_omits_optional_keys() -> None:
    doc = our_actor(icon_url=None, image_url=None, attachments=(), assertion_keys=())
    assert "icon" not in doc and "image" not in doc and "assertionMethod" not in doc
    assert "alsoKnownAs" not in doc and "movedTo" not in doc
    assert doc["attachment"] == [] and doc["tag"] == []


def test_actor_builder_returns_fresh_contexts() -> None:
    doc = our_actor()
    doc["@context"][-1]["hacked"] = "x"
    assert "hacked" not in our_actor()["@context"][-1]
    assert "hacked" not in vocab.MASTODON_CONTEXT[-1]


def test_actor_expands_to_the_right_iris() -> None:
    [node] = expand(our_actor(also_known_as=["https://old.example/users/alice"]))
    assert node["@type"] == [AS + "Person"]
    assert node[AS + "manuallyApprovesFollowers"] == [{"@value": False}]
    assert node[TOOT + "discoverable"] == [{"@value": True}]
    assert node[TOOT + "indexable"] == [{"@value": False}]
    assert node[TOOT + "featured"] == [{"@id": f"{ACTOR}/collections/featured"}]
    assert node[AS + "alsoKnownAs"] == [{"@id": "https://old.example/users/alice"}]
    [key] = node[SEC + "publicKey"]
    assert key[SEC + "publicKeyPem"][0]["@value"].startswith("-----BEGIN PUBLIC KEY-----")
    assert key[SEC + "owner"] == [{"@id": ACTOR}]
    [method] = node[SEC + "assertionMethod"]
    assert method["@type"] == [SEC + "Multikey"]
    assert method[SEC + "controller"] == [{"@id": ACTOR}]
    assert method[SEC + "publicKeyMultibase"][0]["@value"].startswith("z6Mk")
    [field] = node[AS + "attachment"]
    assert field["@type"] == ["http://schema.org#PropertyValue"]
    assert field["http://schema.org#value"] == [{"@value": '<a href="https://alice.example">alice.example</a>'}]
    [endpoints] = node[AS + "endpoints"]
    assert endpoints[AS + "sharedInbox"] == [{"@id": "https://video.example/inbox"}]


# --- addressing -----------------------------------------------------------------

MENTIONED = ["https://a.example/users/bob", "https://b.example/users/carol"]


@pytest.mark.parametrize(
    ("visibility", "to", "cc"),
    [
        ("public", [PUBLIC], [FOLLOWERS, *MENTIONED]),
        ("unlisted", [FOLLOWERS], [PUBLIC, *MENTIONED]),
        ("private", [FOLLOWERS], MENTIONED),
        ("direct", MENTIONED, []),
    ],
)
def test_addressing_table(visibility: Any, to: list[str], cc: list[str]) -> None:
    assert addressing(visibility, followers_uri=FOLLOWERS, mentioned=MENTIONED) == (to, cc)
    assert visibility_of(to, cc, FOLLOWERS) == visibility
    assert visibility_of(to, cc) == visibility  # inferred from "/followers"


def test_addressing_without_mentions_and_with_duplicates() -> None:
    assert addressing("public", followers_uri=FOLLOWERS, mentioned=[]) == ([PUBLIC], [FOLLOWERS])
    assert addressing("direct", followers_uri=FOLLOWERS, mentioned=[MENTIONED[0], MENTIONED[0]]) == ([MENTIONED[0]], [])
    with pytest.raises(ValueError):
        addressing("local", followers_uri=FOLLOWERS, mentioned=[])  # type: ignore[arg-type]


def test_public_aliases_and_shapes() -> None:
    for alias in (PUBLIC, "as:Public", "Public", "http://www.w3.org/ns/activitystreams#Public", {"id": PUBLIC}):
        assert is_public(alias)
        assert visibility_of(alias, [], FOLLOWERS) == "public"
        assert visibility_of([], [alias], FOLLOWERS) == "unlisted"
    assert not is_public("https://a.example/users/bob")
    assert not is_public(None)
    assert visibility_of(FOLLOWERS, None, FOLLOWERS) == "private"
    assert visibility_of(None, None) == "direct"


# --- objects and activities -------------------------------------------------------


def video_attachment() -> dict[str, Any]:
    return vocab.document_attachment(
        url="https://video.example/media/1.mp4",
        media_type="video/mp4",
        name="A cat on a piano",
        blurhash="UFFEQHH?5QXT^R#+X8I;0yS#S$ofJ7J8nit6",
        width=1080,
        height=1920,
        focal_point=(0, 0.5),
        thumbnail_url="https://video.example/media/1.jpg",
        thumbnail_media_type="image/jpeg",
    )


def our_note(**overrides: Any) -> dict[str, Any]:
    to, cc = addressing("public", followers_uri=FOLLOWERS, mentioned=["https://a.example/users/bob"])
    kwargs: dict[str, Any] = {
        "id": f"{ACTOR}/statuses/1",
        "attributed_to": ACTOR,
        "content": "<p>Hello #cats</p>",
        "published": "2025-01-02T03:04:05Z",
        "to": to,
        "cc": cc,
        "attachments": [video_attachment()],
        "tags": [vocab.hashtag("cats", "https://video.example/tags/cats"), vocab.mention("https://a.example/users/bob", "bob@a.example")],
        "language": "en",
    }
    kwargs.update(overrides)
    return vocab.note(**kwargs)


def test_document_attachment_shape() -> None:
    doc = video_attachment()
    assert doc == {
        "type": "Document",
        "mediaType": "video/mp4",
        "url": "https://video.example/media/1.mp4",
        "name": "A cat on a piano",
        "blurhash": "UFFEQHH?5QXT^R#+X8I;0yS#S$ofJ7J8nit6",
        "focalPoint": [0.0, 0.5],
        "width": 1080,
        "height": 1920,
        "icon": {"type": "Image", "mediaType": "image/jpeg", "url": "https://video.example/media/1.jpg"},
    }
    bare = vocab.document_attachment(url="https://v.example/x.mp4", media_type="video/mp4")
    assert bare == {"type": "Document", "mediaType": "video/mp4", "url": "https://v.example/x.mp4", "name": None}


def test_note_shape() -> None:
    doc = our_note(summary="cats!", updated=datetime(2025, 1, 3, tzinfo=UTC), in_reply_to="https://a.example/n/9")
    assert doc["type"] == "Note"
    assert doc["summary"] == "cats!" and doc["sensitive"] is True
    assert doc["contentMap"] == {"en": "<p>Hello #cats</p>"}
    assert doc["updated"] == "2025-01-03T00:00:00Z"
    assert doc["inReplyTo"] == "https://a.example/n/9"
    assert doc["url"] == doc["id"]
    assert doc["tag"][0] == {"type": "Hashtag", "href": "https://video.example/tags/cats", "name": "#cats"}
    assert doc["tag"][1] == {"type": "Mention", "href": "https://a.example/users/bob", "name": "@bob@a.example"}
    plain = our_note(language=None)
    assert plain["summary"] is None and plain["sensitive"] is False and "contentMap" not in plain
    assert "updated" not in plain and plain["inReplyTo"] is None


def test_note_has_the_keys_mastodon_sends() -> None:
    theirs = json.loads((INTEROP / "mastodon-chaos.social-create-direct-with-image.json").read_text())["object"]
    ours = our_note(conversation="tag:video.example,2025:objectId=1")
    wanted = {"id", "type", "summary", "inReplyTo", "published", "url", "attributedTo", "to", "cc", "sensitive",
              "conversation", "content", "contentMap", "attachment", "tag"}  # fmt: skip
    assert wanted <= set(theirs) and wanted <= set(ours)
    assert set(ours["attachment"][0]) >= set(theirs["attachment"][0])


def test_note_expands_with_mastodon_terms() -> None:
    [node] = expand(our_note(summary="cw"))
    assert node["@type"] == [AS + "Note"]
    assert node[AS + "sensitive"] == [{"@value": True}]
    assert node[AS + "content"] == [{"@value": "<p>Hello #cats</p>"}, {"@value": "<p>Hello #cats</p>", "@language": "en"}]
    [media] = node[AS + "attachment"]
    assert media[TOOT + "blurhash"] == [{"@value": "UFFEQHH?5QXT^R#+X8I;0yS#S$ofJ7J8nit6"}]
    assert media[TOOT + "focalPoint"] == [{"@list": [{"@value": 0.0}, {"@value": 0.5}]}]
    assert media[AS + "width"][0]["@value"] == 1080
    assert {t["@type"][0] for t in node[AS + "tag"]} == {AS + "Hashtag", AS + "Mention"}


def test_create_embeds_note_and_copies_addressing() -> None:
    note = our_note()
    activity = vocab.create(id=f"{ACTOR}/statuses/1/activity", actor=ACTOR, object=note)
    assert activity["type"] == "Create"
    assert "@context" not in activity["object"]
    assert activity["to"] == note["to"] and activity["cc"] == note["cc"]
    assert activity["published"] == note["published"]
    assert activity["@context"] == vocab.ACTIVITY_CONTEXT
    [node] = expand(activity)
    assert node[AS + "object"][0]["@id"] == note["id"]


def test_simple_activities() -> None:
    target = "https://a.example/users/bob"
    follow = vocab.follow(id=f"{ACTOR}#follows/1", actor=ACTOR, object=target)
    assert follow == {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{ACTOR}#follows/1",
        "type": "Follow",
        "actor": ACTOR,
        "object": target,
    }
    accept = vocab.accept(id=f"{target}#accepts/follows/1", actor=target, object=follow)
    assert accept["object"] == {k: v for k, v in follow.items() if k != "@context"}
    reject = vocab.reject(id=f"{target}#rejects/follows/1", actor=target, object=follow)
    assert reject["type"] == "Reject" and reject["object"]["type"] == "Follow"
    undo = vocab.undo(id=f"{ACTOR}#follows/1/undo", actor=ACTOR, object=follow)
    assert undo["object"]["id"] == f"{ACTOR}#follows/1"
    like = vocab.like(id=f"{ACTOR}#likes/1", actor=ACTOR, object="https://a.example/n/9")
    assert like["type"] == "Like" and like["object"] == "https://a.example/n/9"
    block = vocab.block(id=f"{ACTOR}#blocks/1", actor=ACTOR, object=target)
    assert block["type"] == "Block"
    boost = vocab.announce(
        id=f"{ACTOR}/statuses/2/activity", actor=ACTOR, object="https://a.example/n/9",
        to=[PUBLIC], cc=[FOLLOWERS, "https://a.example/users/bob"], published="2025-01-02T03:04:05Z",
    )  # fmt: skip
    assert boost["to"] == [PUBLIC] and boost["published"] == "2025-01-02T03:04:05Z"
    for doc in (follow, accept, reject, undo, like, block, boost):
        [node] = expand(doc)
        assert node["@type"] == [AS + doc["type"]]
        assert node[AS + "actor"][0]["@id"] == doc["actor"]


def test_delete_update_move_and_tombstone() -> None:
    tomb = vocab.tombstone(f"{ACTOR}/statuses/1", former_type="Note", deleted="2025-01-04T00:00:00Z")
    assert tomb == {"id": f"{ACTOR}/statuses/1", "type": "Tombstone", "formerType": "Note", "deleted": "2025-01-04T00:00:00Z"}
    delete = vocab.delete(id=f"{ACTOR}/statuses/1#delete", actor=ACTOR, object=tomb, to=[PUBLIC])
    assert delete["object"]["type"] == "Tombstone" and delete["to"] == [PUBLIC]
    update = vocab.update(id=f"{ACTOR}#updates/1", actor=ACTOR, object=our_actor())
    assert update["to"] == [PUBLIC] and update["@context"] == vocab.MASTODON_CONTEXT
    assert "@context" not in update["object"]
    [node] = expand(update)
    assert SEC + "publicKey" in node[AS + "object"][0]
    note_update = vocab.update(id=f"{ACTOR}/statuses/1#updates/1", actor=ACTOR, object=our_note())
    assert note_update["@context"] == vocab.ACTIVITY_CONTEXT and note_update["cc"] == our_note()["cc"]
    move = vocab.move(id=f"{ACTOR}#moves/1", actor=ACTOR, target="https://new.example/users/alice", to=[FOLLOWERS])
    assert move["object"] == ACTOR and move["target"] == "https://new.example/users/alice"
    [node] = expand(move)
    assert node[AS + "target"] == [{"@id": "https://new.example/users/alice"}]


def test_collections() -> None:
    head = vocab.ordered_collection(f"{ACTOR}/outbox", 3, first=f"{ACTOR}/outbox?page=true")
    assert head == {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{ACTOR}/outbox",
        "type": "OrderedCollection",
        "totalItems": 3,
        "first": f"{ACTOR}/outbox?page=true",
    }
    page = vocab.ordered_collection_page(
        f"{ACTOR}/outbox?page=true", f"{ACTOR}/outbox",
        [vocab.create(id=f"{ACTOR}/statuses/1/activity", actor=ACTOR, object=our_note()), "https://x.example/a"],
        next=f"{ACTOR}/outbox?max_id=1&page=true",
    )  # fmt: skip
    assert page["partOf"] == f"{ACTOR}/outbox" and "prev" not in page
    assert "@context" not in page["orderedItems"][0]
    assert page["orderedItems"][1] == "https://x.example/a"
    [node] = expand(page)
    assert node["@type"] == [AS + "OrderedCollectionPage"]


def test_iso_datetime() -> None:
    assert vocab.iso_datetime(datetime(2025, 1, 2, 3, 4, 5, 999, tzinfo=UTC)) == "2025-01-02T03:04:05Z"
    assert vocab.iso_datetime(datetime(2025, 1, 2, 3, 4, 5)) == "2025-01-02T03:04:05Z"
    assert vocab.iso_datetime("2025-01-02T03:04:05.123Z") == "2025-01-02T03:04:05.123Z"
