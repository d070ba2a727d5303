"""Runs a WebSocket service's mission-critical tests in the mode the machine allows.

The run, stage by stage: ``settings`` (with ``modes`` and ``profiles``) says what to run and
how; ``probes`` finds which modes can run here and selects one; ``backends`` starts the service
for that mode (in containers through ``engine``, in-process, or reached at staging); ``client``
talks to it; ``pytest_plugin`` runs the suite and records every test in a ledger; ``results``
merges the ledgers, gates the build and writes the reports; ``ci`` runs all of it in shards and
rounds. ``cli`` is ``python -m test_framework``; ``errors`` is the one exception tree.
"""

from __future__ import annotations

__version__ = "0.1.0"
