"""``reports/index.html``: the test-by-mode matrix in one self-contained file.

No outside assets (no fonts, scripts or stylesheets from anywhere): the file is archived as a CI
artifact and opened years later, offline. No JavaScript either: a failed test's transcript is
one click away in a ``<details>`` element. Standard library only.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path

from test_framework.results.baseline import COMMAND, render_subsets
from test_framework.results.ledger import Outcome, RunStatus
from test_framework.results.matrix import MODE_SKIPPED, Cell, Matrix, ModeRun
from test_framework.results.parity import Difference, TranscriptFormatError, read_transcript
from test_framework.results.verdict import Verdict, first_line, utc

# These outcomes get a full-width section with the message and the transcript embedded.
EMBEDDED = frozenset({Outcome.FAILED, Outcome.ERROR})
MAX_DATA_CHARS = 600
LABELS = {
    Outcome.PASSED: "passed",
    Outcome.FAILED: "failed",
    Outcome.ERROR: "error",
    Outcome.SKIPPED: "skipped",
    Outcome.XFAILED: "xfailed",
    Outcome.XPASSED: "xpassed",
    Outcome.NOT_COLLECTED: "not collected",
}

CSS = """
:root { --ok:#1e7b34; --ok-bg:#e3f4e6; --bad:#b3261e; --bad-bg:#fde7e4; --err:#8a3ffc;
  --err-bg:#efe6ff; --skip:#7a5b00; --skip-bg:#fff4cc; --none:#5f6368; --none-bg:#eceff1;
  --line:#d0d7de; --muted:#57606a; }
* { box-sizing:border-box; }
body { font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
  color:#1f2328; margin:0; padding:24px 32px 48px; background:#f6f8fa; }
h1 { font-size:22px; margin:0 0 4px; }
h2 { font-size:16px; margin:28px 0 8px; }
.sub { color:var(--muted); margin-bottom:16px; }
.banner { padding:14px 18px; border-radius:8px; font-size:17px; font-weight:600;
  margin-bottom:8px; }
.banner.pass { background:var(--ok-bg); color:var(--ok); border:1px solid #a6d8b0; }
.banner.fail { background:var(--bad-bg); color:var(--bad); border:1px solid #f1aea6; }
.banner small { display:block; font-weight:400; font-size:13px; color:#1f2328; }
table { border-collapse:collapse; background:#fff; }
th, td { border:1px solid var(--line); padding:5px 8px; text-align:left; vertical-align:top; }
th { background:#eef1f4; font-weight:600; }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
.cards { display:flex; gap:12px; flex-wrap:wrap; margin-top:14px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:12px 14px;
  min-width:300px; flex:1; }
.card h3 { margin:0 0 6px; font-size:15px; }
.card .why { color:var(--muted); font-size:13px; margin-bottom:8px; }
.pill { display:inline-block; border-radius:10px; padding:0 8px; font-size:12px;
  font-weight:600; }
.ran { background:var(--ok-bg); color:var(--ok); }
.skipped, .missing { background:var(--skip-bg); color:var(--skip); }
.error { background:var(--bad-bg); color:var(--bad); }
.req { background:#ddf4ff; color:#0550ae; }
.mc { background:#ddf4ff; color:#0550ae; font-size:11px; padding:0 6px; margin-left:6px; }
.probe-table { width:100%; }
.probe-table td, .probe-table th { font-size:12px; padding:3px 6px; overflow-wrap:anywhere; }
.probe-table .why { margin-bottom:2px; }
.probe-table th { white-space:nowrap; }
.probe-table td.nw { white-space:nowrap; width:1%; }
.probe-table.deployment, .probe-table.ledgers { margin:8px 0; }
.probe-table.deployment th { width:1%; white-space:nowrap; }
.yes { color:var(--ok); font-weight:600; } .no { color:var(--bad); font-weight:600; }
ul.problems li { margin:3px 0; } ul.problems code { font-size:12px; }
.baseline { background:#fff; border:1px solid var(--line); border-radius:6px; padding:4px 14px;
  margin:10px 0; }
.baseline h3 { font-size:14px; margin:10px 0 4px; }
ul.missing-tests li { color:var(--bad); }
.subset, .baseline-none { background:var(--skip-bg); color:var(--skip); border-radius:6px;
  padding:6px 12px; }
.matrix { width:100%; table-layout:fixed; }
.matrix col.test-col { width:40%; }
.matrix thead th { position:sticky; top:0; z-index:1; }
.matrix td.test { font-family:ui-monospace,"DejaVu Sans Mono",monospace; font-size:12px;
  overflow-wrap:anywhere; }
.matrix tr.nowhere td.test { box-shadow:inset 4px 0 0 var(--bad); }
.nowhere-badge { background:var(--bad-bg); color:var(--bad); font-size:11px; padding:0 6px;
  margin-left:6px; }
.matrix td.file { background:#eef1f4; font-weight:600; font-size:12px; color:var(--muted); }
.cell { font-size:12px; overflow-wrap:anywhere; }
.cell.mode-skipped { background:#f3f4f6; color:var(--none); }
.cell b { font-size:12px; }
.cell .note { display:block; color:#3d444d; margin-top:2px; }
.o-passed { background:var(--ok-bg); } .o-passed b { color:var(--ok); }
.o-failed { background:var(--bad-bg); } .o-failed b { color:var(--bad); }
.o-error { background:var(--err-bg); } .o-error b { color:var(--err); }
.o-skipped, .o-xfailed { background:var(--skip-bg); }
.o-skipped b, .o-xfailed b { color:var(--skip); }
.o-xpassed { background:#fff0e0; } .o-xpassed b { color:#9a4d00; }
.o-not_collected {
  background:repeating-linear-gradient(135deg,var(--none-bg) 0 6px,#f7f8f9 6px 12px); }
.o-not_collected b { color:var(--none); }
.legend span { display:inline-block; padding:2px 8px; margin-right:6px;
  border:1px solid var(--line); border-radius:4px; font-size:12px; }
details summary { cursor:pointer; color:#0550ae; margin-top:3px; }
.transcript { font-family:ui-monospace,"DejaVu Sans Mono",monospace; font-size:12px;
  margin-top:6px; width:100%; }
.transcript td { padding:2px 5px; border-color:#e1e4e8; }
.transcript td.num, .transcript td.src, .transcript td.kind { white-space:nowrap; width:1%; }
.transcript pre { margin:0; white-space:pre-wrap; word-break:break-all; }
pre.msg { white-space:pre-wrap; font-size:12px; margin:4px 0 0; background:#fff;
  border:1px solid var(--line); border-radius:6px; padding:8px 10px; }
.failure { background:#fff; border:1px solid #f1aea6; border-left:4px solid var(--bad);
  border-radius:6px; padding:10px 14px; margin:10px 0; }
.failure:target { box-shadow:0 0 0 3px #ffd8d3; }
.failure h3 { font-size:14px; margin:0 0 6px; font-weight:400; }
.failure h3 code { font-size:13px; }
a.jump { display:block; margin-top:3px; color:#0550ae; }
.dir-out { color:#0550ae; } .dir-in { color:#1e7b34; } .dir-note { color:var(--muted); }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(
    verdict: Verdict, differences: Sequence[Difference] = (), generated_at: float | None = None
) -> str:
    matrix = verdict.matrix
    stamp = utc(generated_at or time.time())
    starts = sorted(loaded.ledger.started_at for loaded in matrix.ledgers)
    span = f", from runs started {utc(starts[0])}" if starts else ""
    if len(starts) > 1 and starts[-1] != starts[0]:
        span += f" to {utc(starts[-1])}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Mission-critical coverage</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Mission-critical coverage</h1>",
        f'<div class="sub">{len(matrix.ledgers)} ledger(s), {len(matrix.modes)} mode(s){_e(span)},'
        f" generated {_e(stamp)}</div>",
        _banner(verdict),
        _baseline(verdict),
        _problems(verdict, differences),
        "<h2>Modes</h2>",
        _totals(verdict),
        '<div class="cards">',
        *(_mode_card(run, verdict) for run in matrix.modes),
        "</div>",
        "<h2>Tests by mode</h2>",
        _legend(),
        _matrix(matrix),
        _failures(matrix),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _banner(verdict: Verdict) -> str:
    matrix = verdict.matrix
    mc = matrix.mission_critical
    covered = sum(1 for n in mc if any(c.outcome.executed for _, c in matrix.row(n)))
    detail = (
        f"{len(mc)} mission-critical tests, {covered} ran in at least one mode,"
        f" {len(mc) - covered} ran nowhere; {len(matrix.nodeids)} tests in all"
    )
    if verdict.passed:
        return f'<div class="banner pass">Gate passed<small>{_e(detail)}</small></div>'
    return (
        f'<div class="banner fail">Gate failed: {len(verdict.problems)} problem(s)'
        f"<small>{_e(detail)}</small></div>"
    )


def _baseline(verdict: Verdict) -> str:
    """At the top: the tests the baseline lists that ran nowhere, those it lacks, and any
    subset run, so that a deleted test is the first thing a reader sees."""
    out = [f'<p class="subset">{_e(line)}</p>' for line in render_subsets(verdict.subsets)]
    judged = verdict.baseline
    if judged is None:
        out.append(
            '<p class="baseline-none">No baseline configured: a test that was never collected'
            " goes unnoticed (set <code>baseline</code> in [tool.test_framework] and run"
            f" <code>{_e(COMMAND)}</code>).</p>"
        )
        return "\n".join(out)
    out.append(
        f'<section class="baseline"><h2>Baseline <code>{_e(judged.baseline.path.name)}</code></h2>'
        f"<p>{_e(judged.coverage_line())}</p>"
    )
    if judged.missing:
        out.append(
            f"<h3>Missing tests ({len(judged.missing)}): in the baseline, ran in no mode</h3>"
            '<ul class="problems missing-tests">'
        )
        out.extend(f"<li><code>{_e(m.nodeid)}</code>: {_e(m.why)}</li>" for m in judged.missing)
        out.append("</ul>")
    if judged.new:
        out.append(
            f"<h3>New tests ({len(judged.new)}): mission-critical, not in the baseline</h3>"
            f'<p>Add them with <code>{_e(COMMAND)}</code>.</p><ul class="problems new-tests">'
        )
        out.extend(f"<li><code>{_e(n)}</code></li>" for n in judged.new)
        out.append("</ul>")
    out.append("</section>")
    return "\n".join(out)


def _problems(verdict: Verdict, differences: Sequence[Difference]) -> str:
    out: list[str] = []
    if verdict.problems:
        out.append('<h2>Why the gate failed</h2><ul class="problems">')
        for p in verdict.problems:
            out.append(
                f"<li><b>{_e(p.rule.value)}</b> <code>{_e(p.subject)}</code>: {_e(p.message)}</li>"
            )
        out.append("</ul>")
    warnings = [*verdict.warnings, *(d.render() for d in differences)]
    if warnings:
        out.append(
            f"<details><summary>Warnings ({len(warnings)}): tests not collected everywhere,"
            ' retried, or behaving differently between modes</summary><ul class="problems">'
        )
        out.extend(f"<li>{_e(w)}</li>" for w in warnings)
        out.append("</ul></details>")
    return "\n".join(out)


def _status_pill(run: ModeRun) -> str:
    status = run.status.value if run.status else "missing"
    return f'<span class="pill {status}">{_e(status)}</span>'


def _totals(verdict: Verdict) -> str:
    matrix = verdict.matrix
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "mode",
            "run",
            "shards",
            "passed",
            "failed",
            "errors",
            "skipped",
            "not collected",
            "time",
        )
    )
    rows = []
    for run in matrix.modes:
        counts = run.counts()
        not_collected = sum(
            1 for n in matrix.nodeids if matrix.cell(n, run.mode).outcome is Outcome.NOT_COLLECTED
        )
        shards = sorted({lo.ledger.shard_count for lo in run.ledgers})
        required = (
            ' <span class="pill req">required</span>' if run.mode in verdict.required_modes else ""
        )
        seconds = sum(r.duration_s for r, _ in run.tests.values())
        numbers = (
            counts[Outcome.PASSED] + counts[Outcome.XPASSED],
            counts[Outcome.FAILED],
            counts[Outcome.ERROR],
            counts[Outcome.SKIPPED] + counts[Outcome.XFAILED],
            not_collected if run.status is RunStatus.RAN else "-",
        )
        rows.append(
            f"<tr><td><b>{_e(run.mode)}</b>{required}</td><td>{_status_pill(run)}</td>"
            f'<td class="num">{"/".join(map(str, shards)) or "-"}</td>'
            + "".join(f'<td class="num">{_e(n)}</td>' for n in numbers)
            + f'<td class="num">{seconds:.1f} s</td></tr>'
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _steps(probe: dict[str, object]) -> str:
    steps = probe.get("steps")
    if not isinstance(steps, list):
        return ""
    shown = []
    for step in steps:
        if not isinstance(step, dict):
            continue
        ok = bool(step.get("ok"))
        checked = step.get("checked", True) is not False
        mark = ("✓" if checked else "?") if ok else "✗"
        text = (
            f'<span class="{"yes" if ok else "no"}">{mark} '
            f"{_e(step.get('name', '?'))}</span> {float(step.get('elapsed_ms', 0.0)):.0f} ms"
        )
        if not checked:
            text += " (not checked here)"
        if not ok and step.get("detail"):
            text += f": {_e(step.get('detail'))}"
        shown.append(text)
    return "<br>".join(shown)


def _mode_card(run: ModeRun, verdict: Verdict) -> str:
    out = [
        '<div class="card">',
        f"<h3>{_e(run.mode)} {_status_pill(run)}</h3>",
        f'<div class="why">{_e(run.reason or "(no reason recorded)")}</div>',
        _ledgers(run),
    ]
    if run.probes:
        out.append(
            '<table class="probe-table"><thead><tr><th>probe</th><th>available</th>'
            "<th>ms</th><th>steps</th></tr></thead><tbody>"
        )
        for probe in run.probes:
            ok = bool(probe.get("available"))
            reason = str(probe.get("reason", ""))
            # The mode's own probe usually gave the reason above; say it again only if not.
            said = f'<div class="why">{_e(reason)}</div>' if reason not in run.reason else ""
            out.append(
                f'<tr><td class="nw">{_e(probe.get("mode", "?"))}</td>'
                f'<td class="nw {"yes" if ok else "no"}">{"yes" if ok else "no"}</td>'
                f'<td class="nw num">{float(str(probe.get("elapsed_ms", 0.0))):.1f}</td>'
                f"<td>{said}{_steps(probe)}</td></tr>"
            )
        out.append("</tbody></table>")
    facts: dict[str, object] = {}
    for key, value in run.deployment.items():
        if isinstance(value, dict):
            facts.update(value)
        else:
            facts[key] = value
    facts = {k: v for k, v in facts.items() if v not in (None, "")}
    if facts:
        out.append('<table class="probe-table deployment"><tbody>')
        for key, value in facts.items():
            shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            out.append(f"<tr><th>{_e(key)}</th><td>{_e(_cut(shown, 200))}</td></tr>")
        out.append("</tbody></table>")
    out.append("</div>")
    return "\n".join(out)


def _ledgers(run: ModeRun) -> str:
    """Which run each ledger shown comes from, and when: never a result without its date."""
    if not run.ledgers:
        return ""
    rows = []
    for loaded in run.ledgers:
        led = loaded.ledger
        ended = utc(led.ended_at) if led.ended_at is not None else "did not end"
        invocation = f" · {_e(led.invocation)}" if led.invocation else ""
        rows.append(
            f'<tr title="{_e(loaded.path)}"><td class="nw">{_e(loaded.label)}</td>'
            f"<td>run <code>{_e(led.run_id)}</code>{invocation}</td>"
            f'<td class="nw">{_e(utc(led.started_at))}</td><td class="nw">{_e(ended)}</td></tr>'
        )
    return (
        '<table class="probe-table ledgers"><thead><tr><th>ledger</th><th>run</th>'
        f"<th>started</th><th>ended</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _legend() -> str:
    spans = "".join(f'<span class="o-{o.value}"><b>{_e(LABELS[o])}</b></span>' for o in Outcome)
    return f'<p class="legend">{spans}</p>'


def _breakable(name: str) -> str:
    """Escaped, with a line-break opportunity after each ``_``, ``/`` and ``[``."""
    return re.sub(r"([_/\[])", r"\1<wbr>", _e(name))


def _failed_cells(matrix: Matrix) -> list[tuple[str, str, Cell]]:
    return [
        (nodeid, mode, cell)
        for nodeid in matrix.nodeids
        for mode, cell in matrix.row(nodeid)
        if cell.outcome in EMBEDDED
    ]


def _anchors(matrix: Matrix) -> dict[tuple[str, str], str]:
    return {(n, m): f"failure-{i}" for i, (n, m, _) in enumerate(_failed_cells(matrix), 1)}


def _failures(matrix: Matrix) -> str:
    """Each failed test in full width: its whole message and its transcript, open."""
    failed = _failed_cells(matrix)
    if not failed:
        return ""
    anchors = _anchors(matrix)
    out = [f"<h2>Failures ({len(failed)})</h2>"]
    for nodeid, mode, cell in failed:
        out.append(
            f'<div class="failure" id="{anchors[(nodeid, mode)]}">'
            f"<h3><code>{_e(nodeid)}</code> in <b>{_e(mode)}</b>:"
            f' <span class="o-{cell.outcome.value}"><b>{_e(LABELS[cell.outcome])}</b></span></h3>'
            f'<pre class="msg">{_e(_cut(cell.reason or "no message recorded", 8000))}</pre>'
            f"{_transcript(cell)}</div>"
        )
    return "\n".join(out)


def _matrix(matrix: Matrix) -> str:
    anchors = _anchors(matrix)
    head = "".join(f"<th>{_e(run.mode)}</th>" for run in matrix.modes)
    out = [
        '<table class="matrix"><colgroup><col class="test-col"></colgroup>',
        "<thead><tr><th>test</th>",
        head,
        "</tr></thead><tbody>",
    ]
    current_file = None
    for nodeid in matrix.nodeids:
        file, _, name = nodeid.partition("::")
        if file != current_file:
            current_file = file
            out.append(
                f'<tr><td class="file" colspan="{len(matrix.modes) + 1}">{_e(file)}</td></tr>'
            )
        badge = '<span class="pill mc">MC</span>' if matrix.is_mission_critical(nodeid) else ""
        row_class = ""
        if not any(cell.outcome.executed for _, cell in matrix.row(nodeid)):
            badge += '<span class="pill nowhere-badge">ran nowhere</span>'
            row_class = ' class="nowhere"'
        out.append(
            f'<tr id="{_e(nodeid)}"{row_class}><td class="test" title="{_e(nodeid)}">'
            f"{_breakable(name or file)}{badge}</td>"
        )
        out.extend(_cell(cell, anchors.get((nodeid, mode))) for mode, cell in matrix.row(nodeid))
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _cell(cell: Cell, anchor: str | None) -> str:
    outcome = cell.outcome
    if cell.reason.startswith(MODE_SKIPPED):
        # The mode's reason is on its card; a whole column repeating it would drown the rest.
        return f'<td class="cell mode-skipped" title="{_e(cell.reason)}">{MODE_SKIPPED}</td>'
    text = [f"<b>{_e(LABELS[outcome])}</b>"]
    record = cell.record
    if record is not None and outcome.executed:
        text.append(f" {record.duration_s:.2f} s")
        if record.retried:
            text.append(f" · {record.attempts} attempts")
    if cell.reason and outcome is not Outcome.PASSED:
        note = first_line(cell.reason, 160)
        text.append(f'<span class="note">{_e(note)}</span>')
    if anchor is not None:
        text.append(f'<a class="jump" href="#{anchor}">failure and transcript ↓</a>')
    classes = f"cell o-{outcome.value}"
    return f'<td class="{classes}" title="{_e(cell.reason)}">{"".join(text)}</td>'


def _transcript(cell: Cell) -> str:
    path = cell.transcript_path
    if path is None:
        return '<span class="note">no transcript recorded</span>'
    try:
        entries = read_transcript(path)
    except TranscriptFormatError as exc:
        return f'<span class="note">transcript unreadable: {_e(exc)}</span>'
    start = float(str(entries[0].get("t", 0.0))) if entries else 0.0
    rows = []
    for entry in entries:
        direction = str(entry.get("dir", ""))
        arrow = {"out": "→", "in": "←"}.get(direction, "·")
        offset = (float(str(entry.get("t", start))) - start) * 1000
        data = entry.get("data")
        shown = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        rows.append(
            f'<tr><td class="num">{offset:.0f} ms</td>'
            f'<td class="src">{_e(entry.get("source", ""))}</td>'
            f'<td class="kind dir-{_e(direction)}">{arrow} {_e(entry.get("kind", ""))}</td>'
            f"<td><pre>{_e(_cut(str(shown), MAX_DATA_CHARS))}</pre></td></tr>"
        )
    return (
        f"<details open><summary>transcript ({len(entries)} entries)</summary>"
        f'<table class="transcript"><tbody>{"".join(rows)}</tbody></table></details>'
    )


STALE_START = "<!-- stale -->"
STALE_END = "<!-- /stale -->"
STALE_STYLE = (
    "padding:14px 18px;border-radius:8px;font-size:17px;font-weight:600;margin-bottom:12px;"
    "background:#fff4cc;color:#7a5b00;border:2px solid #d4a72c"
)


def mark_stale(path: Path, note: str) -> bool:
    """Put a banner saying ``note`` at the top of the report at ``path``, which no longer shows
    the current results, and say so in its title; False when there is no report there.

    Inline style only: the file may have been written by an older harness, with other CSS.
    """
    if not path.is_file():
        return False
    text = path.read_text("utf-8")
    start, end = text.find(STALE_START), text.find(STALE_END)
    if start != -1 and end > start:
        text = text[:start] + text[end + len(STALE_END) :]
    else:
        text = text.replace("<title>", "<title>Stale: ", 1)
    banner = f'{STALE_START}<div style="{STALE_STYLE}">Stale: {_e(note)}</div>{STALE_END}'
    text = text.replace("<body>", "<body>" + banner, 1) if "<body>" in text else banner + text
    path.write_text(text, "utf-8")
    return True


def write(verdict: Verdict, differences: Sequence[Difference], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(verdict, differences), "utf-8")
    return path
