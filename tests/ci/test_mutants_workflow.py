"""The workflow that runs ``nox -s mutants``: valid for GitHub, clean for zizmor, scheduled, and
triggered by a change to any module mutmut mutates or any test it runs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tests.support.workflow_linters import audit, check_schema

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "mutants.yml"


def mutmut_config() -> dict[str, list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    config: dict[str, list[str]] = data["tool"]["mutmut"]
    return config


def trigger_paths(event: str) -> list[str]:
    text = WORKFLOW.read_text("utf-8")
    block = re.search(rf"^  {event}:\n(?:    .*\n)*?    paths:\n((?:      - .*\n)+)", text, re.M)
    assert block is not None, f"{WORKFLOW.name}: no paths for {event}"
    return [line.strip()[2:] for line in block.group(1).splitlines()]


def test_the_mutants_workflow_validates_against_githubs_schema() -> None:
    done = check_schema(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_finds_nothing_in_the_mutants_workflow() -> None:
    done = audit(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_it_runs_on_a_schedule_and_runs_the_session() -> None:
    text = WORKFLOW.read_text("utf-8")
    assert re.search(r'^  schedule:\n    - cron: "[^"]+"$', text, re.M)
    assert "        run: nox -s mutants\n" in text


def test_a_change_to_any_mutated_module_or_test_it_runs_triggers_it() -> None:
    config = mutmut_config()
    wanted = {*config["only_mutate"], *config["pytest_add_cli_args_test_selection"]}
    assert "test_framework/results/baseline.py" in wanted
    for event in ("push", "pull_request"):
        paths = trigger_paths(event)
        assert wanted <= set(paths), f"{event}: add {sorted(wanted - set(paths))}"
        assert {"mutation/**", "pyproject.toml"} <= set(paths)
