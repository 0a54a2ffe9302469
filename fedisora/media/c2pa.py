"""Content credentials (C2PA) for videos, with ``c2pa-python``.

- :func:`sign_generated`: a clip this instance generated gets a manifest whose
  ``c2pa.actions`` say ``c2pa.created`` with the IPTC digital source type
  ``trainedAlgorithmicMedia`` and fedisora + the model as software agent;
- :func:`read_manifest`: what an uploaded file's embedded manifest says
  (:class:`ManifestSummary`), above all whether it declares AI generation
  anywhere in its provenance chain;
- :func:`resign_processed`: after the media pipeline transcoded or remuxed an
  upload (which drops the embedded manifest), sign the output with the original
  as ``parentOf`` ingredient and a ``c2pa.transcoded`` action, so the chain, and
  an AI declaration in it, survive (location assertions in the chain are
  redacted); :func:`redact_location` does the same for an upload kept as it
  is whose manifest holds a location; :func:`carry_credentials` decides, for
  the pipeline, which of them to do;
- :func:`load_signer` / :func:`create_instance_certificate`: the instance's
  signing certificate (``[attestations] c2pa_cert`` / ``c2pa_key``, by default
  ``<data_dir>/c2pa/cert.pem`` and ``key.pem``, made by ``fedisora init``).

Nothing here touches the network: signing uses no timestamp authority, and
reading never fetches remote manifests or OCSP responses.  All calls block
(they hash the whole file); run them in a worker thread from async code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
import struct
import tempfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .. import __version__
from ..attestations.vocabulary import AI_SOURCE_TYPES, IPTC_DIGITAL_SOURCE_TYPE

if TYPE_CHECKING:
    from instance_config import Config

log = logging.getLogger(__name__)

__all__ = [
    "AI_SOURCE_TYPES",
    "IPTC_SOURCE_TYPE",
    "C2paSigner",
    "CarriedCredentials",
    "CredentialsError",
    "carry_credentials",
    "ManifestSummary",
    "create_instance_certificate",
    "default_paths",
    "load_signer",
    "read_manifest",
    "resign_processed",
    "sign_capture",
    "sign_generated",
    "signer_from_pem",
    "summarize",
    "supports",
]

IPTC_SOURCE_TYPE = IPTC_DIGITAL_SOURCE_TYPE
SOFTWARE_NAME = "fedisora"
# The failure c2pa-rs reports for any certificate outside its trust list; it
# does not make a manifest invalid (validation_state stays "Valid").
UNTRUSTED = "signingCredential.untrusted"

_PARENT_LABEL = "parent"  # links the c2pa.opened action to its ingredient


class CredentialsError(Exception):
    """A C2PA certificate, key or signing problem, with a message for people."""


# ---- the signer -------------------------------------------------------------------------


@dataclass(frozen=True)
class C2paSigner:
    """This instance's C2PA signing credentials: PEM bytes only, safe to share between threads.

    A native ``c2pa.Signer`` is made for each signing (cheap) rather than kept.
    """

    cert_chain: bytes  # PEM, end-entity certificate first, then intermediates (and root)
    private_key: bytes = field(repr=False)  # PEM (PKCS#8 or traditional), unencrypted; never in logs
    alg: str  # es256 | es384 | es512 | ps256 | ps384 | ps512 | ed25519
    subject: str  # the end-entity certificate's subject, RFC 4514
    trust_anchor: bytes | None = None  # the chain's self-signed root, PEM, when it carries one

    def native(self) -> c2pa.Signer:
        info = c2pa.C2paSignerInfo(self.alg.encode(), self.cert_chain, self.private_key, None)
        try:
            return c2pa.Signer.from_info(info)
        except c2pa.C2paError as exc:
            raise CredentialsError(f"c2pa refused the signing certificate or key: {exc}") from exc


def default_paths(config: Config) -> tuple[Path, Path]:
    """The certificate chain and key paths ``config`` names (relative ones against the config file)."""
    section = config.attestations
    default_dir = config.data_dir / "c2pa"
    cert = Path(section.c2pa_cert) if section.c2pa_cert else default_dir / "cert.pem"
    key = Path(section.c2pa_key) if section.c2pa_key else default_dir / "key.pem"
    return (config.base_dir / cert).resolve(), (config.base_dir / key).resolve()


def load_signer(config: Config) -> C2paSigner | None:
    """The instance's signer, or None when no certificate is set up (the default path is absent).

    A certificate the admin named explicitly but that is missing, unreadable, or
    that does not match its key, is an error rather than silently no signing.
    """
    cert_path, key_path = default_paths(config)
    explicit = bool(config.attestations.c2pa_cert)
    if not cert_path.exists():
        if explicit:
            raise CredentialsError(f"[attestations] c2pa_cert: {cert_path} does not exist")
        return None
    if not key_path.exists():
        raise CredentialsError(f"[attestations] c2pa_key: {key_path} does not exist (certificate {cert_path})")
    try:
        return signer_from_pem(cert_path.read_bytes(), key_path.read_bytes())
    except CredentialsError as exc:
        raise CredentialsError(f"{cert_path}: {exc}") from exc


def signer_from_pem(cert_chain: bytes, private_key: bytes) -> C2paSigner:
    """Check a PEM chain and key and pick the signing algorithm from the key type."""
    try:
        certs = x509.load_pem_x509_certificates(cert_chain)
    except ValueError as exc:
        raise CredentialsError(f"not a PEM certificate chain: {exc}") from exc
    try:
        key = serialization.load_pem_private_key(private_key, password=None)
    except (ValueError, TypeError) as exc:
        raise CredentialsError(f"the private key is not an unencrypted PEM key: {exc}") from exc
    leaf = certs[0]
    public = key.public_key()
    if public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != (
        leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ):
        raise CredentialsError("the private key does not belong to the first certificate of the chain")
    alg = _alg_for(key)
    now = dt.datetime.now(dt.UTC)
    if leaf.not_valid_after_utc < now:
        raise CredentialsError(f"the certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d}")
    root = certs[-1]
    anchor = root.public_bytes(serialization.Encoding.PEM) if root.issuer == root.subject and len(certs) > 1 else None
    signer = C2paSigner(cert_chain, private_key, alg, leaf.subject.rfc4514_string(), anchor)
    _try_signing(signer)  # c2pa's own certificate checks, now rather than at the first video
    return signer


def _tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b"")


def _try_signing(signer: C2paSigner) -> None:
    """Sign a 1x1 PNG in memory: c2pa checks the certificate profile only when it signs."""
    definition = _manifest_definition(
        "probe.png",
        "image/png",
        [{"action": "c2pa.created", "digitalSourceType": IPTC_SOURCE_TYPE + "digitalCreation"}],
    )
    with _context() as context, signer.native() as native, c2pa.Builder(definition, context) as builder:
        try:
            builder.sign(native, "image/png", io.BytesIO(_tiny_png()), io.BytesIO())
        except c2pa.C2paError as exc:
            raise CredentialsError(
                f"c2pa cannot sign with this certificate ({exc}); it needs a CA-issued end-entity certificate "
                "with digitalSignature key usage and the emailProtection extended key usage"
            ) from exc


def _alg_for(key: Any) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curves = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name not in curves:
            raise CredentialsError(f"EC curve {key.curve.name} is not one C2PA signs with (P-256, P-384, P-521)")
        return curves[key.curve.name]
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise CredentialsError(f"a {type(key).__name__} cannot sign C2PA manifests (use EC P-256, Ed25519 or RSA)")


# ---- the instance certificate ----------------------------------------------------------


def create_instance_certificate(
    directory: Path, *, common_name: str, organization: str | None = None, years: int = 10
) -> tuple[Path, Path]:
    """Make ``cert.pem`` (chain) and ``key.pem`` (0600) in ``directory`` and return their paths.

    c2pa-rs rejects self-signed end-entity certificates, so this makes a small
    local CA (kept as ``ca.pem``; its key is thrown away) and an ES256 end-entity
    certificate with the profile C2PA asks for: digitalSignature key usage,
    emailProtection extended key usage, not a CA.  ``cert.pem`` holds the
    end-entity certificate then the CA.  Refuses to overwrite existing files.
    Without a timestamp authority a signature is judged against the certificate's
    validity when it is read, hence the long validity.
    """
    directory = Path(directory)
    cert_path, key_path, ca_path = directory / "cert.pem", directory / "key.pem", directory / "ca.pem"
    for path in (cert_path, key_path, ca_path):
        if path.exists():
            raise CredentialsError(f"{path} already exists; refusing to overwrite a C2PA certificate")
    org = organization or common_name
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    not_before = now - dt.timedelta(hours=1)
    not_after = now + dt.timedelta(days=365 * years)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} C2PA CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        _write_new(key_path, key_pem, 0o600)
        written.append(key_path)
        _write_new(cert_path, cert.public_bytes(pem) + ca_cert.public_bytes(pem), 0o644)
        written.append(cert_path)
        _write_new(ca_path, ca_cert.public_bytes(pem), 0o644)
        written.append(ca_path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return cert_path, key_path


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)  # whatever the umask said


# ---- reading ----------------------------------------------------------------------------


@dataclass
class ManifestSummary:
    """What an asset's C2PA manifest store says, reduced to what fedisora uses and shows."""

    present: bool
    valid: bool  # validation_state is Valid or Trusted: intact and correctly signed
    claim_generator: str | None
    digital_source_type: str | None  # the IPTC term's last segment, e.g. "trainedAlgorithmicMedia"
    ai_generated: bool  # some manifest in the chain declares an AI digital source type
    actions: list[str] = field(default_factory=list)  # the active manifest's, in order
    software_agents: list[str] = field(default_factory=list)
    title: str | None = None
    issuer: str | None = None  # the signing certificate's organization (c2pa's "issuer")
    validation_errors: list[str] = field(default_factory=list)  # failure codes, "code: explanation"
    trusted: bool = False  # signed by a certificate on a trust list we were given
    common_name: str | None = None  # the signing certificate's common name
    signed_at: str | None = None  # only with a timestamp authority
    validation_state: str | None = None  # c2pa's word: Invalid, Valid or Trusted
    ingredients: list[dict[str, Any]] = field(default_factory=list)  # title, relationship, ai_generated
    manifest_count: int = 0
    # JUMBF URIs of assertions, in any manifest of the store, that hold a location
    # (GPS, place names): what re-signing redacts, as the media pipeline strips
    # location from the file itself.
    location_assertions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def supports(mime_type: str) -> bool:
    """Whether c2pa can read and embed manifests in this type (MP4, MOV, AVI, images…; not WebM)."""
    return mime_type.split(";")[0].strip().lower() in c2pa.Builder.get_supported_mime_types()


