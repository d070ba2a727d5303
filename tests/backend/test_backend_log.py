"""Structured log lines: one JSON object a line, written once per event-loop turn."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterator
from typing import TextIO

import pytest

from agent_backend.log import JsonFormatter, TurnFlushedHandler, log_event, write_directly_to


class Pipe:
    """A real pipe: the handler writes to a block-buffered end, the test reads the other."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self.reader = os.fdopen(read_fd, "rb", buffering=0)
        self.writer: TextIO = os.fdopen(write_fd, "w", buffering=1 << 16, encoding="utf-8")

    def lines(self) -> list[str]:
        """What has reached the pipe so far."""
        data = self.reader.read() or b""
        return data.decode().splitlines()

    def close(self) -> None:
        self.writer.close()
        self.reader.close()


@pytest.fixture(params=["records", "direct"])
def pipe(request: pytest.FixtureRequest) -> Iterator[Pipe]:
    """The handler on the ``agent_backend`` logger; with ``direct``, our lines skip records."""
    pipe = Pipe()
    handler = TurnFlushedHandler(pipe.writer)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("agent_backend")
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    if request.param == "direct":
        write_directly_to(handler)
    try:
        yield pipe
    finally:
        write_directly_to(None)
        logger.handlers[:], level, logger.propagate = saved
        logger.setLevel(level)
        pipe.close()


def test_a_line_written_directly_is_the_line_its_record_would_have_made() -> None:
    pipe = Pipe()
    handler = TurnFlushedHandler(pipe.writer)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("agent_backend")
    saved = logger.handlers[:], logger.propagate
    logger.handlers[:] = [handler]
    logger.propagate = False
    try:
        log_event(logging.WARNING, "x", run_id="run_1", odd=object, text="é\n")
        write_directly_to(handler)
        log_event(logging.WARNING, "x", run_id="run_1", odd=object, text="é\n")
    finally:
        write_directly_to(None)
        logger.handlers[:], logger.propagate = saved
    by_record, direct = (json.loads(line) | {"ts": 0} for line in pipe.lines())
    assert by_record == direct
    assert direct["odd"] == "<class 'object'>"
    pipe.close()


def test_below_the_level_nothing_is_written_either_way(pipe: Pipe) -> None:
    logging.getLogger("agent_backend").setLevel(logging.INFO)
    log_event(logging.DEBUG, "run_started")
    log_event(logging.WARNING, "written")
    assert [json.loads(line)["event"] for line in pipe.lines()] == ["written"]


async def test_lines_of_one_loop_turn_reach_the_stream_together_at_its_end(pipe: Pipe) -> None:
    for number in range(3):
        log_event(logging.INFO, "run_finished", number=number)
    assert pipe.lines() == []
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert [json.loads(line)["number"] for line in pipe.lines()] == [0, 1, 2]


async def test_a_warning_is_written_at_once_with_what_came_before(pipe: Pipe) -> None:
    log_event(logging.INFO, "connection_opened")
    log_event(logging.WARNING, "slow_client_disconnected")
    assert [json.loads(line)["event"] for line in pipe.lines()] == [
        "connection_opened",
        "slow_client_disconnected",
    ]


def test_outside_an_event_loop_each_line_is_written_at_once(pipe: Pipe) -> None:
    log_event(logging.INFO, "server_stopped")
    assert [json.loads(line)["event"] for line in pipe.lines()] == ["server_stopped"]


def test_a_line_left_by_a_stopped_loop_is_flushed_by_the_next_loop(pipe: Pipe) -> None:
    loop = asyncio.new_event_loop()

    def log_then_stop() -> None:
        log_event(logging.INFO, "first")
        loop.stop()  # callbacks scheduled from now on (the turn's flush) never run

    loop.call_soon(log_then_stop)
    loop.run_forever()
    loop.close()
    assert pipe.lines() == []

    async def log_again() -> None:
        log_event(logging.INFO, "second")
        await asyncio.sleep(0)

    asyncio.run(log_again())
    assert [json.loads(line)["event"] for line in pipe.lines()] == ["first", "second"]


def test_records_from_other_loggers_become_json_lines_too(pipe: Pipe) -> None:
    logging.getLogger("agent_backend.other").info("plain %s", "text")
    (line,) = pipe.lines()
    assert json.loads(line) | {"ts": 0} == {
        "ts": 0,
        "level": "info",
        "event": "log",
        "logger": "agent_backend.other",
        "message": "plain text",
    }


def test_lines_and_other_loggers_records_keep_their_order(pipe: Pipe) -> None:
    log_event(logging.INFO, "first")
    logging.getLogger("agent_backend.other").info("second")
    log_event(logging.INFO, "third")
    lines = [json.loads(line) for line in pipe.lines()]
    assert [line.get("message", line["event"]) for line in lines] == ["first", "second", "third"]


def test_a_broken_stream_is_reported_on_stderr_not_raised(
    pipe: Pipe, capsys: pytest.CaptureFixture[str]
) -> None:
    pipe.writer.close()
    log_event(logging.WARNING, "lost")
    assert "Logging error" in capsys.readouterr().err
