"""The calculator tool's arithmetic: a tokenizer and a recursive-descent parser, exact.

Grammar (whitespace between tokens is ignored)::

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/") unary)*
    unary  := "-" unary | power
    power  := atom ("**" unary)?          # right-associative; 2**-1 is allowed
    atom   := NUMBER | "(" expr ")"
    NUMBER := digits ["." [digits]] | "." digits

So ``-2**2 == -4`` and ``2**3**2 == 512``, as in Python. Arithmetic is exact: whole numbers
stay ``int`` and anything else is a ``Fraction``; only a power with a non-integer exponent goes
through float. The result is an ``int`` when it is a whole number, else a ``float``. Nothing is
ever passed to ``eval``.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

# Guards that keep one hostile expression from eating the CPU or the stack.
MAX_BITS = 4096
MAX_DEPTH = 64
MAX_DIGITS = 1000

Number = int | float
_Exact = int | Fraction

# Every non-blank character is in some token; the third group catches what no rule allows.
_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*|\.\d+)|(\*\*|[-+*/()])|(\S))")
_END = "end"


class CalculatorError(ValueError):
    """The expression cannot be evaluated; the message says why."""


def evaluate(expression: str) -> Number:
    """Evaluate ``expression``; raise ``CalculatorError`` with a readable message."""
    parser = _Parser(expression, _tokenize(expression))
    value = parser.expr()
    if parser.tokens[parser.index] != _END:
        raise parser.unexpected()
    if isinstance(value, int):
        return value
    if value.denominator == 1:
        return int(value.numerator)
    try:
        return float(value)
    except OverflowError:
        raise CalculatorError("result too large") from None


def format_number(value: Number) -> str:
    """How a result appears in a step answer: ``14``, ``3.5``."""
    return str(value) if isinstance(value, int) else repr(value)


def _tokenize(text: str) -> list[str]:
    """The tokens' texts (a number's digits, or an operator), then ``_END``."""
    tokens: list[str] = []
    for number, operator, other in _TOKEN.findall(text):
        if other:
            raise CalculatorError(
                f"unexpected {other!r} at position {_position(text, len(tokens))}"
            )
        tokens.append(number or operator)
    if not tokens:
        raise CalculatorError("empty expression")
    tokens.append(_END)
    return tokens


def _position(text: str, index: int) -> int:
    """The 1-based position of token ``index`` in ``text`` (only an error message needs it)."""
    match = next(m for i, m in enumerate(_TOKEN.finditer(text)) if i == index)
    return match.start(match.lastindex or 0) + 1


def _check(value: _Exact) -> _Exact:
    if isinstance(value, int):
        if value.bit_length() > MAX_BITS:
            raise CalculatorError("result too large")
        return value
    if value.numerator.bit_length() > MAX_BITS or value.denominator.bit_length() > MAX_BITS:
        raise CalculatorError("result too large")
    return int(value.numerator) if value.denominator == 1 else value


class _Parser:
    """Recursive descent over the token texts; ``unary`` folds unary, power and atom into one
    call, since one call per grammar level per number was most of the calculator's time."""

    def __init__(self, text: str, tokens: list[str]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    def unexpected(self) -> CalculatorError:
        token = self.tokens[self.index]
        if token == _END:
            return CalculatorError("unexpected end of expression")
        position = _position(self.text, self.index)
        return CalculatorError(f"unexpected {token[0]!r} at position {position}")

    def expr(self) -> _Exact:
        value = self.term()
        tokens = self.tokens
        while True:
            kind = tokens[self.index]
            if kind == "+":
                self.index += 1
                value = _check(value + self.term())
            elif kind == "-":
                self.index += 1
                value = _check(value - self.term())
            else:
                return value

    def term(self) -> _Exact:
        value = self.unary()
        tokens = self.tokens
        while True:
            kind = tokens[self.index]
            if kind == "*":
                self.index += 1
                value = _check(value * self.unary())
            elif kind == "/":
                self.index += 1
                divisor = self.unary()
                if divisor == 0:
                    raise CalculatorError("division by zero")
                value = _check(_divide(value, divisor))
            else:
                return value

    def unary(self) -> _Exact:
        """``"-"* power``, where ``power := atom ("**" unary)?`` and ``atom := NUMBER | (expr)``."""
        tokens = self.tokens
        minus = 0
        while tokens[self.index] == "-":
            self.index += 1
            minus += 1
        if self.depth + minus > MAX_DEPTH:
            raise CalculatorError("expression nested too deeply")
        self.depth += minus
        token = tokens[self.index]
        if token == "(":
            self.index += 1
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise CalculatorError("expression nested too deeply")
            value = self.expr()
            self.depth -= 1
            if tokens[self.index] != ")":
                raise self.unexpected()
        elif token[0] in _NUMBER_START:
            value = _number(token)
        else:
            raise self.unexpected()
        self.index += 1
        if tokens[self.index] == "**":
            self.index += 1
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise CalculatorError("expression nested too deeply")
            value = _power(value, self.unary())
            self.depth -= 1
        self.depth -= minus
        return -value if minus % 2 else value


_NUMBER_START = frozenset("0123456789.")


def _number(text: str) -> _Exact:
    if "." not in text:
        if len(text) > MAX_DIGITS:
            raise CalculatorError("number too long")
        return int(text)
    whole, _, fraction = text.partition(".")
    if len(whole) + len(fraction) > MAX_DIGITS:
        raise CalculatorError("number too long")
    if not fraction.strip("0"):
        return int(whole or "0")
    return _check(Fraction(int(whole + fraction), 10 ** len(fraction)))


def _divide(dividend: _Exact, divisor: _Exact) -> _Exact:
    if isinstance(dividend, int) and isinstance(divisor, int):
        quotient, remainder = divmod(dividend, divisor)
        return quotient if remainder == 0 else Fraction(dividend, divisor)
    return Fraction(dividend) / Fraction(divisor)


def _power(base: _Exact, exponent: _Exact) -> _Exact:
    if isinstance(exponent, int):
        if base == 0 and exponent < 0:
            raise CalculatorError("division by zero")
        if base not in (0, 1, -1):
            magnitude = (
                base.bit_length()
                if isinstance(base, int)
                else max(base.numerator.bit_length(), base.denominator.bit_length())
            )
            if abs(exponent) * magnitude > MAX_BITS:
                raise CalculatorError("result too large")
        if exponent < 0:
            return _check(Fraction(1) / Fraction(base) ** -exponent)
        return _check(base**exponent)
    if base < 0:
        raise CalculatorError("negative number to a fractional power")
    if base == 0:
        if exponent < 0:
            raise CalculatorError("division by zero")
        return 0
    try:
        result = math.pow(float(base), float(exponent))
    except OverflowError:
        raise CalculatorError("result too large") from None
    if math.isinf(result):
        raise CalculatorError("result too large")
    return _check(Fraction(result))
