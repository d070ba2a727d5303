"""One typed settings object, built in rising precedence from defaults, ``[tool.test_framework]``
in ``pyproject.toml``, environment variables and command-line options.

Standard library only: the noxfile loads settings before anything is installed.
"""

from __future__ import annotations

import os
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from test_framework.errors import ConfigError
from test_framework.modes import ALL_MODES, Mode, parse_mode, parse_mode_list
from test_framework.profiles import DEFAULT_PROFILES, FIELDS, Profile
from test_framework.service import ServiceSettings, parse_service

DEFAULT_BASE_IMAGE = "python:3.11-slim"
# Built by `docker/build-base-image.sh` where no registry can be reached.
LOCAL_BASE_IMAGE = "local/python-base:bookworm"


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
    service: ServiceSettings = field(default_factory=ServiceSettings)
    staging: StagingSettings = StagingSettings()
    docker: DockerSettings = DockerSettings()
    profiles: Mapping[Mode, Profile] = field(
        default_factory=lambda: types.MappingProxyType(dict(DEFAULT_PROFILES))
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
    raise ConfigError(f"{name}={text!r} is not a boolean: use true or false")


def parse_seconds(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a number of seconds: give e.g. 5") from None
    if value <= 0:
        raise ConfigError(f"{name}={text!r} must be more than 0 seconds")
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


def _typed(value: object, kind: type, where: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigError(f"{where} must be a {kind.__name__}, not {value!r}")
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
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{name}={url!r} cannot be parsed ({exc}): use {expected}") from None
    if parts.scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise ConfigError(
            f"{name}={url!r} has scheme {parts.scheme!r}: use {wanted}, e.g. {expected}"
        )
    if not parts.hostname:
        raise ConfigError(f"{name}={url!r} has no host: use {expected}")
    if port == 0:
        raise ConfigError(f"{name}={url!r} has port 0: give the deployment's port")
    return url


def load_settings(
    start: Path | None = None,
    environ: Mapping[str, str] | None = None,
    options: Mapping[str, str] | None = None,
) -> Settings:
    """Build settings: defaults < pyproject.toml < environment < ``options`` (command line).

    ``options`` keys: ``mode``, ``report_dir``, ``required_modes``, and ``profile.<key>``.
    """
    env = os.environ if environ is None else environ
    opts = options or {}
    root = find_root((start or Path.cwd()).resolve())
    source = root / "pyproject.toml"
    section = read_pyproject(source)

    # Defaults < pyproject.
    mode_text = str(_typed(section.get("mode", "auto"), str, f"{source}: mode"))
    report_dir = str(_typed(section.get("report_dir", "reports"), str, f"{source}: report_dir"))
    required = _typed(section.get("required_modes", []), list, f"{source}: required_modes")
    required_text = ",".join(str(m) for m in required)
    probe_timeout = _typed(section.get("probe_timeout_s", 2.0), float, f"{source}: probe_timeout_s")

    service = parse_service(_table(section, "service", source), source)

    profile_tables = _table(section, "profiles", source)
    profile_overrides: dict[Mode, dict[str, str]] = {mode: {} for mode in ALL_MODES}
    for mode_name, table in profile_tables.items():
        mode = parse_mode(mode_name, allow_auto=False)
        assert mode is not None
        if not isinstance(table, dict):
            raise ConfigError(
                f"{source}: [tool.test_framework.profiles.{mode_name}] must be a table"
            )
        profile_overrides[mode].update({k: str(v) for k, v in table.items()})

    # < environment.
    mode_text = env.get("TEST_MODE", mode_text) or "auto"
    report_dir = env.get("MC_REPORT_DIR", report_dir)
    required_text = env.get("MC_REQUIRED_MODES", required_text)
    for key in FIELDS:
        if f"MC_{key.upper()}" in env:
            for overrides in profile_overrides.values():
                overrides[key] = env[f"MC_{key.upper()}"]

    # < command line.
    mode_text = opts.get("mode", mode_text)
    report_dir = opts.get("report_dir", report_dir)
    required_text = opts.get("required_modes", required_text)
    for key, value in opts.items():
        if key.startswith("profile."):
            for overrides in profile_overrides.values():
                overrides[key.removeprefix("profile.")] = value

    try:
        required_modes = parse_mode_list(required_text)
    except ConfigError as exc:
        raise ConfigError(f"MC_REQUIRED_MODES: {exc}") from None
    profiles = {
        mode: DEFAULT_PROFILES[mode].with_overrides(profile_overrides[mode]) for mode in ALL_MODES
    }
    report_path = Path(report_dir)
    return Settings(
        root=root,
        mode=parse_mode(mode_text),
        report_dir=report_path if report_path.is_absolute() else root / report_path,
        required_modes=required_modes,
        probe_timeout_s=float(probe_timeout),
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
    )


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
            f"STAGING_CA_BUNDLE={ca!r} is not a file: give the path of a PEM CA bundle"
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
