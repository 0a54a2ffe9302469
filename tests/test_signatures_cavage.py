"""draft-cavage-http-signatures-12 as the fediverse uses it (Mastodon, GoToSocial, ...).

Section labels refer to draft-cavage-12 unless stated.  The independent
implementation is ``httpsig`` (pycryptodome-based).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpsig
import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from httpsig.verify import HeaderVerifier
from starlette.datastructures import Headers

from activitypub.keys import generate_ed25519, generate_rsa
from activitypub.signatures import (
    HTTPSignatureAuth,
    SignatureError,
    digest_header,
    http_date,
    key_owner_hint,
    parse_signature,
    sign_cavage,
    sign_request,
    verify_signature,
    verify_signature_value,
)
from activitypub.signatures import errors

DATA = Path(__file__).parent / "data" / "signatures"
DRAFT = json.loads((DATA / "cavage-vectors.json").read_text())
DRAFT_KEY_PUB = (DATA / "cavage-test-key.pub.pem").read_text()
DRAFT_KEY = (DATA / "cavage-test-key.key.pem").read_text()
DRAFT_NOW = datetime.fromisoformat(DRAFT["now"])

INBOX = "https://remote.example/users/bob/inbox"
KEY_ID = "https://mastodon.example/users/alice#main-key"
ACTIVITY = b'{"type": "Follow", "id": "https://mastodon.example/f/1"}'


@pytest.fixture(scope="module")
def rsa_pair():
    return generate_rsa()


@pytest.fixture(scope="module")
def other_rsa():
    return generate_rsa()


@pytest.fixture(scope="module")
def ed_pair():
    return generate_ed25519()


def post(pair, body: bytes = ACTIVITY, url: str = INBOX, now: datetime | None = None) -> dict[str, str]:
    return sign_request("POST", url, {"Content-Type": "application/activity+json"}, body, KEY_ID, pair.private_pem, now=now)


def reject(method: str, url: str, headers, key_pem: str, body: bytes | None, **kwargs) -> SignatureError:
    with pytest.raises(SignatureError) as err:
        verify_signature(parse_signature(method, url, headers), key_pem, body, **kwargs)
    return err.value


# --- Appendix C: the draft's own vectors (1024-bit key "Test") -----------------------


@pytest.mark.parametrize("vector", DRAFT["vectors"], ids=lambda v: v["name"])
def test_draft_appendix_c_vectors(vector: dict) -> None:
    """C.1 Default (date only), C.2 Basic, C.3 All Headers (see tests/data/signatures/README.md)."""
    request = DRAFT["request"]
    headers = dict(request["headers"], Signature=vector["signature"])
    parsed = parse_signature(request["method"], request["url"], headers)
    assert parsed.key_id == "Test" and parsed.bases[0].decode() == vector["signing_string"]
    assert verify_signature_value(parsed, DRAFT_KEY_PUB) == "rsa-v1_5-sha256"
    # RSASSA-PKCS1-v1_5 is deterministic: our signer reproduces the published header.
    covered = parsed.covered
    ours = sign_cavage("POST", request["url"], request["headers"], "Test", DRAFT_KEY, covered,
                       include_headers_param=vector["name"] != "C.1 Default Test")
    assert ours == vector["signature"]


def test_draft_vectors_under_full_policy() -> None:
    """C.3 signs (request-target), host, date and digest: accepted; C.1/C.2 lack required parts."""
    request = DRAFT["request"]
    body = request["body"].encode()
    by_name = {v["name"]: v["signature"] for v in DRAFT["vectors"]}
    headers = dict(request["headers"], Signature=by_name["C.3 All Headers Test"])
    verified = verify_signature(parse_signature("POST", request["url"], headers), DRAFT_KEY_PUB, body, now=DRAFT_NOW)
    assert verified.created == DRAFT_NOW and verified.scheme == "cavage"
    error = reject("POST", request["url"], dict(request["headers"], Signature=by_name["C.1 Default Test"]),
                   DRAFT_KEY_PUB, body, now=DRAFT_NOW)
    assert error.code == errors.MISSING_COMPONENT and "(request-target)" in error.reason
    error = reject("POST", request["url"], dict(request["headers"], Signature=by_name["C.2 Basic Test"]),
                   DRAFT_KEY_PUB, body, now=DRAFT_NOW)
    assert error.code == errors.MISSING_COMPONENT and "digest" in error.reason


# --- Signing as Mastodon does; round trips --------------------------------------------


def test_post_is_signed_like_mastodon(rsa_pair) -> None:
    now = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
    headers = post(rsa_pair, now=now)
    assert headers["Host"] == "remote.example"
    assert headers["Date"] == "Sun, 01 Mar 2026 12:00:05 GMT"
    assert headers["Digest"] == digest_header(ACTIVITY) and headers["Digest"].startswith("SHA-256=")
    signature = headers["Signature"]
    assert signature.startswith(f'keyId="{KEY_ID}",algorithm="rsa-sha256",'
                                'headers="(request-target) host date digest content-type",signature="')
    verified = verify_signature(parse_signature("POST", INBOX, headers), rsa_pair.public_pem, ACTIVITY, now=now)
    assert (verified.key_id, verified.algorithm, verified.created) == (KEY_ID, "rsa-v1_5-sha256", now)


def test_get_round_trip(rsa_pair) -> None:
    url = "https://remote.example/users/bob/outbox?page=true"
    headers = sign_request("GET", url, {"Accept": "application/activity+json"}, None, KEY_ID, rsa_pair.private_pem)
    assert "Digest" not in headers and 'headers="(request-target) host date accept"' in headers["Signature"]
    parsed = parse_signature("GET", url, headers)
    assert parsed.bases[0].startswith(b"(request-target): get /users/bob/outbox?page=true\n")
    verify_signature(parsed, rsa_pair.public_pem, None)


def test_header_containers_are_case_insensitive(rsa_pair) -> None:
    headers = post(rsa_pair)
    for container in (
        {k.lower(): v for k, v in headers.items()},
        {k.upper(): v for k, v in headers.items()},
        httpx.Headers(headers),
        Headers(headers=headers),
    ):
        verify_signature(parse_signature("POST", INBOX, container), rsa_pair.public_pem, ACTIVITY)


def test_authorization_header_form(rsa_pair) -> None:
    headers = post(rsa_pair)
    headers["Authorization"] = "Signature " + headers.pop("Signature")
    verify_signature(parse_signature("POST", INBOX, headers), rsa_pair.public_pem, ACTIVITY)


# --- Failures, each with its own reason -----------------------------------------------


def test_failures_have_distinct_reasons(rsa_pair, other_rsa) -> None:
    now = datetime.now(UTC)
    results: dict[str, SignatureError] = {}

    results["tampered body"] = reject("POST", INBOX, post(rsa_pair), rsa_pair.public_pem, ACTIVITY + b" ")
    tampered = post(rsa_pair)
    tampered["Content-Type"] = "text/plain"
    results["tampered header"] = reject("POST", INBOX, tampered, rsa_pair.public_pem, ACTIVITY)
    results["wrong key"] = reject("POST", INBOX, post(rsa_pair), other_rsa.public_pem, ACTIVITY)
    results["expired"] = reject("POST", INBOX, post(rsa_pair, now=now - timedelta(hours=2)), rsa_pair.public_pem, ACTIVITY)
    results["future"] = reject("POST", INBOX, post(rsa_pair, now=now + timedelta(minutes=10)), rsa_pair.public_pem, ACTIVITY)
    no_target = sign_request("POST", INBOX, {}, ACTIVITY, KEY_ID, rsa_pair.private_pem)
    no_target["Signature"] = sign_cavage("POST", INBOX, no_target, KEY_ID, rsa_pair.private_pem, ("host", "date", "digest"))
    results["no (request-target)"] = reject("POST", INBOX, no_target, rsa_pair.public_pem, ACTIVITY)
    no_digest = sign_request("POST", INBOX, {}, ACTIVITY, KEY_ID, rsa_pair.private_pem)
    no_digest["Signature"] = sign_cavage("POST", INBOX, no_digest, KEY_ID, rsa_pair.private_pem,
                                         ("(request-target)", "host", "date"))
    results["no digest"] = reject("POST", INBOX, no_digest, rsa_pair.public_pem, ACTIVITY)

    codes = {name: error.code for name, error in results.items()}
    assert codes == {
        "tampered body": errors.DIGEST_MISMATCH,
        "tampered header": errors.BAD_SIGNATURE,
        "wrong key": errors.BAD_SIGNATURE,
        "expired": errors.EXPIRED,
        "future": errors.FUTURE,
        "no (request-target)": errors.MISSING_COMPONENT,
        "no digest": errors.MISSING_COMPONENT,
    }
    assert "(request-target)" in results["no (request-target)"].reason
    assert "digest" in results["no digest"].reason
    assert "old" in results["expired"].reason and "future" in results["future"].reason
    distinct = {e.reason for k, e in results.items() if k not in ("tampered header", "wrong key")}
    assert len(distinct) == len(results) - 2


def test_max_age_is_configurable(rsa_pair) -> None:
    now = datetime.now(UTC)
    headers = post(rsa_pair, now=now - timedelta(hours=2))
    verify_signature(parse_signature("POST", INBOX, headers), rsa_pair.public_pem, ACTIVITY, max_age=3 * 3600)


def test_missing_and_malformed() -> None:
    assert reject("GET", INBOX, {"Date": "x"}, "", None).code == errors.MISSING_SIGNATURE
    for value in ['keyId="k",signature="not base64!"', 'algorithm="rsa-sha256",signature="AAAA"',
                  'keyId="k" signature="AAAA"', 'keyId="k",keyId="j",signature="AAAA"']:
        with pytest.raises(SignatureError) as err:
            parse_signature("GET", INBOX, {"Signature": value, "Date": http_date(datetime.now(UTC))})
        assert err.value.code == errors.MALFORMED, value
    with pytest.raises(SignatureError) as err:
        parse_signature("GET", INBOX, {"Signature": 'keyId="k",headers="(request-target) host date",signature="AAAA"'})
    assert err.value.code == errors.MISSING_HEADER and "date" in err.value.reason


# --- hs2019, Ed25519, (created)/(expires) ----------------------------------------------


def test_hs2019_with_rsa_and_ed25519(rsa_pair, ed_pair) -> None:
    """hs2019 (section 2.1.3): the key decides; RSA -> PKCS#1 v1.5 SHA-256 as Mastodon does."""
    covered = ("(request-target)", "host", "date", "digest")
    for pair, expected in ((rsa_pair, "rsa-v1_5-sha256"), (ed_pair, "ed25519")):
        headers = sign_request("POST", INBOX, {}, ACTIVITY, KEY_ID, pair.private_pem)
        headers["Signature"] = sign_cavage("POST", INBOX, headers, KEY_ID, pair.private_pem, covered, algorithm="hs2019")
        verified = verify_signature(parse_signature("POST", INBOX, headers), pair.public_pem, ACTIVITY)
        assert verified.algorithm == expected
        headers["Signature"] = headers["Signature"].replace('algorithm="hs2019",', "")  # absent = hs2019
        assert parse_signature("POST", INBOX, headers).algorithm is None
        assert verify_signature(parse_signature("POST", INBOX, headers), pair.public_pem, ACTIVITY).algorithm == expected
    ed_signed = sign_request("POST", INBOX, {}, ACTIVITY, KEY_ID, ed_pair.private_pem)
    assert 'algorithm="hs2019"' in ed_signed["Signature"]
    bad = ed_signed["Signature"].replace("hs2019", "rsa-sha256")
    assert reject("POST", INBOX, dict(ed_signed, Signature=bad), ed_pair.public_pem, ACTIVITY).code == errors.KEY_MISMATCH


