"""Real documents from Mastodon, GoToSocial, Pleroma, Misskey, Pixelfed, PeerTube,
Hollo and oeee.cafe (tests/data/interop, see SOURCES.md) read through
activitypub.extract.  Every expected value below was copied by hand from the
fixture file, not computed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from activitypub.addressing import PUBLIC, is_public, visibility_of
from activitypub.extract import (
    bool_of,
    datetime_of,
    dig,
    first,
    has_type,
    id_of,
    ids_of,
    int_of,
    shared_inbox_of,
    str_of,
    text_of,
    types_of,
    url_of,
)

INTEROP = Path(__file__).parent / "data" / "interop"


def load(name: str) -> Any:
    return json.loads((INTEROP / name).read_text())


def test_there_are_enough_documents_and_all_are_sourced() -> None:
    names = sorted(p.name for p in INTEROP.glob("*.json"))
    assert len(names) >= 20
    sources = (INTEROP / "SOURCES.md").read_text()
    missing = [n for n in names if n not in sources]
    assert not missing, missing


# --- actors ----------------------------------------------------------------------

ACTORS: dict[str, dict[str, Any]] = {
    "mastodon-activitypub.academy-person.json": {
        "id": "https://activitypub.academy/users/brauca_darradiul",
        "type": "Person",
        "username": "brauca_darradiul",
        "name": "Brauca Darradiul",
        "inbox": "https://activitypub.academy/users/brauca_darradiul/inbox",
        "followers": "https://activitypub.academy/users/brauca_darradiul/followers",
        "shared_inbox": "https://activitypub.academy/inbox",
        "key_id": "https://activitypub.academy/users/brauca_darradiul#main-key",
        # This instance publishes its PEM with spaces instead of newlines.
        "pem_start": "-----BEGIN PUBLIC KEY----- MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA5W/9rYXddIjKo9Ury/LK",
        "locked": False,
        "icon": None,
    },
    "hollo-wizard.casa-person-with-multikey.json": {
        "id": "https://wizard.casa/users/hongminhee",
        "type": "Person",
        "username": "hongminhee",
        "name": "洪 民憙 (Hong Minhee)",
        "inbox": "https://wizard.casa/users/hongminhee/inbox",
        "followers": "https://wizard.casa/users/hongminhee/followers",
        "shared_inbox": None,
        "key_id": "https://wizard.casa/users/hongminhee#main-key",
        "pem_start": "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAzUNdOf1fXnMDtcw/elvC",
        "locked": True,
        "icon": None,
    },
    "oeee.cafe-person.json": {
        "id": "https://oeee.cafe/ap/users/3609fd4e-d51d-4db8-9f04-4189815864dd",
        "type": "Person",
        "username": "hongminhee",
        "name": "洪兔",
        "inbox": "https://oeee.cafe/ap/users/3609fd4e-d51d-4db8-9f04-4189815864dd/inbox",
        "followers": "https://oeee.cafe/ap/users/3609fd4e-d51d-4db8-9f04-4189815864dd/followers",
        "shared_inbox": "https://oeee.cafe/inbox",
        "key_id": "https://oeee.cafe/ap/users/3609fd4e-d51d-4db8-9f04-4189815864dd#main-key",
        "pem_start": "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAowJfOzpA/nAYyL0bVDTm",
        "locked": False,
        "icon": None,
    },
    "mastodon-update-person.json": {
        "id": "http://mastodon.example.org/users/gargron",
        "type": "Person",
        "username": "gargron",
        "name": "gargle",
        "inbox": "http://mastodon.example.org/users/gargron/inbox",
        "followers": "http://mastodon.example.org/users/gargron/followers",
        "shared_inbox": "http://mastodon.example.org/inbox",
        "key_id": "http://mastodon.example.org/users/gargron#main-key",
        "pem_start": "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0gs3VnQf6am3R+CeBV4H",
        "locked": False,
        "icon": "https://cd.niu.moe/accounts/avatars/000/033/323/original/fd7f8ae0b3ffedc9.jpeg",
    },
    "misskey.io-person.json": {
        "id": "https://misskey.io/users/83ssedkv53",
        "type": "Person",
        "username": "aimu",
        "name": "あいむ",
        "inbox": "https://misskey.io/users/83ssedkv53/inbox",
        "followers": "https://misskey.io/users/83ssedkv53/followers",
        "shared_inbox": "https://misskey.io/inbox",
        "key_id": "https://misskey.io/users/83ssedkv53#main-key",
        "pem_start": "-----BEGIN PUBLIC KEY-----\nMIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEA1ylhePJ6qGHmwHSBP17b",
        "locked": False,
        "icon": "https://s3.arkjp.net/misskey/webpublic-3f7e93c0-34f5-443c-acc0-f415cb2342b4.jpg",
    },
    "pleroma-patch.cx-person.json": {
        "id": "https://patch.cx/users/rin",
        "type": "Person",
        "username": "rin",
        "name": "rinpatch",
        "inbox": "https://patch.cx/users/rin/inbox",
        "followers": "https://patch.cx/users/rin/followers",
        "shared_inbox": "https://patch.cx/inbox",
        "key_id": "https://patch.cx/users/rin#main-key",
        "pem_start": "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA5DLtwGXNZElJyxFGfcVc",
        "locked": False,
        "icon": "https://patch.cx/media/4e914f5b84e4a259a3f6c2d2edc9ab642f2ab05f3e3d9c52c81fc2d984b3d51e.jpg",
    },
    "pleroma-lm.kazv.moe-person-aliases.json": {
        "id": "https://lm.kazv.moe/users/mewmew",
        "type": "Person",
        "username": "mewmew",
        "name": "mew",
        "inbox": "https://lm.kazv.moe/users/mewmew/inbox",
        "followers": "https://lm.kazv.moe/users/mewmew/followers",
        "shared_inbox": "https://lm.kazv.moe/inbox",
        "key_id": "https://lm.kazv.moe/users/mewmew#main-key",
        "pem_start": "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0nT3IVUwx799FSJyJEOY",
        "locked": False,
        "icon": None,
    },
    "gotosocial-person-fields.json": {
        "id": "http://example.org/users/1happyturtle",
        "type": "Person",
        "username": "1happyturtle",
        "name": "happy little turtle :3",
        "inbox": "http://example.org/users/1happyturtle/inbox",
        "followers": "http://example.org/users/1happyturtle/followers",
        "shared_inbox": None,
        "key_id": "http://example.org/users/1happyturtle#main-key",
        "pem_start": "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtTc6Jpg6LrRPhVQG4KLz",
        "locked": True,
        "icon": None,
    },
}


def actor_in(doc: Any) -> Any:
    """The actor itself, or the one an ``Update`` carries."""
    return doc["object"] if has_type(doc, "Update") else doc


@pytest.mark.parametrize("name", sorted(ACTORS))
def test_actor_documents(name: str) -> None:
    want = ACTORS[name]
    actor = actor_in(load(name))
    assert id_of(actor) == want["id"]
    assert types_of(actor) == {want["type"]}
    assert str_of(actor.get("preferredUsername")) == want["username"]
    assert text_of(actor, "name") == want["name"]
    assert id_of(actor.get("inbox")) == want["inbox"]
    assert id_of(actor.get("followers")) == want["followers"]
    assert shared_inbox_of(actor) == want["shared_inbox"]
    assert bool_of(actor.get("manuallyApprovesFollowers")) is want["locked"]
    assert url_of(actor.get("icon")) == want["icon"]
    key = first(actor.get("publicKey"))
    assert id_of(key) == want["key_id"]
    assert id_of(dig(key, "owner")) == want["id"]
    pem = str_of(dig(key, "publicKeyPem"))
    assert pem is not None and pem.startswith(want["pem_start"])
    assert pem.rstrip().endswith("-----END PUBLIC KEY-----")


def test_hollo_assertion_methods() -> None:
    actor = load("hollo-wizard.casa-person-with-multikey.json")
    methods = actor["assertionMethod"]
    assert ids_of(methods) == [
        "https://wizard.casa/users/hongminhee#main-key",
        "https://wizard.casa/users/hongminhee#ed25519-key",
    ]
    ed = methods[1]
    assert types_of(ed) == {"Multikey"}
    assert id_of(ed["controller"]) == "https://wizard.casa/users/hongminhee"
    assert str_of(ed["publicKeyMultibase"]) == "z6MkweqJajqa5jRAJTBVxxu47oCdB7HzmYbBKN8VGbFJmKkC"


def test_actor_extras() -> None:
    mastodon = load("mastodon-activitypub.academy-person.json")
    assert datetime_of(mastodon["published"]) == datetime(2024, 9, 12, tzinfo=UTC)
    assert text_of(mastodon, "summary") == ""
    assert bool_of(mastodon["discoverable"]) is False
    assert id_of(mastodon["featured"]) == "https://activitypub.academy/users/brauca_darradiul/collections/featured"
    assert url_of(mastodon["url"], prefer_media_type="text/html") == "https://activitypub.academy/@brauca_darradiul"

    aliases = load("pleroma-lm.kazv.moe-person-aliases.json")
    assert ids_of(aliases["alsoKnownAs"]) == ["https://lm.kazv.moe/users/tester", "https://lm.kazv.moe/users/testuser"]

    gts = load("gotosocial-person-fields.json")
    fields = [(f["name"], f["value"]) for f in gts["attachment"] if has_type(f, "PropertyValue")]
    assert fields == [("should you follow me?", "maybe!"), ("age", "120")]
    assert text_of(gts, "summary") == "<p>i post about things that concern me</p>"

    update = load("mastodon-update-person.json")
    assert url_of(update["object"]["image"], prefer_media_type="image/png") == (
        "https://cd.niu.moe/accounts/headers/000/033/323/original/850b3448fa5fd477.png"
    )
    assert [f["name"] for f in update["object"]["attachment"]] == ["foo", "foo1"]

    misskey = load("misskey.io-person.json")
    assert bool_of(misskey["isCat"]) is True
    assert bool_of(misskey["discoverable"]) is True


# --- activities --------------------------------------------------------------------

FOLLOWERS_ADMIN = "http://mastodon.example.org/users/admin/followers"

ACTIVITIES: dict[str, dict[str, Any]] = {
    "mastodon-create-note-with-attachment.json": {
        "id": "http://mastodon.example.org/users/admin/statuses/99541822081679796/activity",
        "type": "Create",
        "actor": "http://mastodon.example.org/users/admin",
        "to": [PUBLIC],
        "cc": [FOLLOWERS_ADMIN],
        "object": "http://mastodon.example.org/users/admin/statuses/99541822081679796",
        "visibility": "public",
    },
    "mastodon-create-note-cw-mention-hashtag.json": {
        "id": "http://mastodon.example.org/users/admin/statuses/99512778738411822/activity",
        "type": "Create",
        "actor": "http://mastodon.example.org/users/admin",
        "to": [PUBLIC],
        "cc": [FOLLOWERS_ADMIN, "http://localtesting.pleroma.lol/users/lain"],
        "object": "http://mastodon.example.org/users/admin/statuses/99512778738411822",
        "visibility": "public",
    },
    "mastodon-create-question.json": {
        "id": "https://mastodon.sdf.org/users/rinpatch/statuses/102070944809637304/activity",
        "type": "Create",
        "actor": "https://mastodon.sdf.org/users/rinpatch",
        "to": [PUBLIC],
        "cc": ["https://mastodon.sdf.org/users/rinpatch/followers"],
        "object": "https://mastodon.sdf.org/users/rinpatch/statuses/102070944809637304",
        "visibility": "public",
    },
    "mastodon-chaos.social-create-direct-with-image.json": {
        "id": "https://chaos.social/users/h4kor/statuses/112123926412043539/activity",
        "type": "Create",
        "actor": "https://chaos.social/users/h4kor",
        "to": ["https://games.rerere.org/games/rps"],
        "cc": [],
        "object": "https://chaos.social/users/h4kor/statuses/112123926412043539",
        "visibility": "direct",
    },
    "pixelfed-create-note-image.json": {
        "id": "https://pixelfed.social/p/mczachurski/624592411232880406/activity",
        "type": "Create",
        "actor": "https://pixelfed.social/users/mczachurski",
        "to": [PUBLIC],
        "cc": ["https://pixelfed.social/users/mczachurski/followers"],
        "object": "https://pixelfed.social/p/mczachurski/624592411232880406",
        "visibility": "public",
    },
    "mastodon-follow.json": {
        "id": "http://mastodon.example.org/users/admin#follows/2",
        "type": "Follow",
        "actor": "http://mastodon.example.org/users/admin",
        "to": [],
        "cc": [],
        "object": "http://localtesting.pleroma.lol/users/lain",
        "visibility": "direct",
    },
    "mastodon-accept-follow.json": {
        "id": "http://mastodon.example.org/users/admin#accepts/follows/4",
        "type": "Accept",
        "actor": "http://mastodon.example.org/users/admin",
        "to": [],
        "cc": [],
        "object": "http://localtesting.pleroma.lol/users/lain#follows/4",
        "visibility": "direct",
    },
    "mastodon-undo-announce.json": {
        "id": "http://mastodon.example.org/users/admin#announces/100011594053806179/undo",
        "type": "Undo",
        "actor": "http://mastodon.example.org/users/admin",
        "to": [],
        "cc": [],
        "object": "http://mastodon.example.org/users/admin/statuses/100011594053806179/activity",
        "visibility": "direct",
    },
    "mastodon-delete-tombstone.json": {
        "id": "http://mastodon.example.org/users/gargron/statuses/99620895606148759#delete",
        "type": "Delete",
        "actor": "http://mastodon.example.org/users/gargron",
        "to": [],
        "cc": [],
        "object": "http://mastodon.example.org/users/gargron/statuses/99620895606148759",
        "visibility": "direct",
    },
    "mastodon-announce-private.json": {
        "id": "http://mastodon.example.org/users/admin/statuses/99542391527669785/activity",
        "type": "Announce",
        "actor": "http://mastodon.example.org/users/admin",
        "to": [FOLLOWERS_ADMIN],
        "cc": [],
        "object": "http://mastodon.example.org/@admin/99541947525187368",
        "visibility": "private",
    },
    "mastodon-update-person.json": {
        "id": "http://mastodon.example.org/users/gargron#updates/1519563538",
        "type": "Update",
        "actor": "http://mastodon.example.org/users/gargron",
        "to": [],
        "cc": [],
        "object": "http://mastodon.example.org/users/gargron",
        "visibility": "direct",
    },
    "misskey-like-reaction.json": {
        "id": "https://misskey.xyz/75149198-2f45-46e4-930a-8b0538297075",
        "type": "Like",
        "actor": "http://mastodon.example.org/users/admin",
        "to": [],
        "cc": ["https://testing.pleroma.lol/users/lain"],
        "object": "https://testing.pleroma.lol/objects/c331bbf7-2eb9-4801-a709-2a6103492a5a",
        "visibility": "direct",
    },
    "gotosocial-move.json": {
        "id": "https://example.org/users/1happyturtle/moves/01HR9FDFCAGM7JYPMWNTFRDQE9",
        "type": "Move",
        "actor": "https://example.org/users/1happyturtle",
        "to": ["https://example.org/users/1happyturtle/followers"],  # sent as a bare string
        "cc": [],
        "object": "https://example.org/users/1happyturtle",
        "visibility": "private",
    },
}


@pytest.mark.parametrize("name", sorted(ACTIVITIES))
def test_activities(name: str) -> None:
    want = ACTIVITIES[name]
    doc = load(name)
    assert id_of(doc) == want["id"]
    assert types_of(doc) == {want["type"]}
    assert id_of(doc.get("actor")) == want["actor"]
    assert ids_of(doc.get("to")) == want["to"]
    assert ids_of(doc.get("cc")) == want["cc"]
    assert id_of(doc.get("object")) == want["object"]
    assert visibility_of(doc.get("to"), doc.get("cc")) == want["visibility"]


def test_activity_details() -> None:
    accept = load("mastodon-accept-follow.json")
    follow = accept["object"]
    assert has_type(follow, "Follow")
    assert id_of(follow["actor"]) == "http://localtesting.pleroma.lol/users/lain"
    assert id_of(follow["object"]) == "http://mastodon.example.org/users/admin"

    undo = load("mastodon-undo-announce.json")
    announce = undo["object"]
    assert has_type(announce, "Announce")
    assert id_of(announce["object"]) == "http://lostallofmy.faith/objects/acc592f0-093a-4326-856e-2ab30947ef11"
    # Old Mastodon addressed Public with http://, which is still Public.
    assert is_public(announce["to"])
    assert visibility_of(announce["to"], announce["cc"]) == "public"
    assert datetime_of(announce["published"]) == datetime(2018, 5, 11, 16, 23, 37, tzinfo=UTC)

    delete = load("mastodon-delete-tombstone.json")
    assert has_type(delete["object"], "Tombstone")

    boost = load("mastodon-announce-private.json")
    assert visibility_of(boost["to"], boost.get("cc"), FOLLOWERS_ADMIN) == "private"
    assert text_of(boost["object"], "content") == "this is a private toot"
    assert id_of(boost["object"]["attributedTo"]) == "http://mastodon.example.org/users/admin"
    assert datetime_of(boost["published"]) == datetime(2018, 2, 17, 19, 39, 15, tzinfo=UTC)

    like = load("misskey-like-reaction.json")
    assert str_of(like["_misskey_reaction"]) == "pudding"

    move = load("gotosocial-move.json")
    assert id_of(move["target"]) == "https://another-server.com/users/my_new_account_hurray"


# --- objects (Notes, Questions, Videos) -------------------------------------------------

OBJECTS: dict[str, dict[str, Any]] = {
    "mastodon-create-note-with-attachment.json": {
        "id": "http://mastodon.example.org/users/admin/statuses/99541822081679796",
        "type": "Note",
        "attributed_to": ["http://mastodon.example.org/users/admin"],
        "content_start": '<p><a href="http://mastodon.example.org/media/hw4nrZmV5DPbW2z_hao"',
        "summary": None,
        "sensitive": False,
        "published": datetime(2018, 2, 17, 17, 14, 26, tzinfo=UTC),
        "url": "http://mastodon.example.org/@admin/99541822081679796",
        "attachments": [
            (
                "http://mastodon.example.org/system/media_attachments/files/000/000/002/original/334ce029e7bfb920.jpg",
                "image/jpeg",
            )
        ],
        "tags": [],
    },
    "mastodon-create-note-cw-mention-hashtag.json": {
        "id": "http://mastodon.example.org/users/admin/statuses/99512778738411822",
        "type": "Note",
        "attributed_to": ["http://mastodon.example.org/users/admin"],
        "content_start": '<p><span class="h-card"><a href="http://localtesting.pleroma.lol/users/lain"',
        "summary": "cw",
        "sensitive": None,  # this old Mastodon sent a CW without "sensitive"
        "published": datetime(2018, 2, 12, 14, 8, 20, tzinfo=UTC),
        "url": "http://mastodon.example.org/@admin/99512778738411822",
        "attachments": [],
        "tags": [
            ("Mention", "@lain@localtesting.pleroma.lol", "http://localtesting.pleroma.lol/users/lain"),
            ("Hashtag", "#NSFW", "http://mastodon.example.org/tags/nsfw"),
        ],
    },
    "mastodon-create-question.json": {
        "id": "https://mastodon.sdf.org/users/rinpatch/statuses/102070944809637304",
        "type": "Question",
        "attributed_to": ["https://mastodon.sdf.org/users/rinpatch"],
        "content_start": "<p>Why is Tenshi eating a corndog so cute?</p>",
        "summary": None,
        "sensitive": False,
        "published": datetime(2019, 5, 10, 9, 3, 36, tzinfo=UTC),
        "url": "https://mastodon.sdf.org/@rinpatch/102070944809637304",
        "attachments": [],
        "tags": [],
    },
    "mastodon-chaos.social-create-direct-with-image.json": {
        "id": "https://chaos.social/users/h4kor/statuses/112123926412043539",
        "type": "Note",
        "attributed_to": ["https://chaos.social/users/h4kor"],
        # The plain "content" differs from contentMap.de ("https: //" typo) — plain wins.
        "content_start": '<p><span class="h-card" translate="no"><a href="https: //games.rerere.org/games/rps"',
        "summary": None,
        "sensitive": False,
        "published": datetime(2024, 3, 19, 19, 9, 1, tzinfo=UTC),
        "url": "https://chaos.social/@h4kor/112123926412043539",
        "attachments": [
            (
                "https://assets.chaos.social/media_attachments/files/112/123/926/010/469/787/original/8411040be692e93b.jpeg",
                "image/jpeg",
            )
        ],
        "tags": [("Mention", "@rps@games.rerere.org", "https://games.rerere.org/games/rps")],
    },
    "pixelfed-create-note-image.json": {
        "id": "https://pixelfed.social/p/mczachurski/624592411232880406",
        "type": "Note",
        "attributed_to": ["https://pixelfed.social/users/mczachurski"],
        "content_start": 'Shadows <a href="https://pixelfed.social/discover/tags/colorphotography?src=hash"',
        "summary": None,
        "sensitive": False,
        "published": datetime(2023, 10, 30, 13, 7, 15, tzinfo=UTC),
        "url": "https://pixelfed.social/p/mczachurski/624592411232880406",
        "attachments": [
            (
                "https://pxscdn.com/public/m/_v2/502420301986951048/f1538e3aa-7b3151/NUalEqHRyJfn/YPp7nvccWGSAPcalvb0PvEuDQzcsQZgyCEjsTrFx.jpg",
                "image/jpeg",
            )
        ],
        "tags": [
            ("Hashtag", "#streetphotography", "https://pixelfed.social/discover/tags/streetphotography"),
            ("Hashtag", "#colorphotography", "https://pixelfed.social/discover/tags/colorphotography"),
        ],
    },
    "misskey-note-quote.json": {
        "id": "https://misskey.io/notes/8vs6ylpfez",
        "type": "Note",
        "attributed_to": ["https://misskey.io/users/7rkrarq81i"],
        "content_start": "<p><span>投稿者の設定によるね<br>",
        "summary": None,
        "sensitive": False,
        "published": datetime(2022, 1, 21, 16, 38, 30, 243000, tzinfo=UTC),
        "url": None,
        "attachments": [],
        "tags": [],
    },
    "misskey-note.json": {
        "id": "https://mk.absturztau.be/notes/93e7nm8wqg",
        "type": "Note",
        "attributed_to": ["https://mk.absturztau.be/users/8ozbzjs3o8"],
        "content_start": "<p><span>meow</span></p>",
        "summary": None,
        "sensitive": False,
        "published": datetime(2022, 8, 1, 11, 6, 49, 568000, tzinfo=UTC),
        "url": None,
        "attachments": [],
        "tags": [],
    },
    "misskey-question-no-end-date.json": {
        "id": "https://skippers-bin.com/notes/7x9tmrp97i",
        "type": "Question",
        "attributed_to": ["https://skippers-bin.com/users/7v1w1r8ce6"],
        "content_start": '<p><a href="https://marchgenso.me/users/march" class="mention">@march@marchgenso.me</a>',
        "summary": None,
        "sensitive": False,
        "published": datetime(2019, 9, 5, 5, 35, 32, 541000, tzinfo=UTC),
        "url": None,
        "attachments": [],
        "tags": [("Mention", "@march@marchgenso.me", "https://marchgenso.me/users/march")],
    },
    "gotosocial-note-contentmap.json": {
        "id": "http://example.org/users/i_p_freely/statuses/01FF25D5Q0DH7CHD57CTRS6WK0",
        "type": "Note",
        "attributed_to": ["http://example.org/users/i_p_freely"],
        "content_start": "<p>This is an example note.</p>",
        "summary": "",
        "sensitive": False,
        "published": datetime(2021, 11, 20, 13, 32, 16, tzinfo=UTC),
        "url": "http://example.org/@i_p_freely/statuses/01FF25D5Q0DH7CHD57CTRS6WK0",
        "attachments": [],
        "tags": [("Hashtag", "#welcome", "https://example.org/tags/welcome")],  # a lone object, not a list
    },
    "mastodon-announce-private.json": {
        "id": "http://mastodon.example.org/@admin/99541947525187368",
        "type": "Note",
        "attributed_to": ["http://mastodon.example.org/users/admin"],
        "content_start": "this is a private toot",
        "summary": None,
        "sensitive": None,
        "published": None,
        "url": None,
        "attachments": [],
        "tags": [],
    },
    "peertube-video.json": {
        "id": "https://peertube.moe/videos/watch/df5f464b-be8d-46fb-ad81-2d4c2d1630e3",
        "type": "Video",
        "attributed_to": [
            "https://peertube.moe/video-channels/5224869f-aa63-4c83-ab3a-87c3a5ac440e",
            "https://peertube.moe/accounts/7even",
        ],
        "content_start": "tfw\r\n",
        "summary": None,
        "sensitive": False,
        "published": datetime(2018, 3, 23, 16, 43, 22, 988000, tzinfo=UTC),
        "url": "https://peertube.moe/static/webseed/df5f464b-be8d-46fb-ad81-2d4c2d1630e3-480.mp4",  # first link
        "attachments": [],
        "tags": [("Hashtag", "feels", None)],
    },
}


def object_in(doc: Any) -> Any:
    return doc["object"] if has_type(doc, "Create", "Announce") else doc


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_objects(name: str) -> None:
    want = OBJECTS[name]
    obj = object_in(load(name))
    assert id_of(obj) == want["id"]
    assert types_of(obj) == {want["type"]}
    assert ids_of(obj.get("attributedTo")) == want["attributed_to"]
    content = text_of(obj, "content", "en")
    assert content is not None and content.startswith(want["content_start"])
    assert text_of(obj, "summary") == want["summary"]
    assert bool_of(obj.get("sensitive")) is want["sensitive"]
    assert datetime_of(obj.get("published")) == want["published"]
    assert url_of(obj.get("url")) == want["url"]
    media = [(url_of(a.get("url")), str_of(a.get("mediaType"))) for a in obj.get("attachment") or []]
    assert media == want["attachments"]
    tags = [(first(sorted(types_of(t))), str_of(t.get("name")), id_of(t.get("href"))) for t in (
        obj.get("tag") if isinstance(obj.get("tag"), list) else [obj.get("tag")] if obj.get("tag") else []
    )]  # fmt: skip
    assert tags == want["tags"]


def test_media_details() -> None:
    chaos = load("mastodon-chaos.social-create-direct-with-image.json")["object"]
    [image] = chaos["attachment"]
    assert str_of(image["blurhash"]) == "UFFEQHH?5QXT^R#+X8I;0yS#S$ofJ7J8nit6"
    assert (int_of(image["width"]), int_of(image["height"])) == (512, 512)
    assert text_of(image, "name") is None
    assert text_of({"contentMap": chaos["contentMap"]}, "content", "de").startswith(
        '<p><span class="h-card" translate="no"><a href="https://games.rerere.org/games/rps"'
    )

    pixelfed = load("pixelfed-create-note-image.json")["object"]
    [photo] = pixelfed["attachment"]
    assert types_of(photo) == {"Image"}
    assert text_of(photo, "name") == "Stickers on the glass from the stairs, casting long and colourful shadows from the sun."
    assert str_of(photo["blurhash"]) == "U9AmM5?GIp9b~UNGoeRk4=E2oeax4;ofxtWB"
    assert (int_of(photo["width"]), int_of(photo["height"])) == (1620, 1080)


def test_peertube_video() -> None:
    video = load("peertube-video.json")
    assert text_of(video, "name") == "Friday Night"
    channel = [a for a in video["attributedTo"] if has_type(a, "Group")]
    assert ids_of(channel) == ["https://peertube.moe/video-channels/5224869f-aa63-4c83-ab3a-87c3a5ac440e"]
    # url is a list of Links using the old "mimeType": pick the biggest mp4 and the watch page.
    assert url_of(video["url"], prefer_media_type="video/mp4") == (
        "https://peertube.moe/static/webseed/df5f464b-be8d-46fb-ad81-2d4c2d1630e3-720.mp4"
    )
    assert url_of(video["url"], prefer_media_type="text/html") == (
        "https://peertube.moe/videos/watch/df5f464b-be8d-46fb-ad81-2d4c2d1630e3"
    )
    assert url_of(video["icon"], prefer_media_type="image/") == (
        "https://peertube.moe/static/thumbnails/df5f464b-be8d-46fb-ad81-2d4c2d1630e3.jpg"
    )
    assert datetime_of(video["updated"]) == datetime(2018, 3, 24, 16, 28, 46, 2000, tzinfo=UTC)
    assert visibility_of(video["to"], video["cc"]) == "public"
    assert int_of(video["views"]) == 12


def test_polls() -> None:
    mastodon = load("mastodon-create-question.json")["object"]
    options = [(text_of(o, "name"), int_of(dig(o, "replies", "totalItems"))) for o in mastodon["oneOf"]]
    assert options == [("Dunno", 0), ("Everyone knows that!", 1), ("25 char limit is dumb", 0), ("I can't even fit a funny", 1)]
    assert datetime_of(mastodon["endTime"]) == datetime(2019, 5, 11, 9, 3, 36, tzinfo=UTC)
    assert text_of(mastodon, "content", "en") == "<p>Why is Tenshi eating a corndog so cute?</p>"

    misskey = load("misskey-question-no-end-date.json")
    options = [(text_of(o, "name"), int_of(dig(o, "replies", "totalItems"))) for o in misskey["oneOf"]]
    assert options == [("Working", 0), ("Broken af", 1)]
    assert datetime_of(misskey["endTime"]) is None
    assert visibility_of(misskey["to"], misskey["cc"]) == "public"


def test_misskey_extensions() -> None:
    quote = load("misskey-note-quote.json")
    assert id_of(quote["quoteUrl"]) == "https://misskey.io/notes/8vs6wxufd0"
    assert id_of(quote["_misskey_quote"]) == "https://misskey.io/notes/8vs6wxufd0"
    assert str_of(quote["_misskey_content"]) == (
        "投稿者の設定によるね\nFanboxについても投稿者によっては過去の投稿は高額なプランに移動してることがある"
    )
    assert str_of(load("misskey-note.json")["_misskey_content"]) == "meow"
