"""Wording in messages: counts ("1 problem", "2 problems") and long values shortened."""

from __future__ import annotations

# A value longer than this is echoed as its first SHOWN characters and its length: a message
# stays one readable line whatever was given (a 10,000-character host name, say).
LONGEST_SHOWN = 200
SHOWN = 60


def counted(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def shortened(text: str) -> str:
    """``text`` whole, or its start and length when it is longer than ``LONGEST_SHOWN``."""
    if len(text) <= LONGEST_SHOWN:
        return text
    return f"{text[:SHOWN]}… ({len(text)} characters)"


def quoted(text: str) -> str:
    """``repr(text)``, or the repr of its start and its length when it is long."""
    if len(text) <= LONGEST_SHOWN:
        return repr(text)
    return f"{text[:SHOWN]!r}… ({len(text)} characters)"
