"""The reference agent backend: a chat service whose scripted agent streams run events.

It speaks the agent events protocol, version 1 (``docs/protocol.md``). The protocol logic lives
in plain modules tested without sockets (``messages``, ``steps``, ``calculator``, ``tools``,
``runs``, ``agent``, ``auth``, ``ratelimit``, ``metrics``, ``http_api``); ``server`` and
``session`` wire them to ``websockets.asyncio.server``; ``testing`` starts it in-process;
``__main__`` runs it.
"""

from __future__ import annotations

__version__ = "1.0.0"
PROTOCOL_VERSION = 1
