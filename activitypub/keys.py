"""Key pairs for actors: RSA for HTTP signatures, Ed25519 for object proofs.

RSA-2048 stays mandatory because Mastodon verifies only RSA HTTP signatures;
Ed25519 keys are published as FEP-521a ``Multikey`` values for Data Integrity
proofs.  Keys travel as PEM (private) and PEM or multibase (public).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ED25519_PUB_MULTICODEC = b"\xed\x01"


@dataclass(frozen=True)
class KeyPair:
    """A generated key pair in the forms we store and publish."""

    algorithm: str  # "rsa" or "ed25519"
    private_pem: str
    public_pem: str
    public_multibase: str | None = None


def _pems(private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> tuple[str, str]:
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private_pem, public_pem


def generate_rsa(bits: int = 2048) -> KeyPair:
    """An RSA key pair for draft-cavage / RFC 9421 HTTP signatures (Mastodon uses 2048 bits)."""
    private_pem, public_pem = _pems(rsa.generate_private_key(public_exponent=65537, key_size=bits))
    return KeyPair("rsa", private_pem, public_pem)


def generate_ed25519() -> KeyPair:
    """An Ed25519 key pair for FEP-8b32 object proofs, with its FEP-521a multibase form."""
    key = ed25519.Ed25519PrivateKey.generate()
    private_pem, public_pem = _pems(key)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return KeyPair("ed25519", private_pem, public_pem, ed25519_public_multibase(raw))


def base58btc_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = _B58_ALPHABET[rem] + out
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + out


def base58btc_decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = _B58_ALPHABET.find(char)
        if index < 0:
            raise ValueError(f"not a base58btc character: {char!r}")
        number = number * 58 + index
    leading_zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * leading_zeros + body


def ed25519_public_multibase(raw_public_key: bytes) -> str:
    """``z`` + base58btc(0xed01 + key): the FEP-521a ``publicKeyMultibase`` of an Ed25519 key."""
    if len(raw_public_key) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return "z" + base58btc_encode(ED25519_PUB_MULTICODEC + raw_public_key)


def ed25519_public_from_did_key(method: str) -> tuple[str, bytes]:
    """``(did, raw 32-byte key)`` of an Ed25519 ``did:key`` verification method.

    ``did:key:z6Mk…`` or ``did:key:z6Mk…#z6Mk…`` (the fragment, when there is
    one, must repeat the key, as the did:key method specification derives it).
    The key is in the identifier itself: nothing is fetched.
    """
    if not method.startswith("did:key:"):
        raise ValueError("not a did:key")
    did, _, fragment = method.partition("#")
    value = did[len("did:key:") :]
    if fragment and fragment != value:
        raise ValueError("the did:key fragment does not name its own key")
    return did, ed25519_public_from_multibase(value)


def ed25519_public_from_multibase(value: str) -> bytes:
    """The raw 32-byte Ed25519 key inside a FEP-521a multibase value."""
    if not value.startswith("z"):
        raise ValueError("publicKeyMultibase must be base58btc ('z' prefix)")
    decoded = base58btc_decode(value[1:])
    if not decoded.startswith(ED25519_PUB_MULTICODEC) or len(decoded) != 34:
        raise ValueError("not an Ed25519 public key (multicodec 0xed01)")
    return decoded[2:]