def _context(trust_anchors: bytes | str | None = None) -> c2pa.Context:
    settings: dict[str, Any] = {
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
        "builder": {"thumbnail": {"enabled": False}},
    }
    if trust_anchors:
        anchors = trust_anchors.decode() if isinstance(trust_anchors, bytes) else trust_anchors
        settings["trust"] = {"user_anchors": anchors}
    return c2pa.Context(settings=c2pa.Settings.from_dict(settings))


def read_manifest(path: Path, mime_type: str, *, trust_anchors: bytes | str | None = None) -> ManifestSummary | None:
    """Summarize ``path``'s embedded C2PA manifest, or None when it has none (or c2pa cannot read the type).

    ``trust_anchors`` (PEM) are root certificates to trust (none by default): pass
    the instance's own (``signer.trust_anchor``) to see its clips as trusted.
    A manifest that is there but broken gives ``valid=False`` with the reasons.
    Manifests only referenced by URL (remote manifests) are not fetched: None.
    """
    mime = mime_type.split(";")[0].strip().lower()
    if mime not in c2pa.Reader.get_supported_mime_types():
        return None
    with _context(trust_anchors) as context, open(path, "rb") as stream:
        try:
            reader = c2pa.Reader(mime, stream, None, context)
        except c2pa.C2paError.ManifestNotFound:
            return None
        except c2pa.C2paError.NotSupported:
            return None
        except c2pa.C2paError as exc:
            if _no_manifest(exc) or not _has_c2pa_box(path):
                return None  # a broken file without credentials: the media checks deal with it
            return ManifestSummary(
                present=True,
                valid=False,
                claim_generator=None,
                digital_source_type=None,
                ai_generated=False,
                validation_errors=[f"unreadable manifest: {exc}"],
                validation_state="Invalid",
            )
        with reader:
            store = json.loads(reader.json())
    return summarize(store)


