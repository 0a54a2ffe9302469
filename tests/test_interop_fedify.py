"""fedisora against a real Fedify server (npm ``@fedify/fedify``, tests/fedify/server.mjs).

Both sides listen on loopback and talk real HTTP: fedisora is the app served by uvicorn
in this module's event loop (a dev instance on ``127.0.0.1:PORT``, its background jobs
running), Fedify a ``createFederation`` server in a Node process.  Fedify is an
independent JSON-LD processor (jsonld.js) and FEP-8b32 / RFC 9421 implementation:

* follows both ways end in an Accept the other side honours;
* text and video posts travel both ways (an edit too), with the proofs checked on the receiving side
  (Fedify's ``verifyObject`` on what fedisora delivered, fedisora's verifier on Fedify's
  Note, which carries a proof and an LD ``signature``);
* an RFC 9421-signed request from Fedify is accepted;
* Fedify parses every kind of document fedisora serves.

Skipped (with the reason) without Node.js 20+ and npm; a failure in CI (tests/fedify_peer.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import pytest_asyncio
import uvicorn
from sqlmodel import select

from fedisora.accounts.service import ensure_instance_actor
from fedisora.app import create_app
from fedisora.attestations import service
from fedisora.db.migrate import upgrade
from fedisora.db.models import Actor, MediaAttachment
from fedisora.federation.proofs import verify_document
from instance_config import parse_config, render_config
from tests.fedify_peer import FedifyPeer, install
from tests.federation import Instance, token_for
from tests.media_samples import make_video
from tests.processes import free_port

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

T = TypeVar("T")
AP = {"Accept": "application/activity+json"}
AS = "https://www.w3.org/ns/activitystreams#"
PROVENANCE_IRI = "https://fedisora.org/ns#provenance"
IPTC_AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
TIMEOUT = 30.0


# ---- the two servers -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fedify(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FedifyPeer]:
    node, modules = install()
    peer = FedifyPeer(node, modules, tmp_path_factory.mktemp("fedify"))
    try:
        yield peer
    finally:
        peer.stop()


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # pytest owns the signals
        yield


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def here(tmp_path_factory: pytest.TempPathFactory, fedify: FedifyPeer) -> AsyncIterator[Instance]:
    """A dev instance serving over TCP on loopback, with alice, bob and carol."""
    directory = tmp_path_factory.mktemp("fedisora")
    port = free_port()
    domain = f"127.0.0.1:{port}"
    url = f"sqlite+aiosqlite:///{directory}/fedisora.db"
    path = directory / "instance.toml"
    path.write_text(render_config(domain, dev=True, database_url=url, data_dir=str(directory / "data")))
    config = parse_config(path.read_text(), path=path, env={})
    await upgrade(url)
    app = create_app(config, run_workers=True)
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        serving = asyncio.create_task(server.serve())
        stack.push_async_callback(lambda: serving)
        stack.callback(setattr, server, "should_exit", True)
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=config.base_url, timeout=30.0))
        instance = Instance(domain, config, app, client=client)
        async with instance.state.sessions() as session:
            await ensure_instance_actor(session, config)
            await session.commit()
        for name in ("alice", "bob", "carol"):
            await instance.create_account(name)
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline and not serving.done(), "uvicorn did not start"
            await asyncio.sleep(0.05)
        yield instance


async def eventually(what: str, probe: Callable[[], Awaitable[T | None]], fedify: FedifyPeer) -> T:
    """Poll ``probe`` until it answers; fail at once when Fedify's inbox refuses a delivery
    meanwhile (fedisora takes a 4xx as final and will not send it again)."""
    deadline = time.monotonic() + TIMEOUT
    seen = len(await fedify.refused())
    logged = len(fedify.log())
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        new = [r for r in (await fedify.refused())[seen:] if r["stage"] == "inbox" and 400 <= r["status"] < 500]
        if new:
            pytest.fail(f"Fedify's inbox refused a delivery while waiting for {what}: {new!r}\n"
                        f"--- Fedify's complaints ---\n{fedify.complaints(logged)}")
        await asyncio.sleep(0.2)
    refused = await fedify.refused()
    pytest.fail(f"timed out after {TIMEOUT:.0f}s waiting for {what} (last: {last!r})\n"
                f"Fedify refused: {refused!r}\n--- Fedify's complaints ---\n{fedify.complaints(logged)}")


async def actor_uri(here: Instance, username: str) -> str:
    async with here.state.sessions() as session:
        actor = (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()
        return actor.uri


async def auth(here: Instance, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await token_for(here, username)}"}


async def received_by_fedify(fedify: FedifyPeer, type_: str, object_id: str) -> dict[str, Any] | None:
    for entry in await fedify.received():
        if entry["type"] == type_ and object_id in (entry.get("objectId"), entry.get("id")):
            return entry
    return None


async def post(here: Instance, headers: dict[str, str], text: str, **fields: Any) -> dict[str, Any]:
    response = await here.client.post("/api/v1/statuses", json={"status": text, **fields}, headers=headers)  # type: ignore[union-attr]
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def upload_video(here: Instance, headers: dict[str, str], tmp: Path) -> dict[str, Any]:
    clip = make_video(tmp / "clip.mp4", seconds=0.5, width=160, height=96).read_bytes()
    assert here.client is not None
    response = await here.client.post(
        "/api/v2/media", files={"file": ("clip.mp4", clip, "video/mp4")},
        data={"description": "a pulsing square"}, headers=headers,
    )
    assert response.status_code in (200, 202), response.text
    media_id = response.json()["id"]

    async def ready() -> dict[str, Any] | None:
        shown = (await here.client.get(f"/api/v1/media/{media_id}", headers=headers)).json()  # type: ignore[union-attr]
        return shown if shown.get("url") and shown["fedisora"]["state"] == "ready" else None

    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if shown := await ready():
            return shown
        await asyncio.sleep(0.2)
    raise AssertionError(f"media {media_id} was not processed in time")


def assert_fedify_verified(entry: dict[str, Any]) -> None:
    """Fedify's ``verifyObject`` accepted the Create/Update as delivered, and the Note in it
    (we sign both, each with its author's key)."""
    assert entry["activityProof"] == {"verified": True}, entry["activityProof"]
    assert entry.get("objectProof") == {"verified": True}, entry.get("objectProof")
    assert "rawExpandError" not in entry, entry["rawExpandError"]


def fedify_mention(fedify: FedifyPeer) -> str:
    return f"@fedi@{fedify.origin.removeprefix('http://')}"


# ---- follows ------------------------------------------------------------------------------------


async def test_fedify_follows_a_fedisora_account_and_gets_an_accept(here: Instance, fedify: FedifyPeer) -> None:
    alice = await actor_uri(here, "alice")
    sent = await fedify.call("follow", {"target": alice})

    accept = await eventually(
        "Fedify to receive the Accept of its Follow", lambda: received_by_fedify(fedify, "Accept", sent["id"]), fedify
    )
    assert accept["actor"] == alice
    assert accept["activityProof"] == {"verified": True}, accept
    followers = (await here.client.get("/users/alice/followers", headers=AP)).json()  # type: ignore[union-attr]
    assert followers["totalItems"] == 1


async def test_a_fedisora_account_follows_fedify_which_accepts(here: Instance, fedify: FedifyPeer) -> None:
    headers = await auth(here, "bob")
    assert here.client is not None
    found = await here.client.get(
        "/api/v2/search", params={"q": fedify_mention(fedify), "resolve": "true", "type": "accounts"}, headers=headers
    )
    assert found.status_code == 200, found.text
    [account] = found.json()["accounts"]
    assert account["url"] or account["acct"]
    followed = await here.client.post(f"/api/v1/accounts/{account['id']}/follow", headers=headers)
    assert followed.status_code == 200, followed.text

    async def accepted() -> dict[str, Any] | None:
        response = await here.client.get(  # type: ignore[union-attr]
            "/api/v1/accounts/relationships", params={"id[]": account["id"]}, headers=headers
        )
        [relationship] = response.json()
        return relationship if relationship["following"] and not relationship["requested"] else None

    await eventually("bob's follow of the Fedify actor to be accepted", accepted, fedify)
    bob = await actor_uri(here, "bob")
    follow = next(e for e in await fedify.received() if e["type"] == "Follow" and e["actor"] == bob)
    assert follow["activityProof"] == {"verified": True}, follow


# ---- posts, both ways -------------------------------------------------------------------------------


async def test_a_fedisora_text_post_reaches_fedify_with_its_proofs(here: Instance, fedify: FedifyPeer) -> None:
    headers = await auth(here, "carol")
    status = await post(here, headers, f"hello {fedify_mention(fedify)}, plain text")

    entry = await eventually(
        "Fedify to receive carol's Create", lambda: received_by_fedify(fedify, "Create", status["uri"]), fedify
    )
    assert entry["object"]["class"] == "Note"
    assert "plain text" in entry["object"]["content"]
    assert_fedify_verified(entry)
    # The same check refuses a copy changed on the way.
    tampered = copy.deepcopy(entry["raw"])
    tampered["object"]["content"] = tampered["object"]["content"].replace("plain text", "changed text")
    assert await fedify.call("verify", {"document": entry["raw"]}) == {"verified": True}
    assert await fedify.call("verify", {"document": tampered}) == {"verified": False}


async def test_a_fedisora_video_post_reaches_fedify_parsed_and_verified(
    here: Instance, fedify: FedifyPeer, tmp_path: Path
) -> None:
    headers = await auth(here, "carol")
    media = await upload_video(here, headers, tmp_path)
    status = await post(here, headers, f"a video for {fedify_mention(fedify)}", media_ids=[media["id"]])

    entry = await eventually(
        "Fedify to receive carol's video Create", lambda: received_by_fedify(fedify, "Create", status["uri"]), fedify
    )
    note = entry["object"]
    assert note["class"] == "Note"
    [document] = note["attachments"]
    assert document["class"] == "Document" and document["mediaType"] == "video/mp4"
    assert document["url"] == media["url"]
    assert_fedify_verified(entry)
    # The delivered copy defines ``provenance`` as the Note served at its id does.
    assert entry["raw"]["object"]["attachment"][0]["provenance"]["type"][0] == "VerifiableCredential"
    [expanded] = entry["rawExpanded"]
    [attachment] = expanded[AS + "object"][0][AS + "attachment"]
    assert PROVENANCE_IRI in attachment, sorted(attachment)

    # An edit goes out as an Update, which Fedify parses and verifies too.
    edited = await here.client.put(  # type: ignore[union-attr]
        f"/api/v1/statuses/{status['id']}",
        json={"status": f"an edited video for {fedify_mention(fedify)}", "media_ids": [media["id"]]},
        headers=headers,
    )
    assert edited.status_code == 200, edited.text
    update = await eventually(
        "Fedify to receive carol's Update", lambda: received_by_fedify(fedify, "Update", status["uri"]), fedify
    )
    assert "edited video" in update["object"]["content"]
    assert update["object"]["attachments"][0]["mediaType"] == "video/mp4"
    assert_fedify_verified(update)


async def test_a_fedify_note_with_a_proof_is_stored_and_shown(here: Instance, fedify: FedifyPeer) -> None:
    alice = await actor_uri(here, "alice")
    sent = await fedify.call("note", {"to": alice, "content": "<p>hello from Fedify</p>"})
    status = await shown_through_the_api(here, fedify, sent["note"], "hello from Fedify")
    # Our verifier accepts the Note's proof (made by Fedify's signObject), and the client API
    # shows the post as verified, not tampered.
    async with httpx.AsyncClient() as client:
        note = (await client.get(sent["note"], headers=AP)).json()
    assert note["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    async with here.state.sessions() as session:
        assert await verify_document(here.state, session, note, expected_controller=fedify.actor) == fedify.actor
    await shown_verified(here, fedify, status["id"])


async def shown_verified(here: Instance, fedify: FedifyPeer, status_id: str) -> None:
    headers = await auth(here, "alice")

    async def checked() -> dict[str, Any] | None:
        shown = (await here.client.get(f"/api/v1/statuses/{status_id}", headers=headers)).json()  # type: ignore[union-attr]
        return shown.get("fedisora", {}).get("verification", {}).get("proof")

    proof = await eventually("the post's proof to be checked", checked, fedify)
    assert proof["status"] == "verified" and proof["kind"] == "object-proof", proof


async def test_a_fedify_video_note_is_stored_with_its_video(
    here: Instance, fedify: FedifyPeer, tmp_path: Path
) -> None:
    clip = make_video(tmp_path / "fedify.mp4", seconds=0.5, width=160, height=96)
    alice = await actor_uri(here, "alice")
    sent = await fedify.call("note", {
        "to": alice, "content": "<p>a video from Fedify</p>",
        "video": {"path": str(clip), "description": "a square from Fedify", "width": 160, "height": 96},
    })  # fmt: skip
    status = await shown_through_the_api(here, fedify, sent["note"], "a video from Fedify")
    [media] = status["media_attachments"]
    assert media["type"] == "video" and media["description"] == "a square from Fedify", media
    assert media["remote_url"].startswith(f"{fedify.origin}/media/"), media
    headers = await auth(here, "alice")
    assert here.client is not None

    async def cached() -> dict[str, Any] | None:
        shown = (await here.client.get(f"/api/v1/statuses/{status['id']}", headers=headers)).json()  # type: ignore[union-attr]
        [item] = shown["media_attachments"]
        return item if item["url"].startswith(here.base_url) else None

    copy_ = await eventually("the video to be copied from Fedify", cached, fedify)
    served = await here.client.get(copy_["url"])
    assert served.status_code == 200 and served.content == clip.read_bytes()
    await shown_verified(here, fedify, status["id"])


async def shown_through_the_api(here: Instance, fedify: FedifyPeer, note_uri: str, text: str) -> dict[str, Any]:
    headers = await auth(here, "alice")
    assert here.client is not None

    async def on_the_timeline() -> dict[str, Any] | None:
        response = await here.client.get("/api/v1/timelines/public", params={"remote": "true"}, headers=headers)  # type: ignore[union-attr]
        return next((s for s in response.json() if s["uri"] == note_uri), None)

    status = await eventually(f"{note_uri} on the public timeline", on_the_timeline, fedify)
    assert text in status["content"]
    assert status["account"]["url"] or status["account"]["acct"].startswith("fedi@")
    shown = await here.client.get(f"/api/v1/statuses/{status['id']}", headers=headers)
    assert shown.status_code == 200 and text in shown.json()["content"], shown.text
    return shown.json()  # type: ignore[no-any-return]


async def test_an_rfc9421_signed_request_from_fedify_is_accepted(here: Instance, fedify: FedifyPeer) -> None:
    alice = await actor_uri(here, "alice")
    sent = await fedify.call("rfc9421", {"to": alice, "content": "<p>signed with RFC 9421</p>"})
    assert "signature-input" in sent["headers"] and "content-digest" in sent["headers"], sent["headers"]
    assert "signature" in sent["headers"] and not sent["headers"]["signature"].startswith("keyId="), sent["headers"]
    assert sent["status"] == 202, sent
    await shown_through_the_api(here, fedify, sent["note"], "signed with RFC 9421")


# ---- Fedify parses every document we serve -------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(here: Instance, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """URL of one document of each kind fedisora serves, made through the app's own paths."""
    headers = await auth(here, "alice")
    async with here.state.sessions() as session:
        alice = (await session.exec(select(Actor).where(Actor.local, Actor.username == "alice"))).one()
        human = await service.issue_account_attestation(session, here.config, alice, operated_by="human",
                                                        method="in-person")
        await service.issue_self_declaration(session, here.config, alice, "human")
        await service.issue_likeness_consent(session, here.config, alice, "followers")
        await session.commit()
        credential_url = service.attestation_url(here.config, human.id)
    tmp = tmp_path_factory.mktemp("media")
    text = await post(here, headers, "a text note #interop")
    video_media = await upload_video(here, headers, tmp)
    video = await post(here, headers, "a video note", media_ids=[video_media["id"]])
    generated_media = await upload_video(here, headers, tmp)
    async with here.state.sessions() as session:
        row = await session.get(MediaAttachment, int(generated_media["id"]))
        assert row is not None
        row.digital_source_type = "trainedAlgorithmicMedia"
        row.meta = {**(row.meta or {}), "generation": {"software": "fedisora", "model": "tiny-t2v",
                                                        "prompt_sha256": "00" * 32}}
        session.add(row)
        await session.commit()
    generated = await post(here, headers, "a generated video", media_ids=[generated_media["id"]])
    note = (await here.client.get(generated["uri"], headers=AP)).json()  # type: ignore[union-attr]
    assert {"type": "Label", "href": IPTC_AI, "name": "AI-generated"} in note["tag"], note["tag"]
    subject = note["attachment"][0]["provenance"]["credentialSubject"]
    assert subject["digitalSourceType"] == IPTC_AI and subject["generatedWith"]["model"] == "tiny-t2v", subject
    gone = await post(here, headers, "soon deleted")
    deleted = await here.client.delete(f"/api/v1/statuses/{gone['id']}", headers=headers)  # type: ignore[union-attr]
    assert deleted.status_code == 200, deleted.text
    credential = (await here.client.get(credential_url, headers=AP)).json()  # type: ignore[union-attr]
    status_list = credential["credentialStatus"]["statusListCredential"]
    return {
        "actor": f"{here.base_url}/users/alice",
        "text-note": text["uri"],
        "video-note": video["uri"],
        "generated-note": generated["uri"],
        "create": f"{video['uri']}/activity",
        "outbox-page": f"{here.base_url}/users/alice/outbox?page=true",
        "tombstone": gone["uri"],
        "credential": credential_url,
        "status-list": status_list,
    }


EXPECTED_CLASS = {
    "actor": "Person",
    "text-note": "Note",
    "video-note": "Note",
    "generated-note": "Note",
    "create": "Create",
    "outbox-page": "OrderedCollectionPage",
    "tombstone": "Tombstone",
    # Not ActivityStreams types: jsonld.js (inside Fedify) must expand and compact them.
    "credential": None,
    "status-list": None,
}


@pytest.mark.parametrize("kind", list(EXPECTED_CLASS))
async def test_fedify_parses_what_we_serve(kind: str, served: dict[str, str], fedify: FedifyPeer) -> None:
    expected = EXPECTED_CLASS[kind]
    result = await fedify.call("parse", {"url": served[kind], "vocabulary": expected is not None})
    assert result["status"] == (410 if kind == "tombstone" else 200), result
    assert result["expanded"] and result["compacted"], result.get("jsonldError")
    if expected is None:  # Fedify's vocabulary has no credential classes (it says "Invalid type")
        return
    assert "parseError" not in result, result["parseError"]
    assert result["parsed"]["class"] == expected, result
    if "proof" in result:
        assert result["proof"] == {"verified": True}, result["proof"]
    parsed = result["parsed"]
    if kind == "actor":
        assert parsed["publicKeyIds"] and parsed["assertionMethodIds"], parsed
    if kind in {"video-note", "generated-note"}:
        [document] = parsed["attachments"]
        assert document["class"] == "Document" and document["mediaType"] == "video/mp4"
    if kind == "text-note":
        assert {"class": "Hashtag", "name": "#interop"} in parsed["tags"], parsed["tags"]
    if kind == "create":
        assert parsed["object"]["class"] == "Note"
    if kind in {"video-note", "generated-note", "create"}:
        # Every copy defines ``provenance`` (the Document's credential) in its context.
        [node] = result["expanded"]
        if kind == "create":
            [node] = node[AS + "object"]
        [attachment] = node[AS + "attachment"]
        assert PROVENANCE_IRI in attachment, sorted(attachment)
    if kind == "outbox-page":
        # Fedify reads ``orderedItems`` as the page's items: our posts' Creates.
        assert parsed["items"] and set(parsed["items"]) == {"Create"}, parsed
