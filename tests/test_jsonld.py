"""The offline JSON-LD loader and the expand/compact wrappers (activitypub.jsonld)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from pyld.jsonld import JsonLdError

from activitypub import jsonld
from activitypub.jsonld import UnknownContext, compact, expand, register_context
from activitypub.jsonld.loader import bundled_keys, document_loader, is_litepub, normalize_url

INTEROP = Path(__file__).parent / "data" / "interop"
AS = "https://www.w3.org/ns/activitystreams#"
SEC = "https://w3id.org/security#"


def load(name: str) -> Any:
    return json.loads((INTEROP / name).read_text())


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


ALIASES = [
    "https://www.w3.org/ns/activitystreams",
    "http://www.w3.org/ns/activitystreams",
    "https://www.w3.org/ns/activitystreams.jsonld",
    "https://www.w3.org/ns/activitystreams#",
    "https://w3id.org/security/v1",
    "http://w3id.org/security/v1",
    "https://w3id.org/security/v1.jsonld",
    "https://w3id.org/security/data-integrity/v1",
    "https://w3id.org/security/data-integrity/v2",
    "https://w3id.org/security/multikey/v1",
    "https://www.w3.org/ns/did/v1",
    "https://w3id.org/identity/v1",
    "https://gotosocial.org/ns",
    "https://w3id.org/fep/ef61",
    "https://w3id.org/fep/7aa9",
    "https://pleroma.example/schemas/litepub-0.1.jsonld",
]


@pytest.mark.parametrize("url", ALIASES)
def test_every_alias_servers_use_is_bundled(url: str, no_network: None) -> None:
    result = document_loader(url)
    assert result["documentUrl"] == url
    assert "@context" in result["document"]


def test_bundle_holds_every_shared_context() -> None:
    assert set(bundled_keys()) >= {
        "www.w3.org/ns/activitystreams",
        "www.w3.org/ns/did/v1",
        "w3id.org/security/v1",
        "w3id.org/security/data-integrity/v1",
        "w3id.org/security/data-integrity/v2",
        "w3id.org/security/multikey/v1",
        "w3id.org/identity/v1",
        "w3id.org/fep/ef61",
        "w3id.org/fep/7aa9",
        "gotosocial.org/ns",
        "litepub/litepub-0.1",
    }


def test_context_files_live_in_package_named_directories() -> None:
    # setuptools ships data only from directories with package-like names.
    root = Path(jsonld.__file__).parent / "contexts"
    files = list(root.rglob("*.json"))
    assert len(files) >= 11
    for path in files:
        for part in path.relative_to(root).parent.parts:
            assert "." not in part, path


def test_normalize_url() -> None:
    assert normalize_url("http://W3ID.org/security/v1.jsonld") == "w3id.org/security/v1"
    assert normalize_url("https://www.w3.org/ns/activitystreams/") == "www.w3.org/ns/activitystreams"
    assert normalize_url("https://w3.org/ns/activitystreams") == "www.w3.org/ns/activitystreams"
    assert is_litepub("https://lm.kazv.moe/schemas/litepub-0.1.jsonld")
    assert not is_litepub("https://lm.kazv.moe/schemas/other.jsonld")
    assert not is_litepub(None)  # type: ignore[arg-type]


def test_loader_returns_private_copies() -> None:
    first = document_loader("https://w3id.org/fep/ef61")
    first["document"]["@context"] = "mutated"
    assert document_loader("https://w3id.org/fep/ef61")["document"]["@context"] != "mutated"


def test_unknown_url_raises_naming_it(no_network: None) -> None:
    with pytest.raises(UnknownContext) as info:
        document_loader("https://evil.example/ctx.jsonld")
    assert info.value.url == "https://evil.example/ctx.jsonld"
    assert isinstance(info.value, JsonLdError)
    assert "https://evil.example/ctx.jsonld" in str(info.value)


def test_expand_mastodon_actor_offline(no_network: None) -> None:
    [actor] = expand(load("mastodon-activitypub.academy-person.json"))
    assert actor["@id"] == "https://activitypub.academy/users/brauca_darradiul"
    assert actor["@type"] == [AS + "Person"]
    assert actor[AS + "manuallyApprovesFollowers"] == [{"@value": False}]
    [key] = actor[SEC + "publicKey"]
    assert key[SEC + "owner"] == [{"@id": "https://activitypub.academy/users/brauca_darradiul"}]


def test_expand_fedify_actor_with_multikey_offline(no_network: None) -> None:
    [actor] = expand(load("hollo-wizard.casa-person-with-multikey.json"))
    methods = actor[SEC + "assertionMethod"]
    assert {m["@id"] for m in methods} == {
        "https://wizard.casa/users/hongminhee#main-key",
        "https://wizard.casa/users/hongminhee#ed25519-key",
    }
    assert all(m["@type"] == [SEC + "Multikey"] for m in methods)


def test_unknown_remote_context_policy(no_network: None) -> None:
    doc = load("gotosocial-person-fields.json")  # "@context" has http://joinmastodon.org/ns
    with pytest.raises(UnknownContext) as info:
        expand(doc)
    assert info.value.url == "http://joinmastodon.org/ns"
    [actor] = expand(doc, unknown_contexts="ignore")
    assert actor["@id"] == "http://example.org/users/1happyturtle"
    assert actor[AS + "preferredUsername"] == [{"@value": "1happyturtle"}]
    # Terms only the dropped context defined fall back to the AS @vocab ("_:").
    assert "_:discoverable" in actor
    # The lenient run must not poison the strict one through a shared cache.
    with pytest.raises(UnknownContext):
        expand(doc)


def test_bad_policy_is_rejected() -> None:
    with pytest.raises(ValueError):
        expand({}, unknown_contexts="fetch")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["pleroma-patch.cx-person.json", "pleroma-lm.kazv.moe-person-aliases.json"])
def test_litepub_context_is_served_from_the_bundle(name: str, no_network: None) -> None:
    [actor] = expand(load(name))  # strict mode: litepub is never "unknown"
    assert actor["@type"] == [AS + "Person"]
    assert SEC + "publicKey" in actor
    if "capabilities" in load(name):
        assert "http://litepub.social/ns#capabilities" in actor


def test_register_context_adds_and_replaces(no_network: None) -> None:
    url = "https://fedisora.test/ns/v1"
    register_context(url, {"@context": {"fs": "https://fedisora.test/ns#", "attestation": "fs:attestation"}})
    doc = {"@context": ["https://www.w3.org/ns/activitystreams", url], "type": "Note", "attestation": "human"}
    [node] = expand(doc)
    assert node["https://fedisora.test/ns#attestation"] == [{"@value": "human"}]
    register_context(url, {"@context": {"attestation": "https://fedisora.test/ns#claim"}})
    [node] = expand(doc)
    assert node["https://fedisora.test/ns#claim"] == [{"@value": "human"}]


def test_register_context_rejects_non_documents() -> None:
    with pytest.raises(ValueError):
        register_context("https://x.test/ctx", {"fs": "https://x.test/ns#"})


def test_compact_roundtrip_offline(no_network: None) -> None:
    doc = load("mastodon-create-note-cw-mention-hashtag.json")
    compacted = compact(expand(doc), "https://www.w3.org/ns/activitystreams")
    assert compacted["type"] == "Create"
    assert compacted["object"]["summary"] == "cw"
    assert compacted["actor"] == "http://mastodon.example.org/users/admin"


def test_compact_with_unknown_context_raises(no_network: None) -> None:
    with pytest.raises(UnknownContext):
        compact({"@id": "https://a.example/x"}, "https://nowhere.example/ctx")


@pytest.mark.parametrize("path", sorted(p.name for p in INTEROP.glob("*.json")))
def test_every_interop_document_expands_leniently(path: str, no_network: None) -> None:
    # mastodon-delete-tombstone.json has no ActivityStreams context at all (a
    # real Mastodon 2.x quirk), so it expands to nothing; it must not raise.
    expanded = expand(load(path), unknown_contexts="ignore")
    assert isinstance(expanded, list)
    assert expanded or path == "mastodon-delete-tombstone.json"