# The C2PA manifest store is a JUMBF superbox ("jumb") whose description box
# ("jumd") carries the label "c2pa"; in BMFF files it sits in a uuid box.
_C2PA_MARKERS = (b"jumd", b"c2pa")


def _has_c2pa_box(path: Path, chunk: int = 1 << 20) -> bool:
    """Whether the file carries something that looks like a C2PA manifest store at all."""
    tail = b""
    with open(path, "rb") as f:
        while block := f.read(chunk):
            data = tail + block
            at = data.find(_C2PA_MARKERS[0])
            while at != -1:
                if _C2PA_MARKERS[1] in data[at : at + 64]:
                    return True
                at = data.find(_C2PA_MARKERS[0], at + 1)
            tail = data[-64:]
    return False


def _no_manifest(exc: Exception) -> bool:
    text = str(exc).lower()
    return "no jumbf" in text or "manifestnotfound" in text.replace(" ", "")


def summarize(store: dict[str, Any]) -> ManifestSummary:
    """A :class:`ManifestSummary` from ``Reader.json()``'s manifest store."""
    manifests: dict[str, Any] = store.get("manifests") or {}
    active_label = store.get("active_manifest")
    active: dict[str, Any] = manifests.get(active_label) or {} if active_label else {}
    state = store.get("validation_state")

    actions = _actions(active)
    names = [str(a.get("action")) for a in actions if a.get("action")]
    agents: list[str] = []
    for action in actions:
        agent = _agent_name(action.get("softwareAgent"))
        if agent and agent not in agents:
            agents.append(agent)

    # An AI declaration anywhere in the chain wins; else the active manifest's, else the chain's.
    source_types = [t for t in (_source_type(a.get("digitalSourceType")) for a in actions) if t]
    source_types += _metadata_source_types(active)
    chain_types: list[str] = []
    for label, manifest in manifests.items():
        if label == active_label:
            continue
        chain_types += [t for t in (_source_type(a.get("digitalSourceType")) for a in _actions(manifest)) if t]
        chain_types += _metadata_source_types(manifest)
    all_types = source_types + chain_types
    ai_types = [t for t in all_types if t in AI_SOURCE_TYPES]
    digital_source_type = (ai_types or all_types or [None])[0]

    ingredients = []
    for ingredient in active.get("ingredients") or []:
        inner = manifests.get(ingredient.get("active_manifest") or "") or {}
        inner_types = [t for t in (_source_type(a.get("digitalSourceType")) for a in _actions(inner)) if t]
        ingredients.append(
            {
                "title": ingredient.get("title"),
                "format": ingredient.get("format"),
                "relationship": ingredient.get("relationship"),
                "has_manifest": bool(inner),
                "ai_generated": any(t in AI_SOURCE_TYPES for t in inner_types + _metadata_source_types(inner)),
            }
        )

    errors = []
    for status in store.get("validation_status") or []:
        code = status.get("code") or "unknown"
        if code == UNTRUSTED:
            continue
        explanation = status.get("explanation")
        errors.append(f"{code}: {explanation}" if explanation else code)

    locations = [
        f"self#jumbf=/c2pa/{label}/c2pa.assertions/{assertion['label']}"
        for label, manifest in manifests.items()
        for assertion in manifest.get("assertions") or []
        if _is_location(assertion)
    ]

    signature = active.get("signature_info") or {}
    return ManifestSummary(
        present=True,
        valid=state in ("Valid", "Trusted"),
        claim_generator=_claim_generator(active),
        digital_source_type=digital_source_type,
        ai_generated=bool(ai_types),
        actions=names,
        software_agents=agents,
        title=active.get("title"),
        issuer=signature.get("issuer"),
        validation_errors=errors,
        trusted=state == "Trusted",
        common_name=signature.get("common_name"),
        signed_at=signature.get("time"),
        validation_state=state,
        ingredients=ingredients,
        manifest_count=len(manifests),
        location_assertions=locations,
    )


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for assertion in manifest.get("assertions") or []:
        label = str(assertion.get("label", ""))
        if label.split("__")[0] in ("c2pa.actions", "c2pa.actions.v2"):
            data = assertion.get("data") or {}
            found += [a for a in data.get("actions") or [] if isinstance(a, dict)]
    return found


