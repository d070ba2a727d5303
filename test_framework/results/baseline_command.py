"""``python -m test_framework baseline [--check]``: write the baseline file, or check it.

It collects the suite as the mode sessions run it (``pytest <suite> --collect-only``, from
the project's root, with the project's pytest configuration) in this interpreter, with no
mode chosen, so no probe runs and no service starts; then writes the mission-critical node
ids to the file ``baseline`` in ``[tool.test_framework]`` names. ``--check`` writes nothing,
prints what the suite gained and lost since the file, and exits 1 when they differ.

A collection that fails (a module that cannot import) is refused, exit 2: a baseline written
from it would silently drop that module's tests. A module that skips itself at collection
(``pytest.importorskip``) is named: its tests are not in what was collected. Standard library
only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from test_framework.errors import ConfigError
from test_framework.results import baseline as baselines
from test_framework.settings import load_settings
from test_framework.settings_table import BASELINE, MODE, SUITE
from test_framework.wording import counted

EXIT_DIFFERS = 1
# The plugin loaded into the collection, and its option naming the file it writes.
PLUGIN = "test_framework.results.collect_plugin"
OPTION = "--mc-collect-to"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing: print what was added and removed since the file; exit 1 if any",
    )
    p.add_argument("--root", type=Path, default=Path(), help="the project (default: here)")


@dataclass(frozen=True)
class Collection:
    """What pytest collected of the suite."""

    suite: str
    mission_critical: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]  # (module, reason) of each module that skipped itself


def configured(root: Path) -> tuple[Path, str]:
    found = baselines.configured_path(root)
    if found is None:
        raise ConfigError(
            f"no baseline is configured: add {BASELINE.pyproject} ="
            ' "tests/mission_critical/BASELINE" (the path you want) to [tool.test_framework]'
            " in pyproject.toml"
        )
    return found


def collect(root: Path) -> Collection:
    """Collect the suite in a pytest subprocess, with no mode (``TEST_MODE`` removed)."""
    settings = load_settings(root, {})
    suite_path = settings.root / settings.suite.partition("::")[0]
    if not suite_path.exists():
        raise ConfigError(
            f"the suite {settings.suite} ({SUITE.pyproject} in [tool.test_framework]) does not"
            f" exist in {settings.root}: give the folder of the mission-critical tests"
        )
    environ = {k: v for k, v in os.environ.items() if k != MODE.env}
    with tempfile.TemporaryDirectory(prefix="mc-baseline-") as scratch:
        output = Path(scratch) / "collected.json"
        command = [sys.executable, "-m", "pytest", settings.suite, "--collect-only", "-q"]
        command += ["-p", "no:cacheprovider", "-p", PLUGIN, OPTION, str(output)]
        done = subprocess.run(
            command, cwd=settings.root, env=environ, capture_output=True, text=True, check=False
        )
        if not output.is_file():
            said = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
            raise ConfigError(
                f"pytest could not collect {settings.suite} (exit {done.returncode}:"
                f" {said[-1] if said else 'no output'}): run this where the suite's"
                " dependencies are installed"
            )
        data = json.loads(output.read_text("utf-8"))
    if data["errors"]:
        first = data["errors"][0]
        raise ConfigError(
            f"collecting {settings.suite} failed in {counted(len(data['errors']), 'module')}"
            f" ({first['nodeid']}: {first['message']}): fix it, or run this where the suite's"
            " dependencies are installed; a baseline without those tests would drop them"
        )
    return Collection(
        suite=settings.suite,
        mission_critical=tuple(t["nodeid"] for t in data["tests"] if t["mission_critical"]),
        skipped=tuple((s["nodeid"], s["reason"]) for s in data["skipped"]),
    )


def write(root: Path) -> str:
    """Collect and write the baseline (``init`` calls this too); what it wrote, in words."""
    path, shown = configured(root)
    before = baselines.parse(path.read_text("utf-8")).nodeids if path.is_file() else ()
    collection = _collected(root)
    baselines.write_baseline(path, collection.mission_critical)
    difference = baselines.compare(before, collection.mission_critical)
    return (
        f"wrote {shown}: {counted(len(set(collection.mission_critical)), 'test')}"
        f" ({len(difference.added)} added, {len(difference.removed)} removed)"
    )


def _collected(root: Path) -> Collection:
    collection = collect(root)
    for module, reason in collection.skipped:
        print(f"skipped at collection: {module} ({reason}): its tests are not counted here")
    if not collection.mission_critical:
        raise baselines.BaselineError(
            f"pytest collected no test marked mission_critical in {collection.suite}:"
            f" {baselines.EMPTY}; mark the suite's tests @pytest.mark.mission_critical"
        )
    return collection


def run(args: argparse.Namespace) -> int:
    root: Path = args.root
    if not args.check:
        print(write(root))
        return 0
    path, shown = configured(root)
    baseline = baselines.read_baseline(path, shown)
    collection = _collected(root)
    difference = baselines.compare(baseline.nodeids, collection.mission_critical)
    if not difference.changed:
        note = ""
        if path.read_text("utf-8") != baselines.render(baseline.nodeids):
            note = f"; not in the form the command writes: rewrite it with `{baselines.COMMAND}`"
        print(f"baseline {shown} is up to date: {counted(len(baseline.nodeids), 'test')}{note}")
        return 0
    print(
        f"baseline {shown} differs from the suite: {len(difference.added)} added,"
        f" {len(difference.removed)} removed since the file:"
    )
    for nodeid in difference.added:
        print(f"+ {nodeid}")
    for nodeid in difference.removed:
        print(f"- {nodeid}")
    print(f"if that is intended, run `{baselines.COMMAND}` and commit {shown} with the change")
    return EXIT_DIFFERS
