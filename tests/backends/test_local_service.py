"""The minimal backend for a ``command``: a real process group on a real loopback port, started,
polled until ready, and stopped with nothing of it left; every way a start fails names itself."""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_framework.backends.local_service import LocalServiceBackend
from test_framework.backends.process_records import read_records
from test_framework.client.redaction import register_secret
from test_framework.errors import ServiceUnavailableError
from test_framework.settings import load_settings
from tests.support.runs import run_context

PLAIN = Path(__file__).resolve().parents[1] / "support" / "plain_service.py"
START_S = 60.0  # generous: only proves "does not hang" on a shared machine


def alive(pid: int) -> bool:
    """A process that is there and not a zombie waiting for its parent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def members_of(pgid: int) -> list[int]:
    """The live processes of process group ``pgid``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def gone_within(pids: list[int], seconds: float) -> list[int]:
    """The pids still alive after ``seconds`` (polled: the test ends as soon as they go)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.02)
    return [pid for pid in pids if alive(pid)]


def read_pids(path: Path, count: int) -> list[int]:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        pids = path.read_text().split() if path.exists() else []
        if len(pids) >= count:
            return [int(pid) for pid in pids]
        time.sleep(0.02)
    raise AssertionError(f"{path} did not get {count} pids within {START_S} s")


def project(folder: Path, command: list[str], **keys: object) -> Path:
    lines = ["[tool.test_framework]", 'report_dir = "out"', "[tool.test_framework.service]"]
    lines.append(f"command = {json.dumps(command)}")
    for key, value in keys.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
            lines.append(f"{key} = {{ {inner} }}")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    (folder / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return folder


def plain(*flags: str) -> list[str]:
    return [sys.executable, str(PLAIN), "--port", "{port}", *flags]


@pytest.fixture
def backends(tmp_path: Path) -> Iterator[list[LocalServiceBackend]]:
    """Backends a test made: each is stopped afterwards, whatever the test did."""
    made: list[LocalServiceBackend] = []
    yield made
    for backend in made:
        backend.stop()


def backend_for(root: Path, made: list[LocalServiceBackend]) -> LocalServiceBackend:
    settings = load_settings(root, environ={})
    backend = LocalServiceBackend(settings, run_context(root / "shared", "20260101000000-abc123"))
    made.append(backend)
    return backend


def test_a_command_is_ready_when_its_health_path_answers_a_plain_ok_and_stops_leaving_nothing(
    tmp_path: Path, backends: list[LocalServiceBackend]
) -> None:
    backend = backend_for(project(tmp_path, plain("--child"), health_path="/healthz"), backends)
    endpoints = backend.start()

    with urllib.request.urlopen(endpoints.http_url + "/healthz") as reply:
        assert reply.read() == b"ok"
    assert endpoints.ws_url.startswith("ws://127.0.0.1:")
    details = endpoints.details
    assert details["kind"] == "command"
    assert details["process_group"] == details["pid"]
    log = Path(details["log"])
    assert log == tmp_path / "out" / "minimal" / "service.log"
    assert [r.pgid for r in read_records(tmp_path / "out")] == [int(details["pid"])]
    group = members_of(int(details["process_group"]))
    assert len(group) == 2, group  # the service and the child it started

    backend.stop()

    assert gone_within(group, 0) == []
    assert read_records(tmp_path / "out") == []
    assert "listening on" in log.read_text()


def test_without_a_health_path_the_websocket_path_answering_any_status_is_ready(
    tmp_path: Path, backends: list[LocalServiceBackend]
) -> None:
    backend = backend_for(project(tmp_path, plain(), ws_path="/ws"), backends)
    assert backend.start().details["ready_s"]


def test_placeholders_fill_the_command_and_its_environment(
    tmp_path: Path, backends: list[LocalServiceBackend]
) -> None:
    root = project(
        tmp_path,
        plain("--print-env", "GREETING"),
        command_env={"GREETING": "hello {host}:{port}"},
        ready_log="^listening on",
    )
    endpoints = backend_for(root, backends).start()
    port = endpoints.details["port"]
    assert f"GREETING=hello 127.0.0.1:{port}" in Path(endpoints.details["log"]).read_text()


def test_a_command_that_exits_before_ready_names_its_status_what_it_waited_for_and_its_log(
    tmp_path: Path, backends: list[LocalServiceBackend]
) -> None:
    token = "exit-before-ready-token-value-1234"
    register_secret(token)
    script = "import os, sys; print('TOKEN=' + os.environ['TOKEN']); print('boom'); sys.exit(7)"
    root = project(
        tmp_path,
        [sys.executable, "-c", script],
        health_path="/healthz",
        command_env={"TOKEN": token},
    )
    with pytest.raises(ServiceUnavailableError) as caught:
        backend_for(root, backends).start()
    message = str(caught.value)
    assert message.startswith(f"local command: {sys.executable} -c ")
    assert "exited with status 7 before it was ready" in message
    assert "(waited for a 2xx answer from GET /healthz)" in message
    assert message.endswith("boom")
    assert "TOKEN=***" in message
    assert token not in message
    assert read_records(tmp_path / "out") == []


def test_a_command_not_ready_in_time_fails_naming_the_timeout_and_stops_the_process(
    tmp_path: Path, backends: list[LocalServiceBackend]
) -> None:
    root = project(
        tmp_path, plain("--delay", "60", "--pid-file", str(tmp_path / "pids")), ready_timeout_s=0.5
    )
    with pytest.raises(ServiceUnavailableError) as caught:
        backend_for(root, backends).start()
    message = str(caught.value)
    assert "was not ready within 0.5 s (waited for any HTTP answer from GET /ws; last:" in message
    assert "raise ready_timeout_s" in message
    assert message.endswith("starting up")
    pids = [int(pid) for pid in (tmp_path / "pids").read_text().split()]
    # A process past its signal may still be exiting for a moment (its environ is
    # already unreadable, so the group counts it out): polled, not a timing target.
    assert gone_within(pids, 2.0) == []


def test_an_executable_not_on_path_is_refused_before_anything_starts(
    tmp_path: Path, backends: list[LocalServiceBackend]
) -> None:
    root = project(tmp_path, ["no-such-service-binary", "--port", "{port}"])
    with pytest.raises(ServiceUnavailableError, match="'no-such-service-binary' is not on PATH"):
        backend_for(root, backends).start()
    assert not (tmp_path / "out" / "minimal" / "service.log").exists()


def test_a_service_ignoring_sigterm_is_killed_after_stop_timeout_s(
    tmp_path: Path, backends: list[LocalServiceBackend]
) -> None:
    root = project(tmp_path, plain("--ignore-term"), stop_timeout_s=0.3)
    backend = backend_for(root, backends)
    pid = int(backend.start().details["pid"])
    started = time.monotonic()
    backend.stop()
    assert time.monotonic() - started >= 0.3
    assert not alive(pid)


def test_a_service_that_dies_mid_run_says_with_which_status_and_when(
    tmp_path: Path, backends: list[LocalServiceBackend]
) -> None:
    root = project(tmp_path, plain("--exit-after", "0.2", "--status", "5"))
    backend = backend_for(root, backends)
    backend.start()
    deadline = time.monotonic() + 10
    while backend.exit_message() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    message = backend.exit_message()
    assert message is not None
    assert " service exited with status 5 at " in message
    assert "listening on" in backend.service_logs()


def test_terminate_stops_the_service_and_restart_serves_again_on_a_new_port(
    tmp_path: Path, backends: list[LocalServiceBackend]
) -> None:
    backend = backend_for(project(tmp_path, plain(), health_path="/healthz"), backends)
    first = backend.start()
    backend.terminate()
    assert not alive(int(first.details["pid"]))
    second = backend.restart()
    with urllib.request.urlopen(second.http_url + "/healthz") as reply:
        assert reply.status == 200
    assert second.details["pid"] != first.details["pid"]
    assert Path(second.details["log"]).name == "service-start2.log"


def test_begin_spawns_once_and_start_then_waits_for_that_same_process(
    tmp_path: Path, backends: list[LocalServiceBackend]
) -> None:
    pid_file = tmp_path / "pids"
    backend = backend_for(project(tmp_path, plain("--pid-file", str(pid_file))), backends)
    backend.begin()
    backend.begin()  # a second call starts nothing more
    endpoints = backend.start()

    assert pid_file.read_text().split() == [endpoints.details["pid"]]
    assert len(read_records(tmp_path / "out")) == 1


def test_begin_never_raises_and_start_raises_what_went_wrong_in_it(
    tmp_path: Path, backends: list[LocalServiceBackend]
) -> None:
    backend = backend_for(project(tmp_path, ["no-such-chat-server", "{port}"]), backends)
    backend.begin()
    with pytest.raises(ServiceUnavailableError, match="'no-such-chat-server' is not on PATH"):
        backend.start()


def test_a_begun_start_that_no_test_waited_for_is_ended_by_stop_and_by_abandon(
    tmp_path: Path, backends: list[LocalServiceBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    for ending in ("stop", "abandon"):
        pid_file = tmp_path / f"pids-{ending}"
        folder = tmp_path / ending
        folder.mkdir()
        backend = backend_for(
            project(folder, plain("--child", "--pid-file", str(pid_file))), backends
        )
        backend.begin()
        pids = read_pids(pid_file, 2)
        getattr(backend, ending)()
        assert gone_within(pids, 0) == [], ending
        assert read_records(folder / "out") == [], ending
    said = capsys.readouterr().out.strip().splitlines()
    assert said == [
        f"interrupted while starting local command: {sys.executable} {PLAIN} --port"
        f" {{port}} --child --pid-file {tmp_path / 'pids-abandon'}: its process group"
        " was ended"
    ]
