"""``fedisora attest verify FILE|URL`` (fedisora/cli/attest_verify.py), run against b.example's
config while a.example issues; keys are fetched through the in-process harness."""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from fedisora.attestations import service
from fedisora.attestations.signing import sign
from fedisora.cli import attest_verify
from fedisora.cli.errors import CLIError
from fedisora.db.models import Actor
from fedisora.state import AppState
from tests.federation import Fediverse, Instance


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="fedisora attest")
    attest_verify.add_verify_command(top.add_subparsers(dest="attest_command", required=True))
    return top


@pytest.fixture
async def instances(world: Fediverse, monkeypatch: pytest.MonkeyPatch) -> tuple[Instance, Instance]:
    a = await world.add("a.example")
    b = await world.add("b.example")
    await a.create_account("alice")
    opened = AppState.open.__func__  # type: ignore[attr-defined]

    def open_with_harness(cls: type[AppState], config: Any, *, transport: Any = None) -> AppState:
        return opened(cls, config, transport=world.transport)  # type: ignore[no-any-return]

    monkeypatch.setattr(AppState, "open", classmethod(open_with_harness))
    return a, b


async def issue(a: Instance) -> dict[str, Any]:
    async with a.state.sessions() as session:
        alice = (await session.exec(select(Actor).where(Actor.local, Actor.username == "alice"))).one()
        row = await service.issue_account_attestation(session, a.config, alice, operated_by="human", method="in-person")
        await session.commit()
        return dict(row.credential)


async def run_verify(b: Instance, *argv: str) -> int:
    assert b.config.path is not None
    args = parser().parse_args(["verify", *argv, "--config", str(b.config.path)])
    assert args.func is attest_verify.cmd_verify
    return await attest_verify._verify(args)


def write(tmp_path: Path, name: str, doc: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


async def test_a_credential_file_verifies(instances: tuple[Instance, Instance], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = instances
    credential = await issue(a)
    assert await run_verify(b, write(tmp_path, "cred.json", credential)) == 0
    out = capsys.readouterr().out
    assert "issuer:   https://a.example/actor (not on this instance's trust list)" in out
    assert "subject:  https://a.example/users/alice" in out
    assert "kind:     human (method: in-person)" in out
    assert "validity: " in out and " – " in out
    assert "verdict:  verified" in out
    # Genuine but not trusted here: --require-trust fails it.
    assert await run_verify(b, write(tmp_path, "cred.json", credential), "--require-trust") == 1


async def test_a_tampered_credential_fails(instances: tuple[Instance, Instance], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = instances
    forged = copy.deepcopy(await issue(a))
    forged["validUntil"] = "2099-01-01T00:00:00Z"
    assert await run_verify(b, write(tmp_path, "forged.json", forged), "--json") == 1
    [result] = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "tampered" and result["issuer"] == "https://a.example/actor"


async def test_an_actor_url_and_a_signed_activity(instances: tuple[Instance, Instance], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = instances
    await issue(a)
    # The actor document: every credential in its attachments is checked.
    assert await run_verify(b, "https://a.example/users/alice") == 0
    out = capsys.readouterr().out
    assert "actor attachment: https://a.example/attestations/" in out and "verdict:  verified" in out

    async with a.state.sessions() as session:
        alice = (await session.exec(select(Actor).where(Actor.local, Actor.username == "alice"))).one()
        activity = await sign(session, alice, {
            "@context": "https://www.w3.org/ns/activitystreams", "id": "https://a.example/activities/1",
            "type": "Like", "actor": alice.uri, "object": "https://b.example/users/bob/statuses/1",
        })  # fmt: skip
        await session.commit()
    assert await run_verify(b, write(tmp_path, "like.json", activity)) == 0
    out = capsys.readouterr().out
    assert "kind:     object-proof" in out and "issuer:   https://a.example/users/alice" in out
    unsigned = {k: v for k, v in activity.items() if k != "proof"}
    assert await run_verify(b, write(tmp_path, "unsigned.json", unsigned)) == 1
    assert "verdict:  tampered — no proof" in capsys.readouterr().out


async def test_did_key_proofs(instances: tuple[Instance, Instance], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A did:key carries its own key, so such a proof is checked without fetching anything;
    the issuer must still be the key's controller."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from activitypub.integrity import create_proof
    from activitypub.keys import generate_ed25519

    _, b = instances
    pair = generate_ed25519()
    did = f"did:key:{pair.public_multibase}"
    credential = create_proof(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"], "id": "urn:uuid:7d3a8c1e-0000-4000-8000-000000000001",
            "type": ["VerifiableCredential"], "issuer": did, "validFrom": "2025-01-01T00:00:00Z",
            "credentialSubject": {"id": "https://b.example/users/someone"},
        },
        load_pem_private_key(pair.private_pem.encode(), password=None),  # type: ignore[arg-type]
        f"{did}#{pair.public_multibase}",
    )  # fmt: skip
    assert await run_verify(b, write(tmp_path, "did.json", credential)) == 0
    out = capsys.readouterr().out
    assert f"issuer:   {did}" in out and "verdict:  verified" in out

    # the same key cannot speak for another issuer
    claimed = create_proof(
        {**{k: v for k, v in credential.items() if k != "proof"}, "issuer": "https://b.example/actor"},
        load_pem_private_key(pair.private_pem.encode(), password=None),  # type: ignore[arg-type]
        f"{did}#{pair.public_multibase}",
    )
    assert await run_verify(b, write(tmp_path, "claimed.json", claimed), "--json") == 1
    [result] = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "unknown-issuer"
    assert f"signed by {did}, not by its issuer https://b.example/actor" in result["reason"]


async def test_bad_input_is_one_clear_error(instances: tuple[Instance, Instance], tmp_path: Path) -> None:
    _, b = instances
    with pytest.raises(CLIError, match="no such file"):
        await run_verify(b, str(tmp_path / "missing.json"))
    with pytest.raises(CLIError, match="not a JSON object"):
        await run_verify(b, write(tmp_path, "x.json", "a JSON string"))
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(CLIError, match="not JSON"):
        await run_verify(b, str(tmp_path / "broken.json"))
    (tmp_path / "latin1.json").write_bytes('{"name": "Grüße"}'.encode("latin-1"))  # not UTF-8
    with pytest.raises(CLIError, match="latin1.json: not JSON"):
        await run_verify(b, str(tmp_path / "latin1.json"))
    (tmp_path / "huge.json").write_bytes(b" " * (attest_verify.MAX_FILE_BYTES + 1))
    with pytest.raises(CLIError, match="larger than"):
        await run_verify(b, str(tmp_path / "huge.json"))
    with pytest.raises(CLIError, match="fetching"):
        await run_verify(b, "https://nowhere.example/users/x")
