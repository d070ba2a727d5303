"""Around the run: the CI matrix and its renderings, and the monitor that reruns the suite.

Hands each CI job its mode and shard, and the monitor's history of rounds. Standard library
only.
"""

from __future__ import annotations

__all__ = ["matrix", "monitor", "renderers"]
