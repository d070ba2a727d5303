"""The calculator parses arithmetic itself: precedence, associativity, exactness, failures."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_backend.calculator import CalculatorError, evaluate, format_number


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2+3*4", 14),
        ("(2+3)*4", 20),
        ("2**3**2", 512),
        ("(2**3)**2", 64),
        ("-2**2", -4),
        ("(-2)**2", 4),
        ("2**-1", 0.5),
        ("-(2+3)*2", -10),
        ("3--2", 5),
        ("10-4-3", 3),
        ("100/10/5", 2),
        ("7/2", 3.5),
        ("6/3", 2),
        ("1.5*2", 3),
        ("0.1+0.2", 0.3),
        (".5+.5", 1),
        ("1.", 1),
        ("  1 +\t2  ", 3),
        ("2**0.5", 2**0.5),
        ("4**0.5", 2),
        ("1/3", 1 / 3),
        ("007", 7),
    ],
)
def test_expressions_evaluate_with_usual_precedence(expression: str, expected: float) -> None:
    result = evaluate(expression)
    assert result == expected
    assert type(result) is type(expected)


def test_whole_results_are_ints_and_others_are_floats() -> None:
    assert isinstance(evaluate("9/3"), int)
    assert isinstance(evaluate("9/4"), float)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1/0", "division by zero"),
        ("1/(2-2)", "division by zero"),
        ("0**-1", "division by zero"),
        ("", "empty expression"),
        ("   ", "empty expression"),
        ("2+", "unexpected end"),
        ("(1", "unexpected end"),
        ("1)", "unexpected ')'"),
        ("abc", "unexpected 'a'"),
        ("2 3", "unexpected '3' at position 3"),
        ("1 + x", "unexpected 'x' at position 5"),
        ("1e3", "unexpected 'e'"),
        ("+1", "unexpected '+'"),
        ("2***3", "unexpected '*' at position 4"),
        ("(1 + 2))", "unexpected ')' at position 8"),
        ("-1 ** )", "unexpected ')' at position 7"),
        ("__import__('os')", "unexpected '_'"),
        (".", "unexpected '.'"),
        ("(-8)**(1/3)", "negative number to a fractional power"),
        ("9**9**9**9", "result too large"),
        ("2**5000", "result too large"),
        ("(" * 100 + "1" + ")" * 100, "nested too deeply"),
        ("-" * 1000 + "1", "nested too deeply"),
        ("1" * 1001, "number too long"),
    ],
)
def test_bad_expressions_fail_with_a_reason(expression: str, message: str) -> None:
    with pytest.raises(CalculatorError, match=re.escape(message)):
        evaluate(expression)


def test_numbers_format_as_ints_or_shortest_floats() -> None:
    assert format_number(14) == "14"
    assert format_number(3.5) == "3.5"
    assert format_number(-0.25) == "-0.25"


def _expressions() -> st.SearchStrategy[str]:
    leaves = st.integers(min_value=0, max_value=50).map(str)

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(children, st.sampled_from(["+", "-", "*"]), children).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"
        )
        return binary | children.map(lambda c: f"({c})") | children.map(lambda c: f"-{c}")

    return st.recursive(leaves, extend, max_leaves=12)


@given(_expressions())
def test_integer_arithmetic_agrees_with_python(expression: str) -> None:
    # Python's own evaluation is the oracle here, in the test only; the server never evals.
    assert evaluate(expression) == eval(expression)
