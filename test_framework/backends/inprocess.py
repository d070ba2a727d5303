"""The minimal mode's backend: the service runs in this process, on loopback, in its own thread.

The service gets an event loop of its own in a daemon thread, so tests (each on the event loop
pytest-asyncio gives it) talk to it over a real socket exactly as they would to a container.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar, cast

from test_framework.backends.base import RunContext
from test_framework.endpoints import Endpoints
from test_framework.errors import ConfigError, ServiceUnavailableError
from test_framework.modes import Mode
from test_framework.probes.factory import REQUIRED_KEYWORDS, SIGNATURE
from test_framework.service import NO_SERVICE, TABLE
from test_framework.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


class Service(Protocol):
    """What an in-process factory returns (see docs: "Pointing the harness at your service")."""

    @property
    def port(self) -> int: ...

    async def close(self) -> None: ...

    async def shutdown(self) -> None: ...


Factory = Callable[..., Awaitable[Service]]


def load_factory(spec: str) -> Factory:
    if not spec:
        raise ConfigError(NO_SERVICE)
    module_name, _, attribute = spec.partition(":")
    fix = f"set factory = 'module:callable' in {TABLE}"
    if not module_name or not attribute:
        raise ConfigError(f"service factory {spec!r} is not 'module:callable': {fix}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"cannot import service factory module {module_name!r} ({exc}): {fix}"
        ) from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ConfigError(f"{module_name} has no callable {attribute!r}: {fix}")
    return cast(Factory, factory)


def factory_arguments(factory: Factory, spec: str, offered: dict[str, object]) -> dict[str, object]:
    """The keyword arguments among ``offered`` that ``factory`` accepts (all, with ``**kwargs``).

    ``host`` and ``port`` are required: without them the service cannot be put on loopback.
    """
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the signature of factory {spec} ({exc}): make it a function, {SIGNATURE}"
        ) from None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(offered)
    accepted = {
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    missing = [name for name in REQUIRED_KEYWORDS if name not in accepted]
    if missing:
        raise ConfigError(
            f"factory {spec} does not accept {' and '.join(missing)}:"
            f" it must be callable as {SIGNATURE}"
        )
    return {name: value for name, value in offered.items() if name in accepted}


class InProcessBackend:
    """Starts the configured factory on 127.0.0.1, port 0, in a background event loop."""

    def __init__(self, settings: Settings, run: RunContext) -> None:
        self.settings = settings
        self.run = run
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._service: Service | None = None
        self._endpoints: Endpoints | None = None

    def start(self) -> Endpoints:
        if self._endpoints is not None:
            return self._endpoints
        factory = load_factory(self.settings.service.factory)
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="mc-inprocess-service", daemon=True
            )
            self._thread.start()
        timeout = self.settings.profile(Mode.MINIMAL).timeouts.connect_s
        try:
            offered: dict[str, object] = {
                "host": "127.0.0.1",
                "port": 0,
                "test_password": self.run.test_password,
                "jwt_secret": self.run.jwt_secret,
                "test_token": self.run.test_token,
            }
            arguments = factory_arguments(factory, self.settings.service.factory, offered)
            self._service = self._call(factory(**arguments), timeout)
        except TimeoutError:
            raise ServiceUnavailableError(
                f"in-process service {self.settings.service.factory} did not start within"
                f" {timeout:g} s: check the factory, or raise connect_timeout_s"
            ) from None
        http_url = f"http://127.0.0.1:{self._service.port}"
        service = self.settings.service
        self._endpoints = Endpoints(
            ws_url=f"ws://127.0.0.1:{self._service.port}{service.ws_path}",
            http_url=http_url,
            auth_url=http_url + service.auth_path,
            details={"factory": service.factory, "port": str(self._service.port)},
        )
        log.info("in-process service listening on %s", http_url)
        return self._endpoints

    def stop(self) -> None:
        if self._service is not None and self._loop is not None:
            service, self._service = self._service, None
            self._call(service.close(), 30.0)
        self._endpoints = None
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            self._loop = None
            self._thread = None

    def end_run(self) -> None:
        """Nothing outlives a worker: its ``stop`` took the service down."""

    def terminate(self) -> None:
        """Graceful shutdown (the service's SIGTERM behaviour), waiting until it is done."""
        if self._service is not None:
            service, self._service = self._service, None
            self._endpoints = None
            self._call(service.shutdown(), 60.0)

    def restart(self) -> Endpoints:
        self.terminate()
        return self.start()

    def _call(self, coro: Awaitable[T], timeout: float) -> T:
        assert self._loop is not None
        future: Future[T] = asyncio.run_coroutine_threadsafe(_as_coroutine(coro), self._loop)
        return future.result(timeout)


async def _as_coroutine(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
