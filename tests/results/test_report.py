"""The reports: JUnit XML per mode and reports/index.html, from ledgers of a real plugin run.

The HTML is also opened in headless Chromium; its screenshot is kept under
``reports/artifacts/`` as a test artifact. Without Chromium the screenshot test is skipped
with the reason, except in CI (``CI`` set), where it fails: CI installs Debian's ``chromium``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from pathlib import Path

import pytest

from test_framework.modes import Mode
from test_framework.probes.runner import probe_modes
from test_framework.results import gate, junit, report_html, verdict
from test_framework.results.gate import evaluate
from test_framework.results.ledger import (
    Outcome,
    ledger_path,
    skipped_ledger,
    write_ledger,
)
from test_framework.results.matrix import build_matrix, load_ledgers
from test_framework.results.parity import compare
from test_framework.settings import load_settings
from tests.support.environment import run_captured
from tests.support.ledger_samples import ledger, record, write
from tests.support.projects import harness_project

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "reports" / "artifacts"

SUITE = """
import pytest

pytestmark = pytest.mark.mission_critical

@pytest.mark.parametrize("expression", ["2 + 3 * 4", "(2 + 3) * 4", "2 ** 3"])
async def test_the_calculator_completes(mc_connect, expression):
    client = await mc_connect()
    result = await client.run(f"calc {expression}")
    assert result.status == "succeeded"

async def test_a_deliberately_wrong_expectation_fails(mc_connect):
    client = await mc_connect()
    result = await client.run("calc 1 + 1")
    assert result.answer == "eleven", "the calculator does not answer in words"

def test_needs_a_tls_deployment():
    pytest.skip("needs a TLS deployment: runs in staging_fallback")
"""


@pytest.fixture
def reports(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, int, str]:
    """A real minimal run plus the ledgers the noxfile writes for the modes it skipped; then
    the gate with ``--reports``. Returns the folder, the gate's status and its output."""
    harness_project(pytester, monkeypatch, ini="asyncio_mode = auto\n")
    monkeypatch.setenv("FORCE_DOCKER_UNAVAILABLE", "true")
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest_subprocess("--mc-mode", "minimal")
    out = pytester.path / "out"
    settings = load_settings(pytester.path, environ=dict(os.environ))
    probes = probe_modes(settings, [Mode.DOCKER_LOCAL, Mode.STAGING_FALLBACK])
    for mode, probe in probes.items():
        assert not probe.available
        write_ledger(
            skipped_ledger(mode.value, probe.reason, [probe.to_json()]),
            ledger_path(out, mode.value),
        )
    monkeypatch.setenv("MC_REQUIRED_MODES", "")
    result = run_captured(
        [sys.executable, "-m", "test_framework", "gate", str(out), "--reports", str(out)],
        timeout=120,
    )
    assert result.stderr == ""
    return out, result.returncode, result.stdout


def test_the_gate_writes_junit_per_mode_with_every_test(reports: tuple[Path, int, str]) -> None:
    out, code, stdout = reports
    assert code == 1
    assert "FAILED: test_suite.py::test_a_deliberately_wrong_expectation_fails [minimal]" in stdout
    suites = {}
    for mode in ("docker_local", "staging_fallback", "minimal"):
        root = ET.parse(out / mode / "junit.xml").getroot()
        (suite,) = root.findall("testsuite")
        suites[mode] = suite
        assert suite.get("tests") == "5"
    minimal = suites["minimal"]
    assert (minimal.get("failures"), minimal.get("errors"), minimal.get("skipped")) == (
        "1",
        "0",
        "1",
    )
    failure = minimal.find("testcase[@name='test_a_deliberately_wrong_expectation_fails']/failure")
    assert failure is not None
    assert "the calculator does not answer in words" in (failure.get("message") or "")
    docker = suites["docker_local"]
    assert docker.get("skipped") == "5"
    skipped = docker.findall("testcase/skipped")
    assert len(skipped) == 5
    assert all((s.get("message") or "").startswith("mode skipped: ") for s in skipped)
    props = {p.get("name"): p.get("value") for p in docker.iter("property")}
    assert props["status"] == "skipped"
    assert props["reason"]


