"""Runs a WebSocket service's mission-critical tests in the mode the machine allows.

The flow, top to bottom: probe (``probes``), select (``selection``), start (``backends``),
run (``plugin``), report (``results``), gate (``gate``).
"""

from __future__ import annotations

__version__ = "0.1.0"
