"""``python -m test_framework``: probe, gate, cleanup, monitor, init, contract and baseline.

Each subcommand is a ``run(args) -> int`` in its own module, imported only when chosen, so
``probe`` and ``gate`` stay standard-library only. A ``HarnessError`` prints as one line on
stderr with exit status 2; anything else keeps its traceback. A reader that goes away
(``probe --json | head -1``) ends the command quietly with 141, the status of a process
killed by SIGPIPE, as a shell pipeline expects.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from test_framework.errors import HarnessError

SIGPIPE_EXIT_STATUS = 128 + 13

# subcommand -> (module with ``add_arguments(parser)`` and ``run(args) -> int``, help)
COMMANDS: dict[str, tuple[str, str]] = {
    "probe": ("test_framework.probes.command", "probe every mode and say which one auto picks"),
    "gate": (
        "test_framework.results.gate",
        "fail when a mission-critical test ran nowhere, or failed",
    ),
    "cleanup": (
        "test_framework.backends.cleanup_command",
        "remove docker resources of runs whose owner is gone",
    ),
    "monitor": (
        "test_framework.ci.monitor",
        "probe, run the suite and record coverage every S seconds",
    ),
    "init": (
        "test_framework.scaffold.command",
        "adopt the harness here: settings, noxfile, a first test, the CI workflow",
    ),
    "baseline": (
        "test_framework.results.baseline_command",
        "write the baseline of the suite's mission-critical tests, or --check it",
    ),
    "contract": (
        "test_framework.runners.contract",
        "run the shipped docs/protocol.md suite against your own service, then the gate",
    ),
}


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """With no command chosen (``--help``, a misspelt name), every subcommand is listed; with
    one, only its parser is built and only its module imported: each parser costs argparse's
    message look-ups, which a probe process would otherwise pay six times."""
    parser = argparse.ArgumentParser(prog="python -m test_framework")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        if chosen is not None and name != chosen:
            continue
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module_name).add_arguments(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    # The first word naming a command is the command: the probe must not import the gate's
    # report writer, nor the gate the Docker SDK.
    chosen = next((word for word in words if word in COMMANDS), None)
    args = build_parser(chosen).parse_args(words)
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        status = int(module.run(args))
        sys.stdout.flush()  # a closed pipe raises here, not in the interpreter's exit
        return status
    except BrokenPipeError:
        # Nobody reads the rest. Point stdout at /dev/null, or the flush at exit raises again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return SIGPIPE_EXIT_STATUS
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
