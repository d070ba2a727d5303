"""A peer that closes during the TLS handshake is a dropped connection, worth a retry, whichever
way the interpreter's OpenSSL reports it."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from test_framework.probes.staging_walk import FAILURE_ANSWER, FAILURE_DROPPED, failure_kind


@pytest.mark.parametrize(
    "exc",
    [ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), ssl.SSLZeroReturnError(6, "EOF")],
    ids=["SSLEOFError", "SSLZeroReturnError"],
)
def test_both_spellings_of_a_closed_handshake_are_a_dropped_connection(exc: ssl.SSLError) -> None:
    assert failure_kind(exc) == FAILURE_DROPPED


def test_a_tls_error_the_server_answered_is_not_a_drop() -> None:
    assert failure_kind(ssl.SSLError(1, "wrong version number")) == FAILURE_ANSWER


def test_a_real_server_closing_during_the_handshake_is_a_dropped_connection() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def close_at_once() -> None:
        peer, _ = listener.accept()
        peer.close()

    closer = threading.Thread(target=close_at_once)
    closer.start()
    with (
        listener,
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        pytest.raises(ssl.SSLError) as raised,
    ):
        ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")
    closer.join(5)
    assert failure_kind(raised.value) == FAILURE_DROPPED
