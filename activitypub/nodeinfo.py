"""NodeInfo 2.0 / 2.1 documents and their ``/.well-known/nodeinfo`` index.

Clients such as megalodon pick their API flavour from ``software.name``, so
the name must be stable; servers read ``usage`` for instance directories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_20 = "http://nodeinfo.diaspora.software/ns/schema/2.0"
SCHEMA_21 = "http://nodeinfo.diaspora.software/ns/schema/2.1"
SUPPORTED_VERSIONS = ("2.0", "2.1")
PROFILE = {"2.0": SCHEMA_20, "2.1": SCHEMA_21}


@dataclass(frozen=True)
class Usage:
    total_users: int
    active_month: int
    active_halfyear: int
    local_posts: int


@dataclass(frozen=True)
class Software:
    name: str
    version: str
    repository: str | None = None
    homepage: str | None = None


@dataclass(frozen=True)
class NodeInfo:
    software: Software
    usage: Usage
    open_registrations: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    protocols: tuple[str, ...] = ("activitypub",)

    def document(self, version: str = "2.1") -> dict[str, Any]:
        """The NodeInfo document for schema ``version`` ("2.0" or "2.1")."""
        if version not in PROFILE:
            raise ValueError(f"unsupported NodeInfo version {version!r}")
        software: dict[str, Any] = {"name": self.software.name, "version": self.software.version}
        if version == "2.1":
            if self.software.repository:
                software["repository"] = self.software.repository
            if self.software.homepage:
                software["homepage"] = self.software.homepage
        return {
            "version": version,
            "software": software,
            "protocols": list(self.protocols),
            "services": {"inbound": [], "outbound": []},
            "openRegistrations": self.open_registrations,
            "usage": {
                "users": {
                    "total": self.usage.total_users,
                    "activeMonth": self.usage.active_month,
                    "activeHalfyear": self.usage.active_halfyear,
                },
                "localPosts": self.usage.local_posts,
            },
            "metadata": self.metadata,
        }


def well_known_index(base_url: str) -> dict[str, Any]:
    """The ``/.well-known/nodeinfo`` JRD linking every supported schema version."""
    return {
        "links": [
            {"rel": PROFILE[v], "href": f"{base_url}/nodeinfo/{v}"} for v in SUPPORTED_VERSIONS
        ]
    }


def content_type(version: str) -> str:
    return f'application/json; profile="{PROFILE[version]}#"'
