"""``python -m test_framework probe``: one row per mode, and the mode ``auto`` would pick."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from test_framework.errors import ModeUnavailableError
from test_framework.modes import ALL_MODES
from test_framework.probes.runner import probe_modes
from test_framework.probes.selection import select_mode
from test_framework.settings import load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--steps", action="store_true", help="show each probe step and its milliseconds"
    )
    parser.add_argument("--root", type=Path, default=None, help="project folder (default: cwd)")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    settings = load_settings(args.root)
    results = probe_modes(settings, ALL_MODES)
    refusal = ""
    try:
        choice: str | None = select_mode(None, results).mode.value
    except ModeUnavailableError as exc:
        choice = None
        refusal = str(exc)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if args.json:
        import json  # only here: most probe processes print the table

        print(
            json.dumps(
                {
                    "probes": [r.to_json() for r in results.values()],
                    "auto": choice,
                    "elapsed_ms": round(elapsed_ms, 3),
                },
                indent=2,
            )
        )
        return 0 if choice else 1
    print(f"{'mode':<17} {'available':<9} {'ms':>8}  reason")
    # Beside "auto would pick: nothing" (a broken mode stops auto), a mode that could run is
    # not a "yes": it runs only when asked for by name.
    can_run = "yes" if choice else "by name"
    for result in results.values():
        verdict = {"available": can_run, "absent": "no", "broken": "BROKEN"}[result.status]
        print(f"{result.mode:<17} {verdict:<9} {result.elapsed_ms:>8.1f}  {result.reason}")
        if args.steps:
            for step in result.steps:
                mark = "FAILED" if not step.ok else "ok" if step.checked else "not checked here"
                print(f"{'':<17} {mark:<9} {step.elapsed_ms:>8.1f}    {step.name}: {step.detail}")
    if choice:
        print(f"auto would pick: {choice}  ({elapsed_ms:.1f} ms)")
    elif any(result.status == "broken" for result in results.values()):
        runnable = [str(r.mode) for r in results.values() if r.available]
        by_name = f"; run {runnable[0]} by name with --mc-mode {runnable[0]}" if runnable else ""
        print(f"auto would pick: nothing: {refusal}{by_name}  ({elapsed_ms:.1f} ms)")
    else:
        print(f"auto would pick: nothing (no mode can run)  ({elapsed_ms:.1f} ms)")
    return 0 if choice else 1