def test_the_html_report_is_self_contained_and_shows_the_matrix(
    reports: tuple[Path, int, str],
) -> None:
    out, _, _ = reports
    page = (out / "index.html").read_text("utf-8")
    # No outside assets: no scripts, stylesheets, images, fonts or frames from anywhere.
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page, re.I)
    assert not re.search(r"(src|href)\s*=\s*[\"'](?!#)", page, re.I)
    assert "url(" not in page
    assert "@import" not in page
    assert "Gate failed: 2 problem(s)" in page  # the failure and the test that ran nowhere
    assert "ran nowhere</span>" in page
    for mode in ("docker_local", "staging_fallback", "minimal"):
        assert f"<th>{mode}</th>" in page
    assert "FORCE_DOCKER_UNAVAILABLE" in page  # the probe's reason for skipping docker_local
    assert "minimal requested" in page
    # The failed test: its message on the cell, its transcript one click away.
    assert 'href="#failure-1"' in page
    section = page[page.index('id="failure-1"') :]
    assert "the calculator does not answer in words" in section
    assert "user_message" in section
    assert "agent_completed" in section
    assert "needs a TLS deployment: runs in staging_fallback" in page


def test_the_report_escapes_what_the_tests_named(tmp_path: Path) -> None:
    name = 'test_x[<img src="y">&]'
    write(
        tmp_path,
        ledger("minimal", [record(name, Outcome.FAILED, reason="<script>alert(1)</script>")]),
    )
    matrix = build_matrix(load_ledgers([tmp_path]))
    page = report_html.render(evaluate(matrix), compare(matrix))
    assert "<script>" not in page
    assert "<img" not in page
    assert "test_x[&lt;img src=&quot;y&quot;&gt;&amp;]" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_report_shows_a_probe_step_not_checked_here_apart_from_a_passed_one(
    tmp_path: Path,
) -> None:
    steps = [
        {"name": "factory name", "ok": True, "elapsed_ms": 0.1, "detail": "m:f"},
        {"name": "factory", "ok": True, "elapsed_ms": 0.2, "detail": "x", "checked": False},
    ]
    led = ledger("minimal", [record("test_a", Outcome.PASSED)])
    probe = {**led.probes[0], "steps": steps}
    write(tmp_path, dataclasses.replace(led, probes=(probe,)))
    matrix = build_matrix(load_ledgers([tmp_path]))
    page = report_html.render(evaluate(matrix), compare(matrix))
    assert "✓ factory name</span>" in page
    assert "? factory</span> 0 ms (not checked here)" in page


def test_junit_names_follow_pytest(tmp_path: Path) -> None:
    assert junit.split_nodeid("tests/a/test_b.py::TestC::test_d[x]") == (
        "tests.a.test_b.TestC",
        "test_d[x]",
    )
    assert junit.split_nodeid("tests/test_e.py::test_f") == ("tests.test_e", "test_f")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(page: Path, png: Path, profile: Path, height: int = 1000) -> None:
    browser = chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have chromium for the report screenshot: apt-get install chromium")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            f"--window-size=1400,{height}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )


