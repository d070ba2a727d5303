"""How tests reach a deployment: the URLs every mode hands back, whoever started it.

Below every package that uses it (``client``, ``probes``, ``backends``, ``pytest_plugin``), so
that none of them imports another for it. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Endpoints"]


@dataclass(frozen=True)
class Endpoints:
    """How tests reach a deployment. URLs carry no secrets."""

    ws_url: str
    http_url: str
    auth_url: str
    ca_bundle: Path | None = None
    # Facts for the report: image ids, container names, the in-process factory...
    details: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The form the ledger's ``deployment`` and the workers' shared records hold."""
        return {
            "ws_url": self.ws_url,
            "http_url": self.http_url,
            "auth_url": self.auth_url,
            "ca_bundle": str(self.ca_bundle) if self.ca_bundle else None,
            "details": dict(self.details),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Endpoints:
        ca_bundle = data.get("ca_bundle")
        return cls(
            ws_url=data["ws_url"],
            http_url=data["http_url"],
            auth_url=data["auth_url"],
            ca_bundle=Path(ca_bundle) if ca_bundle else None,
            details=dict(data.get("details", {})),
        )
