"""The pytest plugin (the ``test_framework`` entry point): mode, backend, fixtures, ledger.

It chooses the mode, starts the backend, gives each test its clients as fixtures, and hands
on one ledger per run (``results.ledger``) that the gate reads.
"""

from __future__ import annotations

__all__ = ["fixtures", "hooks"]
