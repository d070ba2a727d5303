"""The probes' wire client: a name no lookup can take, and a request target that needs
encoding, end in the step's one-line failure and a well-formed request, never a traceback."""

from __future__ import annotations

import socket
import threading

import pytest

from test_framework.probes.wire import Deadline, Origin, StepFailed, http_get, open_conn, resolve


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("a" * 10_000, "not a valid name (label too long)"),
        ("staging..example", "not a valid name (label empty or too long)"),
    ],
)
def test_a_name_no_lookup_can_take_fails_the_step_in_one_line(host: str, why: str) -> None:
    # pytest fails a test whose thread raised (filterwarnings = error): the lookup's thread
    # must hand its failure back, not print it.
    with pytest.raises(StepFailed) as raised:
        resolve(host, 443, 5.0)
    message = str(raised.value)
    assert message.endswith(why)
    assert len(message) < 200


def test_a_target_with_spaces_and_letters_beyond_ascii_is_sent_percent_encoded() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        received: list[bytes] = []

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                received.append(conn.recv(65536))
                conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")

        worker = threading.Thread(target=answer)
        worker.start()
        origin = Origin(tls=False, host="127.0.0.1", port=port)
        deadline = Deadline(5.0)
        conn, _ = open_conn(origin, None, deadline)
        try:
            assert http_get(conn, origin, "/a b/ü?q=1", {}, deadline).status == 204
        finally:
            conn.close()
        worker.join(5.0)
    assert received[0].split(b"\r\n")[0] == b"GET /a%20b/%C3%BC?q=1 HTTP/1.1"


def test_an_international_host_is_sent_in_its_dns_form() -> None:
    assert Origin(tls=True, host="münchen.example", port=443).host_header == (
        "xn--mnchen-3ya.example"
    )
