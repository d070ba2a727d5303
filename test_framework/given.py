"""A setting's raw value and where it was given, so an error can name the place to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from test_framework.errors import ConfigError
from test_framework.wording import quoted

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
        shown = quoted(self.value) if isinstance(self.value, str) else repr(self.value)
        return f"{self.name}={shown} ({self.origin})"


def in_pyproject(source: object, table: str) -> str:
    """The origin of a value read from ``[table]`` in the pyproject.toml at ``source``."""
    return f"{source} [{table}]"


_KINDS = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "a list",
    dict: "a table",
}


def typed(value: object, kind: type, where: str) -> Any:
    """``value`` from pyproject.toml as ``kind`` (an integer is a float too; a boolean is no
    number), or a one-line refusal naming ``where``."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigError(f"{where} must be {_KINDS.get(kind, kind.__name__)}, not {value!r}")
    return value
