"""What earlier runs left in the report folder, which must never pass for a new run's results.

When a run of a mode starts, the mode's ``junit.xml`` (the gate wrote it from older ledgers)
and, unless sibling shards' results are kept beside it, its transcripts are removed, and the
folder's ``index.html`` is marked stale until the gate writes it again. Standard library only:
the noxfile calls it before any session has installed anything.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from test_framework.results.junit import JUNIT_NAME
from test_framework.results.matrix import TRANSCRIPTS_DIR
from test_framework.results.report_html import mark_stale
from test_framework.results.verdict import utc

INDEX_NAME = "index.html"


def clear_for_new_run(
    report_dir: Path, mode: str, run: str, started_at: float, *, keep_transcripts: bool
) -> None:
    """Remove what an earlier run of ``mode`` left beside its new ledger; mark the report stale.

    ``run`` names the new run for the report's banner, e.g. ``pytest run 20261130-ab12cd``.
    """
    mode_dir = report_dir / mode
    (mode_dir / JUNIT_NAME).unlink(missing_ok=True)
    transcripts = mode_dir / TRANSCRIPTS_DIR
    if not keep_transcripts and transcripts.is_dir():
        shutil.rmtree(transcripts)
    mark_stale(
        report_dir / INDEX_NAME,
        f"{run} started at {utc(started_at)} and writes new {mode} results into {report_dir};"
        " this page shows older ones. Run the gate to rebuild it: python -m test_framework"
        f" gate {report_dir} --reports {report_dir}",
    )
