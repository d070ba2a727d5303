"""One cell of the CI matrix: a mode's nox session and which of its shards a job runs.

The matrix (``test_framework.ci.matrix``) builds the cells and the renderers
(``test_framework.ci.renderers``) write them out for each CI. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Cell:
    """One CI job: shard ``shard`` of ``of`` of the nox session ``session`` (mode ``mode``)."""

    session: str
    mode: str
    shard: int
    of: int

    @property
    def name(self) -> str:
        return f"{self.mode} {self.shard}/{self.of}"

    @property
    def label(self) -> str:
        """A name safe in paths and artifact names: ``minimal-2-of-4``."""
        return f"{self.mode}-{self.shard}-of-{self.of}"

    def to_json(self) -> dict[str, Any]:
        """The neutral form, a stable interface (docs/ci.md): these four keys, no others."""
        return {"session": self.session, "mode": self.mode, "shard": self.shard, "of": self.of}
