"""Every document we serve or deliver is JSON-LD that pyld expands and compacts with the
real published contexts (bundled, offline: ``activitypub.jsonld``), and means what it says.

JSON-LD processors (jsonld.js inside Fedify, pyld) refuse a whole document whose
contexts redefine a protected term, and Fedify then answers ``400 Invalid activity.``,
a delivery we count as permanently failed.  Documents are taken as peers get them:
fetched over HTTP from a running instance, and the bodies it POSTs to a follower's
instance.  Every copy of a post (served at its id, at ``/activity``, in the outbox, in
the delivered ``Create``/``Update``) carries the same ``@context`` as the Note itself.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from activitypub.jsonld import compact, expand
from fedisora.attestations import service
from fedisora.db.models import Actor, MediaAttachment, MediaState, Status
from fedisora.media.storage import Storage
from fedisora.processing import follows, posts
from tests.federation import Fediverse, Instance

AP = {"Accept": "application/activity+json"}
AS = "https://www.w3.org/ns/activitystreams#"
SEC = "https://w3id.org/security#"
CRED = "https://www.w3.org/2018/credentials#"
PROVENANCE = "https://fedisora.org/ns#provenance"
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00\x00\x00\x08free" + bytes(range(256)) * 8


async def fetch(instance: Instance, url: str, status: int = 200) -> dict[str, Any]:
    assert instance.client is not None
    response = await instance.client.get(url, headers=AP)
    assert response.status_code == status, (url, response.text)
    return response.json()  # type: ignore[no-any-return]


def processed(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` expanded and compacted again under its own ``@context`` (pyld, bundled
    contexts, unknown ones refused); the expanded node."""
    expanded = expand(copy.deepcopy(document))
    assert len(expanded) == 1, document.get("id")
    compacted = compact(expanded, document["@context"])
    assert compacted.get("id") == document.get("id")
    return expanded[0]  # type: ignore[no-any-return]


def node(expanded: dict[str, Any], *path: str) -> dict[str, Any]:
    """The first node at ``path`` (expanded IRIs) below ``expanded``."""
    for key in path:
        values = expanded.get(key)
        assert values, f"{key} missing in {sorted(expanded)}"
        expanded = values[0]
        if "@graph" in expanded:
            expanded = expanded["@graph"][0]
    return expanded


def assert_proven(expanded: dict[str, Any]) -> None:
    proof = node(expanded, SEC + "proof")
    assert proof["@type"] == [SEC + "DataIntegrityProof"]
    assert SEC + "proofValue" in proof


def assert_note_with_provenance(note: dict[str, Any]) -> None:
    """A video Note, expanded: its Document carries the credential, which means a credential."""
    assert note["@type"] == [AS + "Note"]
    document = node(note, AS + "attachment")
    credential = node(document, PROVENANCE)
    assert CRED + "VerifiableCredential" in credential["@type"]
    assert CRED + "credentialSubject" in credential
    assert_proven(credential)
    assert_proven(note)


async def ready_video(instance: Instance, actor: Actor, data: bytes, **fields: Any) -> MediaAttachment:
    """A processed video of ``actor``'s, not attached yet (what an upload becomes)."""
    stored = Storage.from_config(instance.config).store_bytes(data, "mp4")
    async with instance.state.sessions() as session:
        media = MediaAttachment(
            actor_id=actor.id, media_type="video", state=MediaState.READY.value, mime_type="video/mp4",
            file_path=stored.path, size_bytes=stored.size, sha256=stored.sha256, description="a red square",
            **{"meta": {"width": 640, "height": 360, "duration": 2.0}, **fields},
        )  # fmt: skip
        session.add(media)
        await session.commit()
        await session.refresh(media)
        return media


async def post(instance: Instance, author: Actor, text: str, media: Sequence[MediaAttachment] = ()) -> Status:
    async with instance.state.sessions() as session:
        me = await session.get(Actor, author.id)
        rows = [await session.get(MediaAttachment, m.id) for m in media]
        status = await posts.create_post(session, instance.state, me, text, media=rows)  # type: ignore[arg-type]
        await session.commit()
        return status


def delivered_to(world: Fediverse, host: str) -> list[dict[str, Any]]:
    return [json.loads(r.content) for r in world.transport.posts_to(host)]


