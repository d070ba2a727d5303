"""The scripted agent's tools: calculator, search, sleep, fail, and steps without a tool."""

from __future__ import annotations

import math

import pytest
from mc_rules import assert_well_formed, tool_pairs

pytestmark = pytest.mark.mission_critical

CALCULATIONS = [
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("10 - 4 - 3", 3),
    ("2 ** 10", 1024),
    ("2 * 3 ** 2", 18),
    ("-3 + 5", 2),
    ("-(2 + 3) * 2", -10),
    ("4 * -2", -8),
    ("7 / 2", 3.5),
    ("6 / 3", 2),
    ("1.5 * 4", 6),
    ("0.25 + 0.5", 0.75),
    ("2 ** -1", 0.5),
]


@pytest.mark.parametrize(("expression", "expected"), CALCULATIONS, ids=[c[0] for c in CALCULATIONS])
async def test_the_calculator_computes_with_the_usual_precedence(mc_connect, expression, expected):
    client = await mc_connect()
    result = await client.run(f"calc {expression}")
    assert_well_formed(result, status="succeeded")
    [(call, done)] = tool_pairs(result)
    assert call["tool"] == "calculator"
    assert call["args"] == {"expression": expression}
    assert done["ok"] is True
    assert done["result"] == expected
    # An int when exact, else a float.
    assert type(done["result"]) is type(expected)
    assert result.answer == f"{expression} = {expected}"


async def test_the_calculator_answers_a_float_that_is_not_exact(mc_connect):
    client = await mc_connect()
    result = await client.run("calc 0.1 + 0.2")
    [(_, done)] = tool_pairs(result)
    assert isinstance(done["result"], float)
    assert math.isclose(done["result"], 0.3)


async def test_division_by_zero_fails_the_tool_and_the_run(mc_connect):
    client = await mc_connect()
    result = await client.run("calc 1 / 0")
    assert_well_formed(result, status="failed")
    [(call, done)] = tool_pairs(result)
    assert call["tool"] == "calculator"
    assert done["ok"] is False
    assert done["error"]
    assert done["error"] in result.error


async def test_search_returns_at_most_three_titles_and_counts_them(mc_connect):
    client = await mc_connect()
    result = await client.run("search websocket agent events")
    assert_well_formed(result, status="succeeded")
    [(call, done)] = tool_pairs(result)
    assert call["tool"] == "search"
    assert call["args"] == {"query": "websocket agent events"}
    titles = done["result"]
    assert isinstance(titles, list)
    assert all(isinstance(title, str) for title in titles)
    assert len(titles) <= 3
    assert result.answer == f"found {len(titles)} results for websocket agent events"


async def test_search_is_deterministic(mc_connect):
    client = await mc_connect()
    first = await client.run("search protocol")
    second = await client.run("search protocol")
    assert tool_pairs(first)[0][1]["result"] == tool_pairs(second)[0][1]["result"]


async def test_sleep_waits_the_given_milliseconds(mc_connect):
    client = await mc_connect()
    result = await client.run("sleep 120")
    assert_well_formed(result, status="succeeded")
    [(call, done)] = tool_pairs(result)
    assert call["tool"] == "sleep"
    assert call["args"] == {"ms": 120}
    assert done["ok"] is True
    assert done["duration_ms"] >= 100  # a little slack for coarse clocks
    assert result.answer == "slept 120 ms"


async def test_a_failing_tool_ends_the_run_failed_with_its_error(mc_connect):
    client = await mc_connect()
    result = await client.run("fail the disk is on fire")
    assert_well_formed(result, status="failed")
    [(call, done)] = tool_pairs(result)
    assert call == {**call, "tool": "fail", "args": {"message": "the disk is on fire"}}
    assert done["ok"] is False
    assert "the disk is on fire" in done["error"]
    assert "the disk is on fire" in result.error


async def test_steps_after_a_failed_tool_do_not_run(mc_connect):
    client = await mc_connect()
    result = await client.run("calc 1 + 1; fail stop here; calc 2 + 2; search never")
    assert_well_formed(result, status="failed")
    assert [call["tool"] for call, _ in tool_pairs(result)] == ["calculator", "fail"]
    assert "stop here" in result.error


async def test_a_step_that_names_no_tool_answers_with_its_own_text(mc_connect):
    client = await mc_connect()
    result = await client.run("the sky is blue")
    assert_well_formed(result, status="succeeded")
    assert result.answer == "the sky is blue"


async def test_the_answer_joins_the_trimmed_step_answers_with_semicolons(mc_connect):
    client = await mc_connect()
    result = await client.run("  hello  ;calc 2 + 3 ;  sleep 1;search shutdown ")
    assert_well_formed(result, status="succeeded")
    found = len(tool_pairs(result)[2][1]["result"])
    assert result.answer == f"hello; 2 + 3 = 5; slept 1 ms; found {found} results for shutdown"
