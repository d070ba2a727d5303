"""The coverage gate: did every mission-critical test run somewhere, and did everything pass?

``python -m test_framework gate [files or folders]`` merges ledgers from any number of modes and
shards and fails the build (exit 1) when

- a test failed or errored in any mode;
- a mission-critical test ran in no mode (skipped, or not collected, everywhere);
- a required mode (``--required``, else ``MC_REQUIRED_MODES``, else ``required_modes`` in
  ``[tool.test_framework]``) executed no test;
- a collection error occurred anywhere, or a run errored, or a ledger is incomplete;
- the shards of a mode disagree about the set of tests, or one is missing;
- no ledger was found, or no mission-critical test executed at all;
- a folder given holds no ledger, or a ledger file is empty, or (``--invocation``) a ledger
  was written by another command than the one being judged: a run that left no ledger of
  its own;
- a mode ran and recorded no test at all;
- a ledger's code is not this checkout's: its fingerprint differs from the working tree's,
  or minimal mode ran against an installed copy of the project that was not the tree's.

It prints a summary table and then why, test by test. Exit 0 pass, 1 fail, 2 usage error (one
line, no traceback). Standard library only: nox runs it in its own process.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from test_framework.errors import EXIT_USAGE, ConfigError, HarnessError
from test_framework.given import OPTION, Given, in_pyproject
from test_framework.modes import ALL_MODES, parse_mode_list
from test_framework.results.code import Fingerprint, fingerprint
from test_framework.results.ledger import Outcome, RunStatus, collected_digest
from test_framework.results.matrix import (
    MODE_SKIPPED,
    Cell,
    LoadedLedger,
    Matrix,
    ModeRun,
    build_matrix,
    find_ledgers,
    load_ledger,
)
from test_framework.results.verdict import Problem, Rule, Verdict, first_line, utc
from test_framework.settings import find_root, read_pyproject, resolve, writable_folder
from test_framework.settings_table import GATE_REQUIRED_OPTION, INVOCATION_ID, REQUIRED_MODES
from test_framework.wording import counted

# pytest's exit statuses that mean the run itself went wrong (interrupted, internal, usage).
BROKEN_PYTEST_STATUSES = {2: "interrupted", 3: "internal error", 4: "usage error"}
REPORTS_OPTION = "--reports"


def evaluate(
    matrix: Matrix, required_modes: Sequence[str] = (), found: Sequence[Problem] = ()
) -> Verdict:
    """Judge ``matrix``; ``found`` are the problems ``read_paths`` found while reading the
    ledgers. Pure: the same ledgers always give the same verdict and text."""
    problems: list[Problem] = list(found)
    warnings: list[str] = []
    if not matrix.ledgers and not problems:
        problems.append(Problem(Rule.NO_LEDGERS, "(all)", "no ledger was given: nothing ran"))
    for run in matrix.modes:
        problems.extend(_check_ledgers(run))
        problems.extend(_check_shards(run))
        problems.extend(_check_empty(run))
    problems.extend(_check_tests(matrix, warnings))
    for mode in required_modes:
        required = matrix.mode(mode)
        if required is None or required.executed == 0:
            if required is None or not required.ledgers:
                why = "no ledger for this mode"
            elif required.status is RunStatus.RAN:
                why = f"it ran but executed no test ({_count_text(required)})"
            else:
                why = f"mode {required.status}: {required.reason}"
            problems.append(
                Problem(Rule.REQUIRED_MODE, mode, f"required, but executed no test: {why}")
            )
    if matrix.ledgers and not any(
        matrix.cell(n, run.mode).outcome.executed
        for n in matrix.mission_critical
        for run in matrix.modes
    ):
        if matrix.mission_critical:
            why = "every mission-critical test was skipped or not collected"
        else:
            why = "no ledger holds a test marked mission_critical"
        problems.append(Problem(Rule.NOTHING_RAN, "(all)", why))
    return Verdict(matrix, tuple(required_modes), tuple(problems), tuple(warnings))


@dataclass(frozen=True)
class Reading:
    """The ledgers to judge, and what reading the paths found wrong with them."""

    ledgers: tuple[LoadedLedger, ...]
    problems: tuple[Problem, ...]
    # Modes with no ledger to judge that a folder given (``reports/minimal``) or a stale
    # ledger names: they still get their row, so the table never leaves a mode out.
    modes: tuple[str, ...]


def read_paths(paths: Sequence[Path], invocation: str | None = None) -> Reading:
    """Each path's ledgers. A folder given that holds no ledger, or an empty ledger file, is a
    run that left none of its own; with ``invocation``, a ledger another command wrote is
    stale: reported, and left out of the matrix. When no path holds any ledger, the gate's
    "no ledgers" rule says so once instead."""
    ledgers: dict[Path, LoadedLedger] = {}
    problems: list[Problem] = []
    modes: list[str] = []
    known_modes = {mode.value for mode in ALL_MODES}
    found = {path: find_ledgers([path]) for path in paths}
    if not any(found.values()):
        return Reading((), (), ())
    for path, files in found.items():
        subject = path.name if path.is_dir() and path.name in known_modes else str(path)
        current = 0
        if path.is_dir() and not files:
            problems.append(
                Problem(
                    Rule.MISSING,
                    subject,
                    f"{path} holds no ledger: the run that should have written one crashed or"
                    " never started pytest; rerun it",
                )
            )
        for file in files:
            if not file.read_bytes().strip():
                problems.append(
                    Problem(
                        Rule.MISSING,
                        str(file),
                        "the ledger is empty: the run that writes it was killed before it"
                        " wrote anything; rerun it",
                    )
                )
                continue
            loaded = load_ledger(file)
            led = loaded.ledger
            if invocation is not None and led.invocation != invocation:
                problems.append(
                    Problem(
                        Rule.STALE,
                        f"{loaded.label} ({file})",
                        f"written by an earlier run (run {led.run_id}, started"
                        f" {utc(led.started_at)}, invocation {led.invocation or 'none'}), not by"
                        f" this one ({invocation}): not judged; rerun the mode",
                    )
                )
                modes.append(led.mode)
                continue
            ledgers.setdefault(file, loaded)
            current += 1
        if subject in known_modes and not current:
            modes.append(subject)
    judged = {loaded.ledger.mode for loaded in ledgers.values()}
    left_out = tuple(dict.fromkeys(mode for mode in modes if mode not in judged))
    return Reading(tuple(ledgers.values()), tuple(problems), left_out)


def check_code(
    ledgers: Sequence[LoadedLedger], tree: Fingerprint
) -> tuple[list[Problem], list[str]]:
    """The ``STALE CODE`` rule: each ledger's code against ``tree``, the fingerprint of the
    checkout the gate runs in. Returns the problems and the warnings (a fingerprint that one
    side could not take: nothing to compare)."""
    problems: list[Problem] = []
    warnings: list[str] = []
    recorded = [lo for lo in ledgers if lo.ledger.code is not None]
    for loaded in recorded:
        code = loaded.ledger.code
        assert code is not None
        where = f"{loaded.label} ({loaded.path})"
        if code.stale_install:
            problems.append(
                Problem(
                    Rule.STALE_CODE,
                    where,
                    f"the suite ran against {code.project} {code.version} as installed in its"
                    f" environment, not the working tree: {code.stale_install}; rerun the mode"
                    " (the mode sessions reinstall it), or install it editable",
                )
            )
        if code.source is None:
            # Once per mode and reason: N shards warn as one run does.
            unknown = (
                f"{loaded.ledger.mode}: the code it tested is not known: {code.source_missing}"
            )
            if unknown not in warnings:
                warnings.append(unknown)
        elif tree.source is not None and code.source != tree.source:
            checkout = "" if code.checkout == tree.checkout else f" in {code.checkout}"
            problems.append(
                Problem(
                    Rule.STALE_CODE,
                    where,
                    f"it tested {code.source}{checkout}, but the working tree here"
                    f" ({tree.checkout}) is {tree.source}: the code changed after the run, or"
                    " the ledger comes from another checkout; rerun the mode",
                )
            )
    if tree.source is None and any(lo.ledger.code.source for lo in recorded if lo.ledger.code):
        warnings.append(f"the ledgers' code is not compared with this folder's: {tree.missing}")
    return problems, warnings


def _check_empty(run: ModeRun) -> Iterable[Problem]:
    ledgers = [lo.ledger for lo in run.ledgers]
    if (
        ledgers
        and all(led.status is RunStatus.RAN and led.complete for led in ledgers)
        and not run.tests
        and not any(led.collection_errors for led in ledgers)
    ):
        exits = ", ".join(sorted({str(led.exit_status) for led in ledgers}))
        yield Problem(
            Rule.EMPTY,
            run.mode,
            f"the run recorded no test (pytest exit {exits}): it collected nothing; check the"
            " suite's path and any -k or -m",
        )


def _check_ledgers(run: ModeRun) -> Iterable[Problem]:
    for loaded in run.ledgers:
        led = loaded.ledger
        where = f"{loaded.label} ({loaded.path})"
        if led.status is RunStatus.ERROR:
            yield Problem(Rule.RUN_ERROR, where, f"the run could not start: {led.reason}")
        if led.status is not RunStatus.SKIPPED and not led.complete:
            yield Problem(
                Rule.INCOMPLETE,
                where,
                "the run was interrupted or is still running"
                f" ({counted(len(led.tests), 'test')} recorded); rerun it",
            )
        if led.exit_status in BROKEN_PYTEST_STATUSES:
            what = BROKEN_PYTEST_STATUSES[led.exit_status]
            yield Problem(Rule.RUN_ERROR, where, f"pytest exited {led.exit_status} ({what})")
        bad = [t for t in led.tests if t.outcome in (Outcome.FAILED, Outcome.ERROR)]
        if led.exit_status == 1 and not bad and not led.collection_errors:
            yield Problem(
                Rule.RUN_ERROR,
                where,
                "pytest exited 1 (tests failed) but the ledger records no failed test",
            )
        for error in led.collection_errors:
            yield Problem(
                Rule.COLLECTION_ERROR, f"{error.nodeid} [{loaded.label}]", first_line(error.message)
            )


def _check_shards(run: ModeRun) -> Iterable[Problem]:
    ledgers = [lo for lo in run.ledgers if lo.ledger.status is not RunStatus.SKIPPED]
    if not ledgers:
        return
    if len(ledgers) < len(run.ledgers):
        yield Problem(
            Rule.SHARDS,
            run.mode,
            "ledgers say the mode both ran and was skipped: remove stale ledgers from an"
            " older run (" + ", ".join(str(lo.path) for lo in run.ledgers) + ")",
        )
    counts = sorted({lo.ledger.shard_count for lo in ledgers})
    if len(counts) > 1:
        yield Problem(
            Rule.SHARDS,
            run.mode,
            "ledgers split the mode into different numbers of shards ("
            + ", ".join(f"{lo.label}: {lo.path}" for lo in ledgers)
            + "): remove stale ledgers from an older run",
        )
        return
    count = counts[0]
    by_index: dict[int, list[LoadedLedger]] = {}
    for loaded in ledgers:
        by_index.setdefault(loaded.ledger.shard_index, []).append(loaded)
    for index, group in sorted(by_index.items()):
        if len(group) > 1:
            files = ", ".join(str(lo.path) for lo in group)
            yield Problem(
                Rule.SHARDS, f"{run.mode} shard {index}/{count}", f"{len(group)} ledgers: {files}"
            )
    missing = [i for i in range(1, count + 1) if i not in by_index]
    if missing:
        names = ", ".join(f"{i}/{count}" for i in missing)
        yield Problem(
            Rule.SHARDS,
            run.mode,
            f"no ledger for shard {names}: its tests are unaccounted for",
        )
    owners: dict[str, list[str]] = {}
    for loaded in ledgers:
        for record in loaded.ledger.tests:
            owners.setdefault(record.nodeid, []).append(loaded.label)
    for nodeid, labels in sorted(owners.items()):
        if len(labels) > 1:
            yield Problem(
                Rule.SHARDS,
                f"{nodeid} [{run.mode}]",
                "in more than one shard: " + ", ".join(labels),
            )
    digests = {lo.ledger.collected_sha256 for lo in ledgers}
    if None in digests:
        if count > 1:
            unrecorded = ", ".join(lo.label for lo in ledgers if lo.ledger.collected_sha256 is None)
            yield Problem(
                Rule.SHARDS,
                run.mode,
                f"cannot check that the shards agree: {unrecorded} did not record the"
                " collected set",
            )
        return
    if len(digests) > 1:
        seen = "; ".join(
            f"{lo.label} collected {lo.ledger.collected_count} ({lo.ledger.collected_sha256!s:.12})"
            for lo in ledgers
        )
        yield Problem(Rule.SHARDS, run.mode, f"shards collected different test sets: {seen}")
        return
    if missing or any(len(group) > 1 for group in by_index.values()):
        return
    (expected,) = digests
    if collected_digest(owners) != expected:
        collected = ledgers[0].ledger.collected_count
        yield Problem(
            Rule.SHARDS,
            run.mode,
            f"the shards together recorded {counted(len(owners), 'test')}, but each collected"
            f" {collected}: some test ran in no shard",
        )


def _check_tests(matrix: Matrix, warnings: list[str]) -> Iterable[Problem]:
    for nodeid in matrix.nodeids:
        row = matrix.row(nodeid)
        for mode, cell in row:
            if cell.outcome in (Outcome.FAILED, Outcome.ERROR):
                yield Problem(
                    Rule.FAILED,
                    f"{nodeid} [{mode}]",
                    f"{cell.outcome.value}: {first_line(cell.reason) or 'no message recorded'}",
                )
            elif cell.outcome is Outcome.XPASSED:
                warnings.append(f"{nodeid} [{mode}]: passed although marked xfail")
            if cell.record is not None and cell.record.retried and cell.outcome.executed:
                warnings.append(
                    f"{nodeid} [{mode}]: {cell.outcome.value} after {cell.record.attempts}"
                    " attempts (the connection dropped)"
                )
        if not any(cell.outcome.executed for _, cell in row):
            why = "; ".join(f"{mode}: {_short_reason(cell)}" for mode, cell in row)
            if matrix.is_mission_critical(nodeid):
                yield Problem(Rule.RAN_NOWHERE, nodeid, f"mission-critical, ran in no mode ({why})")
            else:
                warnings.append(f"{nodeid}: ran in no mode ({why})")
        missing = [
            mode
            for mode, cell in row
            if cell.outcome is Outcome.NOT_COLLECTED and cell.reason.startswith("not collected")
        ]
        if missing:
            warnings.append(f"{nodeid}: not collected in {', '.join(missing)}")


def _short_reason(cell: Cell) -> str:
    # A skipped mode's reason is in the summary table; repeating it per test drowns the list.
    if cell.reason.startswith(MODE_SKIPPED):
        return MODE_SKIPPED
    return first_line(cell.reason) or cell.outcome.value


def _count_text(run: ModeRun) -> str:
    counts = run.counts()
    parts = [f"{counts[o]} {o.value}" for o in Outcome if counts[o]]
    return ", ".join(parts) or "no tests"


def render_table(verdict: Verdict) -> str:
    """The terminal summary: one row per mode, then why each mode ran or was skipped.

    It leaves out how a mode was sharded, so N shards and one unsharded run of the same
    suite print the same text (the HTML report shows the shards).
    """
    matrix = verdict.matrix
    header = ("mode", "run", "passed", "failed", "errors", "skipped", "not coll.")
    rows: list[tuple[str, ...]] = []
    for run in matrix.modes:
        counts = run.counts()
        not_collected = sum(
            1 for n in matrix.nodeids if matrix.cell(n, run.mode).outcome is Outcome.NOT_COLLECTED
        )
        status = run.status.value if run.status else "missing"
        rows.append(
            (
                run.mode + (" *" if run.mode in verdict.required_modes else ""),
                status,
                str(counts[Outcome.PASSED] + counts[Outcome.XPASSED]),
                str(counts[Outcome.FAILED]),
                str(counts[Outcome.ERROR]),
                str(counts[Outcome.SKIPPED]),
                str(not_collected) if run.status is RunStatus.RAN else "-",
            )
        )
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    out.extend(line(r) for r in rows)
    out.append("")
    for run in matrix.modes:
        status = run.status.value if run.status else "missing"
        out.append(f"{run.mode}: {status}: {run.reason or '(no reason recorded)'}")
    if verdict.required_modes:
        out.append("* required: " + ", ".join(verdict.required_modes))
    mc = matrix.mission_critical
    covered = [n for n in mc if any(c.outcome.executed for _, c in matrix.row(n))]
    out.append(
        f"mission-critical tests: {len(mc)}, ran in at least one mode: {len(covered)},"
        f" ran nowhere: {len(mc) - len(covered)}"
    )
    return "\n".join(out)


def render_verdict(verdict: Verdict, extra_warnings: Sequence[str] = ()) -> str:
    out: list[str] = []
    warnings = [*verdict.warnings, *extra_warnings]
    if warnings:
        out.append(f"warnings ({len(warnings)}):")
        out.extend(f"  {w}" for w in warnings)
    if verdict.passed:
        out.append("gate: PASSED")
    else:
        out.append(f"gate: FAILED ({counted(len(verdict.problems), 'problem')})")
        out.extend(p.render() for p in verdict.problems)
    return "\n".join(out)


def required_modes(option: str | None = None, root: Path | None = None) -> tuple[str, ...]:
    """``--required``, else ``MC_REQUIRED_MODES``, else ``required_modes`` in
    ``[tool.test_framework]``: read as the mode sessions read it (``settings.resolve``)."""
    source = find_root((root or Path.cwd()).resolve()) / "pyproject.toml"
    top = in_pyproject(source, "tool.test_framework")
    # pyproject.toml is read only where it decides, as before: a gate given the modes judges
    # whatever state that file is in.
    decided = option is not None or REQUIRED_MODES.env in os.environ
    section = {} if decided else read_pyproject(source)
    given = resolve(REQUIRED_MODES, section, top, os.environ, option, GATE_REQUIRED_OPTION)
    if given.origin == top and not isinstance(given.value, list):
        raise ConfigError(
            f"[tool.test_framework] {REQUIRED_MODES.pyproject} must be a list of modes"
        )
    try:
        return tuple(m.value for m in parse_mode_list(given.text))
    except ConfigError as exc:
        where = GATE_REQUIRED_OPTION if given.origin == OPTION else REQUIRED_MODES.env
        raise ConfigError(f"{where}: {exc}") from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m test_framework gate",
        description="Fail when a mission-critical test ran in no mode, or anything failed.",
    )
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="ledger files or folders searched for ledger*.json (default: reports)",
    )
    p.add_argument(
        GATE_REQUIRED_OPTION,
        metavar="MODES",
        help=REQUIRED_MODES.option_help(),
    )
    p.add_argument(
        REPORTS_OPTION,
        metavar="DIR",
        type=Path,
        help="also write DIR/index.html and DIR/<mode>/junit.xml",
    )
    p.add_argument(
        "--no-parity", action="store_true", help="skip comparing transcripts between modes"
    )
    p.add_argument(
        "--invocation",
        metavar="ID",
        help=f"judge only ledgers written under this {INVOCATION_ID.env} (the noxfile passes its"
        " own); any other ledger found is stale and fails the gate",
    )


def run(args: argparse.Namespace) -> int:
    # Imported here: the reports are only needed when asked for.
    from test_framework.results import parity

    paths: list[Path] = args.paths or [Path("reports")]
    required = required_modes(args.required)
    reading = read_paths(paths, args.invocation)
    # git runs only when a ledger recorded its code.
    recorded = any(lo.ledger.code is not None for lo in reading.ledgers)
    tree = fingerprint(Path.cwd()) if recorded else Fingerprint(None, None, "not needed")
    stale_code, code_warnings = check_code(reading.ledgers, tree)
    matrix = build_matrix(reading.ledgers, extra_modes=[*required, *reading.modes])
    verdict = evaluate(matrix, required, [*reading.problems, *stale_code])
    differences = [] if args.no_parity else parity.compare(matrix)
    written: list[Path] = []
    if args.reports is not None:
        # Written before the verdict is printed: a verdict whose reports could not be
        # written is no verdict, so a folder that cannot take them is a usage error first.
        from test_framework.results import junit, report_html

        check_report_folders(args.reports, matrix)
        written = junit.write_all(matrix, args.reports)
        written.append(report_html.write(verdict, differences, args.reports / "index.html"))
    print(render_table(verdict))
    print()
    print(render_verdict(verdict, [*code_warnings, *(d.render() for d in differences)]))
    if written:
        print("reports: " + ", ".join(str(p) for p in written))
    return verdict.exit_code


def check_report_folders(reports: Path, matrix: Matrix) -> None:
    """Refuse, in one line, a ``--reports`` folder (or a mode's folder in it) that cannot be
    created or written: a file, a folder under /proc, one without write permission."""
    given = Given(REPORTS_OPTION, str(reports), OPTION)
    writable_folder(reports, given)
    for run in matrix.modes:
        writable_folder(reports / run.mode, given)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except HarnessError as exc:
        print(f"gate: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