def _metadata_source_types(manifest: dict[str, Any]) -> list[str]:
    """Digital source types declared in metadata assertions (IPTC ``stds.iptc``, ``c2pa.metadata``…)."""
    found: list[str] = []

    def walk(value: Any, depth: int) -> None:
        if depth > 8:
            return
        if isinstance(value, dict):
            for key, inner in value.items():
                if isinstance(key, str) and key.split(":")[-1].lower() == "digitalsourcetype":
                    term = _source_type(inner.get("@id") if isinstance(inner, dict) else inner)
                    if term:
                        found.append(term)
                else:
                    walk(inner, depth + 1)
        elif isinstance(value, list):
            for inner in value:
                walk(inner, depth + 1)

    for assertion in manifest.get("assertions") or []:
        label = str(assertion.get("label", ""))
        if label.split("__")[0] in ("c2pa.actions", "c2pa.actions.v2"):
            continue
        walk(assertion.get("data"), 0)
    return found


_LOCATION_PARTS = ("gps", "location", "latitude", "longitude", "geotag")  # exif:GPSLatitude, LocationCreated…
_LOCATION_NAMES = {"geo", "city", "address", "streetaddress", "postalcode"}  # schema.org, Photoshop


def _is_location(assertion: dict[str, Any]) -> bool:
    """Whether a (non-action, non-hash) assertion carries location data in its keys."""
    label = str(assertion.get("label", ""))
    if not label or label.startswith(("c2pa.actions", "c2pa.hash", "c2pa.ingredient", "c2pa.thumbnail")):
        return False

    def walk(value: Any, depth: int) -> bool:
        if depth > 8:
            return False
        if isinstance(value, dict):
            for key, inner in value.items():
                name = str(key).split(":")[-1].lower()
                if name in _LOCATION_NAMES or any(part in name for part in _LOCATION_PARTS):
                    return True
                if walk(inner, depth + 1):
                    return True
        elif isinstance(value, list):
            return any(walk(inner, depth + 1) for inner in value)
        return False

    return walk(assertion.get("data"), 0)


