"""The seam every mode plugs into: start a deployment, hand back its endpoints, stop it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # annotations only: Endpoints has one importable home
    from test_framework.endpoints import Endpoints


class Backend(Protocol):
    """A deployment of the service under test for one run of the suite."""

    def start(self) -> Endpoints:
        """Start (or attach to) the deployment and return once it is healthy."""
        ...

    def stop(self) -> None:
        """Stop what ``start`` started. Safe to call twice, and after a failed start.

        Every pytest-xdist worker calls it at its session's end, whether it started the
        deployment or not: one the workers share goes when the last of them is out.
        """
        ...

    def end_run(self) -> None:
        """The controller's last word on the run, once the workers have stopped: remove
        whatever of the run is left (e.g. the share of a worker that was killed)."""
        ...


@runtime_checkable
class LoggingBackend(Backend, Protocol):
    """A deployment whose service logs the harness can read, for a failed test's report."""

    def service_logs(self, tail: int = 200) -> str:
        """The service's last ``tail`` log lines."""
        ...


@runtime_checkable
class EarlyStartBackend(Backend, Protocol):
    """A deployment that can be set starting before pytest collects, so that its start-up
    overlaps the collection instead of delaying the first test that needs it."""

    def begin(self) -> None:
        """Set the deployment starting and return at once; ``start`` waits until it is ready
        and raises what went wrong here."""
        ...

    def abandon(self) -> None:
        """The run was interrupted before any test waited for the start: end it, saying so."""
        ...


@runtime_checkable
class ControllableBackend(Backend, Protocol):
    """A deployment the harness controls, for tests marked ``deployment_control``."""

    def terminate(self) -> None:
        """Ask the service to shut down gracefully (SIGTERM semantics) and wait for it."""
        ...

    def restart(self) -> Endpoints:
        """Start the service again after ``terminate`` and return its (new) endpoints."""
        ...


@dataclass(frozen=True)
class RunContext:
    """What one run of the suite shares across its pytest-xdist workers.

    The controller process creates it and hands it to every worker, so all of them agree on the
    run id (which names and labels docker resources) and on the deployment's test credentials.
    """

    run_id: str
    owner_pid: int
    # A folder every worker of this run can reach, for locks and shared state.
    shared_dir: Path
    test_password: str = field(repr=False)
    jwt_secret: str = field(repr=False)
    # The static token a service with ``auth = "bearer"`` accepts (MC_TEST_TOKEN).
    test_token: str = field(repr=False)
    worker_id: str = "master"
    worker_count: int = 1
