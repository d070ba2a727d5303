"""docs/ledger.schema.json describes the ledgers the plugin, the noxfile and this harness write."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from test_framework.results.ledger import (
    VERSION,
    CollectionError,
    Ledger,
    Outcome,
    RunStatus,
    read_ledger,
    skipped_ledger,
)
from tests.support.ledger_samples import ledger, record
from tests.support.projects import harness_project

pytest_plugins = ["pytester"]

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "ledger.schema.json"

SUITE = """
import pytest

pytestmark = pytest.mark.mission_critical

def test_passes(mc_endpoints):
    assert mc_endpoints.ws_url

def test_fails():
    assert 1 == 2, "one is not two"

def test_skips():
    pytest.skip("not here")

@pytest.mark.xfail(reason="known gap", strict=True)
def test_xfails():
    raise ValueError("gap")
"""


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def problems(validator: jsonschema.Draft202012Validator, data: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    return harness_project(pytester, monkeypatch)


def test_the_schema_is_versioned_like_the_ledger(validator: jsonschema.Validator) -> None:
    assert validator.schema["properties"]["version"] == {"const": VERSION}
    assert validator.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    written = {o.value for o in Outcome} - {Outcome.NOT_COLLECTED.value}
    assert set(validator.schema["$defs"]["test"]["properties"]["outcome"]["enum"]) == written


def test_a_ledger_the_plugin_wrote_is_valid(
    project: pytest.Pytester, validator: jsonschema.Draft202012Validator
) -> None:
    project.makepyfile(test_suite=SUITE, test_broken="import no_such_module_here\n")
    project.runpytest_subprocess("--mc-mode", "minimal", "--continue-on-collection-errors")
    path = project.path / "out" / "minimal" / "ledger.json"
    data = json.loads(path.read_text())
    assert problems(validator, data) == []
    led = read_ledger(path)
    assert {t.outcome for t in led.tests} == {
        Outcome.PASSED,
        Outcome.FAILED,
        Outcome.SKIPPED,
        Outcome.XFAILED,
    }
    assert led.collection_errors


def test_a_ledger_the_plugin_wrote_in_a_git_checkout_records_the_code_it_tested(
    project: pytest.Pytester, validator: jsonschema.Draft202012Validator
) -> None:
    project.makepyfile(test_suite=SUITE)
    (project.path / ".gitignore").write_text("out/\n")
    git = ["git", "-c", "user.name=mc", "-c", "user.email=mc@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "suite"]):
        subprocess.run([*git, *args], cwd=project.path, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project.path, capture_output=True, text=True, check=True
    ).stdout.strip()
    project.runpytest_subprocess("--mc-mode", "minimal")
    data = json.loads((project.path / "out" / "minimal" / "ledger.json").read_text())
    assert problems(validator, data) == []
    assert data["code"]["source"] == f"git:{head}"
    assert data["code"]["checkout"] == str(project.path)
    assert data["code"]["stale_install"] is None


def test_a_shard_ledger_the_plugin_wrote_is_valid(
    project: pytest.Pytester, validator: jsonschema.Draft202012Validator
) -> None:
    project.makepyfile(test_suite=SUITE)
    project.runpytest_subprocess("--mc-mode", "minimal", "--shard", "2/3")
    data = json.loads((project.path / "out" / "minimal" / "ledger-shard-2-of-3.json").read_text())
    assert problems(validator, data) == []
    assert data["shard"] == {"index": 2, "count": 3}


def test_the_ledger_of_a_mode_that_could_not_run_is_valid(
    project: pytest.Pytester,
    validator: jsonschema.Draft202012Validator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORCE_DOCKER_UNAVAILABLE", "true")
    project.makepyfile(test_suite=SUITE)
    project.runpytest_subprocess("--mc-mode", "docker_local")
    data = json.loads((project.path / "out" / "docker_local" / "ledger.json").read_text())
    assert problems(validator, data) == []
    assert data["status"] in ("skipped", "error")
    assert data["reason"]


@pytest.mark.parametrize(
    "led",
    [
        ledger(
            "minimal", [record(f"t_{o.value}", o) for o in Outcome if o.value != "not_collected"]
        ),
        ledger("docker_local", status=RunStatus.SKIPPED, reason="Docker daemon not reachable"),
        skipped_ledger("staging_fallback", "not configured", invocation="20261130-nox-a1b2c3"),
        ledger("minimal", [record("t")], complete=False),
        ledger("minimal", [record("t")], shard=(3, 4), collected=["a", "b", "t"]),
        ledger(
            "staging_fallback",
            [record("t", attempts=3, transcript="t.json")],
            collection_errors=[CollectionError("tests/x.py", "ImportError")],
        ),
    ],
    ids=[
        "every-outcome",
        "skipped-mode",
        "nox-skipped-mode",
        "incomplete",
        "shard",
        "errors-and-retries",
    ],
)
def test_every_shape_the_harness_writes_is_valid(
    led: Ledger, validator: jsonschema.Draft202012Validator
) -> None:
    assert problems(validator, led.to_json()) == []


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d.update(version=2), "1 was expected"),
        (lambda d: d["tests"][0].update(outcome="not_collected"), "is not one of"),
        (lambda d: d["tests"][0].update(transcript="../../etc/passwd"), "does not match"),
        (lambda d: d.pop("complete"), "'complete' is a required property"),
        (lambda d: d.update(surprise=True), "Additional properties are not allowed"),
        (lambda d: d["collected"].update(sha256="abc"), "not valid under any of the given"),
        (lambda d: d.update(mode="auto"), "is not one of"),
    ],
    ids=[
        "version",
        "not-collected",
        "transcript-escape",
        "missing-field",
        "unknown-field",
        "digest",
        "mode",
    ],
)
def test_the_schema_refuses_what_the_format_forbids(
    validator: jsonschema.Draft202012Validator, change: Any, fragment: str
) -> None:
    data = ledger("minimal", [record("t")]).to_json()
    change(data)
    found = problems(validator, data)
    assert any(fragment in p for p in found), found
