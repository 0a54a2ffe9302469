"""Attestations over HTTP: ``/attestations/ID`` and ``/status-lists/ID``, the admin API
(``/api/v1/admin/…attestations``), people's own self-declaration and likeness consent, and
the actor document carrying them."""

from __future__ import annotations

from typing import Any

import httpx
from sqlmodel import col, select

from activitypub import statuslist as bitstring
from activitypub.integrity import verify_proof
from fedisora.db.models import Actor, Attestation, ModerationAuditEntry
from tests.federation import Instance, independently_verified, stored_ed25519_key, token_for

HERE = "video.example.org"  # the ``here`` fixture's instance (tests/conftest.py)
AP = {"Accept": "application/activity+json"}


def http(instance: Instance) -> httpx.AsyncClient:
    assert instance.client is not None
    return instance.client


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()


async def bearer(instance: Instance, who: str, scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await token_for(instance, who, scopes)}"}


async def verified(instance: Instance, document: dict[str, Any], issuer: str) -> None:
    """``document``'s proof is by ``issuer`` and verifies with our verifier, under the key we
    store, and with awr, an independent verifier, under the key ``issuer`` publishes."""
    assert document["proof"]["verificationMethod"] == f"{issuer}#ed25519-key"
    verify_proof(document, await stored_ed25519_key(instance, issuer))
    assert await independently_verified(instance, document)


async def people(instance: Instance) -> tuple[Actor, Actor, dict[str, str], dict[str, str]]:
    admin = await instance.create_account("boss", admin=True)
    alice = await instance.create_account("alice")
    return (
        admin,
        alice,
        await bearer(instance, "boss", "read write admin:read admin:write"),
        await bearer(instance, "alice", "read write admin:read admin:write"),
    )


async def test_admin_issues_lists_and_revokes(here: Instance) -> None:
    admin, alice, admin_auth, _ = await people(here)
    path = f"/api/v1/admin/accounts/{alice.id}/attestations"
    issued = ok(await http(here).post(path, json={"kind": "human", "method": "in-person"}, headers=admin_auth))
    assert issued["kind"] == "AccountAttestation" and issued["claim"] == "human" and issued["method"] == "in-person"
    assert issued["account_id"] == str(alice.id) and issued["acct"] == f"alice@{HERE}"
    assert issued["revoked_at"] is None and issued["valid_until"].endswith("Z")
    assert issued["url"] == f"https://{HERE}/attestations/{issued['id']}"
    await verified(here, issued["credential"], f"https://{HERE}/actor")

    bot = await here.create_account("helper", bot=True)
    robot = ok(await http(here).post(
        f"/api/v1/admin/accounts/{bot.id}/attestations",
        data={"kind": "automated", "operator": "@alice", "valid_until": "2099-01-01T00:00:00Z"},
        headers=admin_auth,
    ))  # fmt: skip
    assert robot["claim"] == "automation" and robot["operator"] == f"@alice@{HERE}"
    assert robot["valid_until"] == "2099-01-01T00:00:00.000Z"

    listed = ok(await http(here).get(path, headers=admin_auth))
    assert [a["id"] for a in listed] == [issued["id"]]
    everything = ok(await http(here).get("/api/v1/admin/attestations", headers=admin_auth))
    assert [a["id"] for a in everything] == [robot["id"], issued["id"]]
    shown = ok(await http(here).get(f"/api/v1/admin/attestations/{issued['id']}", headers=admin_auth))
    assert shown["credential"] == issued["credential"]

    revoked = ok(await http(here).delete(
        f"/api/v1/admin/attestations/{issued['id']}", params={"reason": "asked"}, headers=admin_auth
    ))  # fmt: skip
    assert revoked["revoked_at"] is not None
    assert ok(await http(here).get(path, params={"include_revoked": "false"}, headers=admin_auth)) == []
    again = ok(await http(here).delete(f"/api/v1/admin/attestations/{issued['id']}", headers=admin_auth))
    assert again["revoked_at"] == revoked["revoked_at"]

    async with here.state.sessions() as session:
        log = list((await session.exec(select(ModerationAuditEntry).order_by(col(ModerationAuditEntry.id)))).all())
    assert [(e.action, e.target, e.actor_id) for e in log] == [
        ("attestation.issue", f"attestation:{issued['id']}", admin.id),
        ("attestation.issue", f"attestation:{robot['id']}", admin.id),
        ("attestation.revoke", f"attestation:{issued['id']}", admin.id),
    ]
    assert log[2].details["reason"] == "asked"


async def test_admin_api_needs_an_admin_with_admin_scopes(here: Instance) -> None:
    admin, alice, admin_auth, alice_auth = await people(here)
    path = f"/api/v1/admin/accounts/{alice.id}/attestations"
    no_admin_scope = await bearer(here, "boss", "read write")
    for method, url, body in (
        ("POST", path, {"kind": "human"}),
        ("GET", path, None),
        ("GET", "/api/v1/admin/attestations", None),
        ("GET", "/api/v1/admin/attestations/1", None),
        ("DELETE", "/api/v1/admin/attestations/1", None),
    ):
        assert (await http(here).request(method, url, json=body)).status_code == 401
        assert (await http(here).request(method, url, json=body, headers=alice_auth)).status_code == 403
        assert (await http(here).request(method, url, json=body, headers=no_admin_scope)).status_code == 403
    async with here.state.sessions() as session:
        assert (await session.exec(select(Attestation))).first() is None
        assert (await session.exec(select(ModerationAuditEntry))).first() is None


