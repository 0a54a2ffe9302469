"""``fedisora attest verify FILE|URL``: check any document that carries a Data Integrity proof.

Works on a credential (an attestation, a status list), an actor document (its
own proof, and every credential in its ``attachment``), a post or an activity
(its proof, and the provenance credentials in its ``Document`` attachments).
Issuer keys are fetched from the issuers' servers as this instance does it
(signed by the instance actor) and cached in its database.  Prints issuer,
subject, kind, validity and the verdict of each; the exit status is 0 only
when everything found verifies (and, with ``--require-trust``, is trusted
here).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from activitypub.extract import as_list, id_of, types_of

from ..attestations import trust
from ..attestations.receive import credentials_of_actor, credentials_of_attachment
from ..attestations.verify import VERIFIED, VerificationResult, verify_credential
from ..state import AppState
from .common import add_config_option, config_from, run
from .errors import CLIError

__all__ = ["add_verify_command", "register", "cmd_verify", "verify_all"]

MAX_FILE_BYTES = 5_000_000


def add_verify_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``verify`` to the ``attest`` command's subparsers."""
    parser = subparsers.add_parser(
        "verify",
        help="verify a document with a Data Integrity proof (credential, actor, post, activity)",
        description=(
            "Verify the eddsa-jcs-2022 proof of a JSON document read from FILE ('-' for stdin) or "
            "fetched from URL, fetching issuer keys as needed; also every credential it carries "
            "(actor attachments, provenance in a post's media).  Exits 0 only when all of it verifies."
        ),
    )
    parser.add_argument("source", metavar="FILE|URL", help="a JSON file, '-' for stdin, or an https:// URL")
    parser.add_argument("--media", type=Path, default=None, metavar="FILE",
                        help="a media file to check against a provenance credential's digestMultibase")
    parser.add_argument("--require-trust", action="store_true",
                        help="also fail when a human attestation's issuer is not trusted by this instance")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    if not any(a.dest == "config" for a in parser._actions):
        add_config_option(parser)
    parser.set_defaults(func=cmd_verify)
    return parser


register = add_verify_command  # ``attest_verify.register(attest_commands)`` in cli/main.py


