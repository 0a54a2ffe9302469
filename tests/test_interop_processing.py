"""Real documents from other servers are processed, not only parsed.

Each test serves the fixture's actors (and the objects they reference) under
their real hosts with a :class:`tests.federation.StaticPeer`, then delivers the
fixture activity to ``https://a.example/inbox`` **through the real inbox**: a
signed POST, so the inbox's checks (same origin, attributedTo, signature, the
key fetched from the served actor) run on the real document too.  Then
``settle()`` runs the ``inbox`` job and the test asserts what a user would see.

Adaptations, each repeated where it is made:

* Actor documents: the fixtures only hold some of the actors that the
  activities name, so missing ones are made from a real actor document of the
  same software (ids rewritten).  Every served actor's ``publicKey`` is replaced
  by one test key, since we do not have the peers' private keys.
* ``http://`` ids of old test fixtures (``mastodon.example.org``,
  ``example.org``) become ``https://``: fedisora, like Mastodon, refuses to
  fetch plain http outside dev mode.
* Addresses of actors on the fixtures' test servers (``localtesting.pleroma.lol``
  …) are pointed at alice on a.example where the test needs a local actor.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from activitypub import keys as keygen
from fedisora.db.models import (
    Activity,
    Actor,
    Block,
    Follow,
    FollowState,
    Like,
    MediaAttachment,
    Mention,
    Status,
)
from fedisora.federation.remote import get_actor
from fedisora.processing import follows, posts
from tests.federation import Fediverse, Instance, StaticPeer, signed_post

DATA = Path(__file__).parent / "data" / "interop"
ALICE = "https://a.example/users/alice"
HOSTILE = '<script>alert(1)</script><img src="x" onerror="alert(2)"><a href="javascript:alert(3)" onclick="alert(4)">x</a>'


def fixture(name: str, *https_hosts: str) -> dict[str, Any]:
    """A fixture document; ``http://host`` ids of the named hosts become ``https://host``."""
    text = (DATA / name).read_text()
    for host in https_hosts:
        text = text.replace(f"http://{host}", f"https://{host}")
    return json.loads(text)  # type: ignore[no-any-return]


