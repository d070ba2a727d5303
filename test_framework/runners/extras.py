"""The requirements an extra of the harness adds, for a runner to install next to ``install``."""

from __future__ import annotations

from collections.abc import Iterable

from packaging.requirements import Requirement

DISTRIBUTION = "mission-critical-harness"


def extra_requirements(requires: Iterable[str], extra: str) -> list[str]:
    """The requirement lines of ``requires`` (a distribution's metadata) that ``extra`` adds."""
    lines = []
    for text in requires:
        requirement = Requirement(text)
        marker = requirement.marker
        if marker is None or not marker.evaluate({"extra": extra}):
            continue
        if marker.evaluate({"extra": ""}):
            continue  # a requirement of every install, not of this extra
        requirement.marker = None
        lines.append(str(requirement))
    return lines
