"""The shape of ``instance.toml``: one pydantic model per section.

Every model forbids unknown keys, so a typo in the admin's file is an error
instead of a setting that silently does nothing.  Defaults keep features that
have not landed yet (generation, AI-content moderation) switched off.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_PREFIX_PART = re.compile(r"[A-Za-z0-9._-]+")
_HOST_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?$"
)


class Section(BaseModel):
    """Base of every section: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def split_host_port(domain: str) -> tuple[str, int | None]:
    """``"example.social:8443"`` -> ``("example.social", 8443)``; IPv6 literals stay whole."""
    if domain.startswith("["):
        host, _, rest = domain[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    host, sep, port = domain.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return domain, None


def is_loopback_domain(domain: str) -> bool:
    """True for ``localhost``, ``*.localhost`` and loopback IP literals (with or without a port)."""
    host, _ = split_host_port(domain.lower())
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class InstanceSection(Section):
    domain: str = Field(description="public host name (and port, if not 443/80) of this instance")
    name: str = "fedisora"
    description: str = "A fedisora instance: short videos, human and AI, on the fediverse."
    contact_email: str = ""
    languages: list[str] = Field(default_factory=lambda: ["en"])
    registrations: Literal["open", "closed", "approval"] = "closed"

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        value = value.strip().lower()
        if "://" in value or "/" in value:
            raise ValueError("a bare host name such as 'video.example.org' (no scheme, no path)")
        host, port = split_host_port(value)
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"a port between 1 and 65535, got {port}")
        try:
            ipaddress.ip_address(host)
            return value
        except ValueError:
            pass
        if not _HOST_RE.match(value):
            raise ValueError("a valid host name such as 'video.example.org' or 'localhost:8000'")
        return value

    @field_validator("contact_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and not re.match(r"^[^@\s]+@[^@\s]+$", value):
            raise ValueError("an e-mail address such as 'admin@example.org', or empty")
        return value

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        for code in value:
            if not re.match(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", code):
                raise ValueError(f"ISO 639 language codes such as 'en' or 'pt-BR', got {code!r}")
        return value


class ServerSection(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=2, ge=0, le=64, description="background job runners inside `serve`")
    job_lock_seconds: float = Field(
        default=30.0, ge=1.0, le=3600.0, description="a dead worker's jobs are taken up again after this"
    )
    scheme: Literal["https", "http"] = "https"
    public_url: str = Field(default="", description="base URL if not <scheme>://<domain>")
    data_dir: Path = Field(default=Path("."), description="relative to the config file")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not re.match(r"^https?://[^/\s]+$", value):
            raise ValueError("a base URL such as 'https://video.example.org' (no path)")
        return value


class DatabaseSection(Section):
    url: str = Field(default="", description="default sqlite+aiosqlite:///<data_dir>/fedisora.db")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not re.match(r"^(sqlite(\+aiosqlite)?|postgres(ql)?(\+asyncpg)?)://", value):
            raise ValueError(
                "a database URL starting with sqlite+aiosqlite:/// or postgresql+asyncpg://"
            )
        return value


class MediaSection(Section):
    storage_dir: Path = Field(default=Path("media"), description="relative to data_dir")
    max_image_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_video_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    max_video_seconds: float = Field(default=180.0, gt=0)
    max_video_long_side: int = Field(default=1920, ge=64, le=7680, description="1920 = 1080p")
    max_video_fps: float = Field(default=60.0, gt=0, le=240)
    unattached_hours: float = Field(default=24.0, gt=0, description="then unattached uploads go")
    # Remote media cache
    remote_cache: bool = True
    max_remote_bytes: int = Field(default=40 * 1024 * 1024, ge=1024)
    remote_domain_quota_bytes: int = Field(default=1024 * 1024 * 1024, ge=0)
    remote_cache_days: float = Field(default=7.0, gt=0)
    # Storage backend: the local disk, or an S3-compatible object store
    backend: Literal["local", "s3"] = "local"
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_public_url: str = Field(default="", description="base URL media are served from, if not /media")
    s3_prefix: str = Field(default="", description="key prefix inside the bucket, e.g. 'fedisora/'")

    @model_validator(mode="after")
    def _s3_complete(self) -> MediaSection:
        if self.backend == "s3" and not (self.s3_endpoint and self.s3_bucket):
            raise ValueError("backend = 's3' needs s3_endpoint and s3_bucket")
        return self

    @field_validator("s3_prefix")
    @classmethod
    def _s3_prefix_safe(cls, value: str) -> str:
        """``a/b`` → ``a/b/``: folders of letters, digits, ``.``, ``_`` and ``-``, never ``..``."""
        prefix = value.strip().strip("/")
        if not prefix:
            return ""
        parts = prefix.split("/")
        if len(prefix) > 200 or any(p in ("", ".", "..") or not _PREFIX_PART.fullmatch(p) for p in parts):
            raise ValueError(
                f"s3_prefix {value!r}: use folder names of letters, digits, '.', '_' and '-', separated by '/'"
            )
        return prefix + "/"


class FederationSection(Section):
    user_agent: str = Field(default="", description="default 'fedisora/<version> (+<base url>)'")
    connect_timeout: float = Field(default=10.0, gt=0, le=120)
    request_timeout: float = Field(default=30.0, gt=0, le=600)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="largest inbox POST")
    max_fetch_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(default=3, ge=0, le=10)
    per_host_concurrency: int = Field(default=4, ge=1, le=64)
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_factor: float = Field(default=2.0, ge=1.0)
    retry_max_seconds: float = Field(default=6 * 3600.0, gt=0, description="cap on one delay")
    retry_for_seconds: float = Field(default=48 * 3600.0, gt=0, description="then: unreachable")
    unreachable_retry_seconds: float = Field(default=24 * 3600.0, gt=0)
    signature_max_age: float = Field(default=3600.0, gt=0)
    signature_max_future: float = Field(default=300.0, ge=0)
    dev: bool = Field(default=False, description="allow http:// and loopback peers")


def parent_domains(host: str) -> list[str]:
    """``host`` itself and every domain above it: ``a.b.example:8443`` → itself, a.b.example, b.example, example."""
    name = split_host_port(host.lower())[0]
    labels = name.split(".")
    return list(dict.fromkeys([host.lower(), *(".".join(labels[i:]) for i in range(len(labels)))]))


def domain_covers(host: str, domains: list[str]) -> bool:
    """Whether ``host`` (with or without a port) is one of ``domains`` or a subdomain of one."""
    listed = set(domains)
    return any(candidate in listed for candidate in parent_domains(host))


class ModerationSection(Section):
    blocked_domains: list[str] = Field(default_factory=list)
    limited_domains: list[str] = Field(default_factory=list)
    ai_content: Literal["allow", "label", "hide", "reject"] = "allow"

    @field_validator("blocked_domains", "limited_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        cleaned = [d.strip().lower() for d in value]
        for domain in cleaned:
            if not domain or "/" in domain or " " in domain:
                raise ValueError(f"bare domain names such as 'spam.example', got {domain!r}")
        return cleaned

    def is_blocked(self, host: str) -> bool:
        """Blocking a domain blocks its subdomains too."""
        return domain_covers(host, self.blocked_domains)

    def is_limited(self, host: str) -> bool:
        return domain_covers(host, self.limited_domains)


class AttestationsSection(Section):
    trust_self: bool = Field(default=True, description="trust this instance's own attestations")
    trusted_issuers: list[str] = Field(
        default_factory=list, description="domains or actor URIs trusted for human attestations"
    )
    untrusted_display: Literal["unverified", "hidden"] = "unverified"
    account_validity_days: float = Field(default=365.0, gt=0)
    status_list_ttl_seconds: float = Field(default=300.0, ge=0)
    c2pa_cert: str = Field(default="", description="PEM certificate chain; default <data_dir>/c2pa/cert.pem")
    c2pa_key: str = Field(default="", description="PEM private key; default <data_dir>/c2pa/key.pem")

    @field_validator("trusted_issuers")
    @classmethod
    def _issuers(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip() for v in value]
        for issuer in cleaned:
            if not issuer or " " in issuer:
                raise ValueError(f"domain names or actor URIs, got {issuer!r}")
            if not issuer.startswith(("https://", "http://")):
                if "/" in issuer:
                    raise ValueError(f"a bare domain or a full actor URI, got {issuer!r}")
        return [v if v.startswith(("https://", "http://")) else v.lower() for v in cleaned]


class GenerationSection(Section):
    enabled: bool = False
    model: str = Field(default="", description="local path of a diffusers text-to-video model")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_seconds: float = Field(default=8.0, gt=0, le=120)
    max_concurrent: int = Field(default=1, ge=1, le=16)

    @model_validator(mode="after")
    def _model_when_enabled(self) -> GenerationSection:
        if self.enabled and not self.model:
            raise ValueError("model must name a local model directory when enabled = true")
        return self


class Config(Section):
    """A whole ``instance.toml``.  ``path`` is set by the loader, not read from the file."""

    instance: InstanceSection
    server: ServerSection = Field(default_factory=ServerSection)
    database: DatabaseSection = Field(default_factory=DatabaseSection)
    media: MediaSection = Field(default_factory=MediaSection)
    federation: FederationSection = Field(default_factory=FederationSection)
    moderation: ModerationSection = Field(default_factory=ModerationSection)
    attestations: AttestationsSection = Field(default_factory=AttestationsSection)
    generation: GenerationSection = Field(default_factory=GenerationSection)

    path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _dev_only_on_loopback(self) -> Config:
        if self.federation.dev and not is_loopback_domain(self.instance.domain):
            raise ValueError(
                f"federation.dev = true is only allowed for a loopback domain (localhost, 127.0.0.1); "
                f"instance.domain is {self.instance.domain!r}"
            )
        return self

    # ---- derived values: computed, never stored twice -------------------------------------

    @property
    def base_dir(self) -> Path:
        """The directory relative paths are resolved against: the config file's own."""
        return self.path.parent.resolve() if self.path else Path.cwd()

    @property
    def data_dir(self) -> Path:
        return (self.base_dir / self.server.data_dir).resolve()

    @property
    def media_dir(self) -> Path:
        return (self.data_dir / self.media.storage_dir).resolve()

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite+aiosqlite:///{self.data_dir / 'fedisora.db'}"

    @property
    def base_url(self) -> str:
        return self.server.public_url or f"{self.server.scheme}://{self.instance.domain}"

    def user_agent(self, version: str) -> str:
        return self.federation.user_agent or f"fedisora/{version} (+{self.base_url}/)"
