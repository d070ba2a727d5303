"""The harness's exception tree.

Every expected failure is a ``HarnessError``: its message is one line saying what is wrong and
what to do, and the command-line entry points print it without a traceback and exit with
``EXIT_USAGE``. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

EXIT_USAGE = 2


class HarnessError(Exception):
    """An expected failure with a one-line, actionable message."""

    exit_code: int = EXIT_USAGE


class ConfigError(HarnessError):
    """The configuration (pyproject, environment, options) cannot be right."""


class ModeUnavailableError(HarnessError):
    """A mode that was asked for cannot run here."""


class ModeBrokenError(ModeUnavailableError):
    """A mode that was configured answers its probe but fails a step: a failure, never a skip."""

    def __init__(self, message: str, modes: tuple[str, ...]) -> None:
        super().__init__(message)
        # The broken modes, by name: each gets an error ledger, so the gate fails on them.
        self.modes = modes


class ServiceUnavailableError(HarnessError):
    """The service under test cannot be reached or did not become healthy."""


class ConnectionLostError(HarnessError):
    """A connection to the deployment could not be opened, or dropped, after its retries.

    The plugin reruns a test that fails with this (as the profile's retry policy allows) and
    marks it as retried; an assertion failure is never rerun.
    """


class BackendUnavailableError(ConnectionLostError):
    """The fast failure of a deployment already known to be down (``client.availability``).

    Never rerun: a rerun would only fail fast again, after the retry delay, for every remaining
    test.
    """


class TeardownError(ServiceUnavailableError):
    """Removing a stack through the daemon's API failed at a step (named in the message)."""
