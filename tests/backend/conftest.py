from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from backend_helpers import PASSWORD, SECRET, Client

from agent_backend.testing import RunningServer, start_in_process


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    running = await start_in_process(test_password=PASSWORD, jwt_secret=SECRET)
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[Client]:
    """One connection to ``server`` as alice, closed after the test."""
    connection = await Client.open(server)
    try:
        yield connection
    finally:
        await connection.close()
