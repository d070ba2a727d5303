"""``python -m test_framework cleanup``: what runs left behind, in every mode that leaves something.

The Docker stacks of runs (``engine.cleanup``) and the local service process groups of minimal
mode (``process_records``). Here, above both, because the command spans both.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from test_framework.backends.process_records import end_leftovers
from test_framework.engine.cleanup import remove_everything, remove_orphans, remove_run
from test_framework.engine.docker_host import locate_daemon
from test_framework.settings import load_settings
from test_framework.settings_table import DOCKER_HOST


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--run-id",
        metavar="ID",
        help="remove everything of this run (and its private deployments), even if it is alive",
    )
    parser.add_argument(
        "--root",
        metavar="DIR",
        type=Path,
        default=None,
        help="the project whose report folder records minimal mode's service processes"
        " (default: the current folder)",
    )
    which.add_argument(
        "--all",
        action="store_true",
        help="remove every resource carrying the harness's labels, including live runs'",
    )


def run(args: argparse.Namespace) -> int:
    """Default: remove the stacks of runs whose owning process is gone, and end the local
    service process groups (minimal mode) such runs left behind."""
    _end_local_services(args)
    host = os.environ.get(DOCKER_HOST.env) or None
    search = locate_daemon(host, timeout=2.0)
    if search.found is None:
        print(f"nothing to clean: {search.explain()}")
        return 0
    if args.run_id:
        report = remove_run(args.run_id, host)
    elif args.all:
        report = remove_everything(host)
    else:
        report = remove_orphans(host)
    print(report.summary())
    return 1 if report.errors else 0


def _end_local_services(args: argparse.Namespace) -> None:
    """minimal mode's local services: each group a gone run recorded (all of one run with
    ``--run-id``, all recorded with ``--all``) ends, only while it still carries its marker."""
    settings = load_settings(args.root)
    if args.all:
        lines = end_leftovers(settings.report_dir, every=True)
    else:
        lines = end_leftovers(settings.report_dir, run_prefix=args.run_id or "")
    for line in lines:
        print(line)