async def test_admin_api_errors(here: Instance) -> None:
    _, alice, admin_auth, _ = await people(here)
    path = f"/api/v1/admin/accounts/{alice.id}/attestations"
    for body, fragment in (
        ({"kind": "cyborg"}, "kind must be human or automated"),
        ({"kind": "automated"}, "operator"),
        ({"kind": "human", "method": "by vibes"}, "method"),
        ({"kind": "human", "valid_until": "soon"}, "ISO 8601"),
        ({"kind": "human", "valid_until": "2001-01-01"}, "in the past"),
    ):
        response = await http(here).post(path, json=body, headers=admin_auth)
        assert response.status_code == 422, response.text
        assert fragment in response.json()["error"]
    for url in ("/api/v1/admin/accounts/999/attestations", "/api/v1/admin/accounts/x/attestations"):
        assert (await http(here).post(url, json={"kind": "human"}, headers=admin_auth)).status_code == 404
        assert (await http(here).get(url, headers=admin_auth)).status_code == 404
    for url in ("/api/v1/admin/attestations/999", "/api/v1/admin/attestations/nope"):
        assert (await http(here).get(url, headers=admin_auth)).status_code == 404
        assert (await http(here).delete(url, headers=admin_auth)).status_code == 404


async def test_credential_and_status_list_urls(here: Instance) -> None:
    _, alice, admin_auth, _ = await people(here)
    issued = ok(await http(here).post(
        f"/api/v1/admin/accounts/{alice.id}/attestations", json={"kind": "human"}, headers=admin_auth
    ))  # fmt: skip
    response = await http(here).get(f"/attestations/{issued['id']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vc+ld+json")
    assert response.headers["cache-control"] == f"public, max-age={int(here.config.attestations.status_list_ttl_seconds)}"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json() == issued["credential"]
    as_json = await http(here).get(f"/attestations/{issued['id']}", headers={"Accept": "application/json"})
    assert as_json.headers["content-type"].startswith("application/json")

    entry = issued["credential"]["credentialStatus"]
    list_path = entry["statusListCredential"].removeprefix(here.base_url)
    before = ok(await http(here).get(list_path))
    instance = f"https://{HERE}/actor"
    await verified(here, before, instance)
    assert bitstring.status_of(entry, before) is False

    ok(await http(here).delete(f"/api/v1/admin/attestations/{issued['id']}", headers=admin_auth))
    after = await http(here).get(list_path)
    assert after.headers["cache-control"].startswith("public, max-age=")
    await verified(here, after.json(), instance)
    assert bitstring.status_of(entry, after.json()) is True
    # Still served once revoked: its status list says so.
    assert (await http(here).get(f"/attestations/{issued['id']}")).json() == issued["credential"]

    for path in ("/attestations/999", "/attestations/abc", "/status-lists/999", "/status-lists/-1", "/attestations/99999999999999999999"):
        assert (await http(here).get(path, headers={"Accept": "application/json"})).status_code == 404, path


async def test_people_sign_their_own_declaration_and_consent(here: Instance) -> None:
    bob = await here.create_account("bob")
    alice = await here.create_account("alice")
    auth = await bearer(here, "alice", "read write")
    read_only = await bearer(here, "alice", "read")
    path = "/api/v1/fedisora/self_declaration"
    assert (await http(here).get(path, headers=auth)).status_code == 404
    assert (await http(here).post(path, json={"operated_by": "human"})).status_code == 401
    assert (await http(here).post(path, json={"operated_by": "human"}, headers=read_only)).status_code == 403
    bad = await http(here).post(path, json={"operated_by": "lizard"}, headers=auth)
    assert bad.status_code == 422
    declared = ok(await http(here).post(path, json={"operated_by": "human"}, headers=auth))
    assert declared["kind"] == "SelfDeclaration" and declared["credential"]["issuer"] == alice.uri
    await verified(here, declared["credential"], alice.uri)
    assert ok(await http(here).get(path, headers=read_only))["id"] == declared["id"]

    consent_path = "/api/v1/fedisora/likeness_consent"
    consent = ok(await http(here).post(
        consent_path, data={"policy": "named", "accounts[]": ["@bob"]}, headers=auth
    ))  # fmt: skip
    assert consent["credential"]["credentialSubject"]["allowedActors"] == [bob.uri]
    await verified(here, consent["credential"], alice.uri)

    document = ok(await http(here).get("/users/alice", headers=AP))
    attached = document["attachment"]
    assert declared["credential"] in attached and consent["credential"] in attached
    assert {"type": "PropertyValue", "name": "Self-declared"}.items() <= next(
        a for a in attached if a.get("type") == "PropertyValue"
    ).items()

    revoked = ok(await http(here).delete(consent_path, headers=auth))
    assert revoked["revoked_at"] is not None
    assert (await http(here).delete(consent_path, headers=auth)).status_code == 404
    assert (await http(here).get(consent_path, headers=auth)).status_code == 404
    document = ok(await http(here).get("/users/alice", headers=AP))
    assert consent["credential"] not in document["attachment"]


async def test_actor_document_shows_the_account_attestation(here: Instance) -> None:
    _, alice, admin_auth, _ = await people(here)
    issued = ok(await http(here).post(
        f"/api/v1/admin/accounts/{alice.id}/attestations", json={"kind": "human", "method": "video-check"},
        headers=admin_auth,
    ))  # fmt: skip
    for path in ("/users/alice", "/@alice"):
        document = ok(await http(here).get(path, headers=AP))
        line, credential = document["attachment"][:2]
        assert line["type"] == "PropertyValue" and line["name"] == "Verified human"
        assert issued["url"] in line["value"] and "video-check" in line["value"]
        assert credential == issued["credential"]
        assert "https://w3id.org/security/data-integrity/v2" in document["@context"]
        await verified(here, credential, f"https://{HERE}/actor")