def test_hs2019_rsa_pss(rsa_pair) -> None:
    """Later cavage drafts suggest RSASSA-PSS SHA-512 for hs2019 RSA keys: accepted too."""
    headers = sign_request("POST", INBOX, {}, ACTIVITY, KEY_ID, rsa_pair.private_pem)
    covered = "(request-target) host date digest"
    base = f"(request-target): post /users/bob/inbox\nhost: remote.example\ndate: {headers['Date']}\ndigest: {headers['Digest']}"
    key = load_pem_private_key(rsa_pair.private_pem.encode(), None)
    raw = key.sign(base.encode(), padding.PSS(padding.MGF1(hashes.SHA512()), 64), hashes.SHA512())
    headers["Signature"] = f'keyId="{KEY_ID}",algorithm="hs2019",headers="{covered}",signature="{base64.b64encode(raw).decode()}"'
    assert verify_signature(parse_signature("POST", INBOX, headers), rsa_pair.public_pem, ACTIVITY).algorithm == "rsa-pss-sha512"


def test_created_and_expires(ed_pair) -> None:
    """Section 2.3: (created)/(expires) instead of Date (PeerTube and others sign them)."""
    now = int(datetime.now(UTC).timestamp())
    covered = ("(request-target)", "(created)", "(expires)", "host", "digest")
    headers = {"Host": "remote.example", "Digest": digest_header(ACTIVITY)}
    headers["Signature"] = sign_cavage("POST", INBOX, headers, KEY_ID, ed_pair.private_pem, covered,
                                       created=now - 10, expires=now + 300)
    verified = verify_signature(parse_signature("POST", INBOX, headers), ed_pair.public_pem, ACTIVITY)
    assert verified.created == datetime.fromtimestamp(now - 10, UTC)
    headers["Signature"] = sign_cavage("POST", INBOX, headers, KEY_ID, ed_pair.private_pem, covered,
                                       created=now - 100, expires=now - 5)
    assert reject("POST", INBOX, headers, ed_pair.public_pem, ACTIVITY).code == errors.EXPIRED