def replaced(document: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """A copy of ``document`` with every occurrence of ``old`` (a URI) replaced by ``new``."""
    return json.loads(json.dumps(document).replace(old, new))  # type: ignore[no-any-return]


@functools.cache
def peer_key() -> keygen.KeyPair:
    return keygen.generate_rsa()


def host_of(uri: str) -> str:
    return uri.split("://", 1)[1].split("/", 1)[0]


def actor_like(template: str, uri: str, username: str, *https_hosts: str, **fields: Any) -> dict[str, Any]:
    """An actor document for ``uri`` made from the real actor document ``template``."""
    doc = fixture(template, *https_hosts)
    old_uri = doc["id"]
    doc = replaced(doc, old_uri, uri)
    # The shared inbox and the other URLs on the template's server move to the new one.
    doc = replaced(doc, f"://{host_of(old_uri)}/", f"://{host_of(uri)}/")
    doc["preferredUsername"] = username
    doc.update(fields)
    return doc


MASTODON_PERSON = "mastodon-activitypub.academy-person.json"
MISSKEY_PERSON = "misskey.io-person.json"
GOTOSOCIAL_PERSON = "gotosocial-person-fields.json"


class Peers:
    """The remote servers of one test: actor documents served under their hosts, signed deliveries."""

    def __init__(self, world: Fediverse, a: Instance) -> None:
        self.world = world
        self.a = a

    def peer(self, host: str) -> StaticPeer:
        return self.world.add_documents(host)

    def serve(self, document: dict[str, Any]) -> dict[str, Any]:
        """Serve ``document`` at its id; an actor gets the test key as its ``publicKey``."""
        uri = document["id"]
        if "inbox" in document:
            document = dict(document)
            document["publicKey"] = {"id": f"{uri}#main-key", "owner": uri, "publicKeyPem": peer_key().public_pem}
        self.world.add_documents(host_of(uri), {uri: document})
        return document

    async def deliver(self, activity: dict[str, Any], *, expect: int = 202) -> dict[str, Any]:
        actor = activity["actor"] if isinstance(activity["actor"], str) else activity["actor"]["id"]
        assert self.a.client is not None
        response = await signed_post(
            self.a.client, "https://a.example/inbox", activity, f"{actor}#main-key", peer_key().private_pem
        )
        assert response.status_code == expect, response.text
        await self.world.settle()
        return activity


@pytest.fixture
async def a(world: Fediverse) -> Instance:
    instance = await world.add("a.example")
    await instance.create_account("alice")
    return instance


@pytest.fixture
def peers(world: Fediverse, a: Instance) -> Peers:
    return Peers(world, a)


async def status(instance: Instance, uri: str) -> Status:
    async with instance.state.sessions() as session:
        found = (await session.exec(select(Status).where(Status.uri == uri))).first()
        assert found is not None, f"no status {uri}"
        return found


async def remote_actor(instance: Instance, uri: str) -> Actor:
    async with instance.state.sessions() as session:
        return (await session.exec(select(Actor).where(Actor.uri == uri))).one()


async def processed(instance: Instance, activity: dict[str, Any], *, ignored: bool = False) -> Activity:
    """The stored activity, processed: with effect, or (``ignored``) recorded as meaning nothing."""
    async with instance.state.sessions() as session:
        record = (await session.exec(select(Activity).where(Activity.uri == activity["id"]))).one()
    assert record.state == "processed", (record.state, record.error)
    if ignored:
        assert (record.error or "").startswith("ignored:"), record.error
    else:
        assert record.error is None, record.error
    return record


async def media_of(instance: Instance, status_id: int) -> list[MediaAttachment]:
    async with instance.state.sessions() as session:
        query = select(MediaAttachment).where(MediaAttachment.status_id == status_id).order_by(MediaAttachment.id)
        return list((await session.exec(query)).all())


async def mentioned(instance: Instance, status_id: int) -> list[str]:
    async with instance.state.sessions() as session:
        query = select(Actor.uri).join(Mention, Mention.actor_id == Actor.id).where(Mention.status_id == status_id)
        return list((await session.exec(query)).all())


def assert_safe(html: str) -> None:
    lowered = html.lower()
    for bad in ("<script", "onerror", "onclick", "javascript:"):
        assert bad not in lowered, html


async def local_post(a: Instance, text: str, **kwargs: Any) -> Status:
    async with a.state.sessions() as session:
        me = (await session.exec(select(Actor).where(Actor.local, Actor.username == "alice"))).one()
        made = await posts.create_post(session, a.state, me, text, **kwargs)
        await session.commit()
        return made


# --- Mastodon posts ------------------------------------------------------------------------


MASTODON_ADMIN = "https://mastodon.example.org/users/admin"


def mastodon_admin() -> dict[str, Any]:
    # Not among the fixtures: made from a real Mastodon actor document.
    return actor_like(MASTODON_PERSON, MASTODON_ADMIN, "admin", name="Admin")


async def test_mastodon_note_with_cw_mention_and_hashtag(a: Instance, peers: Peers) -> None:
    peers.serve(mastodon_admin())
    # Adapted: the mentioned actor (on Pleroma's test server) is pointed at local alice.
    activity = replaced(
        fixture("mastodon-create-note-cw-mention-hashtag.json", "mastodon.example.org"),
        "http://localtesting.pleroma.lol/users/lain", ALICE,
    )
    await peers.deliver(activity)
    await processed(a, activity)
    note = await status(a, "https://mastodon.example.org/users/admin/statuses/99512778738411822")
    assert note.summary == "cw" and note.sensitive
    assert note.visibility == "public"
    assert note.object_type == "Note" and not note.local
    assert note.url == "https://mastodon.example.org/@admin/99512778738411822"
    assert "#moo" in note.content and f'href="{ALICE}"' in note.content
    assert 'class="u-url mention"' in note.content or "mention" in note.content
    assert await mentioned(a, note.id) == [ALICE]
    assert (await remote_actor(a, MASTODON_ADMIN)).display_name == "Admin"
    assert_safe(note.content)


async def test_hostile_html_in_a_real_note_is_sanitized(a: Instance, peers: Peers) -> None:
    peers.serve(mastodon_admin())
    # Adapted: script and event handlers added to the real note's content.
    activity = fixture("mastodon-create-note-cw-mention-hashtag.json", "mastodon.example.org")
    activity["object"]["content"] += HOSTILE
    await peers.deliver(activity)
    note = await status(a, activity["object"]["id"])
    assert_safe(note.content)
    assert "#moo" in note.content


async def test_mastodon_note_with_image(a: Instance, peers: Peers) -> None:
    peers.serve(mastodon_admin())
    activity = fixture("mastodon-create-note-with-attachment.json", "mastodon.example.org")
    await peers.deliver(activity)
    await processed(a, activity)
    note = await status(a, activity["object"]["id"])
    assert note.visibility == "public" and not note.sensitive and note.summary == ""
    [media] = await media_of(a, note.id)
    assert media.remote_url == (
        "https://mastodon.example.org/system/media_attachments/files/000/000/002/original/334ce029e7bfb920.jpg"
    )
    assert media.mime_type == "image/jpeg" and media.media_type == "image"
    assert media.description is None  # "name": null
    assert media.file_path is None  # remote media is not copied


async def test_link_attachments_are_not_media(a: Instance, peers: Peers) -> None:
    """A Link to a web page, or a Document of a page or a file that is not video, image or
    audio, is not media: Mastodon skips a Link (its parser reads ``url``, a Link has ``href``);
    we skip both rather than make media of type ``unknown`` that clients show as a broken file.
    A Link to an image (Lemmy's image posts) stays an image."""
    peers.serve(mastodon_admin())
    # Adapted: the fixture's image plus link-only attachments as Lemmy and others send them.
    activity = fixture("mastodon-create-note-with-attachment.json", "mastodon.example.org")
    image = activity["object"]["attachment"][0]
    activity["object"]["attachment"] = [
        {"type": "Link", "href": "https://news.example/2026/article"},
        {"type": "Link", "href": "https://news.example/a.html", "mediaType": "text/html; charset=utf-8"},
        {"type": "Document", "mediaType": "text/html", "url": "https://news.example/page"},
        {"type": "Document", "mediaType": "application/pdf", "url": "https://news.example/paper.pdf"},
        {"type": "Link", "href": "https://lemmy.example/pictrs/image/cat.jpeg"},
        image,
    ]
    await peers.deliver(activity)
    await processed(a, activity)
    note = await status(a, activity["object"]["id"])
    media = await media_of(a, note.id)
    assert [(m.media_type, m.remote_url) for m in media] == [
        ("image", "https://lemmy.example/pictrs/image/cat.jpeg"),
        ("image", image["url"]),
    ]


async def test_mastodon_4_direct_note_with_image(a: Instance, peers: Peers) -> None:
    # Adapted: the direct recipient (a bot on another server) is pointed at local alice.
    activity = replaced(
        fixture("mastodon-chaos.social-create-direct-with-image.json"), "https://games.rerere.org/games/rps", ALICE
    )
    peers.serve(actor_like(MASTODON_PERSON, "https://chaos.social/users/h4kor", "h4kor"))
    await peers.deliver(activity)
    await processed(a, activity)
    note = await status(a, activity["object"]["id"])
    assert note.visibility == "direct"
    assert note.language == "de"
    assert await mentioned(a, note.id) == [ALICE]
    [media] = await media_of(a, note.id)
    assert media.remote_url.endswith("/original/8411040be692e93b.jpeg")  # type: ignore[union-attr]
    assert media.mime_type == "image/jpeg"
    assert media.blurhash == "UFFEQHH?5QXT^R#+X8I;0yS#S$ofJ7J8nit6"
    assert media.meta == {"width": 512, "height": 512}
    assert_safe(note.content)


async def test_pixelfed_note_with_described_image(a: Instance, peers: Peers) -> None:
    activity = fixture("pixelfed-create-note-image.json")
    # Not among the fixtures: Pixelfed's actor, made from a real Mastodon actor document.
    peers.serve(actor_like(MASTODON_PERSON, "https://pixelfed.social/users/mczachurski", "mczachurski"))
    await peers.deliver(activity)
    await processed(a, activity)
    note = await status(a, activity["object"]["id"])
    [media] = await media_of(a, note.id)
    assert media.description == (
        "Stickers on the glass from the stairs, casting long and colourful shadows from the sun."
    )
    assert media.blurhash == "U9AmM5?GIp9b~UNGoeRk4=E2oeax4;ofxtWB"
    assert media.media_type == "image" and media.meta == {"width": 1620, "height": 1080}
    assert "#colorphotography" in note.content


async def test_mastodon_question_is_stored_read_only(a: Instance, peers: Peers) -> None:
    peers.serve(actor_like(MASTODON_PERSON, "https://mastodon.sdf.org/users/rinpatch", "rinpatch"))
    activity = fixture("mastodon-create-question.json")
    await peers.deliver(activity)
    await processed(a, activity)
    poll = await status(a, activity["object"]["id"])
    assert poll.object_type == "Question"
    assert "Why is Tenshi eating a corndog so cute?" in poll.content
    assert poll.language == "en" and poll.visibility == "public"
    assert poll.raw is not None and [o["name"] for o in poll.raw["oneOf"]][0] == "Dunno"


# --- Misskey -------------------------------------------------------------------------------


def misskey_create(note: dict[str, Any]) -> dict[str, Any]:
    """Misskey's Create around a note (the fixtures hold the bare Note, as fetched)."""
    return {
        "@context": note["@context"],
        "id": f"{note['id']}/activity",
        "type": "Create",
        "actor": note["attributedTo"],
        "published": note["published"],
        "to": note["to"],
        "cc": note["cc"],
        "object": {k: v for k, v in note.items() if k != "@context"},
    }


async def test_misskey_note_and_quote(a: Instance, peers: Peers) -> None:
    # Not among the fixtures: these two Misskey users, made from a real Misskey actor document.
    peers.serve(actor_like(MISSKEY_PERSON, "https://mk.absturztau.be/users/8ozbzjs3o8", "meow"))
    peers.serve(actor_like(MISSKEY_PERSON, "https://misskey.io/users/7rkrarq81i", "quoter"))
    plain = misskey_create(fixture("misskey-note.json"))
    await peers.deliver(plain)
    await processed(a, plain)
    meow = await status(a, "https://mk.absturztau.be/notes/93e7nm8wqg")
    assert "meow" in meow.content and meow.visibility == "public"

    quote = misskey_create(fixture("misskey-note-quote.json"))
    await peers.deliver(quote)
    await processed(a, quote)
    quoting = await status(a, "https://misskey.io/notes/8vs6ylpfez")
    assert "投稿者の設定によるね" in quoting.content
    # No quote posts yet: the quoted note stays reachable through the fallback link.
    assert 'href="https://misskey.io/notes/8vs6wxufd0"' in quoting.content
    assert quoting.raw is not None and quoting.raw["quoteUrl"] == "https://misskey.io/notes/8vs6wxufd0"


async def test_misskey_question_without_end_date(a: Instance, peers: Peers) -> None:
    peers.serve(actor_like(MISSKEY_PERSON, "https://skippers-bin.com/users/7v1w1r8ce6", "skipper"))
    # Adapted: the mentioned actor is pointed at local alice.
    question = replaced(misskey_create(fixture("misskey-question-no-end-date.json")), "https://marchgenso.me/users/march", ALICE)
    await peers.deliver(question)
    await processed(a, question)
    poll = await status(a, "https://skippers-bin.com/notes/7x9tmrp97i")
    assert poll.object_type == "Question"
    assert "How are your notifications now?" in poll.content
    assert await mentioned(a, poll.id) == [ALICE]


async def test_misskey_like(a: Instance, peers: Peers) -> None:
    mine = await local_post(a, "like me")
    # Adapted: the fixture (from Pleroma's tests) names an actor on another host than its
    # id, which the inbox refuses; the actor is put on misskey.xyz, and the liked object is
    # alice's post.
    like = fixture("misskey-like-reaction.json")
    like["actor"] = "https://misskey.xyz/users/9liker"
    like["object"] = mine.uri
    peers.serve(actor_like(MISSKEY_PERSON, like["actor"], "liker"))
    await peers.deliver(like)
    await processed(a, like)
    async with a.state.sessions() as session:
        likes = (await session.exec(select(Like).where(Like.status_id == mine.id))).all()
    assert [l.uri for l in likes] == ["https://misskey.xyz/75149198-2f45-46e4-930a-8b0538297075"]


# --- GoToSocial ----------------------------------------------------------------------------


async def test_gotosocial_note_with_content_map(a: Instance, peers: Peers) -> None:
    note = fixture("gotosocial-note-contentmap.json", "example.org")
    # Not among the fixtures: this author, made from GoToSocial's own actor document.
    peers.serve(actor_like(GOTOSOCIAL_PERSON, note["attributedTo"], "i_p_freely", "example.org"))
    activity = {
        "@context": note["@context"],
        "id": f"{note['id']}/activity",  # the doc shows the Note; GoToSocial wraps it like this
        "type": "Create",
        "actor": note["attributedTo"],
        "to": note["to"],
        "cc": note["cc"],
        "object": note,
    }
    await peers.deliver(activity)
    await processed(a, activity)
    post = await status(a, note["id"])
    assert post.language == "en"
    assert post.content == "<p>This is an example note.</p>"
    assert post.visibility == "public" and post.summary == "" and not post.sensitive


async def test_gotosocial_move_needs_the_alias(a: Instance, peers: Peers) -> None:
    old = peers.serve(actor_like(GOTOSOCIAL_PERSON, "https://example.org/users/1happyturtle", "1happyturtle", "example.org"))
    new_uri = "https://another-server.com/users/my_new_account_hurray"
    peers.serve(actor_like(GOTOSOCIAL_PERSON, new_uri, "my_new_account_hurray", "example.org"))
    move = fixture("gotosocial-move.json")
    await peers.deliver(move)
    await processed(a, move, ignored=True)  # the new account does not claim the old one
    assert (await remote_actor(a, old["id"])).moved_to_uri is None

    # The new account now lists the old one in alsoKnownAs; the move is sent again.
    peers.serve(actor_like(GOTOSOCIAL_PERSON, new_uri, "my_new_account_hurray", "example.org",
                           alsoKnownAs=[old["id"]]))
    again = {**move, "id": move["id"] + "-again"}
    await peers.deliver(again)
    await processed(a, again)
    assert (await remote_actor(a, old["id"])).moved_to_uri == new_uri


# --- PeerTube ------------------------------------------------------------------------------


async def test_peertube_video(a: Instance, peers: Peers) -> None:
    video = fixture("peertube-video.json")
    account = "https://peertube.moe/accounts/7even"
    # Not among the fixtures: PeerTube's account actor, made from a real Mastodon actor document.
    peers.serve(actor_like(MASTODON_PERSON, account, "7even"))
    # The fixture is the Video as fetched; PeerTube's Create around it (send-create.ts):
    # id = video url + "/activity", actor = the channel's account, attributedTo = [channel, account].
    activity = {
        "@context": video["@context"],
        "id": f"{video['id']}/activity",
        "type": "Create",
        "actor": account,
        "to": video["to"],
        "cc": video["cc"],
        "object": {k: v for k, v in video.items() if k != "@context"},
    }
    await peers.deliver(activity)
    await processed(a, activity)
    post = await status(a, video["id"])
    assert post.object_type == "Video"
    assert "Friday Night" in post.content and "my old piano" in post.content
    assert post.url == "https://peertube.moe/videos/watch/df5f464b-be8d-46fb-ad81-2d4c2d1630e3"
    [media] = await media_of(a, post.id)
    assert media.media_type == "video" and media.mime_type == "video/mp4"
    # The best of the mp4 variants (240, 360, 480, 720): the 720p one.
    assert media.remote_url == "https://peertube.moe/static/webseed/df5f464b-be8d-46fb-ad81-2d4c2d1630e3-720.mp4"
    assert_safe(post.content)


# --- Follows ---------------------------------------------------------------------------------


async def test_mastodon_follow_of_a_local_actor(a: Instance, peers: Peers) -> None:
    admin = peers.serve(mastodon_admin())
    # Adapted: the followed actor (on Pleroma's test server) is local alice.
    follow = replaced(fixture("mastodon-follow.json", "mastodon.example.org"), "http://localtesting.pleroma.lol/users/lain", ALICE)
    await peers.deliver(follow)
    await processed(a, follow)
    async with a.state.sessions() as session:
        record = (await session.exec(select(Follow).where(Follow.uri == follow["id"]))).one()
    assert record.state == FollowState.ACCEPTED.value
    [accept] = peers.peer("mastodon.example.org").posted_activities()
    assert accept["type"] == "Accept" and accept["actor"] == ALICE
    assert accept["object"]["id"] == "https://mastodon.example.org/users/admin#follows/2"
    assert accept["object"]["actor"] == admin["id"] and accept["object"]["object"] == ALICE
    url, headers, _ = peers.peer("mastodon.example.org").received[0]
    assert url == "https://mastodon.example.org/inbox"  # the shared inbox
    assert "signature" in headers and "digest" in headers


async def test_mastodon_accept_of_our_follow(world: Fediverse, a: Instance, peers: Peers) -> None:
    peers.serve(mastodon_admin())
    async with a.state.sessions() as session:
        me = (await session.exec(select(Actor).where(Actor.local, Actor.username == "alice"))).one()
        them = await get_actor(session, a.state, MASTODON_ADMIN)  # fetched from the served document
        record = await follows.follow(session, a.state, me, them)
        follow_uri = record.uri
        await session.commit()
    await world.settle()
    [sent] = peers.peer("mastodon.example.org").posted_activities()
    assert sent["type"] == "Follow" and sent["id"] == follow_uri
    # Adapted: the accepted Follow is alice's (the fixture's is lain's, on Pleroma's test server).
    accept = fixture("mastodon-accept-follow.json", "mastodon.example.org")
    accept["object"] = replaced(
        replaced(accept["object"], "http://localtesting.pleroma.lol/users/lain#follows/4", str(follow_uri)),
        "http://localtesting.pleroma.lol/users/lain", ALICE,
    )
    await peers.deliver(accept)
    await processed(a, accept)
    async with a.state.sessions() as session:
        state = (await session.exec(select(Follow.state).where(Follow.uri == follow_uri))).one()
    assert state == FollowState.ACCEPTED.value


# --- Announce, Delete, Update ------------------------------------------------------------


async def test_mastodon_undo_announce(a: Instance, peers: Peers) -> None:
    peers.serve(mastodon_admin())
    mine = await local_post(a, "boost me")
    # Adapted: the boosted post (on another test server) is alice's.
    undo = replaced(
        fixture("mastodon-undo-announce.json", "mastodon.example.org"),
        "http://lostallofmy.faith/objects/acc592f0-093a-4326-856e-2ab30947ef11", mine.uri,
    )
    # First the Announce itself, as Mastodon sent it before undoing it.
    announce = {"@context": undo["@context"], **undo["object"]}
    await peers.deliver(announce)
    await processed(a, announce)
    boost = await status(a, announce["id"])
    assert boost.reblog_of_id == mine.id and boost.visibility == "public"

    await peers.deliver(undo)
    await processed(a, undo)
    async with a.state.sessions() as session:
        assert (await session.exec(select(Status).where(Status.reblog_of_id == mine.id))).first() is None
        assert await session.get(Status, mine.id) is not None


def gargron(**fields: Any) -> dict[str, Any]:
    """Gargron's actor document: the Person embedded in the Update fixture."""
    doc = fixture("mastodon-update-person.json", "mastodon.example.org")["object"]
    doc["@context"] = ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"]
    doc.update(fields)
    return doc


async def test_mastodon_delete_with_tombstone(a: Instance, peers: Peers) -> None:
    peers.serve(gargron())
    delete = fixture("mastodon-delete-tombstone.json", "mastodon.example.org")
    uri = delete["object"]["id"]
    # The deleted post first arrives (a Mastodon Create, from the CW fixture with its ids changed).
    create = replaced(
        replaced(fixture("mastodon-create-note-cw-mention-hashtag.json", "mastodon.example.org"),
                 "https://mastodon.example.org/users/admin/statuses/99512778738411822", uri),
        MASTODON_ADMIN, "https://mastodon.example.org/users/gargron",
    )
    await peers.deliver(create)
    assert "#moo" in (await status(a, uri)).content

    await peers.deliver(delete)
    await processed(a, delete)
    gone = await status(a, uri)
    assert gone.deleted_at is not None and gone.content == "" and gone.summary == "" and gone.raw is None


async def test_mastodon_update_person_refreshes_the_profile(a: Instance, peers: Peers) -> None:
    peers.serve(gargron(name="Eugen", summary="<p>old bio</p>", icon=None, image=None))
    update = fixture("mastodon-update-person.json", "mastodon.example.org")
    # a learns of gargron (as it would from any earlier activity) …
    first = {**update, "id": update["id"] + "-0"}
    await peers.deliver(first)
    before = await remote_actor(a, "https://mastodon.example.org/users/gargron")
    assert before.display_name == "Eugen" and before.icon_url is None

    # … then gargron edits the profile: the origin serves the new document, and the Update arrives.
    # Adapted: a script is appended to the new bio to check it is sanitized.
    peers.serve(gargron(summary=update["object"]["summary"] + "<script>alert(1)</script>"))
    await peers.deliver(update)
    await processed(a, update)
    after = await remote_actor(a, "https://mastodon.example.org/users/gargron")
    assert after.display_name == "gargle"
    assert "Some bio" in after.summary and "<script" not in after.summary
    assert after.icon_url == "https://cd.niu.moe/accounts/avatars/000/033/323/original/fd7f8ae0b3ffedc9.jpeg"
    assert after.header_url == "https://cd.niu.moe/accounts/headers/000/033/323/original/850b3448fa5fd477.png"
    assert after.shared_inbox_uri == "https://mastodon.example.org/inbox"


async def test_update_of_someone_else_is_refused(a: Instance, peers: Peers) -> None:
    peers.serve(mastodon_admin())
    peers.serve(gargron())
    # Adapted: admin sends gargron's profile as an Update.
    update = fixture("mastodon-update-person.json", "mastodon.example.org")
    update["actor"] = MASTODON_ADMIN
    update["id"] = f"{MASTODON_ADMIN}#updates/1"
    await peers.deliver(update, expect=202)
    await processed(a, update, ignored=True)
    async with a.state.sessions() as session:
        assert (await session.exec(select(Actor).where(Actor.uri == update["object"]["id"]))).first() is None
        assert (await session.exec(select(Block))).first() is None
