"""One typed settings object, built in rising precedence from defaults, ``[tool.test_framework]``
in ``pyproject.toml``, environment variables and command-line options, each setting read as
``settings_table`` defines it (``resolve``: the one place that precedence is written).

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
from test_framework.mode_specs import DEFAULT_PROFILES
from test_framework.modes import ALL_MODES, AUTO, Mode, parse_mode, parse_mode_list
from test_framework.profiles import Profile
from test_framework.service import ServiceSettings, parse_service
from test_framework.settings_table import (
    ALLOW_SUBSET,
    BASE_IMAGE,
    DOCKER_HOST,
    DOCKER_START_TIMEOUT,
    DOCKER_UNAVAILABLE,
    INSTALL,
    MODE,
    PROBE_TIMEOUT,
    PROFILE,
    PROFILE_OPTION,
    REPORT_DIR,
    REQUIRED_MODES,
    SETTINGS,
    STAGING_AUTH_TOKEN,
    STAGING_AUTH_URL,
    STAGING_BACKEND_URL,
    STAGING_CA_BUNDLE,
    STAGING_ENABLED,
    STAGING_HEALTH_CHECK,
    STAGING_PASSWORD,
    STAGING_TIMEOUT,
    STAGING_USER,
    STAGING_WS_URL,
    SUITE,
    Kind,
    Setting,
)
from test_framework.wording import quoted

DEFAULT_BASE_IMAGE = BASE_IMAGE.default
# Built by `docker/build-base-image.sh` where no registry can be reached.
LOCAL_BASE_IMAGE = "local/python-base:bookworm"

_T = TypeVar("_T")
# A URL's userinfo is never sent (docs/staging.md says why) and never echoed.
USERINFO_REFUSED = (
    "has a user and password in it (an '@'): they are never sent from a URL; set"
    f" {STAGING_USER.env} and {STAGING_PASSWORD.env}, or {STAGING_AUTH_TOKEN.env}, instead"
    " (an '@' in a path or query is written %40)"
)


@dataclass(frozen=True)
class StagingSettings:
    enabled: bool = True
    ws_url: str | None = None
    backend_url: str | None = None
    auth_url: str | None = None
    step_timeout_s: float = float(STAGING_TIMEOUT.default)
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
    start_timeout_s: float = float(DOCKER_START_TIMEOUT.default)


@dataclass(frozen=True)
class Settings:
    root: Path
    mode: Mode | None = None  # None: auto
    report_dir: Path = Path(REPORT_DIR.default)
    required_modes: tuple[Mode, ...] = ()
    probe_timeout_s: float = float(PROBE_TIMEOUT.default)
    # What a runner's mode environment runs, from the project root, and what it installs there
    # first (requirement lines, as in a requirements file).
    suite: str = SUITE.default
    install: tuple[str, ...] = (INSTALL.default,)
    # The run selects part of the suite on purpose: recorded in the ledger for the gate.
    allow_subset: bool = False
    service: ServiceSettings = field(default_factory=ServiceSettings)
    staging: StagingSettings = StagingSettings()
    docker: DockerSettings = DockerSettings()
    profiles: Mapping[Mode, Profile] = field(
        default_factory=lambda: types.MappingProxyType(dict(DEFAULT_PROFILES))
    )
    # Where each setting of the table was given, by its name, for messages about it.
    given: Mapping[str, Given] = field(
        default_factory=lambda: types.MappingProxyType(
            {REPORT_DIR.name: Given(REPORT_DIR.name, REPORT_DIR.default, DEFAULT)}
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
# What a [tool.test_framework] value must be, by the kind of its setting.
_PYPROJECT_TYPES: dict[Kind, type] = {
    Kind.MODE: str,
    Kind.MODES: list,
    Kind.FOLDER: str,
    Kind.TEXT: str,
    Kind.LINES: list,
    Kind.SECONDS: float,
    Kind.PROJECT_FILE: str,
}


def parse_bool(given: Given) -> bool:
    value = given.text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{given} is not a boolean: use true or false")


def parse_seconds(given: Given) -> float:
    value = given.value
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"{given} is not a number of seconds: give e.g. 5") from None
    assert isinstance(value, float), f"{given}: typed as seconds before this"
    if not value > 0:  # NaN too
        raise ConfigError(f"{given} must be more than 0 seconds")
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


# What a host name can never hold (the URL Standard's forbidden domain code points that
# urlsplit leaves in a host): a client refuses it before any lookup.
_NEVER_IN_HOST = frozenset(' "%<>\\^|')
# RFC 1035: at most 253 characters in a name (without its final dot), 63 in a label.
LONGEST_HOST, LONGEST_LABEL = 253, 63


def check_url(name: str, url: str, schemes: tuple[str, ...], where: str = ENVIRONMENT) -> str:
    """Refuse a URL that cannot be right, before any connection, with the expected form;
    ``where`` says where ``name`` was given (the environment, or an option)."""
    expected = f"{schemes[0]}://host[:port]/path"
    if "@" in url:  # before anything that echoes the URL: it may be a password's part
        raise ConfigError(f"{name} ({where}) {USERINFO_REFUSED}")
    from test_framework.client.redaction import redact_url  # a ?token= is echoed masked

    given = Given(name, redact_url(url), where)
    # Before urlsplit, which drops a tab or newline without a word: the request sent would
    # then be another than the URL given (`GET /wsX-Injected: yes`).
    control = next((c for c in url if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0), None)
    if control is not None:
        raise ConfigError(
            f"{given} contains the control character {control!r}"
            f" (at position {url.index(control)}): remove it"
        )
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
    problem = host_problem(parts.hostname)
    if problem:
        raise ConfigError(f"{given} has a host name that cannot be valid ({problem}): fix it")
    return url


def host_problem(host: str) -> str | None:
    """Why ``host`` (as urlsplit gives it) can never name a machine, or ``None``."""
    if ":" in host:  # an IPv6 literal: urlsplit checked its brackets, getaddrinfo checks it
        return None
    bad = sorted(set(host) & _NEVER_IN_HOST)
    if bad:
        return "it holds " + " and ".join(repr(c) for c in bad)
    name = host.removesuffix(".")  # a fully qualified name's final dot
    labels = name.split(".")
    if not all(labels):
        return "an empty label: a dot at its start, or two in a row"
    try:
        encoded = [label.encode("idna") for label in labels]
    except UnicodeError:
        longest = max(labels, key=len)
        if len(longest) > LONGEST_LABEL:
            return f"a label of {len(longest)} characters: at most {LONGEST_LABEL}"
        unencodable = next(label for label in labels if not _encodes(label))
        return f"the label {quoted(unencodable)} has no DNS form (IDNA)"
    total = sum(map(len, encoded)) + len(encoded) - 1
    if total > LONGEST_HOST:
        return f"{total} characters: at most {LONGEST_HOST}"
    return None


def _encodes(label: str) -> bool:
    try:
        label.encode("idna")
    except UnicodeError:
        return False
    return True


def resolve(
    setting: Setting,
    section: Mapping[str, Any],
    top: str,
    environ: Mapping[str, str],
    option: str | None = None,
    option_name: str = "",
) -> Given:
    """One setting's value and where it was given: the command-line ``option`` (named
    ``option_name``, else the setting's own option), else its environment variable, else its
    key in ``section`` (``[tool.test_framework]`` at ``top``), else its default."""
    if option is not None:
        return Given(option_name or setting.option, option, OPTION)
    if setting.env and setting.env in environ:
        return Given(setting.env, environ[setting.env], ENVIRONMENT)
    if setting.pyproject and setting.pyproject in section:
        return Given(setting.pyproject, section[setting.pyproject], top)
    default: object = [setting.default] if setting.kind is Kind.LINES else setting.default
    return Given(setting.name, default, DEFAULT)


def load_settings(
    start: Path | None = None,
    environ: Mapping[str, str] | None = None,
    options: Mapping[str, str] | None = None,
) -> Settings:
    """Build settings: defaults < pyproject.toml < environment < ``options`` (command line),
    each setting as ``settings_table`` defines it.

    ``options`` keys: a setting's name (``mode``, ``report_dir``, ``required_modes``) and
    ``profile.<key>``. Each value keeps where it was given (a ``Given``), so an error names the
    place to fix.
    """
    env = os.environ if environ is None else environ
    opts = options or {}
    root = find_root((start or Path.cwd()).resolve())
    source = root / "pyproject.toml"
    section = read_pyproject(source)
    top = in_pyproject(source, "tool.test_framework")

    typed_section: dict[str, Any] = {}
    for setting in SETTINGS:
        key = setting.pyproject
        if key and key in section:
            typed_section[key] = typed(
                section[key], _PYPROJECT_TYPES[setting.kind], f"{source}: {key}"
            )
    for line in typed_section.get(INSTALL.pyproject, []):
        typed(line, str, f"{source}: each line of {INSTALL.pyproject}")

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
    for setting in PROFILE:
        if setting.env in env:
            for overrides in profile_overrides.values():
                overrides[setting.name] = Given(setting.env, env[setting.env], ENVIRONMENT)
    for key, value in opts.items():
        if key.startswith("profile."):
            name = key.removeprefix("profile.")
            for overrides in profile_overrides.values():
                overrides[name] = Given(f"{PROFILE_OPTION} {name}", value, OPTION)

    given = {
        setting.name: resolve(setting, typed_section, top, env, opts.get(setting.name))
        for setting in SETTINGS
        if not setting.profile and not setting.read_by
    }
    mode_choice = _parsed(lambda text: parse_mode(text or AUTO), given[MODE.name])
    required_modes = _parsed(parse_mode_list, given[REQUIRED_MODES.name])
    if not given[REPORT_DIR.name].text:
        raise ConfigError(f"{given[REPORT_DIR.name]} is empty: give a folder, e.g. reports")
    probe_timeout = parse_seconds(given[PROBE_TIMEOUT.name])
    profiles = {
        mode: DEFAULT_PROFILES[mode].with_overrides(profile_overrides[mode]) for mode in ALL_MODES
    }
    report_path = Path(given[REPORT_DIR.name].text)
    return Settings(
        root=root,
        mode=mode_choice,
        report_dir=report_path if report_path.is_absolute() else root / report_path,
        required_modes=required_modes,
        probe_timeout_s=probe_timeout,
        suite=given[SUITE.name].text,
        install=tuple(str(line) for line in _as_list(given[INSTALL.name].value)),
        allow_subset=parse_bool(given[ALLOW_SUBSET.name]),
        service=service,
        staging=_staging_settings(given, service),
        docker=DockerSettings(
            forced_unavailable=parse_bool(given[DOCKER_UNAVAILABLE.name]),
            host=given[DOCKER_HOST.name].text or None,
            base_image=given[BASE_IMAGE.name].text or BASE_IMAGE.default,
            start_timeout_s=parse_seconds(given[DOCKER_START_TIMEOUT.name]),
        ),
        profiles=types.MappingProxyType(profiles),
        given=types.MappingProxyType(given),
    )


def _as_list(value: object) -> list[object]:
    assert isinstance(value, list), f"{value!r}: typed as a list before this"
    return value


def _parsed(parse: Callable[[str], _T], given: Given) -> _T:
    try:
        return parse(given.text)
    except ConfigError as exc:
        raise ConfigError(f"{given}: {exc}") from None


def writable_report_dir(settings: Settings) -> Path:
    """The report folder, created; refused in one line when it cannot be."""
    return writable_folder(settings.report_dir, settings.given[REPORT_DIR.name])


def writable_folder(folder: Path, given: Given | str) -> Path:
    """``folder`` created if need be and written to once, or a one-line refusal that names
    ``given`` (the setting or option it came from): a run, or a gate's verdict, must not
    start when its reports cannot be written."""
    import tempfile  # not at module level: the probe reads settings and never needs it

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        why = exc.strerror or str(exc)
        in_the_way = (p for p in (folder, *folder.parents) if p.exists() and not p.is_dir())
        blocker = next(in_the_way, None)
        if blocker is not None:
            why = "it is a file" if blocker == folder else f"{str(blocker)!r} is a file"
        raise ConfigError(
            f"{given}: cannot create the report folder {str(folder)!r} ({why}):"
            " choose a writable folder"
        ) from None
    return folder


def _staging_settings(given: Mapping[str, Given], service: ServiceSettings) -> StagingSettings:
    urls: dict[Setting, str | None] = {}
    for setting, schemes in (
        (STAGING_WS_URL, ("wss", "ws")),
        (STAGING_BACKEND_URL, ("https", "http")),
        (STAGING_AUTH_URL, ("https", "http")),
    ):
        url = given[setting.name].text or None
        if url:
            check_url(setting.env, url, schemes)
        urls[setting] = url
    ws_url, backend_url = urls[STAGING_WS_URL], urls[STAGING_BACKEND_URL]
    auth_url = urls[STAGING_AUTH_URL]
    if ws_url and not backend_url:
        backend_url = derive_backend_url(ws_url, service.ws_path)
    if backend_url and not ws_url:
        ws_url = derive_ws_url(backend_url, service.ws_path)
    if backend_url and not auth_url:
        auth_url = backend_url.rstrip("/") + service.auth_path
    ca = given[STAGING_CA_BUNDLE.name]
    if ca.text and not Path(ca.text).is_file():
        raise ConfigError(f"{ca} is not a file: give the path of a PEM CA bundle")
    return StagingSettings(
        enabled=parse_bool(given[STAGING_ENABLED.name]),
        ws_url=ws_url,
        backend_url=backend_url,
        auth_url=auth_url,
        step_timeout_s=parse_seconds(given[STAGING_TIMEOUT.name]),
        health_check_enabled=parse_bool(given[STAGING_HEALTH_CHECK.name]),
        user=given[STAGING_USER.name].text or None,
        password=given[STAGING_PASSWORD.name].text or None,
        auth_token=given[STAGING_AUTH_TOKEN.name].text or None,
        ca_bundle=Path(ca.text) if ca.text else None,
    )