# --- Peers: Mastodon by hand, GoToSocial -----------------------------------------------


def test_hand_built_mastodon_request(rsa_pair) -> None:
    """Headers exactly as Mastodon's ActivityPub::DeliveryWorker sends them, signed by hand."""
    date = http_date(datetime.now(UTC))
    digest = "SHA-256=" + base64.b64encode(__import__("hashlib").sha256(ACTIVITY).digest()).decode()
    signing_string = (
        "(request-target): post /users/bob/inbox\n"
        "host: remote.example\n"
        f"date: {date}\n"
        f"digest: {digest}\n"
        "content-type: application/activity+json"
    )
    key = load_pem_private_key(rsa_pair.private_pem.encode(), None)
    signature = base64.b64encode(key.sign(signing_string.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
    raw = [
        (b"host", b"remote.example"),
        (b"user-agent", b"http.rb/5.1.1 (Mastodon/4.3.0; +https://mastodon.example/)"),
        (b"date", date.encode()),
        (b"digest", digest.encode()),
        (b"content-type", b"application/activity+json"),
        (b"signature", (
            'keyId="https://mastodon.example/users/alice#main-key",algorithm="rsa-sha256",'
            f'headers="(request-target) host date digest content-type",signature="{signature}"'
        ).encode()),
    ]
    parsed = parse_signature("POST", "https://remote.example/users/bob/inbox", Headers(raw=raw))
    assert key_owner_hint(parsed.key_id) == "https://mastodon.example/users/alice"
    verified = verify_signature(parsed, rsa_pair.public_pem, ACTIVITY)
    assert verified.algorithm == "rsa-v1_5-sha256"


def test_gotosocial_main_key_and_query_less_path(rsa_pair) -> None:
    """GoToSocial: keyId .../main-key (no fragment); it may sign the path without the query."""
    key_id = "https://gts.example/users/carol/main-key"
    url = "https://remote.example/users/bob/outbox?page=true&min_id=1"
    headers = sign_request("GET", "https://remote.example/users/bob/outbox", {"Accept": "application/activity+json"},
                           None, key_id, rsa_pair.private_pem)
    parsed = parse_signature("GET", url, headers)
    assert len(parsed.bases) == 2 and key_owner_hint(key_id) == key_id
    assert verify_signature(parsed, rsa_pair.public_pem, None).key_id == key_id
    # ...and a fully signed query is still checked with the query.
    full = sign_request("GET", url, {}, None, key_id, rsa_pair.private_pem)
    verify_signature(parse_signature("GET", url, full), rsa_pair.public_pem, None)
    other = url.replace("min_id=1", "min_id=2")
    assert reject("GET", other, full, rsa_pair.public_pem, None).code == errors.BAD_SIGNATURE


# --- Interop with an independent implementation (httpsig) ------------------------------


def test_httpsig_verifies_our_signature(rsa_pair) -> None:
    headers = post(rsa_pair)
    required = ["(request-target)", "host", "date", "digest", "content-type"]
    ok = HeaderVerifier(headers, rsa_pair.public_pem, required_headers=required, method="POST",
                        path="/users/bob/inbox", sign_header="Signature").verify()
    assert ok is True
    bad = HeaderVerifier(headers, rsa_pair.public_pem, required_headers=required, method="POST",
                         path="/users/eve/inbox", sign_header="Signature").verify()
    assert bad is False


def test_we_verify_httpsig_signature(rsa_pair) -> None:
    headers = {"Host": "remote.example", "Date": http_date(datetime.now(UTC)), "Digest": digest_header(ACTIVITY),
               "Content-Type": "application/activity+json"}
    signer = httpsig.HeaderSigner(KEY_ID, rsa_pair.private_pem, algorithm="rsa-sha256",
                                  headers=["(request-target)", "host", "date", "digest"], sign_header="Signature")
    signed = dict(signer.sign(headers, method="POST", path="/users/bob/inbox?x=y"))
    url = "https://remote.example/users/bob/inbox?x=y"
    verified = verify_signature(parse_signature("POST", url, signed), rsa_pair.public_pem, ACTIVITY)
    assert verified.key_id == KEY_ID
    assert reject("POST", url, signed, rsa_pair.public_pem, b"{}").code == errors.DIGEST_MISMATCH


# --- httpx.Auth -----------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
def test_httpx_auth_signs_every_request(rsa_pair, scheme) -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        parsed = parse_signature(request.method, str(request.url), request.headers)
        seen.append(verify_signature(parsed, rsa_pair.public_pem, request.content or None))
        return httpx.Response(202)

    auth = HTTPSignatureAuth(KEY_ID, rsa_pair.private_pem, scheme=scheme)
    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        assert client.post(INBOX, content=ACTIVITY, headers={"Content-Type": "application/activity+json"}).status_code == 202
        assert client.get("https://remote.example/users/bob?x=1", headers={"Accept": "application/activity+json"}).status_code == 202
    assert [v.scheme for v in seen] == [scheme, scheme]
