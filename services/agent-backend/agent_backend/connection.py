"""``AgentConnection``: websockets' server connection, with the hot path's two shortcuts.

- **Text in.** A complete text frame that arrives while no earlier message waits in
  websockets' queue goes to ``on_text`` at once, from ``data_received``, instead of waking the
  connection's handler task (a future and a task switch per message). Everything else takes
  websockets' own path through ``recv()``: fragmented and binary messages, text that is not
  UTF-8, and frames that arrive before ``on_text`` is set or while earlier frames still wait
  in the queue, so messages are always handled in the order they arrived.
- **Text out.** ``write_texts`` frames a batch of text messages itself and writes them in one
  transport write. With no extension negotiated (the server turns compression off), a server's
  text frame is a 2 to 10 byte header and the payload, unmasked (RFC 6455, 5.2); websockets'
  ``send_text`` builds a ``Frame`` per message for the same bytes at five times the cost.

It also reports when its transport can take writes again (``writable``, ``on_writable``).
"""

from __future__ import annotations

import logging
import struct
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import Event, State

from agent_backend.log import log_event

_FIN_TEXT = 0x80 | Opcode.TEXT
_HEADER_7 = struct.Struct("!BB").pack
_HEADER_16 = struct.Struct("!BBH").pack
_HEADER_64 = struct.Struct("!BBQ").pack


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked text frame carrying ``payload`` (a server's frame, no extension)."""
    length = len(payload)
    if length < 126:
        return _HEADER_7(_FIN_TEXT, length) + payload
    if length < 1 << 16:
        return _HEADER_16(_FIN_TEXT, 126, length) + payload
    return _HEADER_64(_FIN_TEXT, 127, length) + payload


class AgentConnection(ServerConnection):
    """A ``ServerConnection`` with direct text delivery, batched text writes and write signals."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writable = True
        self.on_writable: Callable[[], None] | None = None
        self.on_text: Callable[[str], None] | None = None

    # -- in ---------------------------------------------------------------------------------
    def process_event(self, event: Event) -> None:
        on_text = self.on_text
        if (
            on_text is not None
            and isinstance(event, Frame)
            and event.opcode is Opcode.TEXT
            and event.fin
            and not len(self.recv_messages.frames)
            and self.protocol.state is State.OPEN
        ):
            text = _utf8(event.data)
            if text is not None:
                self._deliver(on_text, text)
                return
        super().process_event(event)

    def _deliver(self, on_text: Callable[[str], None], text: str) -> None:
        try:
            on_text(text)
        except Exception:  # noqa: BLE001 - logged with its traceback, then the connection closes
            # What websockets does when a handler task fails: log it, close with 1011.
            log_event(logging.ERROR, "message_handler_failed", error=traceback.format_exc())
            self.protocol.fail(CloseCode.INTERNAL_ERROR)
            self.send_data()

    # -- out --------------------------------------------------------------------------------
    def write_texts(self, messages: Iterable[str]) -> None:
        """Send ``messages`` as text frames, in order, in one transport write."""
        if self.protocol.extensions:
            raise RuntimeError(
                "write_texts frames text itself, which an extension would change: "
                "serve() must keep compression=None"
            )
        self.transport.write(b"".join([text_frame(message.encode()) for message in messages]))

    # -- flow control -----------------------------------------------------------------------
    def pause_writing(self) -> None:
        super().pause_writing()
        self.writable = False

    def resume_writing(self) -> None:
        super().resume_writing()
        self.writable = True
        if self.on_writable is not None:
            self.on_writable()


def _utf8(data: bytes | bytearray | memoryview) -> str | None:
    """``data`` decoded, or ``None`` when it is not UTF-8 (websockets then closes with 1007)."""
    try:
        return str(data, "utf-8")
    except UnicodeDecodeError:
        return None
