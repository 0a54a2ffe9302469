"""Public/private key loading and the signature algorithms we verify and make.

The algorithm a signature claims is only a hint: the key decides (RFC 9421
section 3.3.7; Mastodon treats ``hs2019`` this way), so an Ed25519 key is never
used for an RSA algorithm or the reverse.
"""

from __future__ import annotations

from typing import Union

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from . import errors
from .errors import SignatureError

PublicKey = Union[rsa.RSAPublicKey, ed25519.Ed25519PublicKey]
PrivateKey = Union[rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey]

MIN_RSA_BITS = 1024  # the draft-cavage test key is 1024-bit; Mastodon's are 2048

# Concrete algorithms (RFC 9421 names, plus draft-cavage's for RSA v1.5).
RSA_V1_5_SHA256 = "rsa-v1_5-sha256"
RSA_V1_5_SHA512 = "rsa-v1_5-sha512"
RSA_PSS_SHA512 = "rsa-pss-sha512"
ED25519 = "ed25519"

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)  # RFC 9421 3.3.1


def load_public_key(pem: str | bytes) -> PublicKey:
    """Load a SubjectPublicKeyInfo (``BEGIN PUBLIC KEY``) or PKCS#1 (``BEGIN RSA PUBLIC KEY``) PEM."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SignatureError(errors.BAD_KEY, f"cannot load the public key: {exc}") from exc
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise SignatureError(errors.BAD_KEY, f"RSA key of {key.key_size} bits is too small")
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise SignatureError(errors.BAD_KEY, f"unsupported key type {type(key).__name__}")


def load_private_key(pem: str | bytes) -> PrivateKey:
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        raise ValueError(f"unsupported private key type {type(key).__name__}")
    return key


def candidates(claimed: str | None, key: PublicKey) -> list[str]:
    """Concrete algorithms to try for a claimed algorithm (either scheme's names) and key.

    ``None``/``hs2019``: RSA -> v1.5 SHA-256 (what Mastodon does), then PSS SHA-512
    (what the later cavage drafts suggest); Ed25519 -> Ed25519.
    """
    is_rsa = isinstance(key, rsa.RSAPublicKey)
    name = (claimed or "hs2019").lower()
    if name == "hs2019":
        return [RSA_V1_5_SHA256, RSA_PSS_SHA512] if is_rsa else [ED25519]
    wanted = {
        "rsa-sha256": RSA_V1_5_SHA256,
        "rsa-v1_5-sha256": RSA_V1_5_SHA256,
        "rsa-sha512": RSA_V1_5_SHA512,
        "rsa-pss-sha512": RSA_PSS_SHA512,
        "ed25519": ED25519,
    }.get(name)
    if wanted is None:
        raise SignatureError(errors.UNSUPPORTED_ALGORITHM, f"unsupported signature algorithm {claimed!r}")
    if (wanted == ED25519) == is_rsa:
        kind = "RSA" if is_rsa else "Ed25519"
        raise SignatureError(errors.KEY_MISMATCH, f"algorithm {claimed!r} does not fit the {kind} key")
    return [wanted]


def verify_bytes(algorithm: str, key: PublicKey, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is ``algorithm``'s signature of ``message`` under ``key``."""
    try:
        if algorithm == ED25519 and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        elif algorithm == RSA_V1_5_SHA256 and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        elif algorithm == RSA_V1_5_SHA512 and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA512())
        elif algorithm == RSA_PSS_SHA512 and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, _PSS, hashes.SHA512())
        else:
            return False
    except InvalidSignature:
        return False
    return True


def sign_bytes(algorithm: str, key: PrivateKey, message: bytes) -> bytes:
    if algorithm == ED25519 and isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    if isinstance(key, rsa.RSAPrivateKey):
        if algorithm == RSA_V1_5_SHA256:
            return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        if algorithm == RSA_V1_5_SHA512:
            return key.sign(message, padding.PKCS1v15(), hashes.SHA512())
        if algorithm == RSA_PSS_SHA512:
            return key.sign(message, _PSS, hashes.SHA512())
    raise ValueError(f"cannot sign {algorithm!r} with a {type(key).__name__}")
