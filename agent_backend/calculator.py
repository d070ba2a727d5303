"""The calculator tool's arithmetic: a recursive-descent parser over exact rationals.

Grammar (whitespace between tokens is ignored)::

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/") unary)*
    unary  := "-" unary | power
    power  := atom ("**" unary)?          # right-associative; 2**-1 is allowed
    atom   := NUMBER | "(" expr ")"
    NUMBER := digits ["." [digits]] | "." digits

So ``-2**2 == -4`` and ``2**3**2 == 512``, as in Python. Arithmetic is exact (``Fraction``);
only a power with a non-integer exponent goes through float. The result is an ``int`` when it
is a whole number, else a ``float``. Nothing is ever passed to ``eval``.
"""

from __future__ import annotations

import math
from fractions import Fraction

# Guards that keep one hostile expression from eating the CPU or the stack.
MAX_BITS = 4096
MAX_DEPTH = 64
MAX_DIGITS = 1000


class CalculatorError(ValueError):
    """The expression cannot be evaluated; the message says why."""


Number = int | float


def evaluate(expression: str) -> Number:
    """Evaluate ``expression``; raise ``CalculatorError`` with a readable message."""
    parser = _Parser(expression)
    value = parser.parse()
    return _to_number(value)


def format_number(value: Number) -> str:
    """How a result appears in a step answer: ``14``, ``3.5``."""
    return str(value) if isinstance(value, int) else repr(value)


def _to_number(value: Fraction) -> Number:
    if value.denominator == 1:
        return int(value.numerator)
    try:
        return float(value)
    except OverflowError:
        raise CalculatorError("result too large") from None


def _check_size(value: Fraction) -> Fraction:
    if value.numerator.bit_length() > MAX_BITS or value.denominator.bit_length() > MAX_BITS:
        raise CalculatorError("result too large")
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def parse(self) -> Fraction:
        self._skip_space()
        if self.pos >= len(self.text):
            raise CalculatorError("empty expression")
        value = self._expr()
        self._skip_space()
        if self.pos < len(self.text):
            raise self._unexpected()
        return value

    # -- lexing helpers ---------------------------------------------------------------------
    def _skip_space(self) -> None:
        text = self.text
        while self.pos < len(text) and text[self.pos].isspace():
            self.pos += 1

    def _peek(self, token: str) -> bool:
        self._skip_space()
        return self.text.startswith(token, self.pos)

    def _unexpected(self) -> CalculatorError:
        if self.pos >= len(self.text):
            return CalculatorError("unexpected end of expression")
        return CalculatorError(f"unexpected {self.text[self.pos]!r} at position {self.pos + 1}")

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CalculatorError("expression nested too deeply")

    # -- grammar ----------------------------------------------------------------------------
    def _expr(self) -> Fraction:
        value = self._term()
        while True:
            if self._peek("+"):
                self.pos += 1
                value = _check_size(value + self._term())
            elif self._peek("-"):
                self.pos += 1
                value = _check_size(value - self._term())
            else:
                return value

    def _term(self) -> Fraction:
        value = self._unary()
        while True:
            if self._peek("*"):
                self.pos += 1
                value = _check_size(value * self._unary())
            elif self._peek("/"):
                self.pos += 1
                divisor = self._unary()
                if divisor == 0:
                    raise CalculatorError("division by zero")
                value = _check_size(value / divisor)
            else:
                return value

    def _unary(self) -> Fraction:
        if self._peek("-"):
            self.pos += 1
            self._enter()
            value = -self._unary()
            self.depth -= 1
            return value
        return self._power()

    def _power(self) -> Fraction:
        base = self._atom()
        if self._peek("**"):
            self.pos += 2
            self._enter()
            exponent = self._unary()
            self.depth -= 1
            return _power(base, exponent)
        return base

    def _atom(self) -> Fraction:
        self._skip_space()
        if self._peek("("):
            self.pos += 1
            self._enter()
            value = self._expr()
            self.depth -= 1
            if not self._peek(")"):
                raise self._unexpected()
            self.pos += 1
            return value
        return self._number()

    def _number(self) -> Fraction:
        text = self.text
        start = self.pos
        while self.pos < len(text) and text[self.pos] in "0123456789":
            self.pos += 1
        whole = text[start : self.pos]
        fraction = ""
        if self.pos < len(text) and text[self.pos] == ".":
            self.pos += 1
            frac_start = self.pos
            while self.pos < len(text) and text[self.pos] in "0123456789":
                self.pos += 1
            fraction = text[frac_start : self.pos]
            if not whole and not fraction:
                self.pos = start
                raise self._unexpected()
        if not whole and not fraction:
            raise self._unexpected()
        if len(whole) + len(fraction) > MAX_DIGITS:
            raise CalculatorError("number too long")
        numerator = int(whole + fraction or "0")
        return Fraction(numerator, 10 ** len(fraction))


def _power(base: Fraction, exponent: Fraction) -> Fraction:
    if exponent.denominator == 1:
        n = exponent.numerator
        if base == 0 and n < 0:
            raise CalculatorError("division by zero")
        if abs(base) != 1 and base != 0:
            magnitude = max(base.numerator.bit_length(), base.denominator.bit_length())
            if abs(n) * magnitude > MAX_BITS:
                raise CalculatorError("result too large")
        return _check_size(base**n)
    if base < 0:
        raise CalculatorError("negative number to a fractional power")
    if base == 0 and exponent < 0:
        raise CalculatorError("division by zero")
    try:
        result = math.pow(float(base), float(exponent))
    except OverflowError:
        raise CalculatorError("result too large") from None
    if math.isinf(result):
        raise CalculatorError("result too large")
    return _check_size(Fraction(result))
