"""The inbox under attack and under load: replayed signatures, first-contact races, a busy database.

Requests signed by independent implementations (``httpsig`` for draft-cavage,
``http-message-signatures`` for RFC 9421) for another server, then replayed to
us, are refused; many signed POSTs at once from an actor we have never seen
store it once; a database that stays locked answers 503 with ``Retry-After``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpsig
import httpx
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver
from http_message_signatures.algorithms import RSA_V1_5_SHA256

from activitypub.signatures import digest_header, http_date
from tests.federation import Instance
from tests.test_inbox import A_INBOX, a, assert_refused, b, client, counts, follow_of_alice, signer  # noqa: F401

OTHER_INBOX = "https://other.example/inbox"


# --- item 7: a request signed for another server ---------------------------------------


async def test_cavage_signature_for_another_host_is_refused(a: Instance, b: Instance) -> None:
    """httpsig signs ``(request-target) host date digest`` for other.example; replayed to a.example."""
    bob = await signer(b, "bob")
    body = json.dumps(follow_of_alice(bob.uri)).encode()
    headers = {"Host": "other.example", "Date": http_date(datetime.now(UTC)), "Digest": digest_header(body),
               "Content-Type": "application/activity+json"}
    signed = httpsig.HeaderSigner(bob.key_id, bob.private_key_pem, algorithm="rsa-sha256", sign_header="Signature",
                                  headers=["(request-target)", "host", "date", "digest", "content-type"])
    replayed = dict(signed.sign(headers, method="POST", path="/inbox"))
    before = await counts(a)
    response = await client(a).post(A_INBOX, content=body, headers=replayed)
    await assert_refused(a, response, 401, before, "made for host other.example, not for a.example")
    # The same signer, signing for us, is accepted: the refusal is about the host alone.
    headers["Host"] = "a.example"
    ok = await client(a).post(A_INBOX, content=body, headers=dict(signed.sign(headers, method="POST", path="/inbox")))
    assert ok.status_code == 202, ok.text


async def test_rfc9421_signature_for_another_authority_is_refused(a: Instance, b: Instance) -> None:
    """http-message-signatures signs ``@method @target-uri @authority`` for other.example; replayed to a.example."""
    bob = await signer(b, "bob")
    body = json.dumps(follow_of_alice(bob.uri)).encode()
    private = load_pem_private_key(bob.private_key_pem.encode(), password=None)
    resolver = MappingKeyResolver(public_keys={}, private_keys={bob.key_id: private})
    request = httpx.Request("POST", OTHER_INBOX, headers={"Content-Type": "application/activity+json"}, content=body)
    HTTPMessageSigner(signature_algorithm=RSA_V1_5_SHA256, key_resolver=resolver).sign(
        request, key_id=bob.key_id, label="sig1", body=body,
        covered_component_ids=("@method", "@target-uri", "@authority", "content-type"),
    )
    before = await counts(a)
    response = await client(a).post(A_INBOX, content=body, headers=dict(request.headers))
    await assert_refused(a, response, 401, before, "@target-uri and @authority taken from the URL it was received at")
