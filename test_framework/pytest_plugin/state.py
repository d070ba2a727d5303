"""The decision a run works under: made once by the controller (or the only process without
pytest-xdist), handed to every worker, so all processes of a run agree on the mode, the run id
and the deployment's test credentials."""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from test_framework.backends.base import Backend, RunContext
from test_framework.endpoints import Endpoints
from test_framework.modes import ALL_MODES, Mode
from test_framework.profiles import Profile
from test_framework.pytest_plugin.options import given_options
from test_framework.pytest_plugin.recorder import LedgerRecorder
from test_framework.results.ledger import Deselected
from test_framework.settings import Settings, load_settings, writable_report_dir


@dataclass
class HarnessState:
    """The decision a run works under, and the deployment of this process."""

    settings: Settings
    mode: Mode
    reason: str
    run: RunContext
    probes: list[dict[str, Any]]
    shard: tuple[int, int] = (1, 1)
    backend: Backend | None = None
    endpoints: Endpoints | None = None
    recorder: LedgerRecorder | None = None
    control_count: int = 0
    started_at: float = field(default_factory=time.time)
    # The tests this process's selection options (-k, -m, --deselect, a plugin) deselected.
    deselected: list[Deselected] = field(default_factory=list)

    @property
    def profile(self) -> Profile:
        return self.settings.profile(self.mode)

    @property
    def mode_dir(self) -> Path:
        return self.settings.report_dir / self.mode.value

    def to_workerinput(self) -> str:
        run = asdict(self.run)
        run["shared_dir"] = str(self.run.shared_dir)
        return json.dumps(
            {"mode": self.mode.value, "reason": self.reason, "run": run, "probes": self.probes}
        )

    @classmethod
    def from_workerinput(cls, config: pytest.Config, workerinput: dict[str, Any]) -> HarnessState:
        """The controller's decision, in a pytest-xdist worker."""
        data = json.loads(workerinput["mc_state"])
        settings = load_settings(config.rootpath, os.environ, given_options(config))
        run_data = dict(data["run"])
        run_data["shared_dir"] = Path(run_data["shared_dir"])
        run_data["worker_id"] = str(workerinput.get("workerid", "gw0"))
        return cls(
            settings=settings,
            mode=Mode(data["mode"]),
            reason=data["reason"],
            run=RunContext(**run_data),
            probes=data["probes"],
        )


# Where the fixtures (and other plugins) find the decision of this process.
STATE = pytest.StashKey[HarnessState]()


def decide(config: pytest.Config) -> HarnessState:
    """Probe the modes, select one and make the run's identity and secrets."""
    # Imported here: the probes are only needed by the process that decides.
    from test_framework.probes.runner import probe_modes
    from test_framework.probes.selection import select_mode

    settings = load_settings(config.rootpath, os.environ, given_options(config))
    writable_report_dir(settings)
    shard = (1, 1)
    if config.getoption("mc_shard"):
        from test_framework.sharding import parse_shard

        shard = parse_shard(str(config.getoption("mc_shard")))
    wanted = [settings.mode] if settings.mode is not None else list(ALL_MODES)
    # In the session's environment, where the service is installed: a factory that cannot be
    # found here is broken, not merely out of the probing process's reach.
    probes = probe_modes(settings, wanted, in_session=True)
    selection = select_mode(settings.mode, probes)
    run_id = time.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)
    shared_dir = settings.report_dir / selection.mode.value / f".run-{run_id}"
    shared_dir.mkdir(parents=True, exist_ok=True)
    workers = int(getattr(config.option, "numprocesses", 0) or 0)
    run = RunContext(
        run_id=run_id,
        owner_pid=os.getpid(),
        shared_dir=shared_dir,
        test_password=secrets.token_urlsafe(18),
        jwt_secret=secrets.token_urlsafe(32),
        test_token=secrets.token_urlsafe(24),
        worker_count=max(workers, 1),
    )
    return HarnessState(
        settings=settings,
        mode=selection.mode,
        reason=selection.reason,
        run=run,
        probes=[result.to_json() for result in probes.values()],
        shard=shard,
    )
