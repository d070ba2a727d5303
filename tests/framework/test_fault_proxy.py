"""The fault proxy damages traffic exactly as told: latency, drops, resets, blackhole."""

from __future__ import annotations

import contextlib
import gc
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.fault_proxy import FaultProxy, Faults


@pytest.fixture
def echo() -> Iterator[int]:
    """A loopback echo server; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(ConnectionResetError):  # the proxy's resets reach here
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(5)
    listener.close()


def round_trip(port: int, payload: bytes = b"hello", timeout: float = 5.0) -> bytes | None:
    """What came back; ``None`` when the connection was dropped (EOF or reset, whichever the
    kernel makes of a close with our bytes still unread)."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except ConnectionResetError:  # reset before the handshake's last packet was read
        return None
    with sock:
        try:
            sock.sendall(payload)
            received = b""
            while len(received) < len(payload):
                chunk = sock.recv(65536)
                if not chunk:
                    return None
                received += chunk
        except (ConnectionResetError, BrokenPipeError):
            return None
        return received


def test_without_faults_bytes_pass_both_ways(echo: int) -> None:
    with FaultProxy(("127.0.0.1", echo)) as proxy:
        assert round_trip(proxy.port, b"x" * 200_000) == b"x" * 200_000
        assert proxy.stats.forwarded == 1
        assert proxy.stats.bytes_up == 200_000


def test_latency_delays_each_direction(echo: int) -> None:
    with FaultProxy(("127.0.0.1", echo), Faults(latency_s=0.15)) as proxy:
        started = time.monotonic()
        assert round_trip(proxy.port) == b"hello"
        # Up and back down: at least two delays.
        assert time.monotonic() - started >= 0.3


def test_a_dropped_connection_is_closed_before_any_byte(echo: int) -> None:
    with FaultProxy(("127.0.0.1", echo), Faults(drop_probability=1.0)) as proxy:
        assert round_trip(proxy.port) is None
        assert proxy.stats.dropped == 1
        assert proxy.stats.forwarded == 0


def test_drops_follow_the_probability_with_a_seed(echo: int) -> None:
    with FaultProxy(("127.0.0.1", echo), Faults(drop_probability=0.5), seed=7) as proxy:
        answers = [round_trip(proxy.port) for _ in range(20)]
    assert 0 < answers.count(None) < 20
    assert answers.count(b"hello") == 20 - answers.count(None)
    assert proxy.stats.dropped == answers.count(None)


def test_drop_first_drops_exactly_the_first_connections(echo: int) -> None:
    with FaultProxy(("127.0.0.1", echo), Faults(drop_first=2)) as proxy:
        answers = [round_trip(proxy.port) for _ in range(4)]
    assert answers == [None, None, b"hello", b"hello"]


def test_a_reset_aborts_the_connection_with_rst(echo: int) -> None:
    faults = Faults(reset_probability=1.0, reset_after_s=0.1)
    with FaultProxy(("127.0.0.1", echo), faults) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
            sock.sendall(b"hello")
            assert sock.recv(5) == b"hello"
            time.sleep(0.3)  # past reset_after_s
            with pytest.raises(ConnectionResetError):
                sock.recv(65536)
        assert proxy.stats.reset == 1


def test_a_blackhole_accepts_and_never_answers(echo: int) -> None:
    with FaultProxy(("127.0.0.1", echo), Faults(blackhole=True)) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=0.3) as sock:
            sock.sendall(b"hello")
            with pytest.raises(TimeoutError):
                sock.recv(1)
        assert proxy.stats.blackholed == 1
        assert proxy.stats.forwarded == 0


def test_faults_can_change_while_the_proxy_runs(echo: int) -> None:
    with FaultProxy(("127.0.0.1", echo), Faults(drop_probability=1.0)) as proxy:
        assert round_trip(proxy.port) is None
        proxy.faults = Faults()
        assert round_trip(proxy.port) == b"hello"


def test_an_unreachable_upstream_resets_the_client() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = int(closed.getsockname()[1])
    with FaultProxy(("127.0.0.1", port)) as proxy:
        assert round_trip(proxy.port) is None
        assert proxy.stats.upstream_failures == 1


def proxy_side_sockets(port: int) -> list[socket.socket]:
    """Open sockets in this process whose local end is ``port`` (the proxy's accepted ones)."""
    found = []
    for thing in gc.get_objects():
        # type(), not isinstance(): isinstance raises on a dead weak proxy among the objects.
        if issubclass(type(thing), socket.socket) and thing.fileno() != -1:
            with contextlib.suppress(OSError):
                local = thing.getsockname()
                if isinstance(local, tuple) and local[1] == port:
                    found.append(thing)
    return found


def test_connections_accepted_just_before_stop_are_closed_by_the_stop(echo: int) -> None:
    # The race is narrow (a connection accepted in the loop turn that stops the proxy), so
    # try it many times; before the fix about one round in three leaked a socket.
    for _ in range(30):
        with FaultProxy(("127.0.0.1", echo), Faults()) as proxy:
            clients = [socket.create_connection(("127.0.0.1", proxy.port)) for _ in range(3)]
        assert proxy_side_sockets(proxy.port) == []
        for client in clients:
            client.close()
