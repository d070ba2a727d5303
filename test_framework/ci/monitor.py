"""``python -m test_framework monitor``: the coverage monitor teams run beside staging.

Each round probes every mode, runs the suite in a separate pytest process in the mode it may
use (``--mode``, else the settings' mode, else the best available), judges the round's ledger
with the gate's rules, appends one JSON line to the history and prints one status line.

A round is unhealthy when the mode asked for cannot run, when any gate rule fails (a test
failed or errored, a collection error, an interrupted or broken run, nothing executed), or with
``--strict`` also when a mission-critical test did not run in that round's mode. Without
``--strict`` such tests are counted in the status line but do not make the round unhealthy:
a staging deployment never runs the tests that need control of the deployment.

The exit status is 1 when any round was unhealthy, else 0; 2 for a usage error. It runs
``--max-runs`` rounds (forever without it). Ctrl-C stops it cleanly: the running pytest gets
one SIGINT (it runs in its own process group, so the terminal's does not reach it twice),
writes its ledger marked incomplete, the round is recorded as interrupted, and the exit status
is 130 unless an earlier round was unhealthy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from test_framework.errors import ConfigError, HarnessError, ModeUnavailableError
from test_framework.modes import ALL_MODES, Mode, parse_mode
from test_framework.probes.result import ProbeResult
from test_framework.probes.runner import probe_modes
from test_framework.probes.selection import select_mode
from test_framework.results import report_html
from test_framework.results.gate import evaluate
from test_framework.results.ledger import Outcome
from test_framework.results.matrix import SKIP_MARKER, build_matrix, load_ledgers
from test_framework.results.parity import compare
from test_framework.results.verdict import Rule, Verdict
from test_framework.runners.pipeline import pytest_argv
from test_framework.settings import Settings, load_settings
from test_framework.settings_table import SUITE

EXIT_HEALTHY = 0
EXIT_UNHEALTHY = 1
EXIT_INTERRUPTED = 130
DEFAULT_SUITE = SUITE.default
# After its SIGINT, pytest finishes the current test's teardown and writes its ledger.
GRACE_S = 60.0


@dataclass
class Round:
    number: int
    started_at: float
    mode: str | None = None
    reason: str = ""
    probes: dict[str, ProbeResult] = field(default_factory=dict)
    exit_status: int | None = None
    interrupted: bool = False
    verdict: Verdict | None = None
    problems: list[str] = field(default_factory=list)
    ended_at: float = 0.0

    @property
    def healthy(self) -> bool:
        return not self.problems and not self.interrupted

    def counts(self) -> dict[str, int]:
        if self.verdict is None:
            return {}
        totals: dict[str, int] = {}
        for run in self.verdict.matrix.modes:
            for outcome, count in run.counts().items():
                totals[outcome.value] = totals.get(outcome.value, 0) + count
        return totals

    def coverage(self) -> tuple[int, int]:
        """(mission-critical tests collected, of them executed) in this round."""
        if self.verdict is None:
            return 0, 0
        matrix = self.verdict.matrix
        mc = matrix.mission_critical
        ran = sum(1 for n in mc if any(c.outcome.executed for _, c in matrix.row(n)))
        return len(mc), ran

    def to_json(self) -> dict[str, Any]:
        collected, ran = self.coverage()
        return {
            "round": self.number,
            "started_at": round(self.started_at, 3),
            "ended_at": round(self.ended_at, 3),
            "healthy": self.healthy,
            "interrupted": self.interrupted,
            "mode": self.mode,
            "reason": self.reason,
            "probes": {
                mode: {
                    "available": p.available,
                    "reason": p.reason,
                    "elapsed_ms": round(p.elapsed_ms, 3),
                }
                for mode, p in self.probes.items()
            },
            "exit_status": self.exit_status,
            "counts": self.counts(),
            "mission_critical": {"collected": collected, "executed": ran},
            "problems": self.problems,
        }

    def status_line(self, max_runs: int | None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started_at))
        of = f"/{max_runs}" if max_runs else ""
        head = f"{stamp} round {self.number}{of} {self.mode or '-'}"
        state = "healthy" if self.healthy else "UNHEALTHY"
        if self.interrupted:
            state = "INTERRUPTED"
        counts = self.counts()
        parts = [
            f"{counts.get(o.value, 0)} {label}"
            for o, label in (
                (Outcome.PASSED, "passed"),
                (Outcome.FAILED, "failed"),
                (Outcome.ERROR, "errors"),
                (Outcome.SKIPPED, "skipped"),
            )
        ]
        collected, ran = self.coverage()
        text = f"{head} {state}: {', '.join(parts)}; mission-critical {ran}/{collected} ran"
        text += f" in {self.ended_at - self.started_at:.1f} s"
        if self.problems:
            first = self.problems[0]
            more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            text += f" | {first}{more}"
        return text


@dataclass
class Monitor:
    settings: Settings
    suite: str
    history: Path
    work_dir: Path
    mode: Mode | None
    strict: bool
    pytest_args: Sequence[str] = ()
    round_timeout_s: float = 3600.0
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    def probe(self, current: Round) -> Mode | None:
        results = probe_modes(self.settings, ALL_MODES)
        current.probes = {mode.value: result for mode, result in results.items()}
        try:
            selection = select_mode(self.mode, results)
        except ModeUnavailableError as exc:
            current.problems.append(f"{Rule.REQUIRED_MODE.value}: {exc}")
            return None
        current.mode, current.reason = selection.mode.value, selection.reason
        return selection.mode

    def command(self, mode: Mode, report_dir: Path) -> list[str]:
        command = pytest_argv(
            [sys.executable, "-m", "pytest"],
            self.settings,
            mode,
            self.suite,
            options=["--mc-report-dir", str(report_dir)],
            tail=["-q"],
            workers_given=any(a == "-n" or a.startswith("-n") for a in self.pytest_args),
        )
        return [*command, *self.pytest_args]

    def run_suite(self, current: Round, mode: Mode) -> None:
        report_dir = self.work_dir / "latest"
        shutil.rmtree(report_dir, ignore_errors=True)
        report_dir.mkdir(parents=True)
        # Keep the rounds out of `gate reports`: they are judged one at a time, here.
        (self.work_dir / SKIP_MARKER).touch()
        log = (report_dir / "pytest.log").open("w", encoding="utf-8")
        with log:
            child = subprocess.Popen(
                self.command(mode, report_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.settings.root,
                env=self.env,
                start_new_session=True,  # the terminal's Ctrl-C reaches us, not it
            )
            try:
                current.exit_status = child.wait(timeout=self.round_timeout_s)
            except subprocess.TimeoutExpired:
                current.problems.append(f"the round took over {self.round_timeout_s:.0f} s")
                current.exit_status = stop(child)
            except KeyboardInterrupt:
                current.interrupted = True
                current.exit_status = stop(child)
                raise
            finally:
                self.judge(current, report_dir)

    def judge(self, current: Round, report_dir: Path) -> None:
        try:
            matrix = build_matrix(load_ledgers([report_dir]))
        except HarnessError as exc:
            current.problems.append(f"no readable ledger: {exc}")
            return
        verdict = evaluate(matrix)
        current.verdict = verdict
        for problem in verdict.problems:
            if problem.rule is Rule.RAN_NOWHERE and not self.strict:
                continue
            current.problems.append(f"{problem.rule.value}: {problem.subject}: {problem.message}")
        if not matrix.ledgers:
            return
        report_html.write(verdict, compare(matrix), report_dir / "index.html")
        if not current.healthy:
            kept = self.work_dir / "last-unhealthy"
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(report_dir, kept)

    def round(self, number: int) -> Round:
        current = Round(number, time.time())
        try:
            mode = self.probe(current)
            if mode is not None:
                self.run_suite(current, mode)
        finally:
            current.ended_at = time.time()
            self.record(current)
        return current

    def record(self, current: Round) -> None:
        """One JSON line per round, written whole and synced: a reader never sees half."""
        self.history.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(current.to_json(), separators=(",", ":")) + "\n"
        with self.history.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())


def stop(child: subprocess.Popen[bytes]) -> int:
    """SIGINT (pytest writes its ledger, marked incomplete), then SIGTERM, then SIGKILL."""
    for sig, wait_s in ((signal.SIGINT, GRACE_S), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        if child.poll() is not None:
            break
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            break
        try:
            child.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt:
            continue  # a second Ctrl-C hurries us to the next, harder signal
    return child.wait()


def positive(kind: type[int] | type[float], name: str, minimum: float) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} {text!r} is not a number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be at least {minimum:g}")
        return value

    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--interval",
        type=positive(float, "--interval", 0),
        required=True,
        metavar="S",
        help="seconds from the start of one round to the start of the next",
    )
    p.add_argument(
        "--max-runs",
        type=positive(int, "--max-runs", 1),
        metavar="K",
        help="stop after K rounds (default: run until Ctrl-C)",
    )
    p.add_argument(
        "--mode", help="the mode every round uses (default: the settings' mode, else auto)"
    )
    p.add_argument("--suite", default=DEFAULT_SUITE, help=f"tests to run ({DEFAULT_SUITE})")
    p.add_argument(
        "--history",
        type=Path,
        help="JSON-lines history (default: <report_dir>/monitor/history.jsonl)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="a mission-critical test that did not run makes the round unhealthy",
    )
    p.add_argument(
        "--round-timeout",
        type=positive(float, "--round-timeout", 1),
        default=3600.0,
        metavar="S",
        help="stop a round's pytest after S seconds (the round is unhealthy)",
    )
    p.add_argument(
        "pytest_args", nargs="*", help="after --: extra pytest arguments, e.g. -- -k token"
    )


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    mode = settings.mode if args.mode is None else parse_mode(args.mode)
    if not (settings.root / args.suite).exists():
        raise ConfigError(f"--suite {args.suite}: not found under {settings.root}")
    work_dir = settings.report_dir / "monitor"
    monitor = Monitor(
        settings=settings,
        suite=args.suite,
        history=args.history or work_dir / "history.jsonl",
        work_dir=work_dir,
        mode=mode,
        strict=args.strict,
        pytest_args=tuple(args.pytest_args),
        round_timeout_s=args.round_timeout,
    )
    unhealthy = 0
    number = 0
    try:
        while args.max_runs is None or number < args.max_runs:
            number += 1
            current = monitor.round(number)
            print(current.status_line(args.max_runs), flush=True)
            unhealthy += not current.healthy
            if args.max_runs is not None and number >= args.max_runs:
                break
            time.sleep(max(0.0, current.started_at + args.interval - time.time()))
    except KeyboardInterrupt:
        print(
            f"monitor: interrupted in round {number}; {unhealthy} earlier round(s) unhealthy;"
            f" history: {monitor.history}",
            flush=True,
        )
        return EXIT_UNHEALTHY if unhealthy else EXIT_INTERRUPTED
    print(f"monitor: {number} round(s), {unhealthy} unhealthy; history: {monitor.history}")
    return EXIT_UNHEALTHY if unhealthy else EXIT_HEALTHY


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m test_framework monitor")
    add_arguments(p)
    try:
        return run(p.parse_args(argv))
    except HarnessError as exc:
        print(f"monitor: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
