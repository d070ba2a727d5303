"""Run and connection ids: a prefix and 128 random bits, never repeated."""

from __future__ import annotations

import random
import re

from agent_backend.ids import new_id


def test_an_id_is_its_prefix_and_32_hex_digits() -> None:
    assert re.fullmatch(r"run_[0-9a-f]{32}", new_id("run"))
    assert re.fullmatch(r"conn_[0-9a-f]{32}", new_id("conn"))


def test_ids_do_not_repeat() -> None:
    ids = {new_id("run") for _ in range(10_000)}
    assert len(ids) == 10_000


def test_ids_stay_unique_when_the_global_random_is_reseeded() -> None:
    # Hypothesis seeds ``random`` the same way for every example.
    random.seed(0)
    first = new_id("run")
    random.seed(0)
    assert new_id("run") != first
