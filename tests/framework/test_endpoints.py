"""Endpoints as the ledger's ``deployment`` and the workers' shared records hold them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_framework.endpoints import Endpoints


@pytest.mark.parametrize("ca_bundle", [None, Path("/etc/ssl/staging-ca.pem")])
def test_endpoints_come_back_from_their_json_as_they_went_in(ca_bundle: Path | None) -> None:
    endpoints = Endpoints(
        ws_url="wss://staging.example/ws",
        http_url="https://staging.example",
        auth_url="https://staging.example/auth",
        ca_bundle=ca_bundle,
        details={"server_version": "1.2"},
    )
    assert Endpoints.from_json(json.loads(json.dumps(endpoints.to_json()))) == endpoints


def test_the_json_form_keeps_the_ledgers_field_names() -> None:
    data = Endpoints("ws://h/ws", "http://h", "http://h/auth").to_json()
    assert data == {
        "ws_url": "ws://h/ws",
        "http_url": "http://h",
        "auth_url": "http://h/auth",
        "ca_bundle": None,
        "details": {},
    }
