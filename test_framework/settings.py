"""One typed settings object, built in rising precedence from defaults, ``[tool.test_framework]``
in ``pyproject.toml``, environment variables and command-line options.

Standard library only: the noxfile loads settings before anything is installed.
"""

from __future__ import annotations

import os
import tomllib
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from test_framework.errors import ConfigError
from test_framework.given import DEFAULT, ENVIRONMENT, OPTION, Given, in_pyproject, typed
from test_framework.modes import ALL_MODES, AUTO, Mode, parse_mode, parse_mode_list
from test_framework.profiles import DEFAULT_PROFILES, FIELDS, Profile
from test_framework.service import ServiceSettings, parse_service

DEFAULT_BASE_IMAGE = "python:3.11-slim"
# Built by `docker/build-base-image.sh` where no registry can be reached.
LOCAL_BASE_IMAGE = "local/python-base:bookworm"

_T = TypeVar("_T")


@dataclass(frozen=True)
class StagingSettings:
    enabled: bool = True
    ws_url: str | None = None
    backend_url: str | None = None
    auth_url: str | None = None
    step_timeout_s: float = 5.0
    health_check_enabled: bool = True
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    auth_token: str | None = field(default=None, repr=False)
    ca_bundle: Path | None = None

    @property
    def configured(self) -> bool:
        return self.ws_url is not None or self.backend_url is not None


@dataclass(frozen=True)
class DockerSettings:
    forced_unavailable: bool = False
    host: str | None = None
    base_image: str = DEFAULT_BASE_IMAGE
    # Image build plus start-up to healthy; a cold build that pulls a base image takes longest.
    start_timeout_s: float = 300.0


@dataclass(frozen=True)
class Settings:
    root: Path
    mode: Mode | None = None  # None: auto
    report_dir: Path = Path("reports")
    required_modes: tuple[Mode, ...] = ()
    probe_timeout_s: float = 2.0
    # What a runner's mode environment runs, from the project root, and what it installs there
    # first (requirement lines, as in a requirements file).
    suite: str = "tests/mission_critical"
    install: tuple[str, ...] = ("-e .",)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    staging: StagingSettings = StagingSettings()
    docker: DockerSettings = DockerSettings()
    profiles: Mapping[Mode, Profile] = field(
        default_factory=lambda: types.MappingProxyType(dict(DEFAULT_PROFILES))
    )
    # Where mode, report_dir and required_modes were given, for messages about them.
    given: Mapping[str, Given] = field(
        default_factory=lambda: types.MappingProxyType(
            {"report_dir": Given("report_dir", "reports", DEFAULT)}
        ),
        repr=False,
    )

    def profile(self, mode: Mode) -> Profile:
        return self.profiles[mode]

    @property
    def pyproject(self) -> Path:
        return self.root / "pyproject.toml"


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={text!r} ({ENVIRONMENT}) is not a boolean: use true or false")