async def test_every_document_we_serve_or_deliver_expands_compacts_and_keeps_one_context(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    alice = await a.create_account("alice")
    bob = await b.create_account("bob")
    async with a.state.sessions() as session:
        me = await session.get(Actor, alice.id)
        assert me is not None
        await service.issue_account_attestation(session, a.config, me, operated_by="human", method="in-person")
        await service.issue_self_declaration(session, a.config, me, "human")
        await service.issue_likeness_consent(session, a.config, me, "named", [bob.uri])
        await session.commit()
    async with b.state.sessions() as session:  # bob follows alice: b gets what she publishes
        await follows.follow(session, b.state, await session.get(Actor, bob.id), await _remote(session, b, alice.uri))  # type: ignore[arg-type]
        await session.commit()
    await world.settle()

    text = await post(a, alice, "plain words #tag")
    video = await post(a, alice, "a video", [await ready_video(a, alice, MP4 + b"upload")])
    prompt = hashlib.sha256(b"a red square pulsing").hexdigest()
    generated_media = await ready_video(
        a, alice, MP4 + b"generated", digital_source_type="trainedAlgorithmicMedia",
        meta={"width": 640, "height": 360, "duration": 2.0,
              "generation": {"software": "fedisora-generation 0.1", "model": "tiny-t2v", "prompt_sha256": prompt}},
    )  # fmt: skip
    generated = await post(a, alice, "made here", [generated_media])
    gone = await post(a, alice, "soon gone")
    async with a.state.sessions() as session:
        me = await session.get(Actor, alice.id)
        await posts.edit_post(session, a.state, me, await session.get(Status, video.id), "a video, edited")  # type: ignore[arg-type]
        await posts.delete_post(session, a.state, me, await session.get(Status, gone.id))  # type: ignore[arg-type]
        await service.issue_self_declaration(session, a.config, me, "human")  # the actor Update with credentials
        await session.commit()
    await world.settle()

    person = await fetch(a, alice.uri)
    assert "name" not in person  # alice has no display name: not "name": ""
    kinds = {t for e in person["attachment"] for t in e.get("type", []) if isinstance(e.get("type"), list)}
    assert {"AccountAttestation", "SelfDeclaration", "LikenessConsent"} <= kinds
    served = {
        "actor": person,
        "instance actor": await fetch(a, "https://a.example/actor"),
        "text Note": await fetch(a, str(text.uri)),
        "video Note": await fetch(a, str(video.uri)),
        "generated-media Note": await fetch(a, str(generated.uri)),
        "video Create at /activity": await fetch(a, f"{video.uri}/activity"),
        "outbox": await fetch(a, f"{alice.uri}/outbox"),
        "outbox page": await fetch(a, f"{alice.uri}/outbox?page=true"),
        "followers page": await fetch(a, f"{alice.uri}/followers?page=1"),
        "featured": await fetch(a, f"{alice.uri}/collections/featured"),
        "Tombstone": await fetch(a, str(gone.uri), status=410),
    }
    credential_entry = next(e for e in person["attachment"] if "AccountAttestation" in e.get("type", []))
    served["credential"] = await fetch(a, credential_entry["id"])
    served["status list"] = await fetch(a, credential_entry["credentialStatus"]["statusListCredential"])
    sent = delivered_to(world, "b.example")
    assert {"Accept", "Create", "Update", "Delete"} <= {d["type"] for d in sent}
    documents = {**served, **{f"delivered {d['type']} {d['id']}": d for d in sent}}
    failures = {}
    for name, document in documents.items():
        try:
            processed(document)
        except Exception as exc:  # collect all, so one run names every broken document
            failures[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    assert failures == {}, json.dumps(failures, indent=1)

    # what the documents mean, once expanded
    for name in ("video Note", "generated-media Note"):
        assert_note_with_provenance(processed(served[name]))
    assert_note_with_provenance(node(processed(served["video Create at /activity"]), AS + "object"))
    generator = node(processed(served["generated-media Note"]), AS + "attachment", PROVENANCE, CRED + "credentialSubject",
                     "https://fedisora.org/ns#generatedWith")  # fmt: skip
    assert generator["https://fedisora.org/ns#model"] == [{"@value": "tiny-t2v"}]
    expanded_actor = processed(person)
    assert_proven(expanded_actor)
    credentials = [e for e in expanded_actor[AS + "attachment"] if CRED + "VerifiableCredential" in e.get("@type", [])]
    assert len(credentials) == 3

    # every copy of the video Note carries the Note's own @context
    note = served["video Note"]
    creates = [d for d in sent if d["type"] == "Create" and d["object"]["id"] == video.uri]
    updates = [d for d in sent if d["type"] == "Update" and d["object"].get("id") == video.uri]
    page_items = [i for i in served["outbox page"]["orderedItems"] if i["object"]["id"] == video.uri]
    assert len(creates) == len(updates) == len(page_items) == 1
    copies = {
        "delivered Create": creates[0],
        "/activity": served["video Create at /activity"],
        "outbox item": page_items[0],
        "delivered Update": updates[0],
    }
    for name, activity in copies.items():
        assert activity["object"]["@context"] == note["@context"], name
        assert activity["@context"] == note["@context"], name
        assert_note_with_provenance(node(processed(activity), AS + "object"))
    [actor_update] = [d for d in sent if d["type"] == "Update" and d["object"].get("id") == alice.uri]
    assert actor_update["@context"] == person["@context"]


async def _remote(session: Any, instance: Instance, uri: str) -> Actor:
    from fedisora.federation.remote import get_actor

    return await get_actor(session, instance.state, uri)
