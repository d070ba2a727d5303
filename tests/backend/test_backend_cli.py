"""``python -m agent_backend`` as a real process: refusing, starting, logging, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from backend_helpers import (
    PASSWORD,
    SECRET,
    TIMEOUT_S,
    Client,
    assert_run_order,
    basic,
    http_get,
    token_for,
)

REPO = Path(__file__).resolve().parents[2]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent_backend", *args],
        env=environment(**env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


class Process:
    """A backend process started on port 0; its port is read from its first log lines."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, log: list[str]) -> None:
        self.proc = proc
        self.port = port
        self.log = log
        self.host = "127.0.0.1"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def terminate(self) -> int:
        """SIGTERM, then the exit status and the rest of the log."""
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.stderr is not None
        rest = await asyncio.wait_for(self.proc.stderr.read(), TIMEOUT_S)
        self.log += rest.decode().splitlines()
        return await asyncio.wait_for(self.proc.wait(), TIMEOUT_S)


@asynccontextmanager
async def backend(**env: str) -> AsyncIterator[Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent_backend",
        "--port",
        "0",
        env=environment(**env),
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        log: list[str] = []
        yield Process(proc, await read_port(proc, log), log)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def read_port(proc: asyncio.subprocess.Process, log: list[str]) -> int:
    assert proc.stderr is not None
    while True:
        line = (await asyncio.wait_for(proc.stderr.readline(), TIMEOUT_S)).decode()
        if not line:
            raise AssertionError(f"backend exited early: {log}")
        log.append(line.rstrip("\n"))
        record = json.loads(line)
        if record["event"] == "server_started":
            return int(record["port"])


def records(lines: list[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        yield json.loads(line)


def test_without_a_secret_it_refuses_to_start_with_one_line_and_status_2() -> None:
    result = run_cli("--port", "0")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert "AGENT_JWT_SECRET" in lines[0]
    assert "Traceback" not in result.stderr


def test_a_short_secret_or_a_bad_flag_is_refused_the_same_way() -> None:
    for result in (
        run_cli(AGENT_JWT_SECRET="short"),
        run_cli("--port", "many", AGENT_JWT_SECRET=SECRET),
    ):
        assert result.returncode == 2
        assert len(result.stderr.splitlines()) == 1
        assert "Traceback" not in result.stderr


async def test_with_a_secret_it_serves_and_sigterm_exits_0_quickly() -> None:
    async with backend(AGENT_JWT_SECRET=SECRET, AGENT_TEST_PASSWORD=PASSWORD) as process:
        assert (await http_get(process.http_url, "/health")).status == 200
        began = time.perf_counter()
        assert await process.terminate() == 0
        assert (
            time.perf_counter() - began < 3.0
        )  # generous: ~0.2 s idle is the target, see docs/performance.md
        events = [r["event"] for r in records(process.log)]
        assert "server_draining" in events
        assert events[-1] == "server_stopped"


async def test_sigterm_right_after_start_still_drains_and_exits_0() -> None:
    for _ in range(3):
        async with backend(AGENT_JWT_SECRET=SECRET) as process:
            assert await process.terminate() == 0
            assert [r["event"] for r in records(process.log)][-1] == "server_stopped"


async def test_sigterm_cancels_runs_closes_with_1001_and_exits_0() -> None:
    async with backend(AGENT_JWT_SECRET=SECRET, AGENT_TEST_PASSWORD=PASSWORD) as process:
        client = await Client.open(process, "alice")
        events = [await client.start("sleep 30000")]
        while events[-1]["type"] != "tool_executing":
            events.append(await client.recv())
        exit_code = asyncio.create_task(process.terminate())
        events += await client.rest_until_closed()
        assert_run_order(events)
        assert events[-1]["payload"] == {"status": "cancelled"}
        assert client.ws.close_code == 1001
        assert await exit_code == 0


async def test_a_test_setting_without_a_secret_starts_with_a_generated_one() -> None:
    async with backend(AGENT_ENV="test", AGENT_TEST_PASSWORD=PASSWORD) as process:
        client = await Client.open(process, "alice")
        await client.close()
        assert await process.terminate() == 0
        decisions = [r for r in records(process.log) if r["event"] == "jwt_secret_generated"]
        assert len(decisions) == 1
        assert decisions[0]["level"] == "warning"


async def test_logs_are_json_lines_without_tokens_or_passwords() -> None:
    async with backend(AGENT_JWT_SECRET=SECRET, AGENT_TEST_PASSWORD=PASSWORD) as process:
        tokens = [await token_for(process, user) for user in ("alice", "bob")]
        client = await Client.open(process, "alice", token=tokens[0])
        await client.run("calc 1+1; fail on purpose")
        await client.ws.send("not json")
        await client.recv()
        await client.close()
        # A refused query-string token must not be logged either.
        await http_get(process.http_url, f"/ws?token={tokens[1]}x")
        await http_get(process.http_url, "/auth/token", basic("alice", "wrong-password"))
        assert await process.terminate() == 0
        lines = process.log
    parsed = list(records(lines))
    assert all({"ts", "level", "event"} <= set(record) for record in parsed)
    events = {record["event"] for record in parsed}
    assert {
        "server_started",
        "connection_opened",
        "run_finished",
        "connection_closed",
        "handshake_rejected",
        "server_stopped",
    } <= events
    text = "\n".join(lines)
    assert PASSWORD not in text
    assert SECRET not in text
    assert "wrong-password" not in text
    for token in tokens:
        assert token.rsplit(".", 1)[-1] not in text  # no signature, so no token


async def test_main_announces_the_listening_server_to_a_caller_that_asks() -> None:
    code = (
        "import sys\n"
        "from agent_backend.__main__ import main\n"
        "sys.exit(main(['--port', '0'], announce=lambda server: print(server.port, flush=True)))\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        env=environment(AGENT_JWT_SECRET=SECRET),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        port = int(await asyncio.wait_for(proc.stdout.readline(), TIMEOUT_S))
        assert (await http_get(f"http://127.0.0.1:{port}", "/health")).status == 200
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), TIMEOUT_S) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
