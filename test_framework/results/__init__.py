"""From ledgers to a verdict and reports: the matrix, the gate, parity, JUnit and HTML.

Standard library only: the gate runs in nox's own interpreter, outside every session. Hands on
the exit status of the build and the files under ``--reports``.
"""

from __future__ import annotations

__all__ = ["gate", "junit", "ledger", "leftovers", "matrix", "parity", "report_html", "verdict"]