def parse_seconds(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(
            f"{name}={text!r} ({ENVIRONMENT}) is not a number of seconds: give e.g. 5"
        ) from None
    if not value > 0:  # NaN too
        raise ConfigError(f"{name}={text!r} ({ENVIRONMENT}) must be more than 0 seconds")
    return value


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` whose pyproject.toml has [tool.test_framework]."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and "[tool.test_framework" in candidate.read_text("utf-8"):
            return folder
    return start


def read_pyproject(path: Path) -> dict[str, Any]:
    """The ``[tool.test_framework]`` table, or ``{}`` when the file or table is absent."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc}): fix the syntax") from None
    section = data.get("tool", {}).get("test_framework", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.test_framework] must be a table")
    return section


def _table(section: Mapping[str, Any], key: str, source: Path) -> dict[str, Any]:
    value = section.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: [tool.test_framework.{key}] must be a table")
    return value


def derive_backend_url(ws_url: str, ws_path: str) -> str:
    """``wss://host/ws`` -> ``https://host``: the HTTP base of a WebSocket URL."""
    parts = urlsplit(ws_url)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    path = parts.path
    if path.endswith(ws_path):
        path = path[: -len(ws_path)]
    return urlunsplit((scheme, parts.netloc, path.rstrip("/"), "", ""))


def derive_ws_url(backend_url: str, ws_path: str) -> str:
    parts = urlsplit(backend_url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + ws_path, "", ""))


def check_url(name: str, url: str, schemes: tuple[str, ...]) -> str:
    """Refuse a URL that cannot be right, before any connection, with the expected form."""
    expected = f"{schemes[0]}://host[:port]/path"
    given = Given(name, url, ENVIRONMENT)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{given} cannot be parsed ({exc}): use {expected}") from None
    if parts.scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise ConfigError(f"{given} has scheme {parts.scheme!r}: use {wanted}, e.g. {expected}")
    if not parts.hostname:
        raise ConfigError(f"{given} has no host: use {expected}")
    if port == 0:
        raise ConfigError(f"{given} has port 0: give the deployment's port")
    return url


def load_settings(
    start: Path | None = None,
    environ: Mapping[str, str] | None = None,
    options: Mapping[str, str] | None = None,
) -> Settings:
    """Build settings: defaults < pyproject.toml < environment < ``options`` (command line).

    ``options`` keys: ``mode``, ``report_dir``, ``required_modes``, and ``profile.<key>``.
    Each value keeps where it was given (a ``Given``), so an error names the place to fix.
    """
    env = os.environ if environ is None else environ
    opts = options or {}
    root = find_root((start or Path.cwd()).resolve())
    source = root / "pyproject.toml"
    section = read_pyproject(source)
    top = in_pyproject(source, "tool.test_framework")

    # Defaults < pyproject.
    given: dict[str, Given] = {
        "mode": Given("mode", "auto", DEFAULT),
        "report_dir": Given("report_dir", "reports", DEFAULT),
        "required_modes": Given("required_modes", [], DEFAULT),
    }
    for key, kind in (("mode", str), ("report_dir", str), ("required_modes", list)):
        if key in section:
            given[key] = Given(key, typed(section[key], kind, f"{source}: {key}"), top)
    probe_timeout = typed(section.get("probe_timeout_s", 2.0), float, f"{source}: probe_timeout_s")
    if not probe_timeout > 0:  # NaN too
        given_timeout = Given("probe_timeout_s", probe_timeout, top)
        raise ConfigError(f"{given_timeout} must be more than 0 seconds")
    suite = str(typed(section.get("suite", Settings.suite), str, f"{source}: suite"))
    install = typed(section.get("install", list(Settings.install)), list, f"{source}: install")
    for line in install:
        typed(line, str, f"{source}: each line of install")

    service = parse_service(_table(section, "service", source), source)

    profile_tables = _table(section, "profiles", source)
    profile_overrides: dict[Mode, dict[str, Given]] = {mode: {} for mode in ALL_MODES}
    for mode_name, table in profile_tables.items():
        mode = parse_mode(mode_name, allow_auto=False)
        assert mode is not None
        if not isinstance(table, dict):
            raise ConfigError(
                f"{source}: [tool.test_framework.profiles.{mode_name}] must be a table"
            )
        where = in_pyproject(source, f"tool.test_framework.profiles.{mode_name}")
        profile_overrides[mode].update({k: Given(k, v, where) for k, v in table.items()})

    # < environment.
    for key, variable in (
        ("mode", "TEST_MODE"),
        ("report_dir", "MC_REPORT_DIR"),
        ("required_modes", "MC_REQUIRED_MODES"),
    ):
        if variable in env:
            given[key] = Given(variable, env[variable], ENVIRONMENT)
    for key in FIELDS:
        if f"MC_{key.upper()}" in env:
            for overrides in profile_overrides.values():
                overrides[key] = Given(f"MC_{key.upper()}", env[f"MC_{key.upper()}"], ENVIRONMENT)

    # < command line.
    for key in ("mode", "report_dir", "required_modes"):
        if key in opts:
            given[key] = Given(f"--mc-{key.replace('_', '-')}", opts[key], OPTION)
    for key, value in opts.items():
        if key.startswith("profile."):
            name = key.removeprefix("profile.")
            for overrides in profile_overrides.values():
                overrides[name] = Given(f"--mc-profile {name}", value, OPTION)

    mode_choice = _parsed(lambda text: parse_mode(text or AUTO), given["mode"])
    required_modes = _parsed(parse_mode_list, given["required_modes"])
    if not given["report_dir"].text:
        raise ConfigError(f"{given['report_dir']} is empty: give a folder, e.g. reports")
    profiles = {
        mode: DEFAULT_PROFILES[mode].with_overrides(profile_overrides[mode]) for mode in ALL_MODES
    }
    report_path = Path(given["report_dir"].text)
    return Settings(
        root=root,
        mode=mode_choice,
        report_dir=report_path if report_path.is_absolute() else root / report_path,
        required_modes=required_modes,
        probe_timeout_s=float(probe_timeout),
        suite=suite,
        install=tuple(install),
        service=service,
        staging=_staging_settings(env, service),
        docker=DockerSettings(
            forced_unavailable=parse_bool(
                "FORCE_DOCKER_UNAVAILABLE", env.get("FORCE_DOCKER_UNAVAILABLE", "false")
            ),
            host=env.get("DOCKER_HOST") or None,
            base_image=env.get("MC_BASE_IMAGE") or DEFAULT_BASE_IMAGE,
            start_timeout_s=parse_seconds(
                "MC_DOCKER_START_TIMEOUT_S", env.get("MC_DOCKER_START_TIMEOUT_S", "300")
            ),
        ),
        profiles=types.MappingProxyType(profiles),
        given=types.MappingProxyType(given),
    )


def _parsed(parse: Callable[[str], _T], given: Given) -> _T:
    try:
        return parse(given.text)
    except ConfigError as exc:
        raise ConfigError(f"{given}: {exc}") from None


def writable_report_dir(settings: Settings) -> Path:
    """The report folder, created; refused in one line when it cannot be."""
    import tempfile  # not at module level: the probe reads settings and never needs it

    folder = settings.report_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ConfigError(
            f"{settings.given['report_dir']}: cannot create the report folder {str(folder)!r}"
            f" ({exc.strerror or exc}): choose a writable folder"
        ) from None
    return folder


def _staging_settings(env: Mapping[str, str], service: ServiceSettings) -> StagingSettings:
    ws_url = env.get("STAGING_WEBSOCKET_URL") or None
    backend_url = env.get("STAGING_BACKEND_URL") or None
    auth_url = env.get("STAGING_AUTH_URL") or None
    if ws_url:
        check_url("STAGING_WEBSOCKET_URL", ws_url, ("wss", "ws"))
    if backend_url:
        check_url("STAGING_BACKEND_URL", backend_url, ("https", "http"))
    if auth_url:
        check_url("STAGING_AUTH_URL", auth_url, ("https", "http"))
    if ws_url and not backend_url:
        backend_url = derive_backend_url(ws_url, service.ws_path)
    if backend_url and not ws_url:
        ws_url = derive_ws_url(backend_url, service.ws_path)
    if backend_url and not auth_url:
        auth_url = backend_url.rstrip("/") + service.auth_path
    ca = env.get("STAGING_CA_BUNDLE") or None
    if ca and not Path(ca).is_file():
        raise ConfigError(
            f"{Given('STAGING_CA_BUNDLE', ca, ENVIRONMENT)} is not a file:"
            " give the path of a PEM CA bundle"
        )
    return StagingSettings(
        enabled=parse_bool("USE_STAGING_FALLBACK", env.get("USE_STAGING_FALLBACK", "true")),
        ws_url=ws_url,
        backend_url=backend_url,
        auth_url=auth_url,
        step_timeout_s=parse_seconds(
            "STAGING_FALLBACK_TIMEOUT", env.get("STAGING_FALLBACK_TIMEOUT", "5")
        ),
        health_check_enabled=parse_bool(
            "STAGING_HEALTH_CHECK_ENABLED", env.get("STAGING_HEALTH_CHECK_ENABLED", "true")
        ),
        user=env.get("STAGING_TEST_USER") or None,
        password=env.get("STAGING_TEST_PASSWORD") or None,
        auth_token=env.get("STAGING_AUTH_TOKEN") or None,
        ca_bundle=Path(ca) if ca else None,
    )
