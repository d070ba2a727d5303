"""Every user-facing setting, defined once: its name, what it accepts, its default, its
environment variable, its ``pyproject.toml`` key, its command-line option and its help.

``settings.load_settings`` reads values by these entries, the command lines take their help
from them, and the README's settings tables are generated from them
(``python -m tests.framework.test_settings_table``), so a setting cannot be documented, read or
helped differently in two places. The service adapter's keys are ``service.KEYS``, defined
once there (docs/service.md).

Standard library only, and nothing of the harness: any module can read the table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    """What a setting's value is; the value says what it accepts, for the README."""

    MODE = "auto, docker_local, staging_fallback or minimal"
    MODES = "a comma list of modes"
    FOLDER = "a folder, relative to the project"
    TEXT = "text"
    SECRET = "text, never printed"
    LINES = "a list of requirement lines"
    BOOL = "true or false"
    SECONDS = "seconds"
    WHOLE = "a whole number"
    NUMBER = "a number"
    WS_URL = "a wss:// or ws:// URL"
    HTTP_URL = "an https:// or http:// URL"
    FILE = "a PEM file"
    DOCKER_ADDRESS = "a unix:// or tcp:// address"
    SHARDS = "N for every mode, or mode=N,... (others 1)"
    ID = "an id"


class Floor(enum.Enum):
    """The least value a number takes. A zero timeout, delay or budget would fail every test,
    so those must be positive; ``0`` is allowed only where it has a meaning of its own."""

    POSITIVE = "more than 0"
    ZERO_UNLIMITED = "0 (unlimited) or more"
    ZERO_ONE_PROCESS = "0 (one process, no pytest-xdist workers) or more"
    ONE = "1 or more"


@dataclass(frozen=True)
class Setting:
    """One setting. ``name`` is its place in ``Settings`` (``staging.ws_url``), or a profile
    setting's own name; an empty ``env``, ``pyproject`` or ``option`` means it has none."""

    name: str
    kind: Kind
    help: str
    default: str = ""  # as a user would write it; "" = not set
    env: str = ""
    pyproject: str = ""  # the key in [tool.test_framework]
    option: str = ""  # pytest's option (or, with ``read_by``, that command's)
    read_by: str = ""  # the module reading it, when ``load_settings`` does not
    metavar: str = ""
    floor: Floor | None = None  # numbers only
    least_means: str = ""  # what the least value does, where that needs saying
    profile: bool = False  # per mode: [tool.test_framework.profiles.<mode>], MC_<NAME>

    @property
    def secret(self) -> bool:
        """Its value is a secret: registered with redaction, never printed."""
        return self.kind is Kind.SECRET

    @property
    def url(self) -> bool:
        """Its value is a URL, whose userinfo would be a secret: the settings refuse one."""
        return self.kind in (Kind.WS_URL, Kind.HTTP_URL)

    @property
    def accepts(self) -> str:
        """What the setting accepts, in words (the README's column)."""
        if self.floor is None:
            return self.kind.value
        text = f"{self.kind.value}, {self.floor.value}"
        return f"{text} ({self.least_means})" if self.least_means else text

    def option_help(self) -> str:
        """The command line's help for the option: the help, the default and the variable."""
        more = [f"default: {self.default}"] if self.default else []
        if self.env:
            more.append(f"env {self.env}")
        text = f"{self.help}; {self.accepts}"
        return f"{text} ({'; '.join(more)})" if more else text


