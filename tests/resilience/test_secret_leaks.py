"""No planted secret reaches anything a run prints or writes, through any output channel.

Every secret setting of ``settings_table`` (``Setting.secret``) gets a unique value, and every
URL setting (``Setting.url``) a unique password in its userinfo, so the next secret-bearing
setting is covered by its row in the table alone. Each channel (a ``nox`` session with its gate,
plain ``pytest`` with the gate, the monitor) then drives, in a project of its own against
loopback deployments:

- a failing probe: a deployment that refuses the credentials and quotes them back in its
  answer, whose first 120 bytes the probe's reason carries;
- a failing test: a real deployment (agent_backend behind nginx and TLS) that the test uses
  with every credential, then fails quoting everything it holds, printing it too;
- the planted URLs: each is refused before any connection.

Everything each run printed and every file it wrote (the ledger, transcripts, JUnit, the HTML
report, the monitor's history and log, nox's environments) is read back: any planted value,
raw or URL-encoded, fails the test. Each run must also have written the files its channel
writes, so that a grep of nothing passes for nothing.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from test_framework.settings_table import SETTINGS, STAGING_USER, Kind, Setting
from tests.support.environment import isolated_environment, run_captured
from tests.support.fake_staging import Behaviour, FakeStaging
from tests.support.nox_project import make_project, nox_in
from tests.support.requirements import require_nginx
from tests.support.staging_deployment import StagingDeployment, StagingEnvironment

SECRET_SETTINGS = tuple(setting for setting in SETTINGS if setting.secret)
URL_SETTINGS = tuple(setting for setting in SETTINGS if setting.url)
STAGING_MODE = "staging_fallback"
USER = "leak-user"
CLOSED = "ws://127.0.0.1:9/ws"
RUN_TIMEOUT_S = 600.0  # the nox channel installs its environment on first use

FAILING_SUITE = """\
import pytest

pytestmark = pytest.mark.mission_critical


async def test_fails_holding_every_secret_it_was_given(mc_connect, mc_http, mc_credentials,
                                                       mc_settings):
    client = await mc_connect()
    held = [mc_credentials.password, mc_settings.staging.auth_token, mc_settings.staging]
    answer = await mc_http.get("/health", params={"token": mc_credentials.password})
    print("the test holds", held)
    assert answer.status == 599, (held, answer, client.ready)
"""


def planted(setting: Setting) -> str:
    """A value found nowhere else: the setting's name and fresh randomness."""
    return f"planted-{setting.env.lower().replace('_', '-')}-{secrets.token_hex(6)}"


SECRETS = {setting: planted(setting) for setting in SECRET_SETTINGS}
URL_PASSWORDS = {setting: planted(setting) for setting in URL_SETTINGS}


def secret_variables() -> dict[str, str]:
    return {setting.env: value for setting, value in SECRETS.items()}


def with_userinfo(setting: Setting) -> str:
    scheme = "wss" if setting.kind is Kind.WS_URL else "https"
    return f"{scheme}://{USER}:{URL_PASSWORDS[setting]}@127.0.0.1:9/ws"


def forms(value: str) -> set[str]:
    return {value, quote(value, safe="")}


ALL_PLANTED = set().union(*map(forms, [*SECRETS.values(), *URL_PASSWORDS.values()]))


@dataclass(frozen=True)
class Output:
    """What a run printed, and the folders whose new files it wrote."""

    texts: tuple[str, ...]
    status: int


@dataclass(frozen=True)
class Channel:
    """One way a user runs the suite: the files it writes, when its run fails in a test."""

    name: str
    run: Callable[[Path, Path, dict[str, str]], Output]
    writes_on_failed_probe: frozenset[str]
    writes_on_failed_test: frozenset[str]


def _run(project: Path, argv: list[str], env: dict[str, str]) -> tuple[str, str, int]:
    completed = run_captured(
        argv,
        cwd=project,
        env={**isolated_environment(), "PYTHONPATH": str(project), **env},
        timeout=RUN_TIMEOUT_S,
    )
    return completed.stdout, completed.stderr, completed.returncode


def run_nox(project: Path, reports: Path, env: dict[str, str]) -> Output:
    # The mode session and the gate it queues, which writes JUnit and the HTML report.
    session = f"mission_critical(mode='{STAGING_MODE}')"
    completed = nox_in(
        project, "-s", session, env={**env, "MC_REPORT_DIR": str(reports)}, timeout=RUN_TIMEOUT_S
    )
    return Output((completed.stdout, completed.stderr), completed.returncode)


def run_pytest_and_gate(project: Path, reports: Path, env: dict[str, str]) -> Output:
    full = {**env, "MC_REPORT_DIR": str(reports)}
    argv = [sys.executable, "-m", "pytest", "tests/mission_critical", "--mc-mode", STAGING_MODE]
    out, err, status = _run(project, [*argv, "-p", "no:cacheprovider", "-n", "2"], full)
    gate = [sys.executable, "-m", "test_framework", "gate", str(reports / STAGING_MODE)]
    gate_out, gate_err, _ = _run(project, [*gate, "--reports", str(reports)], full)
    return Output((out, err, gate_out, gate_err), status)


def run_monitor(project: Path, reports: Path, env: dict[str, str]) -> Output:
    argv = [sys.executable, "-m", "test_framework", "monitor", "--interval", "0"]
    argv += ["--max-runs", "1", "--mode", STAGING_MODE]
    out, err, status = _run(project, argv, {**env, "MC_REPORT_DIR": str(reports)})
    return Output((out, err), status)


