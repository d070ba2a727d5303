from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from test_framework.errors import ConfigError, HarnessError
from test_framework.sharding import (
    assign_shards,
    load_durations,
    parse_shard,
    select_shard,
)

IDS = [f"tests/mission_critical/test_x.py::test_{i:02d}" for i in range(23)]


@pytest.mark.parametrize(
    ("text", "expected"), [("1/1", (1, 1)), ("2/4", (2, 4)), (" 4/4 ", (4, 4))]
)
def test_parse_shard_reads_i_of_n(text: str, expected: tuple[int, int]) -> None:
    assert parse_shard(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("5/4", "i=5: give 1 <= i <= 4"),
        ("0/4", "i=0"),
        ("1/0", "N=0"),
        ("2", "not of the form i/N"),
        ("a/b", "not of the form i/N"),
        ("", "not of the form i/N"),
    ],
)
def test_parse_shard_refuses_bad_input_in_one_line(text: str, fragment: str) -> None:
    with pytest.raises(HarnessError) as info:
        parse_shard(text)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 23, 30])
def test_shards_partition_the_tests_exactly_once(count: int) -> None:
    shards = [select_shard(IDS, i, count) for i in range(1, count + 1)]
    flat = [n for shard in shards for n in shard]
    assert sorted(flat) == sorted(IDS)
    assert len(flat) == len(set(flat))
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1


def test_the_split_does_not_depend_on_collection_order() -> None:
    shuffled = list(IDS)
    random.Random(7).shuffle(shuffled)
    for i in range(1, 5):
        assert set(select_shard(IDS, i, 4)) == set(select_shard(shuffled, i, 4))


def test_a_shard_keeps_the_callers_order() -> None:
    reversed_ids = list(reversed(IDS))
    selected = select_shard(reversed_ids, 2, 3)
    assert selected == [n for n in reversed_ids if n in set(selected)]


def test_recorded_durations_balance_the_shards() -> None:
    # One long test and many short ones: by count the long one's shard would be far slower.
    durations = {n: 1.0 for n in IDS}
    durations[IDS[0]] = 11.0
    shards = assign_shards(IDS, 2, durations)
    loads = [sum(durations[n] for n in shard) for shard in shards]
    assert abs(loads[0] - loads[1]) <= 1.0
    long_shard = next(s for s in shards if IDS[0] in s)
    assert len(long_shard) < len(IDS) / 2


def test_a_test_without_a_recorded_duration_weighs_the_median() -> None:
    durations = {IDS[0]: 10.0, IDS[1]: 10.0, IDS[2]: 10.0}
    # Four tests into two shards: the new one (IDS[3]) weighs 10 s, so the split is 2 + 2.
    shards = assign_shards(IDS[:4], 2, durations)
    assert sorted(len(s) for s in shards) == [2, 2]


def test_select_shard_refuses_a_shard_that_does_not_exist() -> None:
    with pytest.raises(ConfigError, match="5/4 does not exist"):
        select_shard(IDS, 5, 4)


def test_durations_load_from_a_mapping_a_ledger_or_a_folder(tmp_path: Path) -> None:
    mapping = tmp_path / "durations.json"
    mapping.write_text(json.dumps({"a::t": 1.5, "b::t": 2}))
    assert load_durations(mapping) == {"a::t": 1.5, "b::t": 2.0}

    folder = tmp_path / "reports" / "minimal"
    folder.mkdir(parents=True)
    ledger = {"schema": "mission-critical-ledger", "tests": [{"nodeid": "a::t", "duration_s": 3}]}
    (folder / "ledger-shard-1-of-2.json").write_text(json.dumps(ledger))
    ledger["tests"] = [{"nodeid": "a::t", "duration_s": 0.5}, {"nodeid": "c::t", "duration_s": 4}]
    (folder / "ledger-shard-2-of-2.json").write_text(json.dumps(ledger))
    assert load_durations(tmp_path / "reports") == {"a::t": 3.0, "c::t": 4.0}


def test_bad_durations_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_durations(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ConfigError, match="cannot read JSON"):
        load_durations(broken)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"a::t": "slow"}))
    with pytest.raises(ConfigError, match="expected"):
        load_durations(wrong)
