"""The execution modes and how a user names them."""

from __future__ import annotations

import enum

from test_framework.errors import ConfigError


class Mode(enum.StrEnum):
    """Where the service under test runs. The order is ``auto``'s order of preference."""

    DOCKER_LOCAL = "docker_local"
    STAGING_FALLBACK = "staging_fallback"
    MINIMAL = "minimal"


AUTO = "auto"
ALL_MODES: tuple[Mode, ...] = tuple(Mode)

# The nox tag of the mode sessions, by which ci_matrix finds them in `nox -l --json`. The gate
# session carries it too (so `nox -t mission_critical` selects the gate with them) and GATE_TAG:
# it judges the cells and is not one.
SESSION_TAG = "mission_critical"
GATE_TAG = "gate"


def parse_mode(text: str, *, allow_auto: bool = True) -> Mode | None:
    """Return the mode named by ``text``; ``None`` means ``auto``."""
    name = text.strip().lower()
    if allow_auto and name == AUTO:
        return None
    try:
        return Mode(name)
    except ValueError:
        choices = ", ".join([*ALL_MODES, *([AUTO] if allow_auto else [])])
        raise ConfigError(f"unknown mode {text!r}: use one of {choices}") from None


def parse_mode_list(text: str) -> tuple[Mode, ...]:
    """Parse a comma list such as ``MC_REQUIRED_MODES`` ("minimal,docker_local")."""
    modes: list[Mode] = []
    for part in text.split(","):
        if not part.strip():
            continue
        mode = parse_mode(part, allow_auto=False)
        assert mode is not None
        if mode not in modes:
            modes.append(mode)
    return tuple(modes)
