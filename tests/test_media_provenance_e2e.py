"""A video whose C2PA manifest declares AI generation, end to end: uploaded through the
client API on A (the uploader says nothing about AI), processed, posted; B, a follower's
instance, receives the ``Create(Note)`` with the video ``Document``, its signed media
provenance credential and an AI ``Label`` tag, caches the file, and its client API shows
the post's media as AI-generated with provenance that verifies against B's own copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from fedisora.db.models import MediaAttachment, Status
from fedisora.media.c2pa import C2paSigner, create_instance_certificate, signer_from_pem
from tests.federation import Fediverse, Instance, token_for
from tests.media_samples import c2pa_sign, make_video
from tests.test_federation_media import follow, media_of

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


@pytest.fixture(scope="module")
def third_party_signer(tmp_path_factory: pytest.TempPathFactory) -> C2paSigner:
    """Another company's signing certificate (a generator service, not us)."""
    cert, key = create_instance_certificate(tmp_path_factory.mktemp("vendor"), common_name="video-ai.example")
    return signer_from_pem(cert.read_bytes(), key.read_bytes())


def ai_declared_clip(path: Path, signer: C2paSigner) -> bytes:
    """A web-ready clip carrying a manifest as AI video services embed one."""
    clip = make_video(path.with_name("plain.mp4"), seconds=0.5, width=160, height=96)
    definition = {
        "claim_generator_info": [{"name": "VideoAI", "version": "3"}],
        "title": "upload.mp4",
        "format": "video/mp4",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": IPTC + "trainedAlgorithmicMedia",
                            "softwareAgent": {"name": "VideoAI"},
                        }
                    ]
                },
            }
        ],
    }
    return c2pa_sign(clip, path, definition, signer).read_bytes()


async def upload(instance: Instance, token: str, data: bytes) -> dict[str, Any]:
    assert instance.client is not None
    response = await instance.client.post(
        "/api/v2/media",
        files={"file": ("clip.mp4", data, "video/mp4")},
        data={"description": "a pulsing square"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_ai_declared_upload_is_labelled_everywhere(
    world: Fediverse, tmp_path: Path, third_party_signer: C2paSigner
) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    await a.create_account("alice")
    await b.create_account("bob")
    await follow(b, "bob", "@alice@a.example")
    await world.settle()
    alice = await token_for(a, "alice")
    assert a.client is not None and b.client is not None
    auth = {"Authorization": f"Bearer {alice}"}

    data = ai_declared_clip(tmp_path / "ai.mp4", third_party_signer)
    media = await upload(a, alice, data)
    await world.settle()  # the processing job
    ready = (await a.client.get(f"/api/v1/media/{media['id']}", headers=auth)).json()
    assert ready["fedisora"]["state"] == "ready"
    assert ready["fedisora"]["digital_source_type"] == "trainedAlgorithmicMedia"
    assert ready["fedisora"]["ai_generated"] is True
    assert ready["fedisora"]["content_credentials"]["claim_generator"] == "VideoAI 3"

    posted = await a.client.post(
        "/api/v1/statuses", json={"status": "look at this", "media_ids": [media["id"]]}, headers=auth
    )
    assert posted.status_code == 200, posted.text
    await world.settle()  # delivery to B, B's cache and verification jobs

    # What B received: the Create carried the video Document, its provenance and a Label.
    async with b.state.sessions() as session:
        on_b = (await session.exec(select(Status).where(Status.uri == posted.json()["uri"]))).one()
    note = on_b.raw or {}
    [document] = note["attachment"]
    assert document["type"] == "Document" and document["mediaType"] == "video/mp4"
    assert document["name"] == "a pulsing square"
    credential = document["provenance"]
    assert "MediaProvenance" in credential["type"]
    assert credential["credentialSubject"]["digitalSourceType"] == IPTC + "trainedAlgorithmicMedia"
    assert credential["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    labels = [t for t in note["tag"] if t.get("type") == "Label"]
    assert labels == [{"type": "Label", "href": IPTC + "trainedAlgorithmicMedia", "name": "AI-generated"}]

    [copy] = await media_of(b, on_b.id)
    assert isinstance(copy, MediaAttachment) and copy.file_path and copy.remote_url
    bob = await token_for(b, "bob")
    entity = (await b.client.get(f"/api/v1/statuses/{on_b.id}", headers={"Authorization": f"Bearer {bob}"})).json()
    [attachment] = entity["media_attachments"]
    assert attachment["type"] == "video" and attachment["url"].startswith("https://b.example/media/")
    provenance = attachment["fedisora"]["provenance"]
    assert provenance["status"] == "verified", provenance
    assert provenance["digest_check"] == "match"
    assert provenance["digital_source_type"] == "trainedAlgorithmicMedia"


async def test_a_camera_upload_kept_as_it_is_loses_the_location_in_its_manifest(
    world: Fediverse, tmp_path: Path, third_party_signer: C2paSigner
) -> None:
    """A web-ready phone clip is not transcoded, but its content credentials carry the GPS
    position: what A publishes is the same video with that assertion redacted (signed by A)."""
    from fedisora.media.c2pa import default_paths, read_manifest
    from tests.test_c2pa import camera_with_gps

    a = await world.add("a.example")
    cert, _ = default_paths(a.config)
    create_instance_certificate(cert.parent, common_name="a.example")  # as `fedisora init` does
    await a.create_account("alice")
    alice = await token_for(a, "alice")
    assert a.client is not None
    clip = make_video(tmp_path / "plain.mp4", seconds=0.5, width=160, height=96)
    data = camera_with_gps(clip, third_party_signer, tmp_path / "camera.mp4").read_bytes()
    assert b"GPSLatitude" in data

    media = await upload(a, alice, data)
    await world.settle()
    ready = (await a.client.get(f"/api/v1/media/{media['id']}", headers={"Authorization": f"Bearer {alice}"})).json()
    assert ready["fedisora"]["state"] == "ready", ready
    assert ready["fedisora"]["digital_source_type"] == "digitalCapture"
    served = await a.client.get(ready["url"])
    assert served.status_code == 200 and b"GPSLatitude" not in served.content
    published = tmp_path / "published.mp4"
    published.write_bytes(served.content)
    summary = read_manifest(published, "video/mp4")
    assert summary is not None and summary.valid and summary.location_assertions == []
    assert summary.actions == ["c2pa.opened", "c2pa.redacted"]
    assert summary.ingredients[0]["has_manifest"]  # the phone's manifest, minus the location
