"""What the gate prints and writes, and where it reads its required modes from: the table, the
warnings, the verdict line, the reports, the options, as a user reads them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from test_framework.errors import ConfigError
from test_framework.results import gate
from test_framework.results.ledger import Outcome, RunStatus
from test_framework.results.matrix import build_matrix, load_ledgers
from test_framework.results.verdict import Problem, Rule, Verdict, first_line, utc
from tests.support.ledger_samples import ledger, nid, record, write


@pytest.fixture(autouse=True)
def no_required_modes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MC_REQUIRED_MODES", "")


def verdict_over(folder: Path, required: tuple[str, ...] = ()) -> Verdict:
    reading = gate.read_paths([folder])
    matrix = build_matrix(reading.ledgers, extra_modes=[*required, *reading.modes])
    return gate.evaluate(matrix, required, reading.problems)


def test_the_summary_table_lines_up_its_columns_and_counts_every_outcome(
    tmp_path: Path,
) -> None:
    write(tmp_path, ledger("docker_local", status=RunStatus.SKIPPED, reason="no daemon"))
    write(
        tmp_path,
        ledger(
            "staging_fallback",
            [
                record("test_a"),
                record("test_b", Outcome.XPASSED),
                record("test_c", Outcome.FAILED, reason="boom"),
                record("test_d", Outcome.ERROR, reason="setup"),
                record("test_e", Outcome.SKIPPED, reason="slow"),
                record("test_f", Outcome.XFAILED),
            ],
        ),
    )
    write(tmp_path, replace(ledger("minimal", [record("test_a")]), reason=""))
    table = gate.render_table(verdict_over(tmp_path, ("minimal",)))
    assert table.splitlines() == [
        "mode              run      passed  failed  errors  skipped  not coll.",
        "----------------  -------  ------  ------  ------  -------  ---------",
        "docker_local      skipped       0       0       0        0          -",
        "staging_fallback  ran           2       1       1        1          0",
        "minimal *         ran           1       0       0        0          5",
        "",
        "docker_local: skipped: no daemon",
        "staging_fallback: ran: staging_fallback requested",
        "minimal: ran: (no reason recorded)",
        "* required: minimal",
        "mission-critical tests: 6, ran in at least one mode: 5, ran nowhere: 1",
    ]


def test_the_table_keeps_its_columns_for_a_mode_name_it_does_not_know(tmp_path: Path) -> None:
    # A ledger written by hand or by another tool may name its mode oddly, even not at all.
    write(tmp_path, ledger("minimal", [record("test_a")]))
    odd = ledger("", [record("test_a")])
    reading = gate.read_paths([tmp_path])
    matrix = build_matrix([*reading.ledgers, replace(reading.ledgers[0], ledger=odd)])
    lines = gate.render_table(gate.evaluate(matrix)).splitlines()
    assert lines[2].startswith("         ran ") or lines[3].startswith("         ran ")


def test_the_table_of_a_missing_mode_says_missing_and_lists_every_required_mode(
    tmp_path: Path,
) -> None:
    write(tmp_path, ledger("minimal", [record("test_a")]))
    table = gate.render_table(verdict_over(tmp_path, ("minimal", "docker_local")))
    assert "docker_local *  missing       0       0       0        0          -" in table
    assert "docker_local: missing: no ledger for this mode" in table
    assert "* required: minimal, docker_local" in table


def test_the_warnings_name_xpassed_retried_uncollected_and_non_critical_tests_that_never_ran(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        ledger(
            "minimal",
            [
                record("test_a"),
                record("test_b", Outcome.XPASSED),
                record("test_c", attempts=2),
                record("test_d", Outcome.SKIPPED, reason="slow", attempts=3),
                record("test_e", Outcome.SKIPPED, mc=False, reason="later"),
                record("test_f", mc=False),
            ],
        ),
    )
    write(tmp_path, ledger("docker_local", [record("test_a"), record("test_c")]))
    write(tmp_path, ledger("staging_fallback", status=RunStatus.ERROR, reason="refused"))
    verdict = verdict_over(tmp_path)
    assert verdict.problems[0].rule is Rule.RUN_ERROR
    assert verdict.warnings == (
        f"{nid('test_b')} [minimal]: passed although marked xfail",
        f"{nid('test_b')}: not collected in docker_local",
        f"{nid('test_c')} [minimal]: passed after 2 attempts (the connection dropped)",
        f"{nid('test_d')}: not collected in docker_local",
        f"{nid('test_e')}: ran in no mode (docker_local: not collected in docker_local;"
        " staging_fallback: the run failed: refused; minimal: later)",
        f"{nid('test_e')}: not collected in docker_local",
        f"{nid('test_f')}: not collected in docker_local",
    )


def test_the_verdict_line_counts_the_problems(tmp_path: Path) -> None:
    write(tmp_path, ledger("minimal", [record("test_a")]))
    verdict = verdict_over(tmp_path)
    # No baseline is configured here, which the verdict says once, before the verdict line.
    none = gate.NO_BASELINE + "\n"
    assert gate.render_verdict(verdict) == none + "gate: PASSED"
    assert (
        gate.render_verdict(verdict, ["parity: x"])
        == "warnings (1):\n  parity: x\n" + none + "gate: PASSED"
    )
    one = replace(verdict, problems=(Problem(Rule.FAILED, "t", "failed: x"),))
    assert gate.render_verdict(one) == none + "gate: FAILED (1 problem)\n  FAILED: t: failed: x"
    two = replace(one, problems=one.problems * 2)
    assert gate.render_verdict(two).splitlines()[1] == "gate: FAILED (2 problems)"
    assert (verdict.exit_code, one.exit_code) == (0, 1)


def test_the_gate_reads_reports_when_given_no_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "reports", ledger("minimal", [record("test_a", Outcome.FAILED)]))
    monkeypatch.chdir(tmp_path)
    assert gate.main([]) == 1
    assert f"FAILED: {nid('test_a')} [minimal]" in capsys.readouterr().out


def test_with_reports_the_gate_writes_the_html_page_and_junit_per_mode_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "in", ledger("minimal", [record("test_a")]))
    out_dir = tmp_path / "out"
    assert gate.main([str(tmp_path / "in"), "--reports", str(out_dir)]) == 0
    junit = out_dir / "minimal" / "junit.xml"
    index = out_dir / "index.html"
    assert capsys.readouterr().out.splitlines()[-1] == f"reports: {junit}, {index}"
    assert "test_a" in junit.read_text("utf-8")
    assert nid("test_a") in index.read_text("utf-8")


def test_a_reports_folder_that_is_a_file_is_refused_naming_the_option_before_any_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "in", ledger("minimal", [record("test_a")]))
    taken = tmp_path / "taken"
    taken.write_text("")
    assert gate.main([str(tmp_path / "in"), "--reports", str(taken)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"gate: error: --reports='{taken}' (option): cannot create the report folder"
        f" '{taken}' (it is a file): choose a writable folder\n"
    )


def test_a_file_where_a_modes_report_folder_goes_is_refused_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "in", ledger("minimal", [record("test_a")]))
    html = tmp_path / "html"
    html.mkdir()
    (html / "minimal").write_text("")
    assert gate.main([str(tmp_path / "in"), "--reports", str(html)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"gate: error: --reports='{html}' (option): cannot create the report folder"
        f" '{html / 'minimal'}' (it is a file): choose a writable folder\n"
    )
    assert not (html / "index.html").exists()


def test_the_help_names_every_option_with_what_it_takes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        gate.main(["--help"])
    text = " " + " ".join(capsys.readouterr().out.split()) + " "
    assert text.startswith(" usage: python -m test_framework gate [-h] [--required MODES]")
    assert "[--reports DIR] [--no-parity] [--invocation ID] [paths ...]" in text
    assert (
        " " + "Fail when a mission-critical test ran in no mode, or anything failed." + " " in text
    )
    assert (
        " " + "ledger files or folders searched for ledger*.json (default: reports)" + " " in text
    )
    assert "--required MODES" in text
    assert " also write DIR/index.html and DIR/<mode>/junit.xml " in text
    assert "--no-parity skip comparing transcripts between modes" in text
    assert (
        "--invocation ID judge only ledgers written under this MC_INVOCATION_ID (the noxfile"
        " passes its own); any other ledger found is stale and fails the gate"
    ) in text
    required_help = " ".join(gate.REQUIRED_MODES.option_help().split())
    assert f"--required MODES {required_help}" in text


def test_no_parity_is_a_flag_and_reports_a_folder() -> None:
    args = gate.parser().parse_args(["a", "--no-parity", "--reports", "r"])
    assert args.no_parity is True
    assert args.reports == Path("r")
    assert args.paths == [Path("a")]
    assert gate.parser().parse_args([]).no_parity is False


# Required modes: --required, else MC_REQUIRED_MODES, else required_modes in pyproject.toml.


def project(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[tool.test_framework]\n{table}\n", "utf-8")
    inner = tmp_path / "sub"
    inner.mkdir()
    return inner


def test_required_modes_come_from_the_projects_pyproject_above_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MC_REQUIRED_MODES")
    inner = project(tmp_path, 'required_modes = ["minimal", "docker_local"]')
    assert gate.required_modes(None, inner) == ("minimal", "docker_local")
    monkeypatch.chdir(inner)
    assert gate.required_modes() == ("minimal", "docker_local")


def test_the_environment_overrides_pyproject_and_the_option_overrides_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner = project(tmp_path, 'required_modes = ["minimal"]')
    monkeypatch.setenv("MC_REQUIRED_MODES", "docker_local")
    assert gate.required_modes(None, inner) == ("docker_local",)
    assert gate.required_modes("staging_fallback", inner) == ("staging_fallback",)
    monkeypatch.delenv("MC_REQUIRED_MODES")
    assert gate.required_modes("staging_fallback", inner) == ("staging_fallback",)


def test_a_gate_given_its_modes_does_not_read_a_broken_pyproject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner = project(tmp_path, "required_modes = [")
    monkeypatch.setenv("MC_REQUIRED_MODES", "minimal")
    assert gate.required_modes(None, inner) == ("minimal",)
    monkeypatch.delenv("MC_REQUIRED_MODES")
    assert gate.required_modes("docker_local", inner) == ("docker_local",)
    with pytest.raises(ConfigError, match="invalid TOML"):
        gate.required_modes(None, inner)


def test_required_modes_in_pyproject_must_be_a_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MC_REQUIRED_MODES")
    inner = project(tmp_path, 'required_modes = "minimal"')
    with pytest.raises(ConfigError) as caught:
        gate.required_modes(None, inner)
    assert str(caught.value) == "[tool.test_framework] required_modes must be a list of modes"


@pytest.mark.parametrize(
    ("option", "env", "where"),
    [("dockr", "", "--required"), (None, "dockr", "MC_REQUIRED_MODES")],
)
def test_an_unknown_required_mode_names_where_it_was_given(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    option: str | None,
    env: str,
    where: str,
) -> None:
    inner = project(tmp_path, "")
    monkeypatch.setenv("MC_REQUIRED_MODES", env)
    with pytest.raises(ConfigError) as caught:
        gate.required_modes(option, inner)
    assert str(caught.value).startswith(f"{where}: unknown mode 'dockr'")


# The text helpers the gate and the reports share.


def test_first_line_is_the_first_non_blank_line_cut_to_the_limit_with_an_ellipsis() -> None:
    assert first_line("\n  \n  boom  \nmore") == "boom"
    assert first_line(None) == ""
    assert first_line("") == ""
    assert first_line("abcdef", limit=6) == "abcdef"
    assert first_line("abcdefg", limit=6) == "abcde…"
    assert first_line("x" * 241) == "x" * 239 + "…"
    assert first_line("x" * 240) == "x" * 240


def test_times_are_printed_in_utc() -> None:
    assert utc(1_700_000_000.9) == "2023-11-14 22:13:20 UTC"
    assert utc(0) == "1970-01-01 00:00:00 UTC"


def test_the_verdict_of_a_matrix_read_back_from_files_is_the_same(tmp_path: Path) -> None:
    write(tmp_path, ledger("minimal", [record("test_a")]))
    matrix = build_matrix(load_ledgers([tmp_path]))
    assert gate.evaluate(matrix).passed


def test_a_test_not_collected_in_several_modes_names_them_all(tmp_path: Path) -> None:
    write(tmp_path, ledger("minimal", [record("test_a"), record("test_b")]))
    write(tmp_path, ledger("docker_local", [record("test_a")]))
    write(tmp_path, ledger("staging_fallback", [record("test_a")]))
    assert verdict_over(tmp_path).warnings == (
        f"{nid('test_b')}: not collected in docker_local, staging_fallback",
    )