def _source_type(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().rstrip("/").rsplit("/", 1)[-1] or None


def _agent_name(agent: Any) -> str | None:
    if isinstance(agent, str):
        return agent or None
    if isinstance(agent, dict) and agent.get("name"):
        version = agent.get("version")
        return f"{agent['name']} {version}" if version else str(agent["name"])
    return None


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    if manifest.get("claim_generator"):
        return str(manifest["claim_generator"])
    infos = manifest.get("claim_generator_info") or []
    parts = [_agent_name(info) for info in infos if isinstance(info, dict)]
    return ", ".join(p for p in parts if p) or None


# ---- signing ----------------------------------------------------------------------------


def sign_generated(
    src: Path,
    dst: Path,
    *,
    mime_type: str,
    model: str,
    model_digest: str | None,
    prompt_digest: str | None,
    instance: str,
    signer: C2paSigner,
    title: str | None = None,
) -> None:
    """Write ``src`` to ``dst`` with a manifest declaring it generated by ``model`` on this instance.

    The ``c2pa.created`` action carries ``digitalSourceType`` trainedAlgorithmicMedia,
    ``softwareAgent`` "fedisora (<model>)" and, as parameters, the model, its
    digest, the prompt's digest (never the prompt) and the instance.
    ``dst`` may be ``src``; it is replaced atomically.
    """
    parameters = {"model": model, "instance": instance}
    if model_digest:
        parameters["model_digest"] = model_digest
    if prompt_digest:
        parameters["prompt_digest"] = prompt_digest
    manifest = _manifest_definition(
        title or Path(dst).name,
        mime_type,
        [
            {
                "action": "c2pa.created",
                "digitalSourceType": IPTC_SOURCE_TYPE + "trainedAlgorithmicMedia",
                "softwareAgent": {"name": f"{SOFTWARE_NAME} ({model})", "version": __version__},
                "description": f"generated on {instance} by {model}",
                "parameters": parameters,
            }
        ],
    )
    _sign(manifest, src, dst, mime_type=mime_type, signer=signer)


def sign_capture(
    src: Path, dst: Path, *, mime_type: str, signer: C2paSigner, source_type: str = "digitalCapture"
) -> None:
    """Sign ``src`` as created without AI (``digitalCapture`` by default); for imports and tests."""
    manifest = _manifest_definition(
        Path(dst).name,
        mime_type,
        [
            {
                "action": "c2pa.created",
                "digitalSourceType": IPTC_SOURCE_TYPE + source_type,
                "softwareAgent": {"name": SOFTWARE_NAME, "version": __version__},
            }
        ],
    )
    _sign(manifest, src, dst, mime_type=mime_type, signer=signer)


def resign_processed(
    original: Path,
    processed: Path,
    dst: Path,
    *,
    mime_type: str,
    signer: C2paSigner,
    original_mime_type: str | None = None,
    action: str = "c2pa.transcoded",
    title: str | None = None,
    redact_location: bool = True,
    summary: ManifestSummary | None = None,
) -> None:
    """Sign ``processed`` into ``dst`` with ``original`` (and its manifest) as parent ingredient.

    The actions are ``c2pa.opened`` (the parent) then ``action`` (``c2pa.transcoded``
    for a re-encode, ``c2pa.repackaged`` for a remux, ``c2pa.edited`` for other changes).  When the
    original's manifest declares an AI digital source type, the new action repeats
    it, so a reader that looks only at the active manifest still sees it.
    ``original_mime_type`` defaults to ``mime_type``; an original c2pa cannot read
    (WebM…) becomes a plain ingredient without its own manifest.  Assertions of
    the original's manifests that hold a location are redacted (C2PA redaction:
    gone from the file, their removal recorded) unless ``redact_location`` is false.
    ``summary`` is the original's manifest when the caller has read it already
    (:func:`read_manifest`); ``None``: it is read here.
    """
    if action.split(".")[0] != "c2pa":
        raise ValueError(f"a c2pa.* action, got {action!r}")
    original_mime = (original_mime_type or mime_type).split(";")[0].strip().lower()
    if summary is None:
        summary = read_manifest(original, original_mime)
    step: dict[str, Any] = {
        "action": action,
        "softwareAgent": {"name": SOFTWARE_NAME, "version": __version__},
        "description": "processed for playback by fedisora",
    }
    if summary is not None and summary.ai_generated and summary.digital_source_type:
        step["digitalSourceType"] = IPTC_SOURCE_TYPE + summary.digital_source_type
    ingredient_title = Path(original).name
    manifest = _manifest_definition(
        title or Path(dst).name,
        mime_type,
        [
            {
                "action": "c2pa.opened",
                "softwareAgent": {"name": SOFTWARE_NAME, "version": __version__},
                "parameters": {"ingredientIds": [_PARENT_LABEL]},
            },
            step,
        ],
    )
    if redact_location and summary is not None and summary.location_assertions:
        _redact(manifest, summary.location_assertions)
    ingredient: dict[str, Any] = {"title": ingredient_title, "relationship": "parentOf", "label": _PARENT_LABEL}
    if original_mime in c2pa.Builder.get_supported_mime_types():
        ingredient_source: tuple[str, Path] | None = (original_mime, Path(original))
    else:  # described, not read: c2pa cannot parse the file
        ingredient_source = None
        manifest["ingredients"] = [{**ingredient, "format": original_mime}]
    _sign(manifest, processed, dst, mime_type=mime_type, signer=signer, parent=(ingredient, ingredient_source))


def _redact(manifest: dict[str, Any], uris: list[str]) -> None:
    """List ``uris`` as redacted, each with the ``c2pa.redacted`` action the C2PA spec asks for."""
    manifest["redactions"] = list(uris)
    actions = manifest["assertions"][0]["data"]["actions"]
    for uri in uris:
        actions.append(
            {
                "action": "c2pa.redacted",
                "reason": "c2pa.PII.present",
                "softwareAgent": {"name": SOFTWARE_NAME, "version": __version__},
                "parameters": {"redacted": uri},
            }
        )


def redact_location(
    original: Path, dst: Path, *, mime_type: str, signer: C2paSigner, summary: ManifestSummary | None = None
) -> bool:
    """Sign ``original``, unchanged, into ``dst`` with the location assertions of its chain redacted.

    For an upload the pipeline keeps as it is: its picture and sound are not
    touched, but its manifest would still tell where it was filmed.  The new
    manifest has ``original`` as parent ingredient, ``c2pa.opened`` then one
    ``c2pa.redacted`` action (reason ``c2pa.PII.present``) per assertion, which
    is gone from the file.  An AI declaration in the chain is repeated on the
    ``c2pa.opened`` action.  False (and nothing written) when there is nothing to redact.
    ``summary`` is ``original``'s manifest when the caller has read it already; ``None``:
    it is read here.
    """
    mime = mime_type.split(";")[0].strip().lower()
    if summary is None:
        summary = read_manifest(original, mime)
    if summary is None or not summary.location_assertions:
        return False
    opened: dict[str, Any] = {
        "action": "c2pa.opened",
        "softwareAgent": {"name": SOFTWARE_NAME, "version": __version__},
        "parameters": {"ingredientIds": [_PARENT_LABEL]},
    }
    if summary.ai_generated and summary.digital_source_type:
        opened["digitalSourceType"] = IPTC_SOURCE_TYPE + summary.digital_source_type
    manifest = _manifest_definition(summary.title or Path(dst).name, mime, [opened])
    _redact(manifest, summary.location_assertions)
    ingredient = {"title": Path(original).name, "relationship": "parentOf", "label": _PARENT_LABEL}
    _sign(manifest, original, dst, mime_type=mime, signer=signer, parent=(ingredient, (mime, Path(original))))
    return True


@dataclass
class CarriedCredentials:
    """What :func:`carry_credentials` did: the file to publish and what the upload's manifest said."""

    path: Path  # the processed file, or the re-signed copy of it
    summary: ManifestSummary | None  # the upload's own manifest (None: it had none)
    resigned: bool  # ``path`` carries a new manifest with the upload as parent ingredient
    lost: bool  # the upload had a manifest that the published file no longer carries


def carry_credentials(
    original: Path,
    original_mime_type: str,
    processed: Path,
    processed_mime_type: str,
    *,
    transcoded: bool,
    remuxed: bool,
    dst: Path,
    signer: C2paSigner | None,
) -> CarriedCredentials:
    """Keep an upload's content credentials through the media pipeline.

    ``transcoded`` / ``remuxed`` are :class:`~fedisora.media.processing.ProcessedMedia`'s.
    An upload without a manifest is left alone; an unchanged one keeps its
    manifest byte for byte, unless the manifest holds a location: then it is
    signed again into ``dst`` with those assertions redacted
    (:func:`redact_location`).  A changed one is re-signed into ``dst`` with
    ``original`` as parent (``c2pa.transcoded``, or ``c2pa.repackaged`` for a
    remux) when the instance has a signer, else the loss is reported.  The
    summary (``ai_generated`` above all) is the upload's, whatever happens.
    """
    summary = read_manifest(original, original_mime_type)
    if summary is None:
        return CarriedCredentials(Path(processed), summary, resigned=False, lost=False)
    if not (transcoded or remuxed):
        if summary.location_assertions and signer is not None and supports(processed_mime_type):
            # Unchanged: the processed file carries the upload's manifest, already read.
            redact_location(Path(processed), dst, mime_type=processed_mime_type, signer=signer, summary=summary)
            return CarriedCredentials(Path(dst), summary, resigned=True, lost=False)
        if summary.location_assertions:
            log.warning("C2PA manifest of %s holds a location and is kept: no signer to redact it", original)
        return CarriedCredentials(Path(processed), summary, resigned=False, lost=False)
    if signer is None or not supports(processed_mime_type):
        log.info("C2PA manifest of %s not carried over: %s", original, "no signer" if signer is None else "format")
        return CarriedCredentials(Path(processed), summary, resigned=False, lost=True)
    resign_processed(
        original,
        processed,
        dst,
        mime_type=processed_mime_type,
        original_mime_type=original_mime_type,
        signer=signer,
        action="c2pa.transcoded" if transcoded else "c2pa.repackaged",
        summary=summary,
    )
    return CarriedCredentials(Path(dst), summary, resigned=True, lost=False)


def _manifest_definition(title: str, mime_type: str, actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": SOFTWARE_NAME, "version": __version__}],
        "title": title,
        "format": mime_type,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
    }


def _sign(
    manifest: dict[str, Any],
    src: Path,
    dst: Path,
    *,
    mime_type: str,
    signer: C2paSigner,
    parent: tuple[dict[str, Any], tuple[str, Path] | None] | None = None,
) -> None:
    mime = mime_type.split(";")[0].strip().lower()
    if mime not in c2pa.Builder.get_supported_mime_types():
        raise CredentialsError(f"C2PA manifests cannot be embedded in {mime} files")
    dst = Path(dst)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".c2pa", dir=dst.parent)
    tmp = Path(tmp_name)
    try:
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(os.fdopen(fd, "w+b"))
            source = stack.enter_context(open(src, "rb"))
            context = stack.enter_context(_context())
            native = stack.enter_context(signer.native())
            builder = stack.enter_context(c2pa.Builder(manifest, context))
            if parent is not None:
                ingredient, ingredient_source = parent
                if ingredient_source is not None:
                    ingredient_mime, ingredient_path = ingredient_source
                    with open(ingredient_path, "rb") as parent_stream:
                        try:
                            builder.add_ingredient(ingredient, ingredient_mime, parent_stream)
                        except c2pa.C2paError as exc:
                            message = f"C2PA could not take {ingredient_path} as ingredient: {exc}"
                            raise CredentialsError(message) from exc
            try:
                builder.sign(native, mime, source, out)
            except c2pa.C2paError as exc:
                raise CredentialsError(f"C2PA signing failed: {exc}") from exc
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a video is no secret (as storage.FILE_MODE)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
