"""RFC 9421 HTTP Message Signatures: published vectors, policy, and interop with pyauth.

Section labels refer to RFC 9421 unless stated.  The independent implementation
is ``http-message-signatures`` (pyauth), which parses structured fields with
``http-sf``.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import http_sf
import httpx
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, InvalidSignature, MappingKeyResolver
from http_message_signatures.algorithms import ED25519, RSA_PSS_SHA512, RSA_V1_5_SHA256

from activitypub.keys import generate_ed25519, generate_rsa
from activitypub.signatures import (
    SignatureError,
    parse_signature,
    sign_request_rfc9421,
    verify_signature,
    verify_signature_value,
)
from activitypub.signatures import errors
from activitypub.signatures.sfv import parse_dictionary, serialize_dictionary

DATA = Path(__file__).parent / "data" / "signatures"
DOC = json.loads((DATA / "rfc9421-vectors.json").read_text())
VECTORS = {v["name"]: v for v in DOC["vectors"]}
BODY = b'{"hello": "world"}'
VECTOR_NOW = datetime.fromtimestamp(1618884480, UTC)


def pem(key: str, kind: str = "pub") -> str:
    return (DATA / f"{DOC['keys'].get(key, key)}.{kind}.pem").read_text()


def parse_vector(vector: dict, **changes) -> object:
    request = copy.deepcopy(vector["request"])
    request.update(changes)
    return parse_signature(request["method"], request["url"], request["headers"])


# --- Published vectors (Appendix B.2, sections 2.5/3.2, 4.3, B.4) -----------------


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_published_signature_verifies(name: str) -> None:
    """B.2.1-B.2.3 (rsa-pss-sha512), B.2.6 and B.4 (ed25519), 3.2 sig1, 4.3 proxy_sig (rsa-v1_5)."""
    vector = VECTORS[name]
    parsed = parse_vector(vector)
    assert parsed.scheme == "rfc9421" and parsed.label == name and parsed.key_id == vector["key"]
    if "signature_base" in vector:  # section 2.5: the exact signature base
        assert parsed.bases[0].decode() == vector["signature_base"]
    assert verify_signature_value(parsed, pem(vector["key"])) == vector["alg"]


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_published_signature_fails_with_another_key(name: str) -> None:
    vector = VECTORS[name]
    other = "test-key-rsa" if vector["key"] != "test-key-rsa" else "test-key-rsa-pss"
    with pytest.raises(SignatureError) as err:
        verify_signature_value(parse_vector(vector), pem(other))
    assert err.value.code in (errors.BAD_SIGNATURE, errors.KEY_MISMATCH)


def test_b22_tampered_query_param_fails() -> None:
    """B.2.2 covers "@query-param";name="Pet" (section 2.2.8): changing it breaks the signature."""
    vector = VECTORS["sig-b22"]
    parsed = parse_vector(vector, url="https://example.com/foo?param=Value&Pet=cat")
    with pytest.raises(SignatureError) as err:
        verify_signature_value(parsed, pem("test-key-rsa-pss"))
    assert err.value.code == errors.BAD_SIGNATURE


def test_b4_transformations() -> None:
    """Appendix B.4: reordering headers and adding unsigned ones keeps the signature valid."""
    vector = VECTORS["transform"]
    moved = dict(reversed(list(vector["request"]["headers"].items())))
    moved["Accept-Language"] = "en-US,en;q=0.5"
    parsed = parse_vector(vector, headers=moved, url="https://example.org/demo?name1=Value1&Name2=value2&param=added")
    assert verify_signature_value(parsed, pem("test-key-ed25519")) == "ed25519"
    for url, method in (("https://example.com/demo?name1=Value1&Name2=value2", "GET"),
                        ("https://example.org/demo?name1=Value1&Name2=value2", "POST")):
        headers = dict(vector["request"]["headers"], Host=url.split("/")[2])
        with pytest.raises(SignatureError):
            verify_signature_value(parse_vector(vector, url=url, method=method, headers=headers), pem("test-key-ed25519"))


def test_b26_and_proxy_sig_reproduced_byte_for_byte() -> None:
    """Ed25519 (B.2.6) and RSA v1.5 (section 4.3) are deterministic: our signer must match the RFC."""
    b26 = VECTORS["sig-b26"]["request"]
    plain = {k: v for k, v in b26["headers"].items() if not k.startswith("Signature")}
    out = sign_request_rfc9421(
        "POST", b26["url"], plain, BODY, "test-key-ed25519", pem("test-key-ed25519", "key"),
        created=1618884473, label="sig-b26", include_alg=False,
        components=("date", "@method", "@path", "@authority", "content-type", "content-length"),
    )
    assert out["Signature-Input"] == b26["headers"]["Signature-Input"]
    assert out["Signature"] == b26["headers"]["Signature"]

    proxy = VECTORS["proxy_sig"]["request"]
    plain = {k: v for k, v in proxy["headers"].items() if not k.startswith("Signature")}
    out = sign_request_rfc9421(
        "POST", proxy["url"], plain, BODY, "test-key-rsa", pem("test-key-rsa", "key"),
        created=1618884480, expires=1618884540, label="proxy_sig", alg="rsa-v1_5-sha256",
        components=("@method", "@authority", "@path", "content-digest", "content-type", "content-length", "forwarded"),
    )
    assert out["Signature-Input"] == proxy["headers"]["Signature-Input"]
    assert out["Signature"] == proxy["headers"]["Signature"]


# --- Verification policy (what Mastodon 4.5 also enforces) ---------------------------


def test_full_policy_accepts_b23_and_proxy_sig() -> None:
    """B.2.3 covers @method, @authority+@path and content-digest (sha-512, RFC 9530)."""
    for name in ("sig-b23", "proxy_sig"):
        verified = verify_signature(parse_vector(VECTORS[name]), pem(VECTORS[name]["key"]), BODY, now=VECTOR_NOW)
        assert verified.scheme == "rfc9421" and verified.key_id == VECTORS[name]["key"]
    assert verified.algorithm == "rsa-v1_5-sha256"
    assert verified.created == datetime.fromtimestamp(1618884480, UTC)


@pytest.mark.parametrize(
    ("name", "words"),
    [("sig-b21", "@method"), ("sig-b22", "@method"), ("sig-b26", "content-digest")],
)
def test_full_policy_requires_method_target_digest(name: str, words: str) -> None:
    """B.2.1/B.2.2 lack @method; B.2.6 signs a POST without content-digest."""
    vector = VECTORS[name]
    with pytest.raises(SignatureError) as err:
        verify_signature(parse_vector(vector), pem(vector["key"]), BODY, now=VECTOR_NOW)
    assert err.value.code == errors.MISSING_COMPONENT and words in err.value.reason


def test_full_policy_accepts_sig1() -> None:
    """Section 3.2 sig1 covers @method, @authority, @path and content-digest."""
    vector = VECTORS["sig1"]
    verify_signature(parse_vector(vector), pem(vector["key"]), BODY, now=VECTOR_NOW)


def test_proxy_sig_past_expires_is_refused() -> None:
    """Section 2.3 `expires`: proxy_sig expires at 1618884540."""
    parsed = parse_vector(VECTORS["proxy_sig"])
    with pytest.raises(SignatureError) as err:
        verify_signature(parsed, pem("test-key-rsa"), BODY, now=VECTOR_NOW + timedelta(minutes=2))
    assert err.value.code == errors.EXPIRED


def test_b23_tampered_body_is_a_digest_mismatch() -> None:
    with pytest.raises(SignatureError) as err:
        verify_signature(parse_vector(VECTORS["sig-b23"]), pem("test-key-rsa-pss"), b'{"hello": "world!"}', now=VECTOR_NOW)
    assert err.value.code == errors.DIGEST_MISMATCH


def test_several_signatures_first_label_is_used() -> None:
    """Section 4.3 shape: sig1 (client) and proxy_sig; we verify the first listed only."""
    proxy = VECTORS["proxy_sig"]["request"]
    headers = dict(proxy["headers"])
    headers["Signature-Input"] = VECTORS["sig-b26"]["request"]["headers"]["Signature-Input"] + ", " + headers["Signature-Input"]
    headers["Signature"] = VECTORS["sig-b26"]["request"]["headers"]["Signature"] + ", " + headers["Signature"]
    assert parse_signature("POST", proxy["url"], headers).label == "sig-b26"


# --- Our signer and verifier round trip; tampering ----------------------------------


@pytest.fixture(scope="module")
def rsa_pair():
    return generate_rsa()


@pytest.fixture(scope="module")
def ed_pair():
    return generate_ed25519()


INBOX = "https://remote.example/users/bob/inbox?x=1"
KEY_ID = "https://fedisora.example/users/alice#main-key"
ACTIVITY = b'{"type": "Create", "id": "https://fedisora.example/a/1"}'


def signed(pair, body=ACTIVITY, method="POST", **kwargs) -> dict[str, str]:
    headers = {"Content-Type": "application/activity+json"}
    return sign_request_rfc9421(method, INBOX, headers, body, KEY_ID, pair.private_pem, **kwargs)


def test_round_trip_rsa_matches_mastodon_profile(rsa_pair) -> None:
    """Mastodon 4.5: one signature, created, @method + @target-uri, Content-Digest, rsa-v1_5-sha256."""
    headers = signed(rsa_pair)
    assert headers["Content-Digest"].startswith("sha-256=:")
    assert headers["Signature-Input"].startswith('sig1=("@method" "@target-uri" "content-digest");created=')
    parsed = parse_signature("POST", INBOX, headers)
    assert parsed.covered == ("@method", "@target-uri", "content-digest")
    verified = verify_signature(parsed, rsa_pair.public_pem, ACTIVITY)
    assert (verified.key_id, verified.algorithm) == (KEY_ID, "rsa-v1_5-sha256")


@pytest.mark.parametrize("alg", ["rsa-pss-sha512", "ed25519", None])
def test_round_trip_other_algorithms(rsa_pair, ed_pair, alg) -> None:
    pair = ed_pair if alg == "ed25519" else rsa_pair
    headers = signed(pair, alg=alg, include_alg=alg is not None)
    verified = verify_signature(parse_signature("POST", INBOX, headers), pair.public_pem, ACTIVITY)
    assert verified.algorithm == (alg or "rsa-v1_5-sha256")


def test_get_without_body_drops_content_digest(rsa_pair) -> None:
    headers = signed(rsa_pair, body=None, method="GET")
    assert "Content-Digest" not in headers
    verify_signature(parse_signature("GET", INBOX, headers), rsa_pair.public_pem, None)


def test_authority_and_path_form_is_accepted(rsa_pair) -> None:
    headers = signed(rsa_pair, components=("@method", "@authority", "@path", "@query", "content-digest"))
    verify_signature(parse_signature("POST", INBOX, headers), rsa_pair.public_pem, ACTIVITY)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("body", errors.DIGEST_MISMATCH),
        ("method", errors.BAD_SIGNATURE),
        ("path", errors.BAD_SIGNATURE),
        ("created", errors.BAD_SIGNATURE),
        ("no-created", errors.MISSING_CREATED),
        ("alg-mismatch", errors.KEY_MISMATCH),
    ],
)
def test_tampering_fails(rsa_pair, change: str, code: str) -> None:
    headers = signed(rsa_pair)
    method, url, body = "POST", INBOX, ACTIVITY
    if change == "body":
        body = ACTIVITY.replace(b"Create", b"Delete")
    elif change == "method":
        method = "PUT"
    elif change == "path":
        url = INBOX.replace("/bob/", "/eve/")
    elif change == "created":
        created = int(headers["Signature-Input"].split("created=")[1].split(";")[0])
        headers["Signature-Input"] = headers["Signature-Input"].replace(f"created={created}", f"created={created - 1}")
    elif change == "no-created":
        headers["Signature-Input"] = headers["Signature-Input"].replace(";created=", ";x=")
    elif change == "alg-mismatch":
        headers["Signature-Input"] = headers["Signature-Input"].replace("rsa-v1_5-sha256", "ed25519")
    with pytest.raises(SignatureError) as err:
        verify_signature(parse_signature(method, url, headers), rsa_pair.public_pem, body)
    assert err.value.code == code, err.value.reason


def test_time_window(rsa_pair) -> None:
    now = datetime.now(UTC)
    old = signed(rsa_pair, created=now - timedelta(hours=2))
    with pytest.raises(SignatureError) as err:
        verify_signature(parse_signature("POST", INBOX, old), rsa_pair.public_pem, ACTIVITY)
    assert err.value.code == errors.EXPIRED and "old" in err.value.reason
    future = signed(rsa_pair, created=now + timedelta(minutes=30))
    with pytest.raises(SignatureError) as err:
        verify_signature(parse_signature("POST", INBOX, future), rsa_pair.public_pem, ACTIVITY)
    assert err.value.code == errors.FUTURE
    expired = signed(rsa_pair, expires=now - timedelta(seconds=1))
    with pytest.raises(SignatureError) as err:
        verify_signature(parse_signature("POST", INBOX, expired), rsa_pair.public_pem, ACTIVITY)
    assert err.value.code == errors.EXPIRED


def test_malformed_and_missing() -> None:
    with pytest.raises(SignatureError) as err:
        parse_signature("GET", INBOX, {"Accept": "*/*"})
    assert err.value.code == errors.MISSING_SIGNATURE
    for sig_input, sig in [
        ("sig1=(@method);created=1", "sig1=:AAAA:"),  # a token, not a string
        ('sig1=("@method");created=1', "sig1=AAAA"),  # not a byte sequence
        ('sig1=("@method");created=1', "sig1=:AAAA:"),  # no keyid
        ('sig1=("@method");created="1";keyid="k"', "sig1=:AAAA:"),  # created not an integer
        ('sig1=("@method" "@method");created=1;keyid="k"', "sig1=:AAAA:"),  # duplicate component
        ('sig2=("@method");created=1;keyid="k"', "sig1=:AAAA:"),  # labels do not match
    ]:
        with pytest.raises(SignatureError) as err:
            parse_signature("GET", INBOX, {"Signature-Input": sig_input, "Signature": sig})
        assert err.value.code == errors.MALFORMED, sig_input
    with pytest.raises(SignatureError) as err:
        parse_signature("GET", INBOX, {"Signature-Input": 'sig1=("accept");created=1;keyid="k"', "Signature": "sig1=:AAAA:"})
    assert err.value.code == errors.MISSING_HEADER


# --- Interop with an independent implementation (pyauth http-message-signatures) ----


PYAUTH_ALGS = {"rsa-v1_5-sha256": RSA_V1_5_SHA256, "rsa-pss-sha512": RSA_PSS_SHA512, "ed25519": ED25519}


@pytest.mark.parametrize("alg", sorted(PYAUTH_ALGS))
def test_pyauth_verifies_our_signature(rsa_pair, ed_pair, alg: str) -> None:
    pair = ed_pair if alg == "ed25519" else rsa_pair
    headers = signed(pair, alg=alg)
    request = httpx.Request("POST", INBOX, headers=headers, content=ACTIVITY)
    resolver = MappingKeyResolver(public_keys={KEY_ID: load_pem_public_key(pair.public_pem.encode())}, private_keys={})
    verifier = HTTPMessageVerifier(signature_algorithm=PYAUTH_ALGS[alg], key_resolver=resolver)
    [result] = verifier.verify(request, body=ACTIVITY, require_components=("@method", "@target-uri", "content-digest"))
    assert result.parameters["keyid"] == KEY_ID
    tampered = httpx.Request("POST", INBOX.replace("bob", "eve"), headers=headers, content=ACTIVITY)
    with pytest.raises(InvalidSignature):
        verifier.verify(tampered, body=ACTIVITY)


@pytest.mark.parametrize("alg", sorted(PYAUTH_ALGS))
def test_we_verify_pyauth_signature(rsa_pair, ed_pair, alg: str) -> None:
    pair = ed_pair if alg == "ed25519" else rsa_pair
    private = load_pem_private_key(pair.private_pem.encode(), password=None)
    resolver = MappingKeyResolver(public_keys={}, private_keys={KEY_ID: private})
    request = httpx.Request("POST", INBOX, headers={"Content-Type": "application/activity+json"}, content=ACTIVITY)
    HTTPMessageSigner(signature_algorithm=PYAUTH_ALGS[alg], key_resolver=resolver).sign(
        request, key_id=KEY_ID, label="pyhms", body=ACTIVITY,
        covered_component_ids=("@method", "@target-uri", "@authority", "content-type"),
    )
    parsed = parse_signature(request.method, str(request.url), request.headers)
    assert parsed.algorithm == alg and "content-digest" in parsed.covered
    verified = verify_signature(parsed, pair.public_pem, ACTIVITY)
    assert verified.algorithm == alg
    with pytest.raises(SignatureError):
        verify_signature(parsed, pair.public_pem, ACTIVITY + b" ")


@pytest.mark.parametrize(
    "text",
    [
        'sig1=("@method" "@target-uri" "content-digest");created=1618884473;keyid="a \\"b\\"";alg="ed25519"',
        'a=("x";key="y" "z";sf);p=?1, b=:AQID:;q=-12.5, c, d=tok/en:1;x',
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:,  sha-512=:AA==:",
        "x=()",
    ],
)
def test_sf_parser_agrees_with_http_sf(text: str) -> None:
    """RFC 8941 sections 4.1/4.2: our parse+serialize equals http-sf's canonical form."""
    ours = serialize_dictionary(parse_dictionary(text))
    theirs = http_sf.ser(http_sf.parse(text.encode(), tltype="dictionary"))
    assert ours == theirs
