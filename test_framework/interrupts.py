"""SIGTERM that unwinds like Ctrl-C, so pytest's teardown runs: the deployment is taken down and
the ledger records the run as interrupted, whichever process of a run receives it."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType

log = logging.getLogger(__name__)

SIGTERM_TEXT = "SIGTERM"


def sigterm_as_interrupt(also: Callable[[], Iterable[int]] = tuple) -> None:
    """Make SIGTERM raise ``KeyboardInterrupt("SIGTERM")`` in the main thread, after sending
    SIGINT to the processes ``also`` names (a pytest-xdist controller's workers), so the whole
    run stops as on Ctrl-C, which a terminal sends to every process of the run.

    Only where SIGTERM still has its default (fatal) action and in the main thread; a handler
    somebody else installed is left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        for pid in also():
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.kill(pid, signal.SIGINT)
        raise KeyboardInterrupt(SIGTERM_TEXT)

    signal.signal(signal.SIGTERM, interrupt)
    log.info("SIGTERM now interrupts the run like Ctrl-C")


def how_interrupted(exc: KeyboardInterrupt) -> str:
    """``SIGTERM`` or ``Ctrl-C``, for a ledger's reason."""
    return SIGTERM_TEXT if str(exc) == SIGTERM_TEXT else "Ctrl-C"
