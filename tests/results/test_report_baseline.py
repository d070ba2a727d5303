"""The HTML report puts the baseline's missing and new tests, and any subset run, at the top."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from test_framework.results import report_html
from test_framework.results.baseline import parse
from test_framework.results.gate import evaluate
from test_framework.results.ledger import Selection
from test_framework.results.matrix import LoadedLedger, build_matrix
from tests.support.ledger_samples import ledger, nid, record

SUITE = "tests/mission_critical"


def page(baseline_text: str | None, **selection: object) -> str:
    led = dataclasses.replace(
        ledger("minimal", [record("test_a"), record("test_new"), record("test_b", mc=False)]),
        selection=Selection(paths=(SUITE,), suite=SUITE, **selection),  # type: ignore[arg-type]
    )
    matrix = build_matrix([LoadedLedger(Path("minimal/ledger.json"), led)])
    baseline = None if baseline_text is None else parse(baseline_text, Path("x/BASELINE"))
    return report_html.render(evaluate(matrix, baseline=baseline), generated_at=1_700_000_000.0)


def test_missing_and_new_tests_come_before_the_problems_and_the_modes() -> None:
    html = page(f"{nid('test_a')}\n{nid('test_b')}\n{nid('test_gone')}\n")
    top = html.index('<section class="baseline">')
    assert top < html.index("Why the gate failed") < html.index("<h2>Modes</h2>")
    assert "Missing tests (2): in the baseline, ran in no mode" in html
    assert (
        f"<li><code>{nid('test_gone')}</code>: in the baseline (BASELINE:3), collected in no"
        " mode</li>"
    ) in html
    assert "collected (minimal), no longer marked mission_critical" in html
    assert "New tests (1): mission-critical, not in the baseline" in html
    assert f"<li><code>{nid('test_new')}</code></li>" in html
    assert "baseline 3, ran in at least one mode 1 (33.3 %), missing 2" in html


def test_a_baseline_with_nothing_missing_or_new_shows_only_its_count() -> None:
    html = page(
        f"{nid('test_a')}\n{nid('test_new')}\n{nid('test_b')}\n".replace(f"{nid('test_b')}\n", "")
    )
    assert "baseline 2, ran in at least one mode 2 (100 %)" in html
    assert "Missing tests" not in html
    assert "New tests" not in html


def test_without_a_baseline_the_report_says_none_is_configured() -> None:
    html = page(None)
    assert "No baseline configured" in html
    assert '<section class="baseline">' not in html


def test_a_subset_run_is_named_at_the_top() -> None:
    html = page(f"{nid('test_a')}\n", keyword="test_a")
    assert '<p class="subset">subset run: -k test_a (minimal)</p>' in html
    assert html.index("subset run") < html.index("<h2>Modes</h2>")
