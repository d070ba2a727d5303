"""The figures of ``nox -s bench``: medians of repeated samples, each with its target, one table.

Standard library only, so the unit tests need nothing the benchmarks install.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MIN_REPETITIONS = 5


@dataclass(frozen=True)
class Figure:
    """One row of the table: what was measured, its value(s), the target, and the verdict.

    ``met`` is None where the row has no target of its own (a side-by-side reference).
    """

    section: str
    name: str
    value: str
    target: str = ""
    met: bool | None = None

    @property
    def verdict(self) -> str:
        return {True: "met", False: "NOT met", None: ""}[self.met]


def median(samples: Sequence[float], least: int = MIN_REPETITIONS) -> float:
    """The median of at least ``least`` samples (``MIN_REPETITIONS`` unless a figure whose run
    takes minutes says fewer); fewer is a benchmark bug."""
    if len(samples) < max(least, 1):
        raise ValueError(f"{len(samples)} samples: a figure needs at least {least}")
    return statistics.median(samples)


def spread(samples: Sequence[float]) -> tuple[float, float]:
    return min(samples), max(samples)


def with_range(samples: Sequence[float], unit: str = "s", least: int = MIN_REPETITIONS) -> str:
    """``median (min-max)`` in seconds or milliseconds, the median over all samples."""
    low, high = spread(samples)
    middle = median(samples, least)
    if unit == "ms":
        return f"{middle * 1000:.1f} ms ({low * 1000:.1f}-{high * 1000:.1f})"
    return f"{middle:.2f} s ({low:.2f}-{high:.2f})"


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Each repetition's ratio: samples taken side by side share the machine's momentary load,
    so a pair's ratio is steadier than a ratio of two medians."""
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} against {len(denominators)} samples: pair them")
    return [a / b for a, b in zip(numerators, denominators, strict=True)]


def paired_differences(later: Sequence[float], earlier: Sequence[float]) -> list[float]:
    """Each repetition's ``later - earlier``."""
    if len(later) != len(earlier):
        raise ValueError(f"{len(later)} against {len(earlier)} samples: pair them")
    return [a - b for a, b in zip(later, earlier, strict=True)]


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    return median(paired_ratios(numerators, denominators))


def paired_difference(later: Sequence[float], earlier: Sequence[float]) -> float:
    return median(paired_differences(later, earlier))


def ratio_text(ratios: Sequence[float], least: int = MIN_REPETITIONS) -> str:
    """``1.19x (1.05-1.31)``: the median pair's ratio and the extremes."""
    return f"{median(ratios, least):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def difference_text(differences: Sequence[float]) -> str:
    """``+0.45 s (-0.20 to +1.10)``: the median pair's difference and the extremes."""
    low, high = min(differences), max(differences)
    return f"{median(differences):+.2f} s ({low:+.2f} to {high:+.2f})"


_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|deselected|xfailed|xpassed|rerun)")
# With ``-q`` the line has no ``===`` border; pytest adds "(0:01:02)" past a minute.
_SUMMARY = re.compile(r"^(?:=+ )?(?P<body>.*?) in (?P<seconds>[\d.]+)s(?: \([^)]*\))?(?: =+)?$")


@dataclass(frozen=True)
class PytestSummary:
    counts: dict[str, int]
    seconds: float

    def count(self, outcome: str) -> int:
        return self.counts.get(outcome, 0)

    def short(self) -> str:
        order = ("passed", "failed", "error", "skipped", "deselected", "rerun")
        return ", ".join(f"{self.counts[k]} {k}" for k in order if self.counts.get(k))


def parse_pytest_summary(output: str) -> PytestSummary:
    """pytest's summary line, e.g. ``148 passed, 3 deselected in 11.62s`` (``-q``) or the same
    between ``===`` borders.

    Raises ValueError when the output has no such line (pytest crashed before its summary).
    """
    for line in reversed(output.splitlines()):
        found = _SUMMARY.search(line.strip())
        if found and _COUNT.search(found["body"]):
            counts: dict[str, int] = {}
            for number, outcome in _COUNT.findall(found["body"]):
                counts["error" if outcome.startswith("error") else outcome] = int(number)
            return PytestSummary(counts, float(found["seconds"]))
    tail = output.strip().splitlines()[-1:] or ["(no output)"]
    raise ValueError(f"no pytest summary line in the output; last line: {tail[0]}")


_GATE_HEADER = re.compile(r"^mode\s+run\s+passed\b")
_GATE_VERDICT = re.compile(r"^gate: (PASSED|FAILED\b.*)$")


@dataclass(frozen=True)
class GateOutcome:
    """What a main job's gate printed: its verdict and its table, mode -> the row's cells
    after the mode (run, passed, failed, errors, skipped, not collected)."""

    verdict: str
    table: dict[str, tuple[str, ...]]

    def problem(self, returncode: int, modes: Sequence[str]) -> str | None:
        """Why this run cannot be timed against another main job's run, or None: it exited
        non-zero, its gate did not pass, or one of ``modes`` did not run."""
        if returncode != 0:
            return f"exit {returncode}, gate: {self.verdict}"
        if self.verdict != "PASSED":
            return f"gate: {self.verdict}"
        absent = [mode for mode in modes if self.table.get(mode, ("missing",))[0] != "ran"]
        if absent:
            return "did not run: " + ", ".join(absent)
        return None


def parse_gate_output(output: str) -> GateOutcome:
    """The gate's table and its ``gate: PASSED`` / ``gate: FAILED (...)`` line in a nox run's
    output.

    Raises ValueError when the output has no verdict line (the gate never ran, or crashed).
    """
    lines = [line.strip() for line in output.splitlines()]
    verdicts = [found[1] for line in lines if (found := _GATE_VERDICT.match(line))]
    if not verdicts:
        tail = lines[-1:] or ["(no output)"]
        raise ValueError(f"no gate verdict in the output; last line: {tail[0]}")
    table: dict[str, tuple[str, ...]] = {}
    header = next((i for i, line in enumerate(lines) if _GATE_HEADER.match(line)), None)
    if header is not None:
        # The header, a rule of dashes, then one row a mode until the blank line.
        for line in lines[header + 2 :]:
            if not line:
                break
            mode, *cells = line.split()
            table[mode] = tuple(cells)
    return GateOutcome(verdicts[-1], table)


def render_table(figures: Sequence[Figure]) -> str:
    """One Markdown table, a section's rows together in the order given."""
    lines = [
        "| section | figure | value (median, range) | target | verdict |",
        "| --- | --- | --- | --- | --- |",
    ]
    for figure in figures:
        cells = (figure.section, figure.name, figure.value, figure.target, figure.verdict)
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    return "\n".join(lines)
