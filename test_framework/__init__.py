"""Runs a WebSocket service's mission-critical tests in the mode the machine allows.

The run, stage by stage: ``settings`` (with ``modes``, ``mode_specs`` and ``profiles``) says
what to run and how; ``probes`` finds which modes can run here and selects one; ``backends``
starts the service for that mode (in containers through ``engine``, in-process, or reached at
staging); ``client`` talks to it; ``pytest_plugin`` runs the suite and records every test in a
ledger; ``results`` merges the ledgers, gates the build and writes the reports; ``ci`` runs all
of it in shards and rounds. ``cli`` is ``python -m test_framework``; ``errors`` is the one
exception tree.

Imports point one way, down this order; a package imports only those before it, never one
after it, not even inside a function (``tests/framework/test_import_cycles.py``):

1. the vocabulary, top-level modules that import only one another: ``errors``, ``wording``,
   ``interrupts``, ``settings_table``, ``given``, ``modes``, ``profiles``, ``service``,
   ``mode_specs`` (one record per mode; it names the mode's probe and backends, imported only
   when asked for), ``endpoints`` (how tests reach a deployment), ``launch`` (what minimal mode
   runs), ``sharding`` (which tests a shard keeps);
2. ``client`` (its ``redaction`` masks secrets for every layer above);
3. ``settings``;
4. ``engine`` and ``results``;
5. ``probes``;
6. ``backends`` and ``runners``;
7. ``pytest_plugin`` and ``ci``;
8. ``scaffold``; ``cli`` imports each command's module by name, only when chosen.
"""

from __future__ import annotations

__version__ = "0.1.0"
