"""Can each mode run here, and which one runs: the probes and the mode selection.

Hands on a ``ProbeResult`` per mode (available, absent or broken, with the reason) and the mode
``auto`` picks. Standard library only, like everything it imports: the noxfile probes before
any session has installed anything.
"""

from __future__ import annotations

__all__ = ["command", "result", "runner", "selection"]
