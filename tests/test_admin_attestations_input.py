"""Bad input to the attestation endpoints (fedisora/api/mastodon/admin_attestations.py) is a
422 with Mastodon's ``{"error": …}``, never a 500."""

from __future__ import annotations

from typing import Any

import httpx

from tests.federation import Instance, token_for

CONSENT = "/api/v1/fedisora/likeness_consent"


def http(instance: Instance) -> httpx.AsyncClient:
    assert instance.client is not None
    return instance.client


async def bearer(instance: Instance, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await token_for(instance, who, 'read write admin:read admin:write')}"}


def rejected(response: httpx.Response) -> str:
    assert response.status_code == 422, f"{response.status_code}: {response.text}"
    body: Any = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str)
    return body["error"]


async def test_likeness_consent_accounts_must_be_handles(here: Instance) -> None:
    await here.create_account("alice")
    await here.create_account("bob")
    auth = await bearer(here, "alice")
    for accounts in (5, {"@bob": True}, ["@bob", 7], True):
        response = await http(here).post(CONSENT, json={"policy": "named", "accounts": accounts}, headers=auth)
        assert "accounts" in rejected(response), accounts
    assert (await http(here).get(CONSENT, headers=auth)).status_code == 404  # nothing was issued
    # A single handle, a list of them, or none at all are fine.
    for accounts in ("@bob", ["@bob"]):
        response = await http(here).post(CONSENT, json={"policy": "named", "accounts": accounts}, headers=auth)
        assert response.status_code == 200, response.text
        assert len(response.json()["credential"]["credentialSubject"]["allowedActors"]) == 1
    response = await http(here).post(CONSENT, json={"policy": "nobody", "accounts": None}, headers=auth)
    assert response.status_code == 200, response.text


async def test_admin_list_parameters(here: Instance) -> None:
    await here.create_account("boss", admin=True)
    alice = await here.create_account("alice")
    auth = await bearer(here, "boss")
    issued = await http(here).post(f"/api/v1/admin/accounts/{alice.id}/attestations", json={"kind": "human"}, headers=auth)
    assert issued.status_code == 200, issued.text
    assert issued.json()["created_at"].endswith("Z")
    everything = "/api/v1/admin/attestations"
    rejected(await http(here).get(everything, params={"include_revoked": "perhaps"}, headers=auth))
    rejected(await http(here).get(everything, params={"limit": "many"}, headers=auth))
    for limit in ("1", "0", "100000"):  # clamped to 1..200, as Mastodon does
        response = await http(here).get(everything, params={"limit": limit}, headers=auth)
        assert response.status_code == 200 and len(response.json()) == 1, response.text
    response = await http(here).get(everything, params={"include_revoked": "false"}, headers=auth)
    assert response.status_code == 200 and len(response.json()) == 1
