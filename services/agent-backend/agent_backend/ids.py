"""Run and connection ids: a prefix and 128 random bits in hex, like ``run_3f9c...``.

``os.urandom`` rather than ``random``: test tools (Hypothesis) reseed the global ``random`` for
every example, which made in-process servers hand out the same run id twice; and rather than
``uuid4``, which reads the same bytes but costs four times as much building a UUID object.
"""

from __future__ import annotations

import os

_BYTES = 16


def new_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(_BYTES).hex()}"
