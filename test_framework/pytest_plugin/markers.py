"""The plugin's markers, and the markers of each test as its report carries them."""

from __future__ import annotations

import pytest

MARKERS = {
    "mission_critical": "a test of the service's protocol that must run in at least one mode",
    "deployment_control": "needs control of the deployment (e.g. terminate and restart it);"
    " skipped, with the reason, in modes that give no such control",
}


def register_markers(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def record_markers(items: list[pytest.Item]) -> None:
    """Each test's markers as collected, in its ``user_properties`` (the ledger's record)."""
    for item in items:
        item.user_properties.append(("mc_markers", sorted({m.name for m in item.iter_markers()})))