MODE = Setting(
    "mode",
    Kind.MODE,
    "the execution mode",
    default="auto",
    env="TEST_MODE",
    pyproject="mode",
    option="--mc-mode",
    metavar="MODE",
)
REPORT_DIR = Setting(
    "report_dir",
    Kind.FOLDER,
    "where ledgers, transcripts and reports go",
    default="reports",
    env="MC_REPORT_DIR",
    pyproject="report_dir",
    option="--mc-report-dir",
    metavar="DIR",
)
REQUIRED_MODES = Setting(
    "required_modes",
    Kind.MODES,
    "modes that must run: one that cannot run fails the build instead of being skipped",
    env="MC_REQUIRED_MODES",
    pyproject="required_modes",
    option="--mc-required-modes",
    metavar="LIST",
)
# The gate's own spelling of --mc-required-modes.
GATE_REQUIRED_OPTION = "--required"
PROBE_TIMEOUT = Setting(
    "probe_timeout_s",
    Kind.SECONDS,
    "how long a probe waits for each answer",
    default="2",
    pyproject="probe_timeout_s",
    floor=Floor.POSITIVE,
)
SUITE = Setting(
    "suite",
    Kind.TEXT,
    "what a mode session (nox) or environment (tox) runs",
    default="tests/mission_critical",
    pyproject="suite",
)
INSTALL = Setting(
    "install",
    Kind.LINES,
    "what a mode session or environment installs first",
    default="-e .",
    pyproject="install",
)
INVOCATION_ID = Setting(
    "invocation",
    Kind.ID,
    "set by the noxfile (and the tox plugin), one per run, shared by all the processes of"
    " `nox --parallel`: written into every ledger of that run, whose gate judges no other"
    " ledger ([docs/reports.md](docs/reports.md))",
    env="MC_INVOCATION_ID",
    read_by="test_framework.results.ledger",
)
CODE_ROOT = Setting(
    "code_root",
    Kind.FOLDER,
    "the folder whose git checkout a ledger's code fingerprint describes (default: the"
    " project's folder); set by `python -m test_framework contract` to the folder it runs in"
    " ([docs/ledger.md](docs/ledger.md))",
    env="MC_CODE_ROOT",
    read_by="test_framework.results.code",
)
SHARDS = Setting(
    "shards",
    Kind.SHARDS,
    "how many shards of each mode the CI matrix runs",
    default="1",
    env="MC_SHARDS",
    option="--shards",
    read_by="test_framework.ci.github_matrix",
    metavar="SPEC",
)


def _variable(
    name: str,
    kind: Kind,
    env: str,
    help: str,
    default: str = "",
    floor: Floor | None = None,
) -> Setting:
    """A setting read from its environment variable only."""
    return Setting(name, kind, help, default=default, env=env, floor=floor)


STAGING_ENABLED = _variable(
    "staging.enabled",
    Kind.BOOL,
    "USE_STAGING_FALLBACK",
    "`false` disables the staging mode, with that reason",
    default="true",
)
STAGING_WS_URL = _variable(
    "staging.ws_url",
    Kind.WS_URL,
    "STAGING_WEBSOCKET_URL",
    "the staging deployment's WebSocket URL (`wss://host/ws`)",
)
STAGING_BACKEND_URL = _variable(
    "staging.backend_url",
    Kind.HTTP_URL,
    "STAGING_BACKEND_URL",
    "its HTTP base (derived from the WebSocket URL when absent)",
)
STAGING_AUTH_URL = _variable(
    "staging.auth_url",
    Kind.HTTP_URL,
    "STAGING_AUTH_URL",
    "its auth base (`<backend>/auth` when absent)",
)
STAGING_TIMEOUT = _variable(
    "staging.step_timeout_s",
    Kind.SECONDS,
    "STAGING_FALLBACK_TIMEOUT",
    "seconds allowed for each staging probe step",
    default="5",
    floor=Floor.POSITIVE,
)
STAGING_HEALTH_CHECK = _variable(
    "staging.health_check_enabled",
    Kind.BOOL,
    "STAGING_HEALTH_CHECK_ENABLED",
    "`false` skips the health step of the staging probe",
    default="true",
)
STAGING_USER = _variable(
    "staging.user",
    Kind.TEXT,
    "STAGING_TEST_USER",
    "the staging test user (with `STAGING_TEST_PASSWORD`)",
)
STAGING_PASSWORD = _variable(
    "staging.password", Kind.SECRET, "STAGING_TEST_PASSWORD", "the staging test user's password"
)
STAGING_AUTH_TOKEN = _variable(
    "staging.auth_token",
    Kind.SECRET,
    "STAGING_AUTH_TOKEN",
    "a ready staging token, instead of a user and password",
)
STAGING_CA_BUNDLE = _variable(
    "staging.ca_bundle",
    Kind.FILE,
    "STAGING_CA_BUNDLE",
    "the CA that signed a private staging certificate",
)
DOCKER_UNAVAILABLE = _variable(
    "docker.forced_unavailable",
    Kind.BOOL,
    "FORCE_DOCKER_UNAVAILABLE",
    '`true` makes the docker probe answer "unavailable (forced)"',
    default="false",
)
DOCKER_HOST = _variable(
    "docker.host",
    Kind.DOCKER_ADDRESS,
    "DOCKER_HOST",
    "the Docker daemon, as for the docker CLI (which reads its context and TLS variables too)",
)
BASE_IMAGE = _variable(
    "docker.base_image",
    Kind.TEXT,
    "MC_BASE_IMAGE",
    "the base image the docker mode builds on",
    default="python:3.11-slim",
)
DOCKER_START_TIMEOUT = _variable(
    "docker.start_timeout_s",
    Kind.SECONDS,
    "MC_DOCKER_START_TIMEOUT_S",
    "seconds allowed for the docker mode's image build and start-up",
    default="300",
    floor=Floor.POSITIVE,
)

