"""Content credentials (C2PA): signing generated clips, reading uploads, re-signing processed ones.

Everything is checked against c2pa-python's own ``Reader`` as well as our
summary.  No network: signing uses no timestamp authority and reading fetches
nothing.  Clips come from :mod:`tests.media_samples` (a second of 160x96 H.264).
"""

from __future__ import annotations

import datetime
import json
import stat
from pathlib import Path

import av
import c2pa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fedisora.media.c2pa import (
    IPTC_SOURCE_TYPE,
    C2paSigner,
    CredentialsError,
    carry_credentials,
    create_instance_certificate,
    load_signer,
    read_manifest,
    redact_location,
    resign_processed,
    sign_capture,
    sign_generated,
    signer_from_pem,
    summarize,
)
from instance_config import Config, load_config, parse_config, render_config
from tests.media_samples import c2pa_sign, make_video
from tests.processes import cli, shown

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
MP4 = "video/mp4"
DOMAIN = "video.example.org"


# ---- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("c2pa") / "c2pa"
    create_instance_certificate(directory, common_name=DOMAIN)
    return directory


@pytest.fixture(scope="module")
def signer(cert_dir: Path) -> C2paSigner:
    return signer_from_pem((cert_dir / "cert.pem").read_bytes(), (cert_dir / "key.pem").read_bytes())


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("clips") / "clip.mp4", seconds=0.5)


