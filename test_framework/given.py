"""A setting's raw value and where it was given, so an error can name the place to fix it."""

from __future__ import annotations

from dataclasses import dataclass

ENVIRONMENT = "environment"
OPTION = "option"
DEFAULT = "default"


@dataclass(frozen=True)
class Given:
    """``name`` as the user wrote it (``MC_CONNECT_TIMEOUT_S``, ``--mc-mode``, ``workers``);
    ``origin`` is ``environment``, ``option``, ``default`` or ``<pyproject.toml> [table]``."""

    name: str
    value: object
    origin: str

    @property
    def text(self) -> str:
        if isinstance(self.value, list):
            return ",".join(str(item) for item in self.value)
        return str(self.value)

    def __str__(self) -> str:
        return f"{self.name}={self.value!r} ({self.origin})"


def in_pyproject(source: object, table: str) -> str:
    """The origin of a value read from ``[table]`` in the pyproject.toml at ``source``."""
    return f"{source} [{table}]"