def _read(source: str) -> dict[str, Any]:
    too_large = f"{source}: larger than {MAX_FILE_BYTES} bytes"
    try:
        if source == "-":
            text = sys.stdin.read(MAX_FILE_BYTES + 1)
        else:
            path = Path(source)
            if not path.is_file():
                raise CLIError(f"{source}: no such file (and not an http(s) URL)")
            if path.stat().st_size > MAX_FILE_BYTES:  # before reading any of it
                raise CLIError(too_large)
            with path.open("rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)  # bounded even if it grew meanwhile
            if len(data) > MAX_FILE_BYTES:
                raise CLIError(too_large)
            text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CLIError(f"{source}: not JSON (not UTF-8: {exc})") from None
    except OSError as exc:
        raise CLIError(f"{source}: cannot be read ({exc.strerror or exc})") from None
    if len(text) > MAX_FILE_BYTES:
        raise CLIError(too_large)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CLIError(f"{source}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise CLIError(f"{source}: not a JSON object")
    return doc


async def _fetch(state: AppState, url: str) -> dict[str, Any]:
    from activitypub.client import FetchError
    from activitypub.extract import domain_of

    from ..federation.remote import RemoteError, fetch

    try:
        if (domain_of(url) or "") == state.config.instance.domain:
            return (await state.client.fetch_document(url)).data  # our own: served by the running server
        async with state.sessions() as session:
            fetched = await fetch(session, state, url)
            await session.commit()
            return fetched.data
    except (RemoteError, FetchError) as exc:
        raise CLIError(str(exc)) from None


def _embedded(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Credentials a document carries: ``(where, credential)``."""
    found: list[tuple[str, dict[str, Any]]] = []
    if "VerifiableCredential" in types_of(doc):
        return found
    for credential in credentials_of_actor(doc):
        found.append(("actor attachment", credential))
    objects = [doc] + [o for o in as_list(doc.get("object"))[:1] if isinstance(o, dict)]
    seen = {id(c) for _, c in found}
    for obj in objects:
        for item in as_list(obj.get("attachment"))[:16]:
            if isinstance(item, dict):
                for credential in credentials_of_attachment(item):
                    if id(credential) not in seen:
                        seen.add(id(credential))
                        found.append((f"attachment {id_of(item.get('url')) or item.get('type')}", credential))
    return found


async def verify_all(
    state: AppState, doc: dict[str, Any], *, media_sha256: str | None = None
) -> list[tuple[str, VerificationResult]]:
    """Every verification the document calls for (cryptographic results: trust is reported apart)."""
    checks: list[tuple[str, dict[str, Any]]] = []
    if "proof" in doc:
        checks.append(("document", doc))
    checks.extend(_embedded(doc))
    if not checks:
        checks.append(("document", doc))  # reported as having no proof
    results = []
    async with state.sessions() as session:
        for where, item in checks:
            result = await verify_credential(session, state, item, media_sha256=media_sha256)
            results.append((where, result))
        await session.commit()  # keys and status lists fetched are worth keeping
    return results


def _when(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else "—"


def _print(results: list[tuple[str, VerificationResult]], config: Any) -> None:
    for number, (where, r) in enumerate(results):
        if number:
            print()
        trusted = trust.issuer_trusted(config, r.issuer)
        print(f"{where}: {r.credential_id or '(no id)'}")
        print(f"  issuer:   {r.issuer or '—'}" + (" (trusted here)" if trusted else " (not on this instance's trust list)"))
        if r.signer and r.signer != r.issuer:
            print(f"  signer:   {r.signer}")
        print(f"  subject:  {r.subject or '—'}")
        extra = [f"{k}: {r.details[k]}" for k in ("method", "operator", "digital_source_type", "likeness_policy") if r.details.get(k)]
        print(f"  kind:     {r.kind}" + (f" ({', '.join(extra)})" if extra else ""))
        print(f"  validity: {_when(r.valid_from)} – {_when(r.valid_until)}")
        if r.details.get("digest_check"):
            print(f"  digest:   {r.details['digest_check']}")
        print(f"  verdict:  {r.result}" + (f" — {r.reason}" if r.reason else ""))


def _as_json(where: str, r: VerificationResult) -> dict[str, Any]:
    return {
        "where": where, "id": r.credential_id, "kind": r.kind, "issuer": r.issuer, "signer": r.signer,
        "subject": r.subject, "valid_from": _when(r.valid_from) if r.valid_from else None,
        "valid_until": _when(r.valid_until) if r.valid_until else None, "verdict": r.result,
        "reason": r.reason or None, "details": r.details,
    }  # fmt: skip


async def _verify(args: argparse.Namespace) -> int:
    state = AppState.open(config_from(args))
    try:
        source: str = args.source
        doc = await _fetch(state, source) if source.startswith(("https://", "http://")) else _read(source)
        sha = None
        if args.media is not None:
            if not args.media.is_file():
                raise CLIError(f"{args.media}: no such file")
            digest = hashlib.sha256()
            with args.media.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            sha = digest.hexdigest()
        results = await verify_all(state, doc, media_sha256=sha)
    finally:
        await state.close()
    if args.json:
        print(json.dumps([_as_json(w, r) for w, r in results], indent=2, default=str))
    else:
        _print(results, state.config)

    def passed(r: VerificationResult) -> bool:
        # With --require-trust, as shown here: an untrusted human attestation does not pass.
        return (r.apply_policy(state.config) if args.require_trust else r).result == VERIFIED

    return 0 if results and all(passed(r) for _, r in results) else 1


def cmd_verify(args: argparse.Namespace) -> int:
    return run(_verify(args))