@pytest.fixture(scope="module")
def generated(clip: Path, signer: C2paSigner, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("signed") / "generated.mp4"
    sign_generated(
        clip,
        dst,
        mime_type=MP4,
        model="acme-t2v-1.3b",
        model_digest="sha256:" + "a" * 64,
        prompt_digest="sha256:" + "b" * 64,
        instance=DOMAIN,
        signer=signer,
    )
    return dst


def config_for(data_dir: Path, **attestations: str) -> Config:
    env = {f"FEDISORA_ATTESTATIONS__{key.upper()}": value for key, value in attestations.items()}
    return parse_config(render_config(DOMAIN), path=data_dir / "instance.toml", env=env)


def transcode(src: Path, dst: Path) -> Path:
    """Re-encode the video the way the media pipeline does: the embedded manifest is lost."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        ist = inp.streams.video[0]
        ost = out.add_stream("libx264", rate=24)
        ost.width, ost.height, ost.pix_fmt = ist.width, ist.height, "yuv420p"
        ost.options = {"preset": "ultrafast"}
        for frame in inp.decode(ist):
            frame.pts = None
            for packet in ost.encode(frame):
                out.mux(packet)
        for packet in ost.encode():
            out.mux(packet)
    return dst


def frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def active_manifest(path: Path, mime: str = MP4) -> tuple[dict, str]:
    with open(path, "rb") as stream, c2pa.Reader(mime, stream) as reader:
        return reader.get_active_manifest(), reader.get_validation_state()


def actions_of(manifest: dict) -> list[dict]:
    return [
        action
        for assertion in manifest["assertions"]
        if assertion["label"].startswith("c2pa.actions")
        for action in assertion["data"]["actions"]
    ]


def flip(path: Path, dst: Path, marker: bytes, skip: int) -> Path:
    data = bytearray(path.read_bytes())
    at = data.find(marker)
    assert at > 0
    for i in range(at + skip, at + skip + 16):
        data[i] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


# ---- signing what we generate ------------------------------------------------------------------


def test_generated_clip_round_trips_through_c2pa_reader(clip: Path, generated: Path, signer: C2paSigner) -> None:
    manifest, state = active_manifest(generated)
    assert state == "Valid"  # intact and well signed; our CA is on no trust list
    [created] = actions_of(manifest)
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == IPTC + "trainedAlgorithmicMedia"
    agent = created["softwareAgent"]["name"]
    assert "fedisora" in agent and "acme-t2v-1.3b" in agent
    assert created["parameters"]["model"] == "acme-t2v-1.3b"
    assert created["parameters"]["prompt_digest"] == "sha256:" + "b" * 64
    assert created["parameters"]["instance"] == DOMAIN
    assert manifest["claim_generator_info"][0]["name"] == "fedisora"
    assert manifest["signature_info"]["common_name"] == DOMAIN
    assert frames(generated) == frames(clip)  # still the same, playable video

    summary = read_manifest(generated, MP4)
    assert summary is not None
    assert summary.present and summary.valid and summary.ai_generated
    assert summary.digital_source_type == "trainedAlgorithmicMedia"
    assert summary.actions == ["c2pa.created"]
    assert any("fedisora" in a and "acme-t2v-1.3b" in a for a in summary.software_agents)
    assert summary.claim_generator and summary.claim_generator.startswith("fedisora")
    assert summary.issuer == DOMAIN and summary.common_name == DOMAIN
    assert summary.validation_errors == [] and not summary.trusted
    assert json.loads(json.dumps(summary.to_json()))["ai_generated"] is True

    # With the instance's own CA as trust anchor the same clip is trusted.
    trusted = read_manifest(generated, MP4, trust_anchors=signer.trust_anchor)
    assert trusted is not None and trusted.trusted and trusted.validation_state == "Trusted"


def test_sign_in_place_replaces_the_file(clip: Path, signer: C2paSigner, tmp_path: Path) -> None:
    target = tmp_path / "in-place.mp4"
    target.write_bytes(clip.read_bytes())
    sign_generated(
        target, target, mime_type=MP4, model="m", model_digest=None, prompt_digest=None,
        instance=DOMAIN, signer=signer,
    )
    summary = read_manifest(target, MP4)
    assert summary is not None and summary.valid and summary.ai_generated
    assert [p.name for p in tmp_path.iterdir()] == ["in-place.mp4"]  # no temp file left
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_camera_capture_is_not_ai(clip: Path, signer: C2paSigner, tmp_path: Path) -> None:
    sign_capture(clip, tmp_path / "camera.mp4", mime_type=MP4, signer=signer)
    summary = read_manifest(tmp_path / "camera.mp4", MP4)
    assert summary is not None and summary.valid
    assert summary.digital_source_type == "digitalCapture"
    assert not summary.ai_generated


def test_no_manifest_reads_as_none(clip: Path, tmp_path: Path) -> None:
    assert read_manifest(clip, MP4) is None
    webm = make_video(tmp_path / "clip.webm", codec="vp9", seconds=0.2)
    assert read_manifest(webm, "video/webm") is None  # c2pa does not do WebM
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"x" * 100)
    assert read_manifest(junk, MP4) is None  # broken media, but no credentials to speak of


# ---- reading what others made ------------------------------------------------------------------


def test_third_party_ai_declaration_labels_the_upload(clip: Path, signer: C2paSigner, tmp_path: Path) -> None:
    """A manifest as an AI video service embeds it: another claim generator, its own agent."""
    definition = {
        "claim_generator_info": [{"name": "Sora", "version": "2"}],
        "title": "upload.mp4",
        "format": MP4,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": IPTC + "trainedAlgorithmicMedia",
                            "softwareAgent": {"name": "Sora"},
                        },
                        {"action": "c2pa.converted", "softwareAgent": {"name": "Sora"}},
                    ]
                },
            }
        ],
    }
    upload = c2pa_sign(clip, tmp_path / "upload.mp4", definition, signer)
    summary = read_manifest(upload, MP4)
    assert summary is not None and summary.valid
    assert summary.ai_generated and summary.digital_source_type == "trainedAlgorithmicMedia"
    assert summary.actions == ["c2pa.created", "c2pa.converted"]
    assert summary.software_agents == ["Sora"]
    assert summary.claim_generator == "Sora 2"


def test_summary_understands_other_spellings() -> None:
    """https term URLs, v1 string agents, composites, and IPTC metadata assertions."""
    store = {
        "active_manifest": "urn:a",
        "validation_state": "Valid",
        "manifests": {
            "urn:a": {
                "claim_generator": "Adobe_Photoshop/26.0 adobe_c2pa/0.7",
                "assertions": [
                    {
                        "label": "c2pa.actions",
                        "data": {
                            "actions": [
                                {
                                    "action": "c2pa.edited",
                                    "softwareAgent": "Adobe Firefly",
                                    "digitalSourceType": "https://cv.iptc.org/newscodes/digitalsourcetype/"
                                    "compositeWithTrainedAlgorithmicMedia",
                                }
                            ]
                        },
                    }
                ],
            }
        },
    }
    summary = summarize(store)
    assert summary.ai_generated and summary.digital_source_type == "compositeWithTrainedAlgorithmicMedia"
    assert summary.software_agents == ["Adobe Firefly"]
    assert summary.claim_generator == "Adobe_Photoshop/26.0 adobe_c2pa/0.7"

    metadata_only = {
        "active_manifest": "urn:b",
        "validation_state": "Valid",
        "manifests": {
            "urn:b": {
                "assertions": [
                    {
                        "label": "stds.iptc",
                        "data": {"Iptc4xmpExt:DigitalSourceType": IPTC + "trainedAlgorithmicMedia"},
                    }
                ]
            }
        },
    }
    assert summarize(metadata_only).ai_generated

    human = {
        "active_manifest": "urn:c",
        "validation_state": "Valid",
        "manifests": {
            "urn:c": {
                "assertions": [
                    {"label": "c2pa.actions.v2", "data": {"actions": [{"action": "c2pa.created",
                     "digitalSourceType": IPTC + "algorithmicallyEnhanced"}]}}
                ]
            }
        },
    }
    assert not summarize(human).ai_generated


def test_tampered_video_is_invalid_but_still_declares_ai(generated: Path, tmp_path: Path) -> None:
    tampered = flip(generated, tmp_path / "tampered.mp4", b"mdat", 64)
    summary = read_manifest(tampered, MP4)
    assert summary is not None and summary.present
    assert not summary.valid and summary.validation_state == "Invalid"
    assert any(e.startswith("assertion.bmffHash.mismatch") for e in summary.validation_errors)
    assert summary.ai_generated  # a broken manifest still says what it says; it never un-labels

    broken = flip(generated, tmp_path / "broken-manifest.mp4", b"c2pa.signature", 40)
    summary = read_manifest(broken, MP4)
    assert summary is not None and summary.present and not summary.valid and summary.validation_errors


# ---- re-signing what we processed -------------------------------------------------------------


def test_resign_processed_keeps_the_chain(generated: Path, signer: C2paSigner, tmp_path: Path) -> None:
    processed = transcode(generated, tmp_path / "processed.mp4")
    assert read_manifest(processed, MP4) is None  # transcoding dropped the manifest
    out = tmp_path / "out.mp4"
    resign_processed(generated, processed, out, mime_type=MP4, signer=signer)

    manifest, state = active_manifest(out)
    assert state == "Valid"
    opened, transcoded = actions_of(manifest)
    assert opened["action"] == "c2pa.opened" and opened["parameters"]["ingredients"]
    assert transcoded["action"] == "c2pa.transcoded"
    assert transcoded["digitalSourceType"] == IPTC + "trainedAlgorithmicMedia"
    [parent] = manifest["ingredients"]
    assert parent["relationship"] == "parentOf" and parent["title"] == "generated.mp4"
    assert parent["active_manifest"]  # the original's manifest travels in the new store

    summary = read_manifest(out, MP4)
    assert summary is not None and summary.valid and summary.ai_generated
    assert summary.actions == ["c2pa.opened", "c2pa.transcoded"]
    assert summary.manifest_count == 2
    assert summary.ingredients == [
        {
            "title": "generated.mp4",
            "format": MP4,
            "relationship": "parentOf",
            "has_manifest": True,
            "ai_generated": True,
        }
    ]
    assert frames(out) == frames(processed)


def test_resign_without_an_original_manifest(clip: Path, signer: C2paSigner, tmp_path: Path) -> None:
    processed = transcode(clip, tmp_path / "processed.mp4")
    resign_processed(clip, processed, tmp_path / "out.mp4", mime_type=MP4, signer=signer, action="c2pa.edited")
    summary = read_manifest(tmp_path / "out.mp4", MP4)
    assert summary is not None and summary.valid and not summary.ai_generated
    assert summary.actions == ["c2pa.opened", "c2pa.edited"]
    assert summary.ingredients[0]["has_manifest"] is False


def test_resign_from_a_format_c2pa_cannot_read(clip: Path, signer: C2paSigner, tmp_path: Path) -> None:
    webm = make_video(tmp_path / "upload.webm", codec="vp9", seconds=0.2)
    processed = transcode(webm, tmp_path / "processed.mp4")
    out = tmp_path / "out.mp4"
    resign_processed(webm, processed, out, mime_type=MP4, original_mime_type="video/webm", signer=signer)
    summary = read_manifest(out, MP4)
    assert summary is not None and summary.valid
    assert summary.ingredients[0]["format"] == "video/webm"

    with pytest.raises(CredentialsError, match="video/webm"):
        sign_capture(webm, tmp_path / "x.webm", mime_type="video/webm", signer=signer)


def camera_with_gps(clip: Path, signer: C2paSigner, camera: Path) -> Path:
    """``clip`` as a camera app would sign it: captured, with its GPS position in a ``stds.exif`` assertion."""
    definition = {
        "claim_generator_info": [{"name": "PhoneCam", "version": "1"}],
        "title": "camera.mp4",
        "format": MP4,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [{"action": "c2pa.created", "digitalSourceType": IPTC_SOURCE_TYPE + "digitalCapture"}]
                },
            },
            {
                "label": "stds.exif",
                "data": {
                    "@context": {"exif": "http://ns.adobe.com/exif/1.0/"},
                    "exif:GPSLatitude": "48,51.5N",
                    "exif:GPSLongitude": "2,17.4E",
                },
            },
        ],
    }
    return c2pa_sign(clip, camera, definition, signer)


def test_resign_redacts_location_from_the_chain(clip: Path, signer: C2paSigner, tmp_path: Path) -> None:
    """A camera manifest with GPS: the pipeline strips location from the video, re-signing from the chain."""
    camera = camera_with_gps(clip, signer, tmp_path / "camera.mp4")
    before = read_manifest(camera, MP4)
    assert before is not None and len(before.location_assertions) == 1
    assert before.location_assertions[0].endswith("/c2pa.assertions/stds.exif")

    processed = transcode(camera, tmp_path / "processed.mp4")
    carried = carry_credentials(
        camera, MP4, processed, MP4, transcoded=True, remuxed=False, dst=tmp_path / "out.mp4", signer=signer
    )
    assert carried.resigned and not carried.lost and carried.path == tmp_path / "out.mp4"
    assert carried.summary is not None and carried.summary.location_assertions  # the upload's own
    assert b"GPSLatitude" not in carried.path.read_bytes()
    after = read_manifest(carried.path, MP4)
    assert after is not None and after.valid and not after.ai_generated
    assert after.location_assertions == [] and after.ingredients[0]["has_manifest"]
    assert after.actions == ["c2pa.opened", "c2pa.transcoded", "c2pa.redacted"]
    manifest, _ = active_manifest(carried.path)
    [redacted] = [a for a in actions_of(manifest) if a["action"] == "c2pa.redacted"]
    assert redacted["parameters"]["redacted"] == before.location_assertions[0]
    assert redacted["reason"] == "c2pa.PII.present"


def test_a_kept_upload_loses_the_location_in_its_manifest(clip: Path, signer: C2paSigner, tmp_path: Path) -> None:
    """Kept as uploaded (nothing to transcode), but its manifest says where it was filmed: signed again, redacted."""
    camera = camera_with_gps(clip, signer, tmp_path / "camera.mp4")
    carried = carry_credentials(
        camera, MP4, camera, MP4, transcoded=False, remuxed=False, dst=tmp_path / "out.mp4", signer=signer
    )
    assert carried.resigned and not carried.lost and carried.path == tmp_path / "out.mp4"
    assert carried.summary is not None and carried.summary.location_assertions  # what the upload said
    assert b"GPSLatitude" in camera.read_bytes() and b"GPSLatitude" not in carried.path.read_bytes()
    after = read_manifest(carried.path, MP4)
    assert after is not None and after.valid and after.location_assertions == []
    assert after.actions == ["c2pa.opened", "c2pa.redacted"] and after.digital_source_type == "digitalCapture"
    assert after.ingredients[0]["has_manifest"] and after.ingredients[0]["relationship"] == "parentOf"
    # the picture is the upload's, frame for frame
    with av.open(str(camera)) as a, av.open(str(carried.path)) as b:
        assert [bytes(p) for p in a.demux(video=0)] == [bytes(p) for p in b.demux(video=0)]

    # without a certificate nothing can be signed: the upload is kept as it came (and a warning logged)
    unsigned = carry_credentials(
        camera, MP4, camera, MP4, transcoded=False, remuxed=False, dst=tmp_path / "none.mp4", signer=None
    )
    assert unsigned.path == camera and not unsigned.resigned and not (tmp_path / "none.mp4").exists()
    # a manifest without a location is kept byte for byte (covered below for the AI one)
    assert not redact_location(clip, tmp_path / "x.mp4", mime_type=MP4, signer=signer)


def test_carry_credentials_decides_what_to_do(
    generated: Path, clip: Path, signer: C2paSigner, tmp_path: Path
) -> None:
    # No manifest: nothing to carry, nothing signed.
    none = carry_credentials(
        clip, MP4, clip, MP4, transcoded=True, remuxed=False, dst=tmp_path / "a.mp4", signer=signer
    )
    assert none.summary is None and none.path == clip and not none.resigned and not (tmp_path / "a.mp4").exists()
    # Kept byte for byte: the manifest is still there.
    kept = carry_credentials(
        generated, MP4, generated, MP4, transcoded=False, remuxed=False, dst=tmp_path / "b.mp4", signer=signer
    )
    assert kept.path == generated and not kept.resigned and not kept.lost and kept.summary.ai_generated
    # Changed but no certificate: the summary still labels the post, the loss is said.
    processed = transcode(generated, tmp_path / "processed.mp4")
    lost = carry_credentials(
        generated, MP4, processed, MP4, transcoded=True, remuxed=False, dst=tmp_path / "c.mp4", signer=None
    )
    assert lost.lost and lost.path == processed and lost.summary.ai_generated
    # Remuxed: re-signed as repackaged.
    remuxed = carry_credentials(
        generated, MP4, processed, MP4, transcoded=False, remuxed=True, dst=tmp_path / "d.mp4", signer=signer
    )
    summary = read_manifest(remuxed.path, MP4)
    assert remuxed.resigned and summary is not None and summary.valid and summary.ai_generated
    assert summary.actions == ["c2pa.opened", "c2pa.repackaged"]


# ---- certificates ------------------------------------------------------------------------------


def test_instance_certificate_profile(cert_dir: Path, signer: C2paSigner) -> None:
    assert stat.S_IMODE((cert_dir / "key.pem").stat().st_mode) == 0o600
    leaf, ca = x509.load_pem_x509_certificates((cert_dir / "cert.pem").read_bytes())
    assert ca.subject == ca.issuer == leaf.issuer
    assert (cert_dir / "ca.pem").read_bytes() == signer.trust_anchor
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey) and signer.alg == "es256"
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    assert f"CN={DOMAIN}" in signer.subject
    with pytest.raises(CredentialsError, match="already exists"):
        create_instance_certificate(cert_dir, common_name=DOMAIN)


def test_load_signer_from_config(cert_dir: Path, tmp_path: Path) -> None:
    assert load_signer(config_for(tmp_path)) is None  # nothing at <data_dir>/c2pa: no signing

    explicit = config_for(tmp_path, c2pa_cert=str(cert_dir / "cert.pem"), c2pa_key=str(cert_dir / "key.pem"))
    signer = load_signer(explicit)
    assert signer is not None and signer.alg == "es256"

    with pytest.raises(CredentialsError, match="does not exist"):
        load_signer(config_for(tmp_path, c2pa_cert="nowhere/cert.pem"))

    other = tmp_path / "other"
    create_instance_certificate(other, common_name="other.example")
    mismatched = config_for(tmp_path, c2pa_cert=str(cert_dir / "cert.pem"), c2pa_key=str(other / "key.pem"))
    with pytest.raises(CredentialsError, match="does not belong"):
        load_signer(mismatched)


def test_self_signed_end_entity_certificates_are_refused_up_front() -> None:
    """c2pa-rs will not sign with a self-signed leaf; we say so when loading, not at the first video."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(CredentialsError, match="CA-issued end-entity certificate"):
        signer_from_pem(cert.public_bytes(pem), key_pem)
    with pytest.raises(CredentialsError, match="not a PEM certificate chain"):
        signer_from_pem(b"nonsense", key_pem)


def test_the_signer_never_shows_its_key(signer: C2paSigner) -> None:
    assert "PRIVATE" not in repr(signer) and "PRIVATE" not in str(signer)


def test_init_writes_a_certificate_load_signer_uses(tmp_path: Path, clip: Path) -> None:
    # The database does not matter here (test_cli covers PostgreSQL): SQLite in the data dir.
    result = cli("init", "--domain", "localhost:8000", "--dev", "--data-dir", "D", cwd=tmp_path)
    assert result.returncode == 0, shown(result)
    data_dir = tmp_path / "D"
    assert f"C2PA certificate: {data_dir.resolve() / 'c2pa' / 'cert.pem'}" in result.stdout
    assert stat.S_IMODE((data_dir / "c2pa" / "key.pem").stat().st_mode) == 0o600

    signer = load_signer(load_config(data_dir / "instance.toml", env={}))
    assert signer is not None and "CN=localhost:8000" in signer.subject
    sign_generated(
        clip, tmp_path / "gen.mp4", mime_type=MP4, model="m", model_digest=None, prompt_digest=None,
        instance="localhost:8000", signer=signer,
    )
    summary = read_manifest(tmp_path / "gen.mp4", MP4, trust_anchors=signer.trust_anchor)
    assert summary is not None and summary.trusted and summary.ai_generated
    assert summary.common_name == "localhost:8000"
