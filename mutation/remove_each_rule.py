"""Remove each of the gate's rules in turn and run the per-rule tests: every rule must fail at
least one test named after it (``test_rule_<rule>_...``). Prints one line per rule; exit 1 when
some rule's removal fails none of its tests.

A rule is removed by dropping its problems from the verdict (``evaluate`` filters them out just
before its one ``return Verdict(``), in a copy of the tree under a temporary folder, so the
working tree is never touched. Run from the project's root: ``python mutation/remove_each_rule.py``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# pytest's exit statuses: some test failed (the rule's removal was noticed), all passed.
NOTICED, UNNOTICED = 1, 0


def rule_test_files() -> list[str]:
    """The test modules that hold per-rule tests: only those run, so that a module needing
    another extra (Hypothesis, a browser) cannot turn the run into a collection error."""
    return sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("test_*.py")
        if "def test_rule_" in path.read_text("utf-8")
    )


# evaluate's last statement, the only one of its kind in gate.py: the filter goes before it.
RETURN = "    return Verdict(\n"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from test_framework.results.verdict import Rule

    missed = []
    files = rule_test_files()
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch)
        for part in ("test_framework", "tests", "pyproject.toml"):
            source = ROOT / part
            if source.is_dir():
                shutil.copytree(source, copy / part)
            else:
                shutil.copy2(source, copy / part)
        gate = copy / "test_framework" / "results" / "gate.py"
        original = gate.read_text("utf-8")
        if original.count(RETURN) != 1:
            print(f"gate.py: evaluate does not end with one {RETURN.strip()!r}: update this script")
            return 2
        for rule in Rule:
            label = rule.value.replace(" ", "_")
            gate.write_text(
                original.replace(
                    RETURN,
                    f"    problems = [p for p in problems if p.rule is not Rule.{rule.name}]\n"
                    + RETURN,
                ),
                "utf-8",
            )
            run = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    *files,
                    "-k",
                    f"test_rule_{label}_",
                ],
                cwd=copy,
                capture_output=True,
                text=True,
                check=False,
            )
            failed = re.findall(r"^FAILED \S+::(test_rule_\w+)", run.stdout, re.M)
            status = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
            print(f"{rule.name} ({rule.value}) removed: {status}")
            if run.returncode not in (NOTICED, UNNOTICED):
                # A collection or usage error, or no test named after the rule (5): no answer.
                print(run.stdout[-3000:] + run.stderr[-3000:])
                print(f"pytest exited {run.returncode}: the per-rule tests did not run")
                return 2
            if not failed:
                missed.append(rule.name)
        gate.write_text(original, "utf-8")
    if missed:
        print("rules whose removal no test named after them noticed: " + ", ".join(missed))
        return 1
    print("every rule's removal fails a test named after it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
