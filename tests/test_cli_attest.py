"""``fedisora attest …`` as an admin runs it: the console script in a subprocess."""

from __future__ import annotations

import json
import re
from pathlib import Path

from activitypub import statuslist as bitstring
from fedisora.attestations import statuslist
from fedisora.db.models import ModerationAuditEntry, StatusList
from fedisora.state import AppState
from instance_config import load_config
from sqlmodel import col, select
from tests.processes import assert_one_line_error, assert_usage_error, cli, parallel, shown
from tests.test_cli import DOMAIN, init


def ok(result: object) -> str:
    assert getattr(result, "returncode") == 0, shown(result)  # type: ignore[arg-type]
    assert getattr(result, "stderr") == "", shown(result)  # type: ignore[arg-type]
    return str(getattr(result, "stdout"))


def issued_id(stdout: str) -> str:
    match = re.search(r"^id: (\d+)$", stdout, re.MULTILINE)
    assert match, stdout
    return match.group(1)


async def test_attest_human_automated_list_revoke(tmp_path: Path, database_url: str) -> None:
    config_path = init(tmp_path, database_url)
    c = ("--config", str(config_path))
    parallel(
        lambda: ok(cli("account", "create", "alice", *c, cwd=tmp_path)),
        lambda: ok(cli("account", "create", "newsbot", "--bot", *c, cwd=tmp_path)),
    )
    human = ok(cli("attest", "human", "alice", "--method", "in-person", *c, cwd=tmp_path))
    assert human.startswith(f"attested @alice@{DOMAIN} as a human (in-person), valid until ")
    human_id = issued_id(human)
    assert f"credential: http://{DOMAIN}/attestations/{human_id}" in human

    bot = ok(cli(
        "attest", "automated", "newsbot", "--operator", "@alice", "--valid-until", "2099-12-31", *c, cwd=tmp_path
    ))  # fmt: skip
    assert bot.startswith(f"attested @newsbot@{DOMAIN} as automated (@alice@{DOMAIN}), valid until 2099-12-31")
    bot_id = issued_id(bot)

    listing, alice_only, shown_json = parallel(
        lambda: ok(cli("attest", "list", *c, cwd=tmp_path)),
        lambda: ok(cli("attest", "list", "alice", *c, cwd=tmp_path)),
        lambda: ok(cli("attest", "show", human_id, *c, cwd=tmp_path)),
    )
    lines = listing.splitlines()
    assert lines[0].split() == ["ID", "KIND", "SUBJECT", "CLAIM", "DETAIL", "UNTIL", "STATUS"]
    assert [line.split()[:5] for line in lines[1:]] == [
        [bot_id, "AccountAttestation", "@newsbot", "automation", f"@alice@{DOMAIN}"],
        [human_id, "AccountAttestation", "@alice", "human", "in-person"],
    ]
    assert all(line.split()[-1] == "valid" for line in lines[1:])
    assert [line.split()[0] for line in alice_only.splitlines()[1:]] == [human_id]
    credential = json.loads(shown_json)
    assert credential["credentialSubject"]["attestationMethod"] == "in-person"
    assert credential["proof"]["cryptosuite"] == "eddsa-jcs-2022"

    revoked = ok(cli("attest", "revoke", human_id, "--reason", "left", *c, cwd=tmp_path))
    assert revoked.startswith(f"revoked attestation {human_id} (AccountAttestation, human) at ")
    again = ok(cli("attest", "revoke", human_id, *c, cwd=tmp_path))
    assert again.startswith(f"attestation {human_id} was already revoked at ")
    valid_only, everything = parallel(
        lambda: ok(cli("attest", "list", "alice", *c, cwd=tmp_path)),
        lambda: ok(cli("attest", "list", "alice", "--all", *c, cwd=tmp_path)),
    )
    assert valid_only.strip() == "no attestations (add --all to include revoked ones)"
    assert everything.splitlines()[1].split()[-2] == "revoked"

    # The revocation is in the status list and the audit log (done from the console).
    state = AppState.open(load_config(config_path))
    try:
        async with state.sessions() as session:
            log = list((await session.exec(select(ModerationAuditEntry).order_by(col(ModerationAuditEntry.id)))).all())
            entry = credential["credentialStatus"]
            status_list = await session.get(StatusList, int(entry["statusListCredential"].rsplit("/", 1)[1]))
            assert status_list is not None
            list_credential = await statuslist.list_credential(session, state.config, status_list)
    finally:
        await state.close()
    assert [(e.action, e.target, e.actor_id) for e in log] == [
        ("attestation.issue", f"attestation:{human_id}", None),
        ("attestation.issue", f"attestation:{bot_id}", None),
        ("attestation.revoke", f"attestation:{human_id}", None),
    ]
    assert bitstring.status_of(entry, list_credential) is True


async def test_attest_errors_are_one_clear_line(tmp_path: Path, database_url: str) -> None:
    config_path = init(tmp_path, database_url)
    c = ("--config", str(config_path))
    ok(cli("account", "create", "alice", *c, cwd=tmp_path))
    unknown_user, unknown_id, unknown_list, bad_method, no_operator, unknown_operator, bad_date, bad_id, show_missing = parallel(
        lambda: cli("attest", "human", "nobody", *c, cwd=tmp_path),
        lambda: cli("attest", "revoke", "123456", *c, cwd=tmp_path),
        lambda: cli("attest", "list", "nobody", *c, cwd=tmp_path),
        lambda: cli("attest", "human", "alice", "--method", "Trust Me", *c, cwd=tmp_path),
        lambda: cli("attest", "automated", "alice", *c, cwd=tmp_path),
        lambda: cli("attest", "automated", "alice", "--operator", "ghost", *c, cwd=tmp_path),
        lambda: cli("attest", "human", "alice", "--valid-until", "tomorrow", *c, cwd=tmp_path),
        lambda: cli("attest", "revoke", "abc", *c, cwd=tmp_path),
        lambda: cli("attest", "show", "42", *c, cwd=tmp_path),
    )
    assert_one_line_error(unknown_user, "no local account named 'nobody'")
    assert_one_line_error(unknown_id, "no attestation with id 123456")
    assert_one_line_error(unknown_list, "no local account named 'nobody'")
    assert_one_line_error(bad_method, "method")
    assert_usage_error(no_operator, "--operator")
    assert_one_line_error(unknown_operator, "no account @ghost")
    assert_usage_error(bad_date, "not an ISO 8601 date")
    assert_usage_error(bad_id, "an attestation id is a number")
    assert_one_line_error(show_missing, "no attestation with id 42")
    empty = ok(cli("attest", "list", *c, cwd=tmp_path))
    assert empty.strip() == "no attestations (add --all to include revoked ones)"
