"""Who is in which room, and each room's message counter."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

M = TypeVar("M", bound=Hashable)


class Rooms(Generic[M]):
    """Rooms exist while they have members; an emptied room forgets its counter."""

    def __init__(self) -> None:
        self._members: dict[str, set[M]] = {}
        self._seq: dict[str, int] = {}

    def join(self, room: str, member: M) -> int:
        """Add ``member`` (again is a no-op); the room's member count."""
        members = self._members.setdefault(room, set())
        members.add(member)
        return len(members)

    def leave(self, room: str, member: M) -> bool:
        """Remove ``member``; ``False`` when it was not in the room."""
        members = self._members.get(room)
        if members is None or member not in members:
            return False
        members.discard(member)
        if not members:
            del self._members[room]
            self._seq.pop(room, None)
        return True

    def leave_all(self, member: M) -> None:
        for room in [room for room, members in self._members.items() if member in members]:
            self.leave(room, member)

    def members(self, room: str) -> frozenset[M]:
        return frozenset(self._members.get(room, ()))

    def next_seq(self, room: str) -> int:
        """The next message number of ``room``: 1, 2, 3... while it has members."""
        self._seq[room] = self._seq.get(room, 0) + 1
        return self._seq[room]