def png_pixels(path: Path) -> tuple[int, int, Counter[tuple[int, int, int]]]:
    """Width, height and colour counts of an 8-bit RGB(A), non-interlaced PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0)
    assert colour_type in (2, 6)
    bpp = 4 if colour_type == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    previous = bytearray(stride)
    colours: Counter[tuple[int, int, int]] = Counter()
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        kind, row = line[0], bytearray(line[1:])
        for x in range(stride):
            a = row[x - bpp] if x >= bpp else 0
            b = previous[x]
            c = previous[x - bpp] if x >= bpp else 0
            if kind == 1:
                row[x] = (row[x] + a) & 0xFF
            elif kind == 2:
                row[x] = (row[x] + b) & 0xFF
            elif kind == 3:
                row[x] = (row[x] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                row[x] = (row[x] + pred) & 0xFF
        previous = row
        for x in range(0, stride, bpp * 4):  # every 4th pixel is plenty to count colours
            colours[(row[x], row[x + 1], row[x + 2])] += 1
    return width, height, colours


def test_the_report_renders_in_headless_chromium(
    reports: tuple[Path, int, str], tmp_path: Path
) -> None:
    out, _, _ = reports
    png = ARTIFACTS / "report-index.png"
    screenshot(out / "index.html", png, tmp_path / "chromium-profile", height=1600)
    shutil.copy(out / "index.html", ARTIFACTS / "report-index.html")
    width, height, colours = png_pixels(png)
    assert (width, height) == (1400, 1600)
    # The stylesheet applied: the failed banner, a passed cell and a failed cell are painted.
    for name, rgb in {
        "failed banner / failed cell": (0xFD, 0xE7, 0xE4),
        "passed cell": (0xE3, 0xF4, 0xE6),
        "skipped cell": (0xFF, 0xF4, 0xCC),
        "skipped mode": (0xF3, 0xF4, 0xF6),
    }.items():
        assert colours[rgb] > 200, f"no {name} colour {rgb} in {png}"
    assert colours[(0xFD, 0xE7, 0xE4)] > 2000  # the banner says the gate failed


def test_a_passing_report_renders_green(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MC_REQUIRED_MODES", "")
    write(tmp_path, ledger("minimal", [record(f"test_{i}") for i in range(30)]))
    assert gate.main([str(tmp_path), "--reports", str(tmp_path)]) == 0
    png = ARTIFACTS / "report-passing.png"
    screenshot(tmp_path / "index.html", png, tmp_path / "chromium-profile")
    _, _, colours = png_pixels(png)
    assert colours[(0xE3, 0xF4, 0xE6)] > 1000  # the banner and thirty passed cells
    assert colours[(0xFD, 0xE7, 0xE4)] < 500  # nothing painted as failed but the legend


def test_nox_mission_critical_leaves_a_report_that_renders(tmp_path: Path) -> None:
    """The report as `nox -s mission_critical` leaves it (Docker forced off for speed)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("STAGING_", "MC_", "TEST_MODE"))
    }
    env.update(FORCE_DOCKER_UNAVAILABLE="true", MC_REPORT_DIR=str(tmp_path / "reports"))
    done = run_captured(
        [sys.executable, "-m", "nox", "--no-color", "-s", "mission_critical"],
        cwd=ROOT,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "gate: PASSED" in done.stdout
    page_path = tmp_path / "reports" / "index.html"
    page = page_path.read_text("utf-8")
    assert "Gate passed" in page
    for mode in ("docker_local", "staging_fallback", "minimal"):
        assert f"<th>{mode}</th>" in page
    assert page.count('<span class="pill mc">MC</span>') >= 60
    png = ARTIFACTS / "mission-critical-index.png"
    screenshot(page_path, png, tmp_path / "chromium-profile", height=1400)
    shutil.copy(page_path, ARTIFACTS / "mission-critical-index.html")
    _, _, colours = png_pixels(png)
    assert colours[(0xE3, 0xF4, 0xE6)] > 2000  # the green banner and passed cells


def test_the_report_states_the_run_id_and_start_of_every_ledger_it_shows(
    reports: tuple[Path, int, str],
) -> None:
    out, _, _ = reports
    page = (out / "index.html").read_text("utf-8")
    ledgers = load_ledgers([out])
    assert len(ledgers) == 3
    for loaded in ledgers:
        row = page[page.index(f"run <code>{loaded.ledger.run_id}</code>") :].split("</tr>")[0]
        assert verdict.utc(loaded.ledger.started_at) in row
    minimal = next(lo.ledger for lo in ledgers if lo.ledger.mode == "minimal")
    props = {
        p.get("name"): p.get("value")
        for p in ET.parse(out / "minimal" / "junit.xml").getroot().iter("property")
    }
    assert (
        props["runs"] == f"minimal: run {minimal.run_id} started {verdict.utc(minimal.started_at)}"
    )


def test_a_plain_pytest_run_after_the_gate_marks_the_report_stale_until_the_gate_runs_again(
    reports: tuple[Path, int, str], pytester: pytest.Pytester
) -> None:
    out, _, _ = reports
    index = out / "index.html"
    assert report_html.STALE_START not in index.read_text("utf-8")
    pytester.runpytest_subprocess("--mc-mode", "minimal")
    run_id = load_ledgers([out / "minimal"])[0].ledger.run_id
    page = index.read_text("utf-8")
    assert page.count(report_html.STALE_START) == 1
    assert "<title>Stale: Mission-critical coverage</title>" in page
    banner = page[page.index(report_html.STALE_START) : page.index(report_html.STALE_END)]
    assert f"pytest run {run_id} started at " in banner
    assert f"writes new minimal results into {out}" in banner
    # The gate's JUnit file of the earlier run does not lie beside the new ledger.
    assert not (out / "minimal" / "junit.xml").exists()
    assert gate.main([str(out), "--reports", str(out)]) == 1
    assert report_html.STALE_START not in index.read_text("utf-8")


def test_marking_a_report_stale_twice_leaves_one_banner_with_the_latest_note(
    tmp_path: Path,
) -> None:
    write(tmp_path, ledger("minimal", [record("test_calc")]))
    index = report_html.write(
        evaluate(build_matrix(load_ledgers([tmp_path]))), [], tmp_path / "i.html"
    )
    assert report_html.mark_stale(index, "first")
    assert report_html.mark_stale(index, "second")
    page = index.read_text("utf-8")
    assert page.count(report_html.STALE_START) == 1
    assert "Stale: second" in page
    assert "<title>Stale: Mission-critical coverage</title>" in page
    assert not report_html.mark_stale(tmp_path / "absent.html", "third")