PROFILE_OPTION = "--mc-profile"


def _profile(name: str, kind: Kind, floor: Floor, help: str, least_means: str = "") -> Setting:
    return Setting(
        name,
        kind,
        help,
        default="per mode",
        env=f"MC_{name.upper()}",
        option=PROFILE_OPTION,
        floor=floor,
        least_means=least_means,
        profile=True,
    )


_S, _POSITIVE = Kind.SECONDS, Floor.POSITIVE
PROFILE: tuple[Setting, ...] = (
    _profile("connect_timeout_s", _S, _POSITIVE, "opening a connection"),
    _profile("message_timeout_s", _S, _POSITIVE, "waiting for a message"),
    _profile("retry_attempts", Kind.WHOLE, Floor.ONE, "tries of a connection", "1: no retries"),
    _profile("retry_delay_s", _S, _POSITIVE, "the wait before the first retry"),
    _profile(
        "retry_backoff",
        Kind.NUMBER,
        Floor.ONE,
        "what each retry's wait is multiplied by",
        "1: the same delay before every retry",
    ),
    _profile("heartbeat_s", _S, _POSITIVE, "the client's heartbeat interval"),
    _profile("workers", Kind.WHOLE, Floor.ZERO_ONE_PROCESS, "pytest-xdist workers"),
    _profile(
        "max_connections", Kind.WHOLE, Floor.ZERO_UNLIMITED, "connections at once across workers"
    ),
    _profile("connections_per_s", Kind.NUMBER, Floor.ZERO_UNLIMITED, "new connections a second"),
    _profile("messages_per_s", Kind.NUMBER, Floor.ZERO_UNLIMITED, "messages sent a second"),
    _profile(
        "latency_budget_s", _S, _POSITIVE, "the protocol's limit from user_message to agent_started"
    ),
)

SETTINGS: tuple[Setting, ...] = (
    MODE,
    REPORT_DIR,
    REQUIRED_MODES,
    PROBE_TIMEOUT,
    SUITE,
    INSTALL,
    INVOCATION_ID,
    CODE_ROOT,
    SHARDS,
    STAGING_ENABLED,
    STAGING_WS_URL,
    STAGING_BACKEND_URL,
    STAGING_AUTH_URL,
    STAGING_TIMEOUT,
    STAGING_HEALTH_CHECK,
    STAGING_USER,
    STAGING_PASSWORD,
    STAGING_AUTH_TOKEN,
    STAGING_CA_BUNDLE,
    DOCKER_UNAVAILABLE,
    DOCKER_HOST,
    BASE_IMAGE,
    DOCKER_START_TIMEOUT,
    *PROFILE,
)
