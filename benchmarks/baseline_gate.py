"""The gate over ledgers of 10,000 tests with a baseline of those 10,000, beside the same gate
without one (``run_all.py --only baseline``); target: at most 50 ms more.

Each repetition times, in this process, what ``python -m test_framework gate`` does after
start-up: read the ledgers, build the matrix, judge it, render the table and the verdict; the
baseline side also reads the baseline file and judges it. The two sides alternate which goes
first. The ledgers are two modes that ran every test (``minimal`` and ``docker_local``) and a
skipped ``staging_fallback``; every shape the rule reads is there: the run's selection, one
baseline test gone, one not in the baseline.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.figures import Figure, median, paired_differences, with_range
from test_framework.results import baseline as baselines
from test_framework.results import gate
from test_framework.results.ledger import (
    Ledger,
    Outcome,
    RunStatus,
    Selection,
    TestRecord,
    collected_digest,
    ledger_path,
    skipped_ledger,
    write_ledger,
)
from test_framework.results.matrix import build_matrix

TESTS = 10_000
TARGET_S = 0.050
TRIES = 3
SUITE = "tests/mission_critical"


def nodeids() -> list[str]:
    return [f"{SUITE}/test_file_{i // 50}.py::test_case_{i}" for i in range(TESTS)]


def write_inputs(folder: Path) -> tuple[Path, Path]:
    """The report folder and the baseline file."""
    ids = nodeids()
    # One baseline test no mode collected, one collected test the baseline lacks.
    ran = [*ids[1:], f"{SUITE}/test_new.py::test_new"]
    records = tuple(
        TestRecord(n, Outcome.PASSED, ("mission_critical",), duration_s=0.01) for n in ran
    )
    reports = folder / "reports"
    for mode in ("minimal", "docker_local"):
        led = Ledger(
            run_id=f"bench-{mode}",
            mode=mode,
            status=RunStatus.RAN,
            reason="bench",
            started_at=1_700_000_000.0,
            ended_at=1_700_000_100.0,
            complete=True,
            exit_status=0,
            tests=records,
            collected_count=len(ran),
            collected_sha256=collected_digest(ran),
            selection=Selection(paths=(SUITE,), suite=SUITE),
        )
        write_ledger(led, ledger_path(reports, mode))
    skipped = skipped_ledger("staging_fallback", "no staging deployment configured")
    write_ledger(
        dataclasses.replace(skipped, started_at=1_700_000_000.0),
        ledger_path(reports, "staging_fallback"),
    )
    path = folder / "BASELINE"
    baselines.write_baseline(path, ids)
    return reports, path


def one_gate(reports: Path, baseline_path: Path | None) -> float:
    began = time.perf_counter()
    reading = gate.read_paths([reports])
    matrix = build_matrix(reading.ledgers)
    base = None if baseline_path is None else baselines.read_baseline(baseline_path)
    verdict = gate.evaluate(matrix, (), reading.problems, base)
    gate.render_table(verdict)
    gate.render_verdict(verdict)
    elapsed = time.perf_counter() - began
    expected = 1 if baseline_path is not None else 0
    missing = sum(p.rule is gate.Rule.MISSING_TEST for p in verdict.problems)
    assert missing == expected, f"the bench's gate found {missing} missing tests"
    return elapsed


def judging_alone(reports: Path, baseline_path: Path) -> float:
    """Only what the baseline adds: reading the file, judging it, its coverage line."""
    matrix = build_matrix(gate.read_paths([reports]).ledgers)
    began = time.perf_counter()
    judged = baselines.judge(baselines.read_baseline(baseline_path), matrix)
    judged.coverage_line()
    return time.perf_counter() - began


def bench(reps: int, scratch: Path, progress: Callable[[str], None]) -> list[Figure]:
    """Each sample is the least of ``TRIES`` runs, the two sides interleaved: on a shared
    machine a single gate run of ~1 s varies by more than the 50 ms the target allows."""
    section = "baseline"
    folder = scratch / "baseline-gate"
    folder.mkdir(parents=True, exist_ok=True)
    reports, path = write_inputs(folder)
    without: list[float] = []
    with_baseline: list[float] = []
    alone: list[float] = []
    one_gate(reports, path)  # warm the page cache and the imports
    for rep in range(reps):
        progress(f"baseline: gate over {TESTS} tests, repetition {rep + 1}/{reps}")
        plain, based = [], []
        for attempt in range(TRIES):
            if (rep + attempt) % 2:
                based.append(one_gate(reports, path))
                plain.append(one_gate(reports, None))
            else:
                plain.append(one_gate(reports, None))
                based.append(one_gate(reports, path))
        without.append(min(plain))
        with_baseline.append(min(based))
        alone.append(min(judging_alone(reports, path) for _ in range(TRIES)))
    differences = paired_differences(with_baseline, without)
    extra = median(differences)
    low, high = min(differences), max(differences)
    target = f"at most +{TARGET_S * 1000:.0f} ms"
    return [
        Figure(
            section, f"gate over 2 modes x {TESTS} tests, no baseline", with_range(without, "ms")
        ),
        Figure(section, f"the same with a {TESTS}-test baseline", with_range(with_baseline, "ms")),
        Figure(
            section,
            "what the baseline adds (paired)",
            f"{extra * 1000:+.1f} ms ({low * 1000:+.1f} to {high * 1000:+.1f})",
            target,
            extra <= TARGET_S,
        ),
        Figure(
            section,
            "reading and judging the baseline alone",
            with_range(alone, "ms"),
            target,
            median(alone) <= TARGET_S,
        ),
    ]