REPORTS = frozenset({"ledger.json", "junit.xml", "index.html"})
CHANNELS = (
    Channel("nox", run_nox, REPORTS, REPORTS | {"transcript"}),
    Channel("pytest", run_pytest_and_gate, REPORTS, REPORTS | {"transcript"}),
    Channel(
        "monitor",
        run_monitor,
        frozenset({"history.jsonl"}),
        frozenset({"history.jsonl", "pytest.log", "ledger.json", "index.html", "transcript"}),
    ),
)


def kinds_written(files: list[Path]) -> set[str]:
    return {"transcript" if file.parent.name == "transcripts" else file.name for file in files}


def files_written(folders: list[Path], since: float) -> list[Path]:
    return [
        file
        for folder in folders
        for file in folder.rglob("*")
        if file.is_file() and not file.is_symlink() and file.stat().st_mtime >= since
    ]


def assert_nothing_planted_in(output: Output, files: list[Path]) -> None:
    leaks = [
        f"printed: ...{text[max(text.index(value) - 80, 0) : text.index(value) + 40]}..."
        for text in output.texts
        for value in ALL_PLANTED
        if value in text
    ]
    for file in files:
        data = file.read_bytes()
        leaks += [f"{file}: {value}" for value in ALL_PLANTED if value.encode() in data]
    assert not leaks, "\n".join(leaks)


def channel_run(
    channel: Channel, project: Path, tmp_path: Path, env: dict[str, str]
) -> tuple[Output, list[Path]]:
    reports = tmp_path / "reports"
    started = time.time() - 1  # file times have a coarser clock than time.time()
    output = channel.run(project, reports, env)
    folders = [project, reports] if reports.is_dir() else [project]
    return output, files_written(folders, started)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = make_project(tmp_path_factory.mktemp("leaks") / "project")
    suite = folder / "tests" / "mission_critical"
    (suite / "test_tiny.py").unlink()
    (suite / "test_leaks.py").write_text(FAILING_SUITE, "utf-8")
    return folder


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StagingEnvironment]:
    require_nginx()
    password = SECRETS[next(s for s in SECRET_SETTINGS if s.env == "STAGING_TEST_PASSWORD")]
    with StagingDeployment(tmp_path_factory.mktemp("staging"), password=password) as env:
        yield env


# Who the refusing deployment hears from: a user with the password (the token step is refused),
# or the ready token alone (the upgrade is refused). Every secret is planted either way.
REFUSED = {
    "token step": ({STAGING_USER.env: USER}, Behaviour(token_status=401, echo_credentials=True)),
    "upgrade": ({}, Behaviour(websocket="refuse", echo_credentials=True)),
}


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda channel: channel.name)
@pytest.mark.parametrize("refused", REFUSED, ids=str)
def test_a_probe_refused_by_a_deployment_that_quotes_the_credentials_back_leaks_nothing(
    project: Path, tmp_path: Path, channel: Channel, refused: str
) -> None:
    user, behaviour = REFUSED[refused]
    env = secret_variables()
    if not user:
        env.pop("STAGING_TEST_PASSWORD")
    with FakeStaging(behaviour) as fake:
        env.update(user, STAGING_WEBSOCKET_URL=fake.ws_url, STAGING_FALLBACK_TIMEOUT="3")
        output, files = channel_run(channel, project, tmp_path, env)
    assert_nothing_planted_in(output, files)
    printed = "\n".join(output.texts)
    assert output.status != 0, printed
    failing_step = "token" if user else "websocket"
    assert f"configured but unhealthy: {failing_step} failed after" in printed, printed
    assert '"you sent":' in printed  # the deployment's answer was quoted, masked
    assert channel.writes_on_failed_probe <= kinds_written(files), printed


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda channel: channel.name)
def test_a_failing_test_that_holds_every_secret_leaks_nothing(
    project: Path, tmp_path: Path, channel: Channel, deployment: StagingEnvironment
) -> None:
    env = {**deployment.variables(), **secret_variables(), STAGING_USER.env: USER}
    output, files = channel_run(channel, project, tmp_path, env)
    assert_nothing_planted_in(output, files)
    printed = "\n".join(output.texts)
    assert output.status != 0, printed
    if channel.name != "monitor":  # the monitor prints one status line; its log has the rest
        assert "test_fails_holding_every_secret_it_was_given" in printed, printed
        assert "the test holds" in printed, printed
    assert channel.writes_on_failed_test <= kinds_written(files), printed


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda channel: channel.name)
@pytest.mark.parametrize("setting", URL_SETTINGS, ids=lambda setting: setting.env)
def test_a_password_in_a_url_setting_is_refused_in_one_line_that_leaks_nothing(
    project: Path, tmp_path: Path, channel: Channel, setting: Setting
) -> None:
    # A deployment to probe besides the planted URL: nothing listens on the discard port.
    env = {**secret_variables(), STAGING_USER.env: USER, "STAGING_WEBSOCKET_URL": CLOSED}
    env[setting.env] = with_userinfo(setting)
    output, files = channel_run(channel, project, tmp_path, env)
    assert_nothing_planted_in(output, files)
    printed = "\n".join(output.texts)
    assert output.status != 0, printed
    assert f"{setting.env} (environment) has a user and password in it" in printed, printed
