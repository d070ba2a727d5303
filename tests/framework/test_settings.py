"""Configuration precedence: defaults < pyproject.toml < environment < command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_framework.errors import ConfigError
from test_framework.given import ENVIRONMENT, Given
from test_framework.modes import Mode
from test_framework.settings import (
    LOCAL_BASE_IMAGE,
    check_url,
    load_settings,
    writable_folder,
    writable_report_dir,
)
from test_framework.settings_table import SETTINGS, Kind, Setting

URL_SETTINGS = [setting for setting in SETTINGS if setting.url]


def write_pyproject(folder: Path, body: str) -> Path:
    (folder / "pyproject.toml").write_text("[tool.test_framework]\n" + body, "utf-8")
    return folder


def test_defaults_apply_when_nothing_is_configured(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.mode is None
    assert settings.report_dir == tmp_path / "reports"
    assert settings.required_modes == ()
    assert settings.profile(Mode.DOCKER_LOCAL).timeouts.connect_s == 10.0
    assert settings.profile(Mode.DOCKER_LOCAL).retry.attempts == 3
    assert settings.profile(Mode.STAGING_FALLBACK).timeouts.message_s == 45.0
    assert settings.profile(Mode.STAGING_FALLBACK).pacing.max_connections == 10
    assert not settings.staging.configured


def test_pyproject_overrides_defaults(tmp_path: Path) -> None:
    write_pyproject(
        tmp_path,
        'mode = "minimal"\nreport_dir = "out"\nrequired_modes = ["minimal"]\n'
        "[tool.test_framework.service]\n"
        'factory = "myservice.testing:start"\nws_path = "/socket"\n'
        "[tool.test_framework.profiles.staging_fallback]\nconnect_timeout_s = 12\n",
    )
    settings = load_settings(tmp_path, environ={})
    assert settings.mode is Mode.MINIMAL
    assert settings.report_dir == tmp_path / "out"
    assert settings.required_modes == (Mode.MINIMAL,)
    assert settings.service.factory == "myservice.testing:start"
    assert settings.service.ws_path == "/socket"
    assert settings.profile(Mode.STAGING_FALLBACK).timeouts.connect_s == 12.0
    assert settings.profile(Mode.DOCKER_LOCAL).timeouts.connect_s == 10.0


def test_environment_overrides_pyproject(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'mode = "minimal"\n')
    env = {
        "TEST_MODE": "docker_local",
        "MC_REQUIRED_MODES": "minimal, docker_local",
        "MC_CONNECT_TIMEOUT_S": "3",
    }
    settings = load_settings(tmp_path, environ=env)
    assert settings.mode is Mode.DOCKER_LOCAL
    assert settings.required_modes == (Mode.MINIMAL, Mode.DOCKER_LOCAL)
    assert settings.profile(Mode.MINIMAL).timeouts.connect_s == 3.0


def test_command_line_overrides_environment(tmp_path: Path) -> None:
    env = {"TEST_MODE": "docker_local", "MC_CONNECT_TIMEOUT_S": "3"}
    options = {"mode": "auto", "profile.connect_timeout_s": "7", "report_dir": "/tmp/x"}
    settings = load_settings(tmp_path, environ=env, options=options)
    assert settings.mode is None
    assert settings.profile(Mode.MINIMAL).timeouts.connect_s == 7.0
    assert settings.report_dir == Path("/tmp/x")


def test_settings_are_found_from_a_subfolder(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'report_dir = "found"\n')
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert load_settings(nested, environ={}).report_dir == tmp_path / "found"


def test_staging_urls_are_derived_from_the_websocket_url(tmp_path: Path) -> None:
    env = {"STAGING_WEBSOCKET_URL": "wss://staging.example:8443/ws"}
    staging = load_settings(tmp_path, environ=env).staging
    assert staging.backend_url == "https://staging.example:8443"
    assert staging.auth_url == "https://staging.example:8443/auth"


def test_staging_websocket_url_is_derived_from_the_backend_url(tmp_path: Path) -> None:
    env = {"STAGING_BACKEND_URL": "http://127.0.0.1:9000", "STAGING_AUTH_URL": "http://a:1/x"}
    staging = load_settings(tmp_path, environ=env).staging
    assert staging.ws_url == "ws://127.0.0.1:9000/ws"
    assert staging.auth_url == "http://a:1/x"


@pytest.mark.parametrize("setting", URL_SETTINGS, ids=lambda setting: setting.env)
@pytest.mark.parametrize(
    "userinfo", ["ci:Url-Secret-41@", "Url-Secret-41@", "ci:Url/Secret-41@", "ci:Url@Secret-41@"]
)
def test_a_user_and_password_in_any_url_setting_is_refused_without_echoing_them(
    tmp_path: Path, setting: Setting, userinfo: str
) -> None:
    scheme = "wss" if setting.kind is Kind.WS_URL else "https"
    env = {setting.env: f"{scheme}://{userinfo}staging.example:8443/ws"}
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path, environ=env)
    message = str(raised.value)
    assert message.startswith(f"{setting.env} (environment) has a user and password in it")
    assert "STAGING_TEST_PASSWORD" in message
    assert "STAGING_AUTH_TOKEN" in message
    assert "Secret-41" not in message
    assert "\n" not in message


def test_a_token_in_the_query_of_a_refused_url_is_echoed_masked(tmp_path: Path) -> None:
    env = {"STAGING_WEBSOCKET_URL": "https://h/ws?token=query-secret-77"}
    with pytest.raises(ConfigError, match="has scheme 'https'") as raised:
        load_settings(tmp_path, environ=env)
    assert "query-secret-77" not in str(raised.value)
    assert "?token=***" in str(raised.value)


def test_secrets_do_not_appear_in_the_settings_repr(tmp_path: Path) -> None:
    env = {"STAGING_TEST_PASSWORD": "hunter2-secret", "STAGING_AUTH_TOKEN": "tok-abcdef"}
    text = repr(load_settings(tmp_path, environ=env))
    assert "hunter2-secret" not in text
    assert "tok-abcdef" not in text


def test_base_image_can_be_chosen_by_environment(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={"MC_BASE_IMAGE": LOCAL_BASE_IMAGE})
    assert settings.docker.base_image == LOCAL_BASE_IMAGE


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TEST_MODE": "dockr"}, "TEST_MODE='dockr' (environment): unknown mode 'dockr'"),
        (
            {"MC_REQUIRED_MODES": "minimal,cloud"},
            "MC_REQUIRED_MODES='minimal,cloud' (environment): unknown mode 'cloud'",
        ),
        (
            {"USE_STAGING_FALLBACK": "maybe"},
            "USE_STAGING_FALLBACK='maybe' (environment) is not a boolean",
        ),
        (
            {"FORCE_DOCKER_UNAVAILABLE": "2"},
            "FORCE_DOCKER_UNAVAILABLE='2' (environment) is not a boolean",
        ),
        (
            {"STAGING_FALLBACK_TIMEOUT": "soon"},
            "STAGING_FALLBACK_TIMEOUT='soon' (environment) is not a number of seconds",
        ),
        ({"STAGING_FALLBACK_TIMEOUT": "0"}, "must be more than 0 seconds"),
        ({"STAGING_WEBSOCKET_URL": "http://host/ws"}, "has scheme 'http': use wss:// or ws://"),
        ({"STAGING_WEBSOCKET_URL": "wss:///ws"}, "has no host"),
        ({"STAGING_WEBSOCKET_URL": "wss://host:99999/ws"}, "cannot be parsed"),
        ({"STAGING_BACKEND_URL": "ftp://host"}, "use https:// or http://"),
        ({"STAGING_CA_BUNDLE": "/nonexistent/ca.pem"}, "is not a file"),
        (
            {"MC_CONNECT_TIMEOUT_S": "fast"},
            "MC_CONNECT_TIMEOUT_S='fast' (environment) is not a number of seconds: give e.g. 5",
        ),
        ({"MC_RETRY_ATTEMPTS": "-1"}, "MC_RETRY_ATTEMPTS='-1' (environment) must be 1 or more"),
        ({"MC_RETRY_ATTEMPTS": "2.5"}, "MC_RETRY_ATTEMPTS='2.5' (environment) is not a whole"),
        ({"MC_REPORT_DIR": ""}, "MC_REPORT_DIR='' (environment) is empty"),
    ],
)
def test_bad_environment_values_are_refused_with_the_fix(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=None) as raised:
        load_settings(tmp_path, environ=env)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("mode = \n", "invalid TOML"),
        ("mode = 3\n", "mode must be a string, not 3"),
        ("[tool.test_framework.service]\nfactroy = 'x:y'\n", "unknown key(s) factroy"),
        ("[tool.test_framework.service]\nws_path = 5\n", "ws_path must be a string"),
        ("[tool.test_framework.service]\ncontainer_port = '1'\n", "must be an integer, not '1'"),
        ("[tool.test_framework.profiles.cloud]\nworkers = 1\n", "unknown mode 'cloud'"),
        (
            "[tool.test_framework.profiles.minimal]\nwrokers = 1\n",
            "unknown profile setting 'wrokers'",
        ),
        ('install = "-e ."\n', "install must be a list"),
        ("install = [1]\n", "each line of install must be a string"),
        ("suite = 3\n", "suite must be a string"),
    ],
)
def test_bad_pyproject_sections_are_refused_with_the_fix(
    tmp_path: Path, body: str, message: str
) -> None:
    write_pyproject(tmp_path, body)
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path, environ={})
    assert message in str(raised.value)


def test_the_suite_and_what_a_mode_environment_installs_come_from_pyproject(
    tmp_path: Path,
) -> None:
    assert load_settings(tmp_path, environ={}).suite == "tests/mission_critical"
    assert load_settings(tmp_path, environ={}).install == ("-e .",)
    write_pyproject(tmp_path, 'suite = "checks/mc"\ninstall = ["-e .[test]", "my-harness>=1"]\n')
    settings = load_settings(tmp_path, environ={})
    assert settings.suite == "checks/mc"
    assert settings.install == ("-e .[test]", "my-harness>=1")


ZERO_REFUSED = [
    "connect_timeout_s",
    "message_timeout_s",
    "retry_delay_s",
    "heartbeat_s",
    "latency_budget_s",
]


@pytest.mark.parametrize("key", ZERO_REFUSED)
@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_a_zero_or_negative_timeout_delay_or_budget_is_refused_naming_the_variable(
    tmp_path: Path, key: str, value: str
) -> None:
    variable = f"MC_{key.upper()}"
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path, environ={variable: value})
    assert str(raised.value).startswith(f"{variable}={value!r} (environment) ")


@pytest.mark.parametrize(
    ("key", "least", "below"),
    [
        ("retry_attempts", "1", "0"),
        ("retry_backoff", "1", "0.5"),
        ("workers", "0", "-1"),
        ("max_connections", "0", "-1"),
        ("connections_per_s", "0", "-0.5"),
        ("messages_per_s", "0", "-1"),
    ],
)
def test_counts_rates_and_backoff_accept_their_least_value_and_refuse_less(
    tmp_path: Path, key: str, least: str, below: str
) -> None:
    load_settings(tmp_path, environ={f"MC_{key.upper()}": least})
    with pytest.raises(ConfigError, match=f"must be {least}"):
        load_settings(tmp_path, environ={f"MC_{key.upper()}": below})


def test_the_docker_start_and_staging_timeouts_refuse_zero(tmp_path: Path) -> None:
    for variable in ("MC_DOCKER_START_TIMEOUT_S", "STAGING_FALLBACK_TIMEOUT"):
        with pytest.raises(ConfigError, match=f"^{variable}='0' \\(environment\\) must be more"):
            load_settings(tmp_path, environ={variable: "0"})


@pytest.mark.parametrize("value", ["0", "-1.5", "nan"])
def test_a_zero_negative_or_nan_probe_timeout_in_pyproject_is_refused(
    tmp_path: Path, value: str
) -> None:
    write_pyproject(tmp_path, f"probe_timeout_s = {value}\n")
    with pytest.raises(ConfigError, match=r"^probe_timeout_s=.* must be more than 0 seconds$"):
        load_settings(tmp_path, environ={})


def test_an_error_names_the_pyproject_table_the_value_came_from(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "[tool.test_framework.profiles.minimal]\nconnect_timeout_s = 0\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path, environ={})
    table = "[tool.test_framework.profiles.minimal]"
    assert str(raised.value) == (
        f"connect_timeout_s=0 ({tmp_path / 'pyproject.toml'} {table}) must be more than 0 seconds"
    )


def test_a_float_where_a_whole_number_belongs_in_pyproject_is_refused(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "[tool.test_framework.profiles.minimal]\nworkers = 1.5\n")
    with pytest.raises(ConfigError, match=r"^workers=1.5 .* is not a whole number"):
        load_settings(tmp_path, environ={})


def test_an_error_names_the_option_the_value_came_from(tmp_path: Path) -> None:
    env = {"MC_CONNECT_TIMEOUT_S": "3", "TEST_MODE": "minimal"}
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path, environ=env, options={"profile.connect_timeout_s": "abc"})
    assert str(raised.value).startswith("--mc-profile connect_timeout_s='abc' (option) is not a")
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path, environ=env, options={"mode": "dockr"})
    assert str(raised.value).startswith("--mc-mode='dockr' (option): unknown mode 'dockr'")


def test_the_report_folder_is_refused_in_one_line_when_it_cannot_be_created(
    tmp_path: Path,
) -> None:
    (tmp_path / "a-file").write_text("", "utf-8")
    for folder in ("/proc/nope", str(tmp_path / "a-file" / "reports")):
        settings = load_settings(tmp_path, environ={"MC_REPORT_DIR": folder})
        with pytest.raises(ConfigError) as raised:
            writable_report_dir(settings)
        assert str(raised.value).startswith(
            f"MC_REPORT_DIR={folder!r} (environment): cannot create the report folder"
        )
        assert str(raised.value).endswith(": choose a writable folder")
    fine = load_settings(tmp_path, environ={"MC_REPORT_DIR": str(tmp_path / "new" / "reports")})
    assert writable_report_dir(fine).is_dir()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ws://127.0.0.1:1/ws\r\nX-Injected: yes", "contains the control character '\\r'"),
        ("ws://127.0.0.1:1/ws\tx", "contains the control character '\\t'"),
        ("ws://h\x00st/ws", "contains the control character '\\x00'"),
        ("ws://host/ws\x7f", "contains the control character '\\x7f'"),
        ("ws://host/ws\x85", "contains the control character '\\x85'"),
        ("ws://ho st/ws", "(it holds ' ')"),
        ("ws://ho%2Est/ws", "(it holds '%')"),
        ("ws://h<o>st/ws", "(it holds '<' and '>')"),
        ("ws://.host/ws", "(an empty label"),
        ("ws://" + "b" * 64 + ".example/ws", "(a label of 64 characters: at most 63)"),
        ("ws://" + "ü" * 60 + ".example/ws", "has no DNS form (IDNA)"),
        ("ws://" + "a." * 127 + "a/ws", "(255 characters: at most 253)"),
    ],
)
def test_a_url_no_request_can_carry_is_a_setting_error(url: str, why: str) -> None:
    with pytest.raises(ConfigError, match=r"^STAGING_WEBSOCKET_URL=") as raised:
        check_url("STAGING_WEBSOCKET_URL", url, ("wss", "ws"))
    assert why in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "wss://staging.example.com/ws",
        "wss://staging.example.com./ws",  # fully qualified
        "ws://my_service:8000/ws",  # a Compose service name
        "wss://münchen.example/ws",
        "ws://[::1]:8000/ws",
        "ws://" + "a." * 126 + "a/ws",  # 253 characters
        "ws://" + "b" * 63 + ".example/ws",
    ],
)
def test_a_url_that_can_be_right_is_kept(url: str) -> None:
    assert check_url("STAGING_WEBSOCKET_URL", url, ("wss", "ws")) == url


def test_a_long_value_is_echoed_shortened_with_its_length() -> None:
    url = "wss://" + "a" * 10_000 + "/ws"
    given = str(Given("STAGING_WEBSOCKET_URL", url, ENVIRONMENT))
    assert given == f"STAGING_WEBSOCKET_URL={url[:60]!r}… (10009 characters) (environment)"
    short = "wss://staging.example.com/ws"
    assert str(Given("STAGING_WEBSOCKET_URL", short, ENVIRONMENT)).startswith(f"={short!r}", 21)


def test_a_folder_in_the_way_of_the_reports_is_named(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("", "utf-8")
    with pytest.raises(ConfigError) as raised:
        writable_folder(tmp_path / "a-file" / "deeper", "--reports")
    assert f"('{tmp_path / 'a-file'}' is a file)" in str(raised.value)
    assert writable_folder(tmp_path / "new" / "folder", "--reports").is_dir()
