"""Content becomes steps; steps become tool calls and answers."""

from __future__ import annotations

import pytest

from agent_backend.steps import Step, Tool, parse_steps
from agent_backend.tools import SEARCH_CORPUS, run_instant_tool, search, sleep_duration


def test_content_splits_on_semicolons_and_trims_each_step() -> None:
    steps = parse_steps(" calc 1+2 ;search web ; hello  world ;sleep 5;fail boom")
    assert [s.text for s in steps] == [
        "calc 1+2",
        "search web",
        "hello  world",
        "sleep 5",
        "fail boom",
    ]
    assert [s.tool for s in steps] == [Tool.CALCULATOR, Tool.SEARCH, None, Tool.SLEEP, Tool.FAIL]
    assert [s.argument for s in steps] == ["1+2", "web", "", "5", "boom"]


def test_empty_steps_are_skipped() -> None:
    assert parse_steps(" ; ;; ") == []
    assert [s.text for s in parse_steps("a;;b;")] == ["a", "b"]


@pytest.mark.parametrize("text", ["Calc 1+1", "calculate 1+1", "searching", "sleepy 5", "failure"])
def test_only_exact_lower_case_keywords_call_tools(text: str) -> None:
    assert parse_steps(text) == [Step(text=text)]


def test_a_keyword_alone_calls_its_tool_with_an_empty_argument() -> None:
    assert parse_steps("calc") == [Step(text="calc", tool=Tool.CALCULATOR, argument="")]


def test_the_argument_keeps_inner_whitespace_and_may_follow_a_tab() -> None:
    (step,) = parse_steps("search\tweb   sockets")
    assert step.argument == "web   sockets"


def test_tool_args_follow_the_protocol() -> None:
    steps = parse_steps("calc 1+2;search q;sleep 10;fail oops;sleep ten;hi")
    assert [s.args for s in steps] == [
        {"expression": "1+2"},
        {"query": "q"},
        {"ms": 10},
        {"message": "oops"},
        {"ms": "ten"},
        {},
    ]


def test_calc_answers_expression_equals_result() -> None:
    outcome = run_instant_tool(Step("calc 2+3*4", Tool.CALCULATOR, "2+3*4"))
    assert outcome.ok
    assert outcome.result == 14
    assert outcome.answer == "2+3*4 = 14"


def test_calc_division_by_zero_fails_the_tool() -> None:
    outcome = run_instant_tool(Step("calc 1/0", Tool.CALCULATOR, "1/0"))
    assert not outcome.ok
    assert outcome.error == "division by zero"


def test_search_returns_at_most_three_titles_from_the_corpus_in_order() -> None:
    titles = search("websocket")
    assert titles == ["WebSocket protocol basics", "Streaming agent events over WebSockets"]
    assert len(search("e")) == 3
    assert all(title in SEARCH_CORPUS for title in search("e"))
    assert search("zzz-nothing") == []
    assert search("   ") == []


def test_search_answer_counts_results() -> None:
    outcome = run_instant_tool(Step("search json tokens", Tool.SEARCH, "json tokens"))
    assert outcome.ok
    assert outcome.result == ["JSON Web Tokens explained"]
    assert outcome.answer == "found 1 results for json tokens"


@pytest.mark.parametrize(("argument", "seconds"), [("0", 0.0), ("250", 0.25), ("30000", 30.0)])
def test_sleep_accepts_whole_milliseconds_up_to_thirty_seconds(
    argument: str, seconds: float
) -> None:
    assert sleep_duration(Step(f"sleep {argument}", Tool.SLEEP, argument)) == seconds


@pytest.mark.parametrize("argument", ["30001", "-1", "1.5", "ten", "", "\uff11\uff12"])
def test_sleep_with_an_invalid_duration_fails_the_tool(argument: str) -> None:
    step = Step(f"sleep {argument}", Tool.SLEEP, argument)
    assert sleep_duration(step) is None
    outcome = run_instant_tool(step)
    assert not outcome.ok
    assert "0 to 30000" in outcome.error


def test_fail_always_fails_with_its_message() -> None:
    outcome = run_instant_tool(Step("fail disk full", Tool.FAIL, "disk full"))
    assert not outcome.ok
    assert outcome.error == "disk full"


def test_a_plain_step_is_not_a_tool_call() -> None:
    with pytest.raises(ValueError, match="calls no tool"):
        run_instant_tool(Step("hello"))
